"""A real app over a real store (SQLite file) with users of every role, two patients with a
twin each, and tokens for them. Module-scoped: building the twins compiles the model once."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

KEY = bytes(range(32))
EPOCH = "2026-01-01T00:00:00+00:00"


def glucose(pid: str, minute: int, value: float, ident: str) -> dict:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:test:cgm", "value": ident}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "99504-3"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
        "valueQuantity": {"value": value, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                          "code": "mg/dL"},
    }  # fmt: skip


def patient_resource(ident: str) -> dict:
    return {
        "resourceType": "Patient",
        "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                             "code": "MR"}]},
                        "system": "urn:test:mrn", "value": ident}],
        "name": [{"family": "Doe", "given": ["Jo"]}], "birthDate": "1970-05-04", "gender": "female",
    }  # fmt: skip


@dataclass
class World:
    client: TestClient
    store: object
    tokens: dict[str, str]
    p1: str
    p2: str

    def get(self, who: str, url: str, **kw):
        return self.client.get(url, headers=self.auth(who), **kw)

    def post(self, who: str, url: str, body, **kw):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(url, content=data, headers={**self.auth(who),
                                "content-type": "application/fhir+json"}, **kw)  # fmt: skip

    def auth(self, who: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('svc') / 'medtwin.db'}", key=KEY)
    tokens = {}
    for name, role in (("admin", "admin"), ("alice", "clinician"), ("bob", "clinician"),
                       ("rita", "researcher")):  # fmt: skip
        store.add_user(name, role)
        tokens[name] = store.issue_token(name)
    tokens["forged"] = "mt_" + "0" * 40
    app = create_app(store, login_limit=1000)
    with TestClient(app, raise_server_exceptions=False) as client:
        w = World(client, store, tokens, "", "")
        w.p1 = w.post("alice", "/patients", patient_resource("MRN-1")).json()["id"]
        w.p2 = w.post("bob", "/patients", patient_resource("MRN-2")).json()["id"]
        for who, pid in (("alice", w.p1), ("bob", w.p2)):
            config = {"model": "t1d", "epoch": EPOCH, "n": 32, "seed": 1}
            r = w.client.post(f"/patients/{pid}/twin", headers=w.auth(who), json=config)
            assert r.status_code == 201, r.text
            r = w.post(who, f"/patients/{pid}/observations", glucose(pid, 5, 140.0, f"{pid}-1"))
            assert r.status_code == 200, r.text
        yield w
    store.close()
