"""Patient -> PatientRecord.

``mrn``: the identifier whose type is MR (HL7 v2 table 0203); ``name``: "given family" of the
official name (else the usual one, else the first), or its ``text``; ``birth_date``: a full
FHIR date (a partial date such as ``1944`` gives None rather than an invented day);
``gender``: the administrative gender code. ``source_id``: the first identifier with a value
as ``system|value``, else ``Patient/<id>``, else the fullUrl, else a SHA-256 of the resource.
"""

from __future__ import annotations

from typing import Any

from ..records import PatientRecord
from ._refs import source_id
from ._times import fhir_date

__all__ = ["read_patient"]

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _mrn(resource: dict[str, Any]) -> str | None:
    for ident in resource.get("identifier") or ():
        codings = (ident.get("type") or {}).get("coding") or ()
        if any(c.get("system") == V2_0203 and c.get("code") == "MR" for c in codings):
            if ident.get("value"):
                return str(ident["value"])
    return None


def _name(resource: dict[str, Any]) -> str | None:
    names = [n for n in resource.get("name") or () if isinstance(n, dict)]
    if not names:
        return None
    pick = next(
        (n for use in ("official", "usual") for n in names if n.get("use") == use), names[0]
    )
    parts = [*(pick.get("given") or ()), pick.get("family") or ""]
    text = " ".join(p.strip() for p in parts if p and p.strip())
    return text or pick.get("text") or None


def read_patient(resource: dict[str, Any], full_url: str | None) -> PatientRecord:
    """The record of one validated Patient (a Patient never fails beyond validation)."""
    return PatientRecord(
        source_id=source_id(resource, full_url),
        mrn=_mrn(resource),
        name=_name(resource),
        birth_date=fhir_date(resource.get("birthDate")),
        gender=resource.get("gender"),
    )
