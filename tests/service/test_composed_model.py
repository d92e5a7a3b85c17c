"""A composed model (``pneumonia-sepsis``: Smith 2011's lung seeding Reynolds 2006) is a twin
through the API like any registered model, with nothing written for it: a twin created by
``POST /patients/{id}/twin`` takes white-cell counts posted as FHIR Observations (LOINC
6690-2, the composed model's ``sys.wbc``), stores a version per update and a forecast of the
composed observables, and the dashboard draws its cone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

KEY = bytes(range(32))
EPOCH = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # the inoculation: model time 0 (hours)
PATIENT = {"resourceType": "Patient", "identifier": [{"system": "urn:test:mrn", "value": "PS-1"}],
           "name": [{"family": "Roe", "given": ["Al"]}], "birthDate": "1950-01-01"}  # fmt: skip


def wbc(i: int, hour: float, value: float, subject: str) -> dict:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:test:lab", "value": f"wbc-{i}"}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": (EPOCH + timedelta(hours=hour)).isoformat().replace("+00:00", "Z"),
        "valueQuantity": {"value": value, "unit": "10*3/uL", "system": "http://unitsofmeasure.org",
                          "code": "10*3/uL"},
    }  # fmt: skip


@pytest.mark.slow
def test_a_composed_model_is_a_twin_through_the_api(tmp_path):
    from medtwin.models import get_model
    from medtwin.service import create_app
    from medtwin.simulate import simulate
    from medtwin.store import open_store

    # the truth: 10^6 CFU/mL in the lung; its white cells at 6, 12, 18 and 24 h rise from 7.0
    # to 9.7 x 10^3/uL as the seeded blood turns septic
    model = get_model("pneumonia-sepsis")
    hours = np.array([6.0, 12.0, 18.0, 24.0])
    run = simulate(model, model.make_params(**{"lung.P0": 1.0e6}), t1=24.0, saveat=hours)
    counts = np.asarray(run.observable("sys.wbc"))

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}", key=KEY)
    store.add_user("dr", "clinician")
    auth = {"authorization": f"Bearer {store.issue_token('dr')}"}
    fhir = {**auth, "content-type": "application/fhir+json"}
    with TestClient(create_app(store, login_limit=1000), raise_server_exceptions=False) as client:
        models = {m["name"]: m for m in client.get("/models", headers=auth).json()["models"]}
        assert models["pneumonia-sepsis"]["time_unit"] == "h"
        pid = client.post("/patients", content=json.dumps(PATIENT), headers=fhir).json()["id"]
        config = {"model": "pneumonia-sepsis", "epoch": EPOCH.isoformat(), "prior": "spec",
                  "n": 32, "seed": 3, "horizon": 24}  # fmt: skip
        r = client.post(f"/patients/{pid}/twin", json=config, headers=auth)
        assert r.status_code == 201, r.text[:500]
        for i, (h, v) in enumerate(zip(hours, counts, strict=True)):
            doc = wbc(i, float(h), float(v), f"Patient/{pid}")
            r = client.post(f"/patients/{pid}/observations", content=json.dumps(doc), headers=fhir)
            assert r.status_code == 200, r.text[:500]
        versions = client.get(f"/patients/{pid}/twin/versions", headers=auth).json()["versions"]
        assert [len(v["observations"]) for v in versions] == [0, 1, 1, 1, 1]
        assert all(v["model"] == "pneumonia-sepsis" for v in versions)
        fc = store.forecasts(pid, actor="dr", limit=1)[0]
        assert fc.model == "pneumonia-sepsis" and fc.version == 4
        assert "sys.wbc" in fc.forecast.observable_names
        assert "lung.log10_pathogen" in fc.forecast.observable_names
        assert float(np.asarray(fc.forecast.times)[0]) > 24.0
        # the stored forecast's first white count is near the truth's at 24 h (the twin has
        # seen it; its priors and the count's noise allow about 1 x 10^3/uL)
        median = np.asarray(fc.forecast.observable("sys.wbc"))
        assert abs(median[0] - counts[-1]) < 1.5, (median, counts)
        assert median[-1] > median[0] + 1.0  # and it keeps rising, as the truth's does
        assert client.get(f"/ui/patients/{pid}", headers=auth).status_code == 200
        cone = client.get(f"/ui/api/patients/{pid}/cone", headers=auth)
        assert cone.status_code == 200, cone.text[:500]
        assert cone.json()["model"] == "pneumonia-sepsis"
        # a recorded SOFA total (LOINC 96790-1) is the composed model's sys.sofa, read through
        # its ordinal link; a total that is no whole number of 0-24 is refused, nothing stored
        score = {"value": 3, "unit": "{score}", "system": "http://unitsofmeasure.org",
                 "code": "{score}"}  # fmt: skip
        code = {"coding": [{"system": "http://loinc.org", "code": "96790-1"}]}
        sofa = {**wbc(9, 30.0, 3.0, f"Patient/{pid}"), "valueQuantity": score, "code": code}
        r = client.post(f"/patients/{pid}/observations", content=json.dumps(sofa), headers=fhir)
        assert r.status_code == 200, r.text[:500]
        last = client.get(f"/patients/{pid}/twin/versions", headers=auth).json()["versions"][-1]
        assert last["version"] == 5 and len(last["observations"]) == 1
        bad = {**sofa, "identifier": [{"system": "urn:test:lab", "value": "sofa-bad"}],
               "valueQuantity": {**sofa["valueQuantity"], "value": 2.5}}  # fmt: skip
        r = client.post(f"/patients/{pid}/observations", content=json.dumps(bad), headers=fhir)
        assert r.status_code in (400, 422), r.text[:500]
        assert (
            len(client.get(f"/patients/{pid}/twin/versions", headers=auth).json()["versions"]) == 6
        )
    assert store.verify_audit().ok
    store.close()
