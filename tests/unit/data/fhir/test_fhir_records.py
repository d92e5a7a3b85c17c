"""Observation, MedicationAdministration and Patient details: censoring, flags, intake events,
statuses, units, times and references."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fhir_builders import PATIENT_URL, bundle, glucose, insulin, patient

from medtwin.data.fhir import parse_bundle, parse_resource
from medtwin.errors import FhirError


def one(resource, **kw):
    return parse_bundle(bundle(resource), **kw)


@pytest.mark.parametrize(
    "comparator, censored", [("<", -1), ("<=", -1), (">", 1), (">=", 1), (None, 0)]
)
def test_cgm_lo_hi_by_comparator(comparator, censored):
    res = glucose(40.0, code={"coding": [{"system": "http://loinc.org", "code": "99504-3"}]})
    if comparator:
        res["valueQuantity"]["comparator"] = comparator
    (o,) = one(res).observations
    assert (o.code, o.value, o.censored) == ("99504-3", 40.0, censored)


def test_interpretation_low_is_a_flag_not_censoring():
    res = glucose(
        52.0,
        interpretation=[
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "L",
                    }
                ]
            }
        ],
    )
    (o,) = one(res).observations
    assert (o.value, o.censored) == (52.0, 0)


def test_times_are_utc_aware_and_fractional_seconds_kept():
    (o,) = one(glucose(effectiveDateTime="2024-05-01T23:59:59.25-05:00")).observations
    assert o.time == datetime(2024, 5, 2, 4, 59, 59, 250000, tzinfo=UTC)
    (o,) = one(
        glucose(effectiveInstant="2024-05-01T06:30:00Z", effectiveDateTime=None)
    ).observations
    assert o.time == datetime(2024, 5, 1, 6, 30, tzinfo=UTC)


def test_carbohydrate_intake_is_a_meal_event():
    res = glucose(
        60,
        "g",
        code={"coding": [{"system": "http://loinc.org", "code": "9059-7"}]},
        identifier=[{"system": "urn:app:meals", "value": "m-17"}],
    )
    parsed = one(res)
    assert parsed.observations == ()
    (e,) = parsed.events
    assert (e.kind, e.amount, e.source_id) == ("meal", 60.0, "urn:app:meals|m-17")


def test_unit_text_is_a_fallback_only_without_a_code():
    res = glucose(valueQuantity={"value": 7.0, "unit": "mmol/L"})
    (o,) = one(res).observations
    assert o.value == pytest.approx(7.0 * 18.0156)


@pytest.mark.parametrize(
    "status, kept", [("final", 1), ("amended", 1), ("corrected", 1), ("preliminary", 0),
                     ("entered-in-error", 0), ("cancelled", 0), ("registered", 0)]
)  # fmt: skip
def test_observation_status(status, kept):
    parsed = one(glucose(status=status))
    assert len(parsed.observations) == kept
    if not kept:
        assert parsed.skipped[0].index == 1
        assert status in parsed.skipped[0].reason


def test_unsupported_loinc_is_skipped_in_a_bundle_and_refused_alone():
    res = glucose(code={"coding": [{"system": "http://loinc.org", "code": "2345-7"}]})
    parsed = one(res)
    assert parsed.observations == ()
    assert parsed.skipped[0][:2] == (1, "Observation")
    assert "2345-7" in parsed.skipped[0].reason
    with pytest.raises(FhirError):
        parse_resource(res)
    assert parse_resource(res, unsupported_codes="skip").skipped[0].index is None


def test_first_curated_loinc_of_several_codings_is_used():
    res = glucose(
        code={
            "coding": [
                {"system": "http://snomed.info/sct", "code": "33747003"},
                {"system": "http://loinc.org", "code": "2345-7"},
                {"system": "http://loinc.org", "code": "2339-0"},
            ]
        }
    )
    (o,) = one(res).observations
    assert o.code == "2339-0"


def test_no_loinc_and_data_absent_are_skipped():
    no_loinc = glucose(code={"coding": [{"system": "http://snomed.info/sct", "code": "1"}]})
    absent = glucose(dataAbsentReason={"text": "sensor warm-up"})
    del absent["valueQuantity"]
    parsed = parse_bundle(bundle(no_loinc, absent, kind="collection"))
    assert [s.reason.split()[0] for s in parsed.skipped] == ["no", "no"]


@pytest.mark.parametrize(
    "dosage, kind, amount",
    [
        ({"dose": {"value": 3.5, "system": "http://unitsofmeasure.org", "code": "[iU]"}}, "bolus",
         3.5),
        ({"dose": {"value": 2, "unit": "units"}}, "bolus", 2.0),
        ({"rateQuantity": {"value": 1.2, "system": "http://unitsofmeasure.org", "code": "U/h"}},
         "basal", 1.2),
        ({"rateQuantity": {"value": 0.02, "system": "http://unitsofmeasure.org",
                           "code": "U/min"}}, "basal", 1.2),
        ({"rateQuantity": {"value": 24, "system": "http://unitsofmeasure.org", "code": "U/d"}},
         "basal", 1.0),
        ({"rateRatio": {"numerator": {"value": 3, "code": "U"},
                        "denominator": {"value": 2, "code": "h"}}}, "basal", 1.5),
        ({"rateRatio": {"numerator": {"value": 1, "code": "U"},
                        "denominator": {"value": 30, "code": "min"}}}, "basal", 2.0),
    ],
)  # fmt: skip
def test_insulin_doses_and_rates(dosage, kind, amount):
    (e,) = one(insulin(dosage=dosage)).events
    assert (e.kind, e.amount) == (kind, pytest.approx(amount, rel=1e-12))
    assert e.time == datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "over, reason",
    [
        ({"medicationCodeableConcept": {"text": "Vancomycin 500 mg"}}, "not an insulin"),
        ({"status": "entered-in-error"}, "entered-in-error"),
        ({"status": "not-done"}, "not-done"),
        ({"status": "in-progress"}, "in progress"),  # a bolus is taken once completed
    ],
)
def test_administrations_skipped(over, reason):
    parsed = one(insulin(**over))
    assert parsed.events == ()
    (s,) = parsed.skipped
    assert s.resource_type == "MedicationAdministration" and reason in s.reason


def test_insulin_by_rxnorm_code_without_the_word():
    res = insulin(
        medicationCodeableConcept={
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "274783"}]
        }
    )
    (e,) = one(res).events
    assert e.kind == "bolus"


def test_insulin_medication_entry_of_the_bundle():
    med = {"resourceType": "Medication", "code": {"text": "Insulin glargine"}}
    b = bundle(med, insulin())
    b["entry"][2]["resource"]["medicationReference"] = {"reference": b["entry"][1]["fullUrl"]}
    del b["entry"][2]["resource"]["medicationCodeableConcept"]
    parsed = parse_bundle(b)
    assert [e.kind for e in parsed.events] == ["bolus"]
    assert [s.resource_type for s in parsed.skipped] == ["Medication"]


def test_patient_record_and_references():
    parsed = parse_bundle(bundle(glucose()))
    (p,) = parsed.patients
    assert (p.mrn, p.name, p.gender) == ("MRN-0042", "Jane Q Doe", "female")
    assert p.birth_date.isoformat() == "1980-02-29"
    assert p.source_id == "http://hospital.example.org/mrn|MRN-0042"
    assert dict(parsed.patient_refs) == {PATIENT_URL: p.source_id, "Patient/pt1": p.source_id}


def test_references_outside_the_bundle_are_left_to_the_caller():
    parsed = parse_bundle(
        bundle(glucose(subject={"reference": "Patient/p-0123456789abcdef"}), patient_first=False)
    )
    assert parsed.references() == {"Patient/p-0123456789abcdef"}
    assert parsed.unresolved() == {"Patient/p-0123456789abcdef"}


def test_partial_birth_date_is_not_invented():
    (p,) = parse_resource(patient(birthDate="1944")).patients
    assert p.birth_date is None


def test_source_id_fallbacks():
    no_ident = glucose()
    (o,) = one(no_ident).observations
    assert o.source_id == "Observation/g1"
    b = bundle(glucose(id=None))
    del b["entry"][1]["resource"]["id"]
    (o,) = parse_bundle(b).observations
    assert o.source_id == b["entry"][1]["fullUrl"]
    del b["entry"][1]["fullUrl"]
    a = parse_bundle(b).observations[0].source_id
    assert a.startswith("sha256:") and len(a) == 7 + 64
    assert parse_bundle(b).observations[0].source_id == a  # stable


def test_transaction_put_is_taken():
    b = bundle(glucose())
    b["entry"][1]["request"] = {"method": "PUT", "url": "Observation/g1"}
    assert len(parse_bundle(b).observations) == 1
