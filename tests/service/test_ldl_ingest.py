"""The LDL twin's data through the API (issue 22): the Synthea patient's LDL-C and total
cholesterol results and atorvastatin prescription go in through ``POST /fhir`` with no edit to
the service, are read back, and a second post adds nothing. An LDL twin itself is refused by
the store with the reason (twins timed in days are not run there yet; see docs/ldl.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

KEY = bytes(range(32))
RIOJAS = Path(
    "/work/shared/reference/fhir/Alejandro_Riojas_a9fcc685-c7a2-4474-bf25-26c8fe4b48f9.json"
)

pytestmark = pytest.mark.skipif(not RIOJAS.exists(), reason="shared reference data not present")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('ldl') / 'm.db'}", key=KEY)
    store.add_user("alice", "clinician")
    token = store.issue_token("alice")
    with TestClient(create_app(store, login_limit=1000), raise_server_exceptions=False) as c:
        yield store, c, {"authorization": f"Bearer {token}"}
    store.close()


def test_ldl_results_and_a_statin_go_in_once(world):
    store, client, auth = world
    fhir = {"content-type": "application/fhir+json", **auth}
    raw = RIOJAS.read_bytes()
    r = client.post("/fhir", content=raw, headers=fhir)
    assert r.status_code == 200, r.text[:500]
    (pid,) = r.json()["patients"].values()
    assert r.json()["events"]["added"] == 1
    ldl = client.get(f"/patients/{pid}/observations?code=18262-6", headers=auth).json()
    assert [round(o["value"], 1) for o in ldl["observations"]] == [84.5, 58.2]
    assert all(o["unit"] == "mg/dL" for o in ldl["observations"])
    again = client.post("/fhir", content=raw, headers=fhir).json()
    assert again["observations"]["added"] == 0 and again["events"]["added"] == 0
    (ev,) = store.events(pid, actor="alice")
    assert (ev.kind, ev.amount) == ("atorvastatin", 80.0)
    config = {"model": "ldl", "epoch": datetime(2000, 1, 1, tzinfo=UTC).isoformat(),
              "prior": "spec", "n": 64, "horizon": 7}  # fmt: skip
    r = client.post(f"/patients/{pid}/twin", json=config, headers=auth)
    assert r.status_code in (400, 422) and "timed in min or h" in r.text, r.text[:300]
