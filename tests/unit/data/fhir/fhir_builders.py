"""Small valid FHIR R4 resources for the tests of medtwin.data.fhir, to be broken one element
at a time."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parents[3] / "fixtures" / "fhir"
PATIENT_URL = "urn:uuid:0b5c7e0e-5f0a-4a0e-9a52-000000000001"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def patient(**over: Any) -> dict[str, Any]:
    res = {
        "resourceType": "Patient",
        "id": "pt1",
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "system": "http://hospital.example.org/mrn",
                "value": "MRN-0042",
            }
        ],
        "name": [{"use": "official", "family": "Doe", "given": ["Jane", "Q"]}],
        "gender": "female",
        "birthDate": "1980-02-29",
    }
    res.update(over)
    return res


def glucose(value: Any = 120.0, unit: str = "mg/dL", **over: Any) -> dict[str, Any]:
    res = {
        "resourceType": "Observation",
        "id": "g1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
        "subject": {"reference": PATIENT_URL},
        "effectiveDateTime": "2024-05-01T08:30:00+02:00",
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }
    res.update(over)
    return res


def insulin(dose: Any = 4.0, code: str = "U", **over: Any) -> dict[str, Any]:
    res = {
        "resourceType": "MedicationAdministration",
        "id": "ma1",
        "status": "completed",
        "medicationCodeableConcept": {"text": "Insulin lispro 100 U/mL"},
        "subject": {"reference": PATIENT_URL},
        "effectiveDateTime": "2024-05-01T12:00:00Z",
        "dosage": {
            "dose": {
                "value": dose,
                "unit": code,
                "system": "http://unitsofmeasure.org",
                "code": code,
            }
        },
    }
    res.update(over)
    return res


def bundle(*resources: dict[str, Any], kind: str = "transaction", patient_first: bool = True):
    """A bundle of a Patient (fullUrl PATIENT_URL) and ``resources`` (entry 1, 2, ...)."""
    items = ([patient()] if patient_first else []) + [copy.deepcopy(r) for r in resources]
    entries = []
    for i, res in enumerate(items):
        url = (
            PATIENT_URL
            if (patient_first and i == 0)
            else f"urn:uuid:00000000-0000-4000-8000-{i:012d}"
        )
        entry: dict[str, Any] = {"fullUrl": url, "resource": res}
        if kind == "transaction":
            entry["request"] = {"method": "POST", "url": res.get("resourceType", "Observation")}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}
