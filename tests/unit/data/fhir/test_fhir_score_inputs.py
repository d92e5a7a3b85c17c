"""FHIR ingestion of the clinical scores' inputs (LOINC codes and UCUM units of
``analysis.score_inputs``) and of vasopressor infusions, and the SOFA score of what was
ingested, hand-computed from Vincent et al. 1996, Table 1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir_builders import PATIENT_URL, bundle

from medtwin.analysis import septic_shock
from medtwin.data.fhir import parse_bundle
from medtwin.data.loinc import LOINC, SCORE_SYSTEM, code_system
from medtwin.data.score_records import latest_score_inputs, sofa_at
from medtwin.errors import DataError, FhirError

LOINC_URL = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SYNTHEA = Path("/work/shared/reference/fhir")


def lab(i: int, code: str, value: float, unit: str, when: str = "2024-05-01T10:00:00Z",
        **over: Any) -> dict[str, Any]:  # fmt: skip
    res = {
        "resourceType": "Observation",
        "id": f"o{i}",
        "status": "final",
        "code": {"coding": [{"system": LOINC_URL, "code": code}]},
        "subject": {"reference": PATIENT_URL},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }
    res.update(over)
    return res


def infusion(i: int, drug: dict[str, Any], rate: dict[str, Any] | None,
             when: str = "2024-05-01T09:00:00Z") -> dict[str, Any]:  # fmt: skip
    return {
        "resourceType": "MedicationAdministration",
        "id": f"m{i}",
        "status": "in-progress",
        "medicationCodeableConcept": drug,
        "subject": {"reference": PATIENT_URL},
        "effectivePeriod": {"start": when},
        "dosage": {"rateQuantity": rate} if rate is not None else {"text": "titrate to MAP"},
    }


NOREPI = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7512",
                      "display": "norepinephrine"}]}  # fmt: skip
ICU_LABS = [
    lab(1, "2703-7", 9.0, "kPa"),  # PaO2 9.0 kPa = 67.5055 mm[Hg]
    lab(2, "3150-0", 50.0, "%"),  # FiO2 50 % = 0.5
    lab(3, "20077-4", 8.0, "cm[H2O]"),  # PEEP on the ventilator: respiratory support
    lab(4, "777-3", 85.0, "10*3/uL"),
    lab(5, "1975-2", 41.0, "umol/L"),  # bilirubin 41 umol/L = 2.397 mg/dL
    lab(6, "8478-0", 62.0, "mm[Hg]"),
    lab(7, "9269-2", 13.0, "{score}"),
    lab(8, "38483-4", 1.0, "mg/dL", "2024-05-01T04:00:00Z"),  # creatinine in blood, earlier
    lab(9, "2160-0", 212.2, "umol/L"),  # creatinine 212.2 umol/L = 2.400 mg/dL, the latest
    lab(10, "9187-6", 600.0, "mL/d"),  # urine output 600 mL/d = 25 mL/h
    lab(11, "2524-7", 3.1, "mmol/L"),
    infusion(12, NOREPI, {"value": 0.08, "unit": "ug/kg/min", "system": UCUM, "code": "ug/kg/min"}),
    infusion(
        13,
        {"text": "Noradrenaline 4 mg in 50 mL"},
        {"value": 30.0, "unit": "mcg/kg/hr"},
        when="2024-05-01T11:00:00Z",
    ),  # after `at`
]
AT = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def test_an_icu_patients_labs_ingest_in_canonical_units():
    parsed = parse_bundle(json.dumps(bundle(*ICU_LABS)))
    assert not parsed.skipped and not parsed.events
    got = {(o.code, o.time.hour): (o.value, o.unit) for o in parsed.observations}
    assert got[("2703-7", 10)] == (pytest.approx(67.5055, abs=1e-4), "mm[Hg]")
    assert got[("3150-0", 10)] == (pytest.approx(0.5), "1")
    assert got[("1975-2", 10)] == (pytest.approx(2.3971, abs=1e-4), "mg/dL")
    assert got[("2160-0", 10)] == (pytest.approx(2.4, abs=1e-3), "mg/dL")
    assert got[("2160-0", 4)] == (1.0, "mg/dL")  # 38483-4 (blood) stored as 2160-0
    assert got[("9187-6", 10)] == (pytest.approx(25.0), "mL/h")
    assert got[("norepinephrine", 9)] == (pytest.approx(0.08), "ug/kg/min")
    assert got[("norepinephrine", 11)] == (pytest.approx(0.5), "ug/kg/min")  # 30 per h
    assert code_system("norepinephrine") == SCORE_SYSTEM and code_system("777-3") == LOINC_URL


def test_sofa_of_what_was_ingested():
    """Hand-computed (Vincent 1996): P/F 67.5055/0.5 = 135.01 < 200 on the ventilator: 3;
    platelets 85 < 100: 2; bilirubin 2.40 mg/dL in 2.0-5.9: 2; norepinephrine 0.08 <= 0.1:
    3; GCS 13: 1; creatinine 2.40 in 2.0-3.4 (urine 600 mL/d >= 500: no points): 2. Total 13.
    The norepinephrine raised to 0.5 at 11:00 is not yet known at 10:30."""
    records = parse_bundle(json.dumps(bundle(*ICU_LABS))).observations
    x = latest_score_inputs(records, AT)
    assert x["pf_ratio"] == pytest.approx(135.0111, abs=1e-4)
    assert x["creatinine"] == pytest.approx(2.4, abs=1e-3)  # the latest, not the 04:00 value
    s = sofa_at(records, AT)
    parts = (s.respiration, s.coagulation, s.liver, s.cardiovascular, s.cns, s.renal)
    assert [int(p) for p in parts] == [3, 2, 2, 3, 1, 2]
    assert int(s.total) == 13
    later = sofa_at(records, datetime(2024, 5, 1, 11, 0, tzinfo=UTC))
    assert int(later.cardiovascular) == 4  # norepinephrine 0.5 > 0.1
    assert bool(septic_shock({"norepinephrine": x["norepinephrine"]}, x["lactate"]))


def test_sofa_names_the_missing_inputs():
    records = parse_bundle(json.dumps(bundle(*ICU_LABS[3:6]))).observations
    with pytest.raises(DataError, match="needs pf_ratio, gcs, creatinine recorded within"):
        sofa_at(records, AT)


@pytest.mark.parametrize(
    ("resource", "fragment"),
    [
        (
            lab(1, "777-3", 85.0, "g/L"),
            "Unit 'g/L' is not accepted for LOINC 777-3 (Platelets [#/volume] in Blood",
        ),
        (lab(1, "3150-0", 150.0, "%"), "lies outside the physically possible range [0.21, 1]"),
        (lab(1, "777-3", -3.0, "10*3/uL"), "lies outside the physically possible range [0, 5000]"),
        (
            infusion(1, NOREPI, None),
            "needs its dose: dosage.rateQuantity in ug/kg/min (a "
            "vasopressor without a dose cannot be scored)",
        ),
        (
            infusion(1, NOREPI, {"value": 0.2, "unit": "mg/h", "system": UCUM, "code": "mg/h"}),
            "must be weight-based: UCUM ug/kg/min (or ug/kg/h). Got 'mg/h'",
        ),
        (
            infusion(1, {"text": "dopamine"}, {"value": -1.0, "code": "ug/kg/min"}),
            "A dopamine rate of -1 ug/kg/min lies outside [0, 100]",
        ),
    ],
)
def test_bad_score_inputs_are_refused_with_the_reason(resource, fragment):
    with pytest.raises(FhirError) as info:
        parse_bundle(json.dumps(bundle(resource)))
    assert any(fragment in msg for _, _, msg in info.value.issues), info.value.issues


def test_the_score_codes_are_in_the_table():
    for code in ("2703-7", "3150-0", "50984-4", "777-3", "1975-2", "8478-0", "9269-2",
                 "2160-0", "38483-4", "9187-6", "2524-7", "20077-4"):  # fmt: skip
        assert code in LOINC


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="the shared Synthea bundles are not here")
def test_synthea_platelets_bilirubin_and_creatinine_ingest():
    """The Synthea bundles hold three SOFA inputs: platelets (777-3), total bilirubin
    (1975-2) and creatinine in blood (38483-4, read as 2160-0), each as in the raw JSON."""
    path = next(SYNTHEA.glob("Coleman_Ortiz_*.json"))
    raw = json.loads(path.read_text())
    want: dict[str, list[float]] = {"777-3": [], "1975-2": [], "38483-4": []}
    for e in raw["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Observation":
            code = r["code"]["coding"][0]["code"]
            if code in want and r.get("status") in ("final", "amended", "corrected"):
                want[code].append(r["valueQuantity"]["value"])
    parsed = parse_bundle(path.read_bytes())
    got: dict[str, list[float]] = {"777-3": [], "1975-2": [], "2160-0": []}
    for o in parsed.observations:
        if o.code in got:
            got[o.code].append(o.value)
    assert sorted(got["777-3"]) == sorted(want["777-3"]) and len(want["777-3"]) == 2
    assert sorted(got["1975-2"]) == sorted(want["1975-2"]) and len(want["1975-2"]) == 2
    assert sorted(got["2160-0"]) == sorted(want["38483-4"]) and len(want["38483-4"]) > 0
