"""HL7's own R4 example resources (and insulin administrations in their shape) ingest
correctly: tests/fixtures/fhir/README.md gives the source of each file."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from fhir_builders import fixture

from medtwin.data.fhir import parse_bundle, parse_resource
from medtwin.data.records import EventRecord, ObservationRecord


def test_f001_glucose_is_converted_to_mg_dl_at_the_period_start():
    parsed = parse_resource(fixture("observation-example-f001-glucose.json"))
    (rec,) = parsed.observations
    assert rec.code == "2339-0"  # 15074-8 (mmol/L) is stored as glucose in blood, mg/dL
    assert rec.unit == "mg/dL"
    assert rec.value == pytest.approx(6.3 * 18.0156, rel=1e-12)
    assert round(rec.value, 1) == 113.5
    assert rec.time == datetime(2013, 4, 2, 8, 30, 10, tzinfo=UTC)  # +01:00 -> UTC
    assert rec.censored == 0  # interpretation H is a flag, not a censored reading
    assert rec.patient_ref == "Patient/f001"
    assert rec.source_id == "http://www.bmc.nl/zorgportal/identifiers/observations|6323"


def test_f001_as_bytes_str_and_dict_give_the_same_record():
    res = fixture("observation-example-f001-glucose.json")
    text = json.dumps(res)
    a = parse_resource(res, expected_type="Observation").observations
    b = parse_resource(text).observations
    c = parse_resource(text.encode("utf-8")).observations
    assert a == b == c


def test_f001_patient():
    parsed = parse_resource(fixture("patient-example-f001-pieter.json"), expected_type="Patient")
    (p,) = parsed.patients
    assert p.name == "Pieter van de Heuvel"
    assert p.birth_date == date(1944, 11, 17)
    assert p.gender == "male"
    assert p.mrn is None  # its identifiers are not typed MR
    assert p.source_id == "urn:oid:2.16.840.1.113883.2.4.6.3|738472983"
    assert parsed.patient_refs["Patient/f001"] == p.source_id


def test_f001_collection_bundle_resolves_the_patient_reference():
    payload = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "http://hl7.org/fhir/Patient/f001",
                "resource": fixture("patient-example-f001-pieter.json"),
            },
            {
                "fullUrl": "http://hl7.org/fhir/Observation/f001",
                "resource": fixture("observation-example-f001-glucose.json"),
            },
            {
                "fullUrl": "http://hl7.org/fhir/MedicationAdministration/medadmin-insulin-bolus",
                "resource": fixture("medicationadministration-insulin-bolus.json"),
            },
        ],
    }
    parsed = parse_bundle(payload)
    assert parsed.type == "collection"
    (p,) = parsed.patients
    (o,) = parsed.observations
    (e,) = parsed.events
    assert parsed.references() == {"Patient/f001"}
    assert parsed.unresolved() == set()
    assert parsed.patient_refs[o.patient_ref] == p.source_id
    assert parsed.patient_refs["http://hl7.org/fhir/Patient/f001"] == p.source_id
    assert parsed.patient_refs[e.patient_ref] == p.source_id
    assert parsed.skipped == ()


def test_insulin_bolus_from_contained_medication():
    parsed = parse_resource(fixture("medicationadministration-insulin-bolus.json"))
    (e,) = parsed.events
    assert e == EventRecord(
        source_id="http://www.bmc.nl/zorgportal/identifiers/medicationadministrations|ma-6324",
        patient_ref="Patient/f001",
        kind="bolus",
        time=datetime(2013, 4, 2, 11, 5, tzinfo=UTC),
        amount=6.0,
    )


def test_insulin_basal_rate_ratio_in_progress():
    parsed = parse_resource(fixture("medicationadministration-insulin-basal.json"))
    (e,) = parsed.events
    assert (e.kind, e.amount) == ("basal", 0.8)
    assert e.time == datetime(2013, 4, 1, 23, 0, tzinfo=UTC)
    assert e.source_id == "MedicationAdministration/medadmin-insulin-basal"


def test_fixtures_validate_with_the_r4_models_as_written():
    from fhir.resources.R4B import get_fhir_model_class

    for name in (
        "observation-example-f001-glucose.json",
        "patient-example-f001-pieter.json",
        "medicationadministration-insulin-bolus.json",
        "medicationadministration-insulin-basal.json",
    ):
        res = fixture(name)
        get_fhir_model_class(res["resourceType"]).model_validate(res)


def test_records_are_the_shared_record_types():
    parsed = parse_resource(fixture("observation-example-f001-glucose.json"))
    assert isinstance(parsed.observations[0], ObservationRecord)
    assert parsed.type == "resource"
