"""MedicationAdministration -> an insulin ``bolus`` or ``basal`` EventRecord.

Insulin is recognised by its medication: ``medicationCodeableConcept``, or a
``medicationReference`` to a contained Medication or to a Medication entry of the bundle,
whose coding is an RxNorm insulin ingredient or the SNOMED CT substance "Insulin", or whose
text or display contains "insulin". Insulin units (UCUM ``U``, ``[iU]``, ``[IU]``) are never
converted to mass.

- ``dosage.dose`` in U, status ``completed``, at ``effectiveDateTime`` (or
  ``effectivePeriod.start``) -> ``bolus`` (U);
- ``dosage.rateQuantity`` in U/h (U/min, U/d converted) or ``dosage.rateRatio`` U per
  time, status ``completed`` or ``in-progress`` -> ``basal`` (U/h) from that time on.

A vasopressor's administration is read by ``_vasopressor.py`` (its rate in ug/kg/min).

Skipped (reported): administrations that are not insulin -- antibiotic and anti-inflammatory
administrations are not ingested in this version -- and statuses ``entered-in-error``,
``not-done``, ``stopped``, ``on-hold``, ``unknown`` (and ``in-progress`` for a bolus, which is
taken once completed). Errors: no dosage, a dose or rate in anything but insulin units, a
missing time, subject or amount, an amount out of range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...timeunits import SECONDS, convert
from ..records import EventRecord
from ..units import INSULIN_BASAL_RANGE, INSULIN_BOLUS_RANGE, UCUM_SYSTEM
from ._issues import Issues, Skip, show
from ._refs import patient_ref, source_id
from ._times import effective_time

__all__ = ["RXNORM", "is_insulin", "medication_concept", "read_administration"]

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
# RxNorm ingredients: insulin (regular human), lispro, aspart, glulisine, glargine, detemir,
# degludec, isophane (NPH); SNOMED CT 67866001 |Insulin (substance)|.
_INSULIN_RXNORM = {"253182", "86009", "51428", "400008", "274783", "139825", "1373458", "253181"}
_INSULIN_SNOMED = {"67866001"}

_DOSE_UNITS = ("U", "[iU]", "[IU]")
_DOSE_ALIASES = ("u", "iu", "unit", "units", "international unit", "international units")


def is_insulin(concept: dict[str, Any] | None) -> bool:
    """True if a CodeableConcept names insulin (RxNorm/SNOMED code, or 'insulin' in text)."""
    if not concept:
        return False
    for c in concept.get("coding") or ():
        if c.get("system") == RXNORM and c.get("code") in _INSULIN_RXNORM:
            return True
        if c.get("system") == SNOMED and c.get("code") in _INSULIN_SNOMED:
            return True
        if "insulin" in str(c.get("display") or "").lower():
            return True
    return "insulin" in str(concept.get("text") or "").lower()


def medication_concept(
    resource: dict[str, Any], entries: Mapping[str, dict[str, Any]]
) -> dict | None:
    """The CodeableConcept of the medication an administration names (inline, contained or a
    Medication entry of the bundle; a reference's display as text), or None."""
    if "medicationCodeableConcept" in resource:
        return resource["medicationCodeableConcept"]
    ref = resource.get("medicationReference") or {}
    target = ref.get("reference") or ""
    if target.startswith("#"):
        for c in resource.get("contained") or ():
            if c.get("resourceType") == "Medication" and c.get("id") == target[1:]:
                return c.get("code")
    elif entries.get(target, {}).get("resourceType") == "Medication":
        return entries[target].get("code")
    return {"text": ref["display"]} if ref.get("display") else None


def _dose_unit(q: dict[str, Any]) -> bool:
    code, unit, system = q.get("code"), q.get("unit"), q.get("system")
    if code is not None:
        return system in (None, UCUM_SYSTEM) and code in _DOSE_UNITS
    return unit is not None and (unit in _DOSE_UNITS or unit.strip().lower() in _DOSE_ALIASES)


def _amount(q: Any, where: str, issues: Issues) -> float | None:
    value = (q or {}).get("value")
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        issues.add(
            "required", f"{where}.value", f"A numeric amount is required. Got {show(value)}."
        )
        return None
    if not _dose_unit(q):
        got = q.get("code", q.get("unit"))
        issues.add(
            "code-invalid",
            f"{where}.code" if "code" in q else f"{where}.unit",
            f"Insulin is dosed in units: expected UCUM U (or [iU]); insulin units are never "
            f"converted. Got {show(got)}.",
        )
        return None
    return float(value)


def _rate(dosage: dict[str, Any], where: str, issues: Issues) -> float | None:
    """Basal rate in U/h from rateQuantity (U/h, U/min, U/d) or rateRatio (U per time)."""
    if "rateQuantity" in dosage:
        q, w = dosage["rateQuantity"], f"{where}.rateQuantity"
        from_code = q.get("code") is not None
        text = q["code"] if from_code else q.get("unit")
        head, _, per = str(text).rpartition("/")
        unit = {"code": head, "system": q.get("system")} if from_code else {"unit": head}
        if per not in SECONDS or not _dose_unit(unit):
            issues.add(
                "code-invalid",
                f"{w}.code" if from_code else f"{w}.unit",
                f"Expected an insulin rate in U/h (or U/min, U/d). Got {show(text)}.",
            )
            return None
        value = q.get("value")
        if value is None or isinstance(value, bool):
            issues.add("required", f"{w}.value", "A numeric rate is required.")
            return None
        return float(value) * convert(1.0, "h", per)  # per <unit> -> per hour
    ratio, w = dosage["rateRatio"], f"{where}.rateRatio"
    amount = _amount(ratio.get("numerator"), f"{w}.numerator", issues)
    den = ratio.get("denominator") or {}
    den_unit = den.get("code", den.get("unit"))
    dv = den.get("value", 1)
    if (
        not isinstance(den_unit, str)
        or den_unit not in SECONDS
        or isinstance(dv, bool)
        or not dv > 0
    ):
        issues.add(
            "code-invalid",
            f"{w}.denominator",
            f"Expected a time > 0 in h, min, d or s as the denominator. Got {show(dv)} "
            f"{show(den_unit)}.",
        )
        return None
    return None if amount is None else amount / (float(dv) / convert(1.0, "h", den_unit))


# http://hl7.org/fhir/R4/valueset-medication-admin-status.html (required binding)
ADMINISTRATION_STATUS = ("in-progress", "not-done", "on-hold", "completed", "entered-in-error",
                         "stopped", "unknown")  # fmt: skip


def read_administration(
    resource: dict[str, Any],
    root: str,
    issues: Issues,
    *,
    entries: Mapping[str, dict[str, Any]] | None,
    full_url: str | None,
) -> EventRecord | Skip | None:
    """The bolus/basal event of one validated MedicationAdministration, a :class:`Skip`, or
    None (issues added)."""
    entries = entries or {}
    status = resource.get("status")
    if status not in ADMINISTRATION_STATUS:
        issues.add(
            "code-invalid",
            f"{root}.status",
            f"Expected a MedicationAdministration status code "
            f"({', '.join(ADMINISTRATION_STATUS)}). Got {show(status)}.",
        )
        return None
    if not is_insulin(medication_concept(resource, entries)):
        return Skip(
            "not an insulin or vasopressor administration (antibiotic and anti-inflammatory "
            "administrations are not ingested in this version)"
        )
    status = resource.get("status")
    if status not in ("completed", "in-progress"):
        return Skip(f"status {status!r}: only completed (or in-progress rate) doses are used")
    dosage = resource.get("dosage")
    d_root = f"{root}.dosage"
    has_rate = isinstance(dosage, dict) and ("rateQuantity" in dosage or "rateRatio" in dosage)
    if dosage and not has_rate and status == "in-progress":
        return Skip("an insulin dose in progress (taken once it is completed)")
    n0 = len(issues)
    patient = patient_ref(resource.get("subject"), f"{root}.subject", issues, entries)
    time = effective_time(resource, root, issues)
    amount = None
    if not dosage:
        issues.add("required", d_root, "An insulin administration needs dosage.dose or a rate.")
    elif has_rate:
        amount = _rate(dosage, d_root, issues)
        kind, (lo, hi), unit = "basal", INSULIN_BASAL_RANGE, "U/h"
    elif "dose" in dosage:
        amount = _amount(dosage["dose"], f"{d_root}.dose", issues)
        kind, (lo, hi), unit = "bolus", INSULIN_BOLUS_RANGE, "U"
    else:
        issues.add(
            "required", f"{d_root}.dose", "An insulin administration needs dosage.dose or a rate."
        )
    if amount is not None and not lo <= amount <= hi:
        issues.add(
            "value",
            d_root,
            f"An insulin {kind} of {amount:g} {unit} is outside [{lo:g}, {hi:g}] {unit}.",
        )
    if len(issues) != n0 or patient is None or time is None or amount is None:
        return None
    return EventRecord(source_id(resource, full_url), patient, kind, time, amount)
