"""The attacker's world: a real app over a real store (a SQLite file, or a PostgreSQL server the
tests start, see ``tests/_pg.py``) with an admin ``adm``, clinicians ``cli1`` and ``cli2`` and a
researcher ``res``, each with a token. No twins (no model compiles): the attacks here are on
identity, access and the service, not on numerics. Function-scoped: every attack starts from
a clean store, so one attack's leftovers cannot make another one pass.

Every test in ``tests/security`` is one attack (a parametrized case counts as one) or a check
that the defence holds; ``test_count.py`` counts them."""

from __future__ import annotations

import json
import shutil
import uuid
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


def sql(url: str, stmt: str, **params: Any) -> list[Any] | None:
    """Run one raw SQL statement on the database at ``url`` (as an attacker with database
    access would): its rows, or None for a statement that returns none."""
    from sqlalchemy import text

    from medtwin.store._engine import database_url, make_engine

    engine = make_engine(database_url(url))
    try:
        with engine.begin() as conn:
            res = conn.execute(text(stmt), params)
            return res.all() if res.returns_rows else None
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _templates(tmp_path_factory):
    """A migrated store with the four users and their tokens, built once per test process and
    copied for every test (a SQLite file copy, a PostgreSQL ``CREATE DATABASE ... TEMPLATE``):
    each attack still gets a store of its own, without paying for the migration each time."""
    built: dict[str, Any] = {}

    def build(url: str) -> dict[str, str]:
        from medtwin.store import open_store

        store = open_store(url, key=KEY)
        tokens = {}
        for name, role in USERS:
            store.add_user(name, role)
            tokens[name] = store.issue_token(name)
        store.close()
        return tokens

    def get(kind: str, request: Any) -> tuple[Any, dict[str, str]]:
        if kind not in built:
            if kind == "sqlite":
                path = tmp_path_factory.mktemp("template") / "medtwin.db"
                built[kind] = (path, build(f"sqlite:///{path}"))
            else:
                server = request.getfixturevalue("postgres_server")
                name = server.create_database()
                built[kind] = ((server, name), build(server.url(name)))
        return built[kind]

    return get


def _copy(kind: str, request: Any, templates: Any, dest: Any) -> tuple[str, dict[str, str], Any]:
    source, tokens = templates(kind, request)
    if kind == "sqlite":
        shutil.copyfile(source, dest)
        return f"sqlite:///{dest}", dict(tokens), None
    server, template = source
    name = "w" + uuid.uuid4().hex[:16]
    server._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return server.url(name), dict(tokens), (server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL on each backend."""
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


def _world(url: str, tokens: dict[str, str] | None = None, **app_kw: Any):
    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(url, key=KEY)
    w = World(None, store, url)  # type: ignore[arg-type]
    if tokens is None:
        for name, role in USERS:
            store.add_user(name, role)
            w.tokens[name] = store.issue_token(name)
    else:
        w.tokens.update(tokens)
    app = create_app(store, **{"login_limit": 1000, **app_kw})
    return store, app, w


@pytest.fixture
def world(request, tmp_path, _templates):
    """The attacker's world on SQLite (most attacks: the store's backend does not matter)."""
    url, tokens, _ = _copy("sqlite", request, _templates, tmp_path / "medtwin.db")
    store, app, w = _world(url, tokens)
    with TestClient(app, raise_server_exceptions=False) as client:
        w.client = client
        yield w
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def world_any(request, tmp_path, _templates):
    """The same world on SQLite and on PostgreSQL."""
    url, tokens, pg = _copy(request.param, request, _templates, tmp_path / "medtwin.db")
    store, app, w = _world(url, tokens)
    with TestClient(app, raise_server_exceptions=False) as client:
        w.client = client
        yield w
    store.close()
    if pg is not None:
        pg[0].drop_database(pg[1])


@pytest.fixture
def make_world(request, tmp_path, _templates):
    """A factory for a world with other app settings: ``make_world(max_body_bytes=...)``."""
    made = []

    def make(**app_kw: Any) -> World:
        dest = tmp_path / f"medtwin-{len(made)}.db"
        url, tokens, _ = _copy("sqlite", request, _templates, dest)
        store, app, w = _world(url, tokens, **app_kw)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        w.client = client
        made.append((store, client))
        return w

    yield make
    for store, client in made:
        client.__exit__(None, None, None)
        store.close()
