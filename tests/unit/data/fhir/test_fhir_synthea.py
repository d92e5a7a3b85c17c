"""Synthea-style R4 transaction bundles (tests/fixtures/fhir/, and the shared reference data in
/work/shared/reference/fhir/ when present) ingest: every glucose
and white-cell observation is found, with the value, unit and time of the raw JSON, and every
resource medtwin does not use is reported as skipped."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from medtwin.data.fhir import parse_bundle

FIXTURE = Path(__file__).parents[3] / "fixtures" / "fhir" / "synthea-Lupe_Little.json"
REFERENCE = Path("/work/shared/reference/fhir")
OTHERS = sorted(p for p in REFERENCE.glob("*.json") if not p.name.startswith("Lupe_Little"))
FILES = [FIXTURE, *OTHERS]


def _loinc(res: dict) -> str | None:
    return next(
        (c["code"] for c in res["code"]["coding"] if c.get("system") == "http://loinc.org"), None
    )


@pytest.fixture(
    scope="module", params=FILES, ids=lambda p: p.name.removeprefix("synthea-").split("_")[0]
)
def pair(request):
    raw = request.param.read_bytes()
    return json.loads(raw), parse_bundle(raw)


def test_glucose_observations_match_the_raw_json(pair):
    raw, parsed = pair
    expected = sorted(
        (
            e["resource"]["id"],
            datetime.fromisoformat(e["resource"]["effectiveDateTime"]),
            e["resource"]["valueQuantity"]["value"],
            e["resource"]["valueQuantity"]["code"],
        )
        for e in raw["entry"]
        if e["resource"]["resourceType"] == "Observation" and _loinc(e["resource"]) == "2339-0"
    )
    got = sorted(
        (o.source_id.removeprefix("Observation/"), o.time, o.value, o.unit)
        for o in parsed.observations
        if o.code == "2339-0"
    )
    assert got == expected  # mg/dL in, mg/dL out: the value is untouched
    assert all(o.time.utcoffset().total_seconds() == 0 for o in parsed.observations)


def test_every_entry_is_either_a_record_or_skipped(pair):
    raw, parsed = pair
    n = len(raw["entry"])
    assert (
        len(parsed.patients) + len(parsed.observations) + len(parsed.events) + len(parsed.skipped)
        == n
    )
    # glucose, WBC, LDL-C, cholesterol; the SOFA inputs platelets, bilirubin, creatinine
    taken = {"2339-0", "6690-2", "18262-6", "2093-3", "777-3", "1975-2", "38483-4"}
    n_obs = sum(
        1
        for e in raw["entry"]
        if e["resource"]["resourceType"] == "Observation" and _loinc(e["resource"]) in taken
    )
    assert len(parsed.observations) == n_obs
    skipped_types = Counter(s.resource_type for s in parsed.skipped)
    raw_types = Counter(e["resource"]["resourceType"] for e in raw["entry"])
    for rtype, count in raw_types.items():
        if rtype == "Observation":
            assert skipped_types[rtype] == count - n_obs
        elif rtype == "MedicationRequest":  # a statin prescription is one start event here
            assert skipped_types[rtype] == count - len(parsed.events), rtype
        elif rtype != "Patient":
            assert skipped_types[rtype] == count, rtype
    assert all(
        s.reason.startswith("LOINC ") or s.reason.startswith("no value")
        for s in parsed.skipped
        if s.resource_type == "Observation"
    )


def test_the_patient_and_its_references(pair):
    raw, parsed = pair
    (p,) = parsed.patients
    entry = next(e for e in raw["entry"] if e["resource"]["resourceType"] == "Patient")
    res = entry["resource"]
    mr = next(
        i["value"]
        for i in res["identifier"]
        if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR"
    )
    assert p.mrn == mr
    assert p.birth_date.isoformat() == res["birthDate"]
    assert p.gender == res["gender"]
    assert p.name.split()[-1] == res["name"][0]["family"]
    assert parsed.patient_refs[entry["fullUrl"]] == p.source_id
    assert parsed.patient_refs[f"Patient/{res['id']}"] == p.source_id
    assert parsed.references() == {entry["fullUrl"]}
    assert parsed.unresolved() == set()


def test_glucose_counts_of_this_reference_set(pair):
    """The numbers of this reference set, counted once by hand from the raw files."""
    raw, parsed = pair
    name = raw["entry"][0]["resource"]["name"][0]["family"]
    expected = {"Riojas": 0, "Ortiz": 20, "Little": 3}
    if name not in expected:
        pytest.skip("the reference set changed")
    assert sum(o.code == "2339-0" for o in parsed.observations) == expected[name]
