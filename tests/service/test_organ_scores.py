"""The dashboard's organ-score panel (``GET /ui/api/patients/{pid}/scores``) over the demo's
synthetic ICU chart (``service/_demo_icu.py``) posted as a FHIR Bundle to ``POST /fhir``, with a
``pneumonia-sepsis`` twin: SOFA and its components at each chart time, hand-computed from
Vincent et al. 1996, Table 1; Sepsis-3 and septic shock (Singer et al. 2016); the twin's
predicted SOFA; the same access rules as the other dashboard routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

KEY = bytes(range(32))
EPOCH = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
PATIENT = {"resourceType": "Patient", "identifier": [{"system": "urn:test:mrn", "value": "ICU-1"}],
           "name": [{"family": "Roe", "given": ["Al"]}], "birthDate": "1950-01-01"}  # fmt: skip

# Hand-computed, per chart time (hours after the epoch): respiration, coagulation, liver,
# cardiovascular, CNS, renal. The chart's six panels and three norepinephrine rates:
#  0.5  P/F 78/0.35 = 222.9 (< 300; no ventilator: at most 2) 2; platelets 190: 0; bilirubin
#       0.9: 0; MAP 74: 0; GCS 15: 0; creatinine 1.0 (urine 70 mL/h = 1680 mL/d): 0  -> 2
#  4.5  P/F 72/0.40 = 180 (< 200 but not ventilated) 2; 160: 0; 1.1: 0; MAP 71: 0; 15: 0;
#       creatinine 1.3: 1 -> 3
#  8.5  P/F 70/0.50 = 140: 2; 130: 1; 1.4: 1; MAP 67 < 70: 1; GCS 14: 1; 1.6: 1 -> 7
# 12.0  norepinephrine 0.05 started: cardiovascular 3 (<= 0.1), the rest as at 8.5 -> 9
# 12.5  P/F 68/0.60 = 113.3 with PEEP 8 (ventilated): 3; 105: 1; 1.8: 1; norepinephrine
#       0.05: 3; GCS 13: 1; creatinine 2.0 (600 mL/d): 2 -> 11
# 16.0  norepinephrine 0.12 (> 0.1): 4, the rest as at 12.5 -> 12
# 16.5  P/F 66/0.60 = 110: 3; 88: 2; 2.1: 2; 4; GCS 13: 1; 2.3 (528 mL/d): 2 -> 14
# 20.0  norepinephrine 0.18: 4, as at 16.5 -> 14
# 20.5  P/F 62/0.70 = 88.6 ventilated: 4; 72: 2; 2.6: 2; 4; GCS 12: 2; creatinine 2.7: 2
#       but urine 17 mL/h = 408 mL/d < 500: 3 -> 17
EXPECTED = {
    0.5: (2, 0, 0, 0, 0, 0), 4.5: (2, 0, 0, 0, 0, 1), 8.5: (2, 1, 1, 1, 1, 1),
    12.0: (2, 1, 1, 3, 1, 1), 12.5: (3, 1, 1, 3, 1, 2), 16.0: (3, 1, 1, 4, 1, 2),
    16.5: (3, 2, 2, 4, 1, 2), 20.0: (3, 2, 2, 4, 1, 2), 20.5: (4, 2, 2, 4, 2, 3),
}  # fmt: skip
# septic shock from 12.0 h: norepinephrine running and lactate 2.6 mmol/L (> 2) in the window
SHOCK_FROM = 12.0


def wbc(hour: float, value: float, subject: str) -> dict:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:test:lab", "value": f"wbc-{hour:g}"}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": (EPOCH + timedelta(hours=hour)).isoformat().replace("+00:00", "Z"),
        "valueQuantity": {"value": value, "unit": "10*3/uL", "system": "http://unitsofmeasure.org",
                          "code": "10*3/uL"},
    }  # fmt: skip


@pytest.fixture(scope="module")
def icu(tmp_path_factory):
    from medtwin.service import create_app
    from medtwin.service._demo_icu import icu_resources
    from medtwin.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('icu') / 'm.db'}", key=KEY)
    tokens = {}
    for name, role in (("dr", "clinician"), ("other", "clinician"), ("rita", "researcher")):
        store.add_user(name, role)
        tokens[name] = {"authorization": f"Bearer {store.issue_token(name)}"}
    fhir = {**tokens["dr"], "content-type": "application/fhir+json"}
    with TestClient(create_app(store, login_limit=1000), raise_server_exceptions=False) as client:
        pid = client.post("/patients", content=json.dumps(PATIENT), headers=fhir).json()["id"]
        bare = client.post("/patients", content=json.dumps({**PATIENT, "identifier": [
            {"system": "urn:test:mrn", "value": "ICU-2"}]}), headers=fhir).json()["id"]  # fmt: skip
        config = {"model": "pneumonia-sepsis", "epoch": EPOCH.isoformat(), "prior": "spec",
                  "n": 16, "seed": 3, "horizon": 12, "every": 1}  # fmt: skip
        r = client.post(f"/patients/{pid}/twin", json=config, headers=tokens["dr"])
        assert r.status_code == 201, r.text[:500]
        chart = [res for _, res in icu_resources(EPOCH, f"Patient/{pid}")]
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": res} for res in chart]}  # fmt: skip
        r = client.post("/fhir", content=json.dumps(bundle), headers=fhir)
        assert r.status_code == 200, r.text[:500]
        doc = wbc(21.0, 10.4, f"Patient/{pid}")
        r = client.post(f"/patients/{pid}/observations", content=json.dumps(doc), headers=fhir)
        assert r.status_code == 200, r.text[:500]
        yield client, tokens, pid, bare, len(chart)
    store.close()


def test_sofa_over_time_is_the_hand_computed_one(icu):
    client, tokens, pid, _, n_chart = icu
    assert n_chart == 6 * 10 - 3 + 3  # six panels of ten inputs, PEEP in three; 3 rates
    r = client.get(f"/ui/api/patients/{pid}/scores", headers=tokens["dr"])
    assert r.status_code == 200, r.text[:500]
    doc = r.json()
    assert doc["has_scores"] and doc["infection"] and doc["baseline"] == 0 and not doc["missing"]
    hours = [(datetime.fromisoformat(t.replace("Z", "+00:00")) - EPOCH) / timedelta(hours=1)
             for t in doc["times"]]  # fmt: skip
    assert hours == list(EXPECTED)
    parts = doc["components"]
    assert list(parts) == ["respiration", "coagulation", "liver", "cardiovascular", "cns",
                           "renal"]  # fmt: skip
    got = {h: tuple(parts[p][i] for p in parts) for i, h in enumerate(hours)}
    assert got == EXPECTED
    assert doc["total"] == [sum(v) for v in EXPECTED.values()]
    assert doc["total"] == [2, 3, 7, 9, 11, 12, 14, 14, 17]
    assert doc["sepsis"] == [True] * 9  # every total >= 2 above the baseline of 0
    assert doc["septic_shock"] == [h >= SHOCK_FROM for h in hours]
    latest = doc["latest"]
    assert latest["total"] == 17 and latest["ventilated"] and latest["septic_shock"]
    assert latest["text"].startswith("SOFA 17 at 02:30 UTC (respiration 4, coagulation 2, ")
    assert "Septic shock: yes (norepinephrine 0.18 µg/kg/min; lactate 4.6 mmol/L" in latest["text"]
    inputs = {x["name"]: x["value"] for x in latest["inputs"]}
    assert inputs["pf_ratio"] == pytest.approx(62.0 / 0.70)
    assert inputs["norepinephrine"] == pytest.approx(0.18)


def test_the_twins_predicted_sofa_is_its_forecast(icu):
    """The composed model declares an ordinal SOFA observable (``sys.sofa``): the panel carries
    the twin's latest forecast of it (quantiles of score draws: within 0..24), after the twin's
    time (21 h)."""
    client, tokens, pid, _, _ = icu
    p = client.get(f"/ui/api/patients/{pid}/scores", headers=tokens["dr"]).json()["predicted"]
    cone = client.get(f"/ui/api/patients/{pid}/cone", headers=tokens["dr"]).json()
    assert p["observable"] == "sys.sofa" and p["version"] == cone["version"]  # the latest
    first = datetime.fromisoformat(p["times"][0].replace("Z", "+00:00"))
    assert first > EPOCH + timedelta(hours=21)
    assert len(p["median"]) == len(p["times"]) == 12  # 12 h, hourly
    assert [b["level"] for b in p["bands"]] == [0.95, 0.8, 0.5]
    values = [*p["median"], *(v for b in p["bands"] for v in (*b["lower"], *b["upper"]))]
    assert all(0.0 <= v <= 24.0 for v in values)  # quantiles of score draws, SOFA's range


def test_the_scores_route_is_access_controlled(icu):
    client, tokens, pid, bare, _ = icu
    assert client.get(f"/ui/api/patients/{pid}/scores", headers=tokens["other"]).status_code == 404
    assert client.get(f"/ui/api/patients/{pid}/scores", headers=tokens["rita"]).status_code == 403
    assert client.get(f"/ui/api/patients/{pid}/scores").status_code == 401
    # a patient without a chart (and without a twin): nothing to score, no prediction
    doc = client.get(f"/ui/api/patients/{bare}/scores", headers=tokens["dr"]).json()
    assert not doc["has_scores"] and doc["times"] == [] and doc["predicted"] is None
    assert doc["latest"] is None and not doc["infection"]


def test_without_an_infection_there_is_no_sepsis_and_gaps_are_named():
    """The panel's document without the service: a twin whose model is not one of an infection
    (T1D) gets no Sepsis-3 however high the SOFA (so no septic shock either), and a chart time
    whose 24-h window lacks inputs is listed with what it lacks, not scored."""
    from medtwin.data.fhir import parse_bundle
    from medtwin.models import declaration
    from medtwin.service._dashboard_scores import infection_of, organ_scores, sofa_observable
    from medtwin.service._demo_icu import icu_resources

    assert not infection_of(declaration("t1d")) and infection_of(declaration("pneumonia-sepsis"))
    sofa = sofa_observable(declaration("pneumonia-sepsis"))
    assert sofa is not None and sofa.name == "sys.sofa" and sofa.loinc == "96790-1"
    assert sofa_observable(declaration("t1d")) is None and sofa_observable(None) is None
    chart = [r for _, r in icu_resources(EPOCH, "Patient/p-x")]
    # platelets an hour before the first panel (05:30), alone in their window
    early = next(r for r in chart if r["code"]["coding"][0]["code"] == "777-3")
    early = {**early, "identifier": [{"system": "urn:test", "value": "early-platelets"}],
             "effectiveDateTime": "2026-03-01T05:30:00Z"}  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in (early, *chart)]}  # fmt: skip
    records = parse_bundle(bundle).observations
    doc = organ_scores(records, "p-x", infection=False)
    assert doc["total"] == [2, 3, 7, 9, 11, 12, 14, 14, 17]
    assert doc["sepsis"] == [False] * 9 and doc["septic_shock"] == [False] * 9
    assert (
        "Sepsis-3: no (a rise of 2 points or more, but no suspected infection"
        in (doc["latest"]["text"])
    )
    (gap,) = doc["missing"]  # 05:30, the platelets alone: the rest not yet recorded
    assert gap["time"] == "2026-03-01T05:30:00Z"
    assert "needs pf_ratio, bilirubin, map, gcs, creatinine recorded within" in gap["text"]
