"""The cardiac twin through the real app on SQLite (issue 18): a patient's LGE scan and
segmentation uploaded -> version 0 holding the tissue -> LAT CSVs (and a QRS duration) as new
versions, each the library's posterior of every observation so far -> the summary, the
activation map, P(inducible) and the ranked plans on request, stored and read back. Bad uploads
are refused (422) naming what is wrong, audited, with nothing stored. The PostgreSQL variant of
the stored versions is tests/store/test_cardiac_twins.py."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from _cardiac_case import PACE, H, cardiac_case
from medtwin import loop
from medtwin.models.cardiology import ConductionPrior, MappingPoints, QRSDuration

KEY = bytes(range(32))
EPOCH = "2026-03-02T08:00:00+00:00"
PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:test:mrn", "value": "VT-1"}],
    "name": [{"family": "Wit", "given": ["Andrew"]}],
    "birthDate": "1955-01-01",
}
QUICK = {"draws": 2, "sites": 1, "s1_beats": 1, "couplings": [[300, 200]],
         "vt_cycle_length": [100, 400], "vt_sustained_ms": 400}  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('cardiac') / 'm.db'}", key=KEY)
    store.add_user("alice", "clinician")
    auth = {"authorization": f"Bearer {store.issue_token('alice')}"}
    with TestClient(create_app(store, login_limit=1000), raise_server_exceptions=False) as c:
        r = c.post("/patients", content=json.dumps(PATIENT).encode(),
                   headers={**auth, "content-type": "application/fhir+json"})  # fmt: skip
        assert r.status_code == 201, r.text[:300]
        yield store, c, auth, r.json()["id"], cardiac_case()
    store.close()


def _upload(case, **over):
    body = {"epoch": EPOCH, "pace": list(PACE), "bz": [0.3, 0.7],
            "lge": base64.b64encode(case.lge).decode(),
            "segmentation": base64.b64encode(case.segmentation).decode()}  # fmt: skip
    return {**body, **over}


def _lat(client, auth, pid, csv, time, **params):
    headers = {**auth, "content-type": "text/csv"}
    return client.post(f"/patients/{pid}/twin/cardiac/lat", content=csv,
                       params={"time": time, **params}, headers=headers)  # fmt: skip


def _issues(r) -> str:
    return " ".join(i.get("diagnostics", "") for i in r.json().get("issue", []))


def test_a_cardiac_patient_from_upload_to_p_inducible(world):
    store, client, auth, pid, case = world
    url = f"/patients/{pid}/twin/cardiac"
    # -- bad uploads: 422 naming the fault, audited, nothing stored
    bad = [(_upload(case, pace=[10.0, 4.0]), "lies scar"),
           (_upload(case, segmentation=base64.b64encode(case.no_pool).decode()),
            "no voxel of value 2 (the blood pool"),
           (_upload(case, segmentation=base64.b64encode(case.lge[:40]).decode()),
            "the uploaded segmentation.nii.gz' as NIfTI"),
           (_upload(case, lge="not base64!"), "lge must be a NIfTI file in base64"),
           (_upload(case, bz=[0.3, 1.5]), "ConductionPrior.bz"),
           (_upload(case, pace=[1.0]), "pace")]  # fmt: skip
    for body, words in bad:
        r = client.post(url, json=body, headers=auth)
        assert r.status_code == 422 and words in _issues(r), (words, r.text[:400])
    refused = store.audit_entries(patient=pid, action="twin.create")
    assert len(refused) == 5 and {e.outcome for e in refused} == {"invalid"}
    assert client.get(f"/patients/{pid}/twin", headers=auth).status_code == 422  # no twin
    r = client.post(f"/patients/{pid}/twin", json={"model": "cardiac", "epoch": EPOCH},
                    headers=auth)  # fmt: skip
    assert r.status_code == 422 and "made from the patient's tissue" in _issues(r)
    # -- version 0: the tissue, the prior
    r = client.post(url, json=_upload(case), headers=auth)
    assert r.status_code == 201, r.text[:500]
    assert (r.json()["version"], r.json()["model"]) == (0, "cardiac")
    assert r.json()["report"]["tissue"]["shape"] == list(case.labels.shape)
    assert client.post(url, json=_upload(case), headers=auth).status_code == 409
    # -- mapping points: a new version per batch
    r = _lat(client, auth, pid, case.csv(0, 10), "2026-03-02T09:00:00Z", qrs=36.0)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["observations"]["added"] == 11 and r.json()["twin_versions"]
    again = _lat(client, auth, pid, case.csv(0, 10), "2026-03-02T09:00:00Z", qrs=36.0)
    assert again.json()["observations"]["duplicates"] == 11 and not again.json()["twin_versions"]
    r = _lat(client, auth, pid, case.csv(1, 6, scar=True), "2026-03-02T10:00:00Z")
    assert r.status_code == 422 and "lies scar" in _issues(r) and "Nothing was stored" in _issues(r)
    r = _lat(client, auth, pid, b"x,y\n1,2\n", "2026-03-02T10:00:00Z")
    assert r.status_code == 422 and "expected the header x_mm,y_mm,lat_ms" in _issues(r)
    assert _lat(client, auth, pid, case.csv(2, 8), "2026-03-02T10:30:00Z").status_code == 200
    twin = client.get(f"/patients/{pid}/twin", headers=auth).json()
    assert (twin["version"], twin["kind"], twin["mapping_points"], twin["qrs_durations"]) == (
        2, "cardiac", 18, 1)  # fmt: skip
    assert twin["model_time"] == pytest.approx(2.5) and twin["calibrated"]
    # the posterior is the library's of both batches and the QRS
    lib = _library(case, [case.csv(0, 10), case.csv(2, 8)], 36.0)
    for name, q in lib.quantiles().items():
        got = twin["parameters"][name]
        np.testing.assert_allclose([got["q05"], got["median"], got["q95"]], q, rtol=1e-12)
    assert twin["parameters"]["cv"]["q05"] < 0.49 < twin["parameters"]["cv"]["q95"]
    # every stored version restores to what its kind made
    for v in (0, 1, 2):
        back = store.twin(pid, actor="t", version=v)
        assert back.version == v and np.array_equal(back.tissue.labels, case.labels)
    # -- the activation map, then P(inducible) and the plans on request
    m = client.get(f"/patients/{pid}/twin/activation-map", headers=auth).json()
    assert m["shape"] == list(case.labels.shape) and m["times"][2][12] == 0.0
    assert client.get(f"/patients/{pid}/twin/inducibility", headers=auth).status_code == 404
    r = client.post(f"/patients/{pid}/twin/inducibility", json={**QUICK, "draws": 20, "sites": 4,
                    "s1_beats": 8}, headers=auth)  # fmt: skip
    assert r.status_code == 422 and "at most 40000" in _issues(r)
    r = client.post(f"/patients/{pid}/twin/inducibility", json=QUICK, headers=auth)
    assert r.status_code == 200, r.text[:500]
    fc = r.json()
    assert fc["version"] == 2 and fc["probability"] == 0.0  # too small a sheet for reentry
    assert fc["interval"] == [0.0, pytest.approx(0.8419, abs=1e-4)]  # Clopper-Pearson, n = 2
    assert [p["name"] for p in fc["plans"]] == ["no ablation"]
    assert fc["recommended"] == "no ablation"
    stored = client.get(f"/patients/{pid}/twin/inducibility", headers=auth).json()
    assert stored["id"] == fc["id"] and stored["probability"] == 0.0
    r = client.post(f"/patients/{pid}/what-if", json={"horizon": 1, "options": {"a": []}},
                    headers=auth)  # fmt: skip
    assert r.status_code == 422 and "cardiac twin's P(inducible)" in _issues(r)
    assert store.verify_audit().ok
    actions = {e.action for e in store.audit_entries(patient=pid)}
    assert {"twin.create", "observation.create", "recommendation.create", "twin.read"} <= actions


def _library(case, csvs, qrs):
    """The library's twin (models/cardiology/twin.py) of the same tissue and observations."""
    tissue = loop.CardiacTissue(case.labels, H, PACE, ConductionPrior(bz=(0.3, 0.7)))
    rows = [np.array([[float(x) for x in line.split(",")] for line in c.decode().split()[1:]])
            for c in csvs]  # fmt: skip
    twin = tissue.twin().assimilate(MappingPoints(rows[0][:, :2], rows[0][:, 2], 5.0),
                                    qrs=QRSDuration(np.array([qrs]), 10.0))  # fmt: skip
    return twin.assimilate(MappingPoints(rows[1][:, :2], rows[1][:, 2], 5.0))
