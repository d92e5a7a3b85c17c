"""``POST /patients/{pid}/cgm``: a CGM file as its app exports it (Dexcom Clarity, LibreView,
Nightscout; tests/data/cgm, written from the published layouts), the format detected and
returned, the readings stored once, a twin made from them; a file of no format stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from .conftest import KEY, patient_resource

CGM = Path(__file__).parents[1] / "data" / "cgm"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    import json

    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('cgm') / 'm.db'}", key=KEY)
    auth = {}
    for name in ("alice", "bob"):
        store.add_user(name, "clinician")
        auth[name] = {"authorization": f"Bearer {store.issue_token(name)}"}
    with TestClient(create_app(store, login_limit=1000), raise_server_exceptions=False) as c:
        r = c.post("/patients", content=json.dumps(patient_resource("MRN-CGM")).encode(),
                   headers={**auth["alice"], "content-type": "application/fhir+json"})  # fmt: skip
        assert r.status_code == 201, r.text
        yield store, c, auth, r.json()["id"]
    store.close()


def upload(client, auth, pid, name, **params):
    return client.post(f"/patients/{pid}/cgm", params=params, headers=auth,
                       content=(CGM / name).read_bytes())  # fmt: skip


def test_a_file_of_no_format_is_refused_and_stores_nothing(api):
    store, client, auth, pid = api
    r = upload(client, auth["alice"], pid, "not_a_cgm.csv")
    assert r.status_code == 422
    text = r.json()["issue"][0]["diagnostics"]
    assert "none of the CGM formats" in text and "Nightscout entries JSON" in text
    assert "'Date;Time;Sensor Glucose (mg/dL)'" in text
    r = client.post(f"/patients/{pid}/cgm", headers=auth["alice"],
                    content=b"time,glucose_mg_dl\n0,120\n")  # fmt: skip
    assert r.status_code == 422 and "unknown start" in r.text
    assert store.observations(pid, actor="alice") == []
    r = upload(client, auth["bob"], pid, "clarity_mg_dl.csv")  # not bob's patient
    assert r.status_code == 404


def test_an_export_is_stored_once_with_its_format_and_a_twin_learns_from_it(api):
    store, client, auth, pid = api
    r = upload(client, auth["alice"], pid, "clarity_mg_dl.csv", tz="America/New_York")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["format"] == "dexcom-clarity"
    assert body["format_label"] == "Dexcom Clarity CSV export"
    assert body["observations"] == {"added": 31, "duplicates": 0}
    assert body["events"] == {"added": 2, "duplicates": 0}
    assert body["cgm"]["censored"] == 2 and body["cgm"]["reordered"] is True
    assert body["cgm"]["skipped"]["warm-up readings (new sensor session)"] == 12
    assert "local times in America/New_York" in body["cgm"]["notes"]
    stored = store.observations(pid, actor="alice")
    assert len(stored) == 31 and stored[0].time.isoformat() == "2024-03-04T13:00:07+00:00"
    assert sorted(o.censored for o in stored)[:1] == [-1] and max(o.censored for o in stored) == 1
    again = upload(client, auth["alice"], pid, "clarity_mg_dl.csv", tz="America/New_York")
    assert again.json()["observations"] == {"added": 0, "duplicates": 31}
    r = upload(client, auth["alice"], pid, "nightscout_entries.json")
    assert r.json()["format"] == "nightscout" and r.json()["observations"]["added"] == 12
    config = {"model": "t1d", "epoch": "2024-03-04T13:00:00+00:00", "n": 32, "seed": 1}
    r = client.post(f"/patients/{pid}/twin", headers=auth["alice"], json=config)
    assert r.status_code == 201, r.text[:500]
    made = r.json()  # the Clarity readings after the epoch (the first, at 7 s, is at time 0)
    assert made["model_time"] == 355.0  # the last reading, 18:55:07 UTC
    assert made["report"]["data"]["used"] == 30 and made["report"]["data"]["censored"] == 2
    # a plain CSV with the instant of its minute 0: stored, and the twin moves on with it
    plain = b"time,glucose_mg_dl\n0,120\n5,LO\n"
    r = client.post(f"/patients/{pid}/cgm", params={"start": "2024-03-04T19:00:00+00:00"},
                    headers=auth["alice"], content=plain)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "plain" and r.json()["observations"]["added"] == 2
    assert r.json()["twin_versions"], r.json()
    lo = store.observations(pid, actor="alice")[-1]
    assert (lo.value, lo.censored, lo.time.isoformat()) == (40.0, -1, "2024-03-04T19:05:00+00:00")


def test_a_twin_of_the_file_may_carry_the_sensors_error_as_replay_does(api):
    """With ``sensor`` the twin made from an uploaded CGM file keeps every particle's AR(1)
    sensor state, as ``medtwin twin replay`` does for the file; an observable the model does
    not have is refused before anything is stored."""
    import json

    store, client, auth, _ = api
    r = client.post("/patients", content=json.dumps(patient_resource("MRN-CGM-2")).encode(),
                    headers={**auth["alice"], "content-type": "application/fhir+json"})  # fmt: skip
    pid = r.json()["id"]
    r = upload(client, auth["alice"], pid, "clarity_mg_dl.csv", tz="America/New_York")
    assert r.status_code == 200
    config = {"model": "t1d", "epoch": "2024-03-04T13:00:00+00:00", "n": 32, "seed": 1}
    r = client.post(f"/patients/{pid}/twin", headers=auth["alice"],
                    json={**config, "sensor": "cgm"})  # fmt: skip
    assert r.status_code == 422 and "has no observable named 'cgm'" in r.text
    r = client.post(f"/patients/{pid}/twin", headers=auth["alice"],
                    json={**config, "sensor": "sc_glucose"})  # fmt: skip
    assert r.status_code == 201, r.text[:500]
    assert r.json()["report"]["data"]["used"] == 30
    ens = store.twin(pid, actor="alice").ensemble
    assert ens.sensor is not None and ens.sensor.shape == (32,)
    assert ens.sensor_time == r.json()["model_time"]
