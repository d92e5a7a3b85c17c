"""The OpenAPI request bodies of the FHIR routes, for the API page (``/docs``).

The FHIR routes read their body raw and parse it with ``medtwin.data.fhir`` (the parser is the
validator: it checks references, units, ranges and statuses that a schema cannot), so FastAPI
saw no body to describe and Swagger UI showed none. These JSON Schemas (OpenAPI 3.1) describe
the part of each FHIR R4 resource medtwin reads -- other elements are allowed and ignored --
with an example to try. Media types: ``application/fhir+json`` (FHIR's own) and
``application/json``.

Reference: HL7 FHIR R4 (4.0.1), https://hl7.org/fhir/R4/ -- Patient, Observation,
MedicationAdministration, Bundle.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS", "fhir_body"]

_REF = {"type": "object", "properties": {"reference": {"type": "string"}},
        "required": ["reference"]}  # fmt: skip
_CODING = {
    "type": "object",
    "properties": {"system": {"type": "string"}, "code": {"type": "string"},
                   "display": {"type": "string"}},
}  # fmt: skip
_CONCEPT = {"type": "object", "properties": {"coding": {"type": "array", "items": _CODING},
                                             "text": {"type": "string"}}}  # fmt: skip
_QUANTITY = {
    "type": "object",
    "properties": {
        "value": {"type": "number"},
        "comparator": {"enum": ["<", "<=", ">=", ">"],
                       "description": "A reading beyond the device's range (censored)."},
        "unit": {"type": "string"},
        "system": {"const": "http://unitsofmeasure.org"},
        "code": {"type": "string", "description": "UCUM code, e.g. mg/dL, mmol/L, 10*3/uL, U."},
    },
    "required": ["value"],
}  # fmt: skip
_WHEN = {"type": "string", "format": "date-time", "description": "With a time zone."}
_NEW = "urn:uuid:7f3c1a52-0000-4000-8000-000000000001"  # a patient new to the store

PATIENT: dict[str, Any] = {
    "type": "object",
    "title": "Patient (FHIR R4)",
    "description": "A patient. Identifying fields are encrypted at rest; the store answers "
    "with a pseudonym (p-...).",
    "properties": {
        "resourceType": {"const": "Patient"},
        "id": {"type": "string"},
        "identifier": {"type": "array", "items": {
            "type": "object",
            "properties": {"system": {"type": "string"}, "value": {"type": "string"},
                           "type": _CONCEPT}}},
        "name": {"type": "array", "items": {
            "type": "object",
            "properties": {"use": {"type": "string"}, "family": {"type": "string"},
                           "given": {"type": "array", "items": {"type": "string"}},
                           "text": {"type": "string"}}}},
        "birthDate": {"type": "string", "format": "date"},
        "gender": {"enum": ["male", "female", "other", "unknown"]},
    },
    "required": ["resourceType"],
    "example": {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:example:mrn", "value": "12345"}],
        "name": [{"family": "Lovelace", "given": ["Ada"]}],
        "birthDate": "1990-12-10", "gender": "female",
    },
}  # fmt: skip
OBSERVATION: dict[str, Any] = {
    "type": "object",
    "title": "Observation (FHIR R4)",
    "description": "A measurement: a LOINC code the patient's model observes (2339-0 blood "
    "glucose, 99504-3 CGM glucose, 6690-2 white cells, ...), its time and value.",
    "properties": {
        "resourceType": {"const": "Observation"},
        "status": {"enum": ["final", "amended", "corrected", "preliminary", "registered",
                            "cancelled", "entered-in-error", "unknown"]},
        "identifier": {"type": "array", "items": {"type": "object"}},
        "code": _CONCEPT, "subject": _REF, "effectiveDateTime": _WHEN,
        "valueQuantity": _QUANTITY,
    },
    "required": ["resourceType", "status", "code", "subject", "valueQuantity"],
    "example": {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:example:cgm", "value": "reading-1"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "99504-3"}]},
        "subject": {"reference": "Patient/p-0123456789abcdef"},
        "effectiveDateTime": "2026-01-01T08:05:00Z",
        "valueQuantity": {"value": 142, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                          "code": "mg/dL"},
    },
}  # fmt: skip
ADMINISTRATION: dict[str, Any] = {
    "type": "object",
    "title": "MedicationAdministration (FHIR R4)",
    "description": "Insulin given: a dose (U) is a bolus, a rate (U/h) a basal rate from then on.",
    "properties": {
        "resourceType": {"const": "MedicationAdministration"},
        "status": {"enum": ["completed", "in-progress", "not-done", "on-hold", "stopped",
                            "entered-in-error", "unknown"]},
        "identifier": {"type": "array", "items": {"type": "object"}},
        "medicationCodeableConcept": _CONCEPT, "medicationReference": _REF, "subject": _REF,
        "effectiveDateTime": _WHEN,
        "dosage": {"type": "object", "properties": {"dose": _QUANTITY,
                                                    "rateQuantity": _QUANTITY}},
    },
    "required": ["resourceType", "status", "subject", "dosage"],
    "example": {
        "resourceType": "MedicationAdministration", "status": "completed",
        "medicationCodeableConcept": {"coding": [
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "86009",
             "display": "insulin lispro"}]},
        "subject": {"reference": "Patient/p-0123456789abcdef"},
        "effectiveDateTime": "2026-01-01T08:00:00Z",
        "dosage": {"dose": {"value": 4, "unit": "U", "system": "http://unitsofmeasure.org",
                            "code": "U"}},
    },
}  # fmt: skip
BUNDLE: dict[str, Any] = {
    "type": "object",
    "title": "Bundle (FHIR R4)",
    "description": "transaction (all or nothing) or collection; entries reference their "
    "Patient by fullUrl or Patient/<id>.",
    "properties": {
        "resourceType": {"const": "Bundle"},
        "type": {"enum": ["transaction", "collection"]},
        "entry": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "fullUrl": {"type": "string"},
                "resource": {"oneOf": [PATIENT, OBSERVATION, ADMINISTRATION]},
                "request": {"type": "object", "description": "In a transaction: POST or PUT "
                            "and the url naming the entry's resource type.",
                            "properties": {"method": {"enum": ["POST", "PUT"]},
                                           "url": {"type": "string"}}},
            }}},
    },
    "required": ["resourceType", "type", "entry"],
    "example": {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": _NEW, "resource": PATIENT["example"],
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {**OBSERVATION["example"], "subject": {"reference": _NEW}},
             "request": {"method": "POST", "url": "Observation"}},
        ],
    },
}  # fmt: skip

SCHEMAS: dict[str, dict[str, Any]] = {
    "Patient": PATIENT,
    "Observation": OBSERVATION,
    "MedicationAdministration": ADMINISTRATION,
    "Bundle": BUNDLE,
}


def fhir_body(*types: str) -> dict[str, Any]:
    """``openapi_extra`` for a route whose raw body is one of the FHIR ``types``."""
    schema = SCHEMAS[types[0]] if len(types) == 1 else {"oneOf": [SCHEMAS[t] for t in types]}
    content = {media: {"schema": schema} for media in ("application/fhir+json", "application/json")}
    return {"requestBody": {"required": True, "content": content}}
