"""The attacker's world: a real app over a real store (a SQLite file, or a PostgreSQL server the
tests start, see ``tests/_pg.py``) with an admin ``adm``, clinicians ``cli1`` and ``cli2`` and a
researcher ``res``, each with a token. No twins (no model compiles): the attacks here are on
identity, access and the service, not on numerics. Function-scoped: every attack starts from
a clean store, so one attack's leftovers cannot make another one pass.

Every test in ``tests/security`` is one attack (a parametrized case counts as one) or a check
that the defence holds; ``test_count.py`` counts them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from _pg import postgres_server  # noqa: F401  (session fixture)

KEY = bytes(range(32))
USERS = (("adm", "admin"), ("cli1", "clinician"), ("cli2", "clinician"), ("res", "researcher"))


def patient_resource(
    mrn: str | None = "MRN-900001",
    *,
    system: str = "urn:hosp:mrn",
    name: str = "Doe",
    birth: str = "1970-05-04",
    **extra: Any,
) -> dict:
    res: dict[str, Any] = {"resourceType": "Patient", "gender": "female"}
    if mrn is not None:
        res["identifier"] = [{"system": system, "value": mrn}]
    if name is not None:
        res["name"] = [{"family": name, "given": ["Jo"]}]
    if birth is not None:
        res["birthDate"] = birth
    res.update(extra)
    return res  # fmt: skip


def glucose(subject: str, ident: str, value: float = 120.0, minute: int = 5) -> dict:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:test:cgm", "value": ident}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "99504-3"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
        "valueQuantity": {"value": value, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                          "code": "mg/dL"},
    }  # fmt: skip


def collection(*entries: tuple[str | None, dict]) -> dict:
    """A collection Bundle of (fullUrl or None, resource) entries."""
    out = []
    for url, res in entries:
        e: dict[str, Any] = {"resource": res}
        if url is not None:
            e["fullUrl"] = url
        out.append(e)
    return {"resourceType": "Bundle", "type": "collection", "entry": out}


@dataclass
class World:
    client: TestClient
    store: Any
    url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}

    def get(self, who: str, url: str, **kw):
        return self.client.get(url, headers={**self.auth(who), **kw.pop("headers", {})}, **kw)

    def post(self, who: str, url: str, body: Any, **kw):
        data = body if isinstance(body, bytes | str) else json.dumps(body).encode()
        headers = {**self.auth(who), "content-type": "application/fhir+json",
                   **kw.pop("headers", {})}  # fmt: skip
        return self.client.post(url, content=data, headers=headers, **kw)

    def delete(self, who: str, url: str, **kw):
        return self.client.delete(url, headers={**self.auth(who), **kw.pop("headers", {})}, **kw)

    def new_patient(self, who: str = "adm", mrn: str = "MRN-900001", **kw: Any) -> str:
        r = self.post(who, "/patients", patient_resource(mrn, **kw))
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'medtwin.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'medtwin.db'}"


def _world(url: str, **app_kw: Any):
    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(url, key=KEY)
    w = World(None, store, url)  # type: ignore[arg-type]
    for name, role in USERS:
        store.add_user(name, role)
        w.tokens[name] = store.issue_token(name)
    app = create_app(store, **{"login_limit": 1000, **app_kw})
    return store, app, w


@pytest.fixture
def world(sqlite_url):
    """The attacker's world on SQLite (most attacks: the store's backend does not matter)."""
    store, app, w = _world(sqlite_url)
    with TestClient(app, raise_server_exceptions=False) as client:
        w.client = client
        yield w
    store.close()


@pytest.fixture
def world_any(db_url):
    """The same world on SQLite and on PostgreSQL."""
    store, app, w = _world(db_url)
    with TestClient(app, raise_server_exceptions=False) as client:
        w.client = client
        yield w
    store.close()


@pytest.fixture
def make_world(sqlite_url):
    """A factory for a world with other app settings: ``make_world(max_body_bytes=...)``."""
    made = []

    def make(**app_kw: Any) -> World:
        store, app, w = _world(sqlite_url if not made else sqlite_url + f".{len(made)}", **app_kw)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        w.client = client
        made.append((store, client))
        return w

    yield make
    for store, client in made:
        client.__exit__(None, None, None)
        store.close()
