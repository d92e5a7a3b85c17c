"""Audit entries as FHIR R4 AuditEvent resources (plain dicts).

``type``: ``rest`` (RESTful Operation, HL7 audit-event-type) with the restful-interaction
``subtype`` (create, read, search-type, update, delete), or the DICOM codes 110106 Export and
110114 User Authentication. ``action``: C, R, U, D or E. ``outcome``: 0 success, 4 minor
failure (denied, invalid), 8 serious failure, 12 major failure. ``agent.who.display``: the
user; ``entity.what``: ``Patient/<pseudonym>`` (one entity per patient: the entry's, and those
an entry about several patients lists in its detail's ``patients``), and an entity carrying the
chain position (seq, hash, signing key id), the medtwin action and the detail.
"""

from __future__ import annotations

from typing import Any

from ._audit import OUTCOMES, PATIENTS, AuditEntry, canonical_detail

__all__ = ["to_fhir"]

_REST = ("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation")
_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_VERBS = {  # verb -> (AuditEvent.action, type, restful-interaction subtype)
    "create": ("C", _REST, "create"),
    "read": ("R", _REST, "read"),
    "search": ("E", _REST, "search-type"),
    "update": ("U", _REST, "update"),
    "delete": ("D", _REST, "delete"),
    "export": ("E", (_DCM, "110106", "Export"), None),
    "deidentified": ("E", (_DCM, "110106", "Export"), None),
    "login": ("E", (_DCM, "110114", "User Authentication"), None),
    "authenticate": ("E", (_DCM, "110114", "User Authentication"), None),
}


def to_fhir(entry: AuditEntry, *, observer: str = "medtwin") -> dict[str, Any]:
    """``entry`` as a FHIR R4 AuditEvent resource (a plain dict)."""
    verb = entry.action.rsplit(".", 1)[-1]
    code, (system, type_code, display), subtype = _VERBS.get(verb, ("E", _REST, None))
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"audit-{entry.seq}",
        "type": {"system": system, "code": type_code, "display": display},
        "action": code,
        "recorded": entry.time.isoformat(),
        "outcome": OUTCOMES[entry.outcome],
        "agent": [{"who": {"display": entry.actor}, "requestor": True}],
        "source": {"observer": {"display": observer}},
    }
    if subtype is not None:
        event["subtype"] = [{"system": "http://hl7.org/fhir/restful-interaction", "code": subtype}]
    if entry.outcome != "success":
        event["outcomeDesc"] = entry.detail.get("reason", entry.outcome)
    entities: list[dict[str, Any]] = []
    listed = entry.detail.get(PATIENTS) if isinstance(entry.detail, dict) else None
    patients = [entry.patient] if entry.patient is not None else []
    if isinstance(listed, list):
        patients += [p for p in listed if isinstance(p, str) and p not in patients]
    for pid in patients:
        entities.append(
            {
                "what": {"reference": f"Patient/{pid}"},
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                    "display": "Person",
                },
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "1",
                    "display": "Patient",
                },
            }
        )
    chain = [
        {"type": "medtwin-action", "valueString": entry.action},
        {"type": "medtwin-seq", "valueString": str(entry.seq)},
        {"type": "medtwin-hash", "valueString": entry.hash},
        {"type": "medtwin-key-id", "valueString": entry.key_id or "legacy"},
    ]
    if entry.detail:
        chain.append({"type": "medtwin-detail", "valueString": canonical_detail(entry.detail)})
    entities.append({"what": {"display": entry.resource or entry.action}, "detail": chain})
    event["entity"] = entities
    return event
