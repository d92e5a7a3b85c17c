"""Observation -> ObservationRecord (a measurement) or EventRecord (a carbohydrate intake).

What is taken: an Observation with status ``final``, ``amended`` or ``corrected`` whose code
has a LOINC coding in the curated table (:data:`medtwin.data.loinc.LOINC`) and whose value is a
``valueQuantity`` in one of that code's allowed UCUM units. The value is converted to the
canonical unit once, here. ``Quantity.comparator`` ``<``/``<=`` (``>``/``>=``) marks a reading
below (above) the device's range -- a CGM's "LO"/"HI" -- and becomes ``censored = -1`` (+1)
with the limit as the value. Interpretation codes (L, H, LL, HH) are flags on a measured value
and do not censor it.

Skipped (reported, not an error): other statuses (``preliminary``, ``registered``,
``cancelled``, ``entered-in-error``, ``unknown``), observations without a LOINC coding, or --
with ``unsupported_codes="skip"`` -- whose LOINC codes are all outside the table, observations
with no value and a ``dataAbsentReason``, and medtwin's own forecasts.

Errors: a LOINC code that is malformed or fails its check digit (``code-invalid``), a LOINC
code outside the table when ``unsupported_codes="error"`` (``not-supported``), a missing or
non-Patient subject, a missing or imprecise time, a value that is not a valueQuantity, a
missing, unknown or non-UCUM unit (``required``/``code-invalid``), a value outside the
physically possible range (``value``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..loinc import LOINC, extra_systems
from ..records import EventRecord, ObservationRecord
from ..units import LOINC_SYSTEM, UCUM_SYSTEM, LoincCode, is_valid_loinc
from ._issues import Issues, Skip, show
from ._refs import patient_ref, source_id
from ._times import effective_time

__all__ = ["FORECAST_TAG", "TAG_SYSTEM", "read_observation"]

TAG_SYSTEM = "https://medtwin.org/fhir/CodeSystem/medtwin-tag"
FORECAST_TAG = "forecast"

_TAKEN = ("final", "amended", "corrected")
_CENSOR = {"<": -1, "<=": -1, ">": 1, ">=": 1}


def _is_forecast(resource: dict[str, Any]) -> bool:
    tags = (resource.get("meta") or {}).get("tag") or ()
    return any(t.get("system") == TAG_SYSTEM and t.get("code") == FORECAST_TAG for t in tags)


def _loinc_row(
    resource: dict[str, Any], root: str, issues: Issues, unsupported_codes: str
) -> LoincCode | Skip | None:
    codings = (resource.get("code") or {}).get("coding") or ()
    # a network twin's own codes (stroke-lvo, ...) come in its code system (data.loinc)
    own = extra_systems()
    loinc = [(i, c) for i, c in enumerate(codings) if c.get("system") == LOINC_SYSTEM
             or (c.get("system") in own and LOINC.get(c.get("code")) is not None)]  # fmt: skip
    if not loinc:
        return Skip("no LOINC coding in Observation.code")
    row, ok = None, True
    for i, c in loinc:
        code = c.get("code")
        if c.get("system") == LOINC_SYSTEM and not is_valid_loinc(code):
            issues.add(
                "code-invalid",
                f"{root}.code.coding[{i}].code",
                f"{show(code)} is not a LOINC code: expected digits, '-' and the Mod 10 check "
                f"digit (e.g. 2339-0).",
            )
            ok = False
        elif row is None:
            row = LOINC.get(code)
    if not ok:
        return None
    if row is None:
        codes = ", ".join(str(c.get("code")) for _, c in loinc)
        if unsupported_codes == "error":
            issues.add(
                "not-supported",
                f"{root}.code",
                f"LOINC {codes} is not read by any medtwin twin. Supported codes: "
                f"{', '.join(LOINC)}.",
            )
            return None
        return Skip(f"LOINC {codes} is not in medtwin's curated table")
    return row


def quantity_value(
    q: dict[str, Any], where: str, row: LoincCode, issues: Issues
) -> tuple[float, str] | None:
    """(value in the canonical unit, UCUM code it came in), or None with an issue."""
    value = q.get("value")
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        issues.add("required", f"{where}.value", f"A numeric value is required. Got {show(value)}.")
        return None
    code, unit, system = q.get("code"), q.get("unit"), q.get("system")
    if code is not None and system not in (None, UCUM_SYSTEM):
        issues.add(
            "code-invalid",
            f"{where}.system",
            f"Expected UCUM units (system {UCUM_SYSTEM}). Got system {show(system)}.",
        )
        return None
    if code is None and unit is None:
        issues.add(
            "required",
            f"{where}.code",
            f"A unit is required: a UCUM code, one of {', '.join(row.units)}.",
        )
        return None
    match = row.match_unit(code, unit)
    if match is None:
        issues.add(
            "code-invalid",
            f"{where}.code" if code is not None else f"{where}.unit",
            f"Unit {show(code if code is not None else unit)} is not accepted for LOINC "
            f"{row.code} ({row.display}). Expected a UCUM code, one of {', '.join(row.units)}.",
        )
        return None
    ucum, conv = match
    canonical = conv.apply(float(value))
    lo, hi = row.valid_range
    if not lo <= canonical <= hi:
        issues.add(
            "value",
            f"{where}.value",
            f"{value:g} {ucum}"
            + (f" ({canonical:.6g} {row.canonical_unit})" if ucum != row.canonical_unit else "")
            + f" lies outside the physically possible range [{lo:g}, {hi:g}] "
            f"{row.canonical_unit} of {row.display}. Check the value and its unit.",
        )
        return None
    if row.whole and canonical != round(canonical):
        issues.add(
            "value",
            f"{where}.value",
            f"{value:g} is not a whole number: {row.display} is a score from {lo:g} to "
            f"{hi:g}. Send the score itself.",
        )
        return None
    return canonical, ucum


# http://hl7.org/fhir/R4/valueset-observation-status.html (required binding)
OBSERVATION_STATUS = ("registered", "preliminary", "final", "amended", "corrected", "cancelled",
                      "entered-in-error", "unknown")  # fmt: skip


def read_observation(
    resource: dict[str, Any],
    root: str,
    issues: Issues,
    *,
    entries: Mapping[str, dict[str, Any]] | None,
    full_url: str | None,
    unsupported_codes: str,
) -> ObservationRecord | EventRecord | Skip | None:
    """The record of one validated Observation, a :class:`Skip`, or None (issues added)."""
    status = resource.get("status")
    if status not in OBSERVATION_STATUS:
        issues.add(
            "code-invalid",
            f"{root}.status",
            f"Expected an ObservationStatus code ({', '.join(OBSERVATION_STATUS)}). Got "
            f"{show(status)}.",
        )
        return None
    if status not in _TAKEN:
        return Skip(f"status {status!r}: only final, amended and corrected results are used")
    if _is_forecast(resource):
        return Skip("a medtwin forecast, not a measurement")
    row = _loinc_row(resource, root, issues, unsupported_codes)
    if not isinstance(row, LoincCode):
        return row
    values = [k for k in resource if k.startswith("value")]
    if not values and "dataAbsentReason" in resource:
        return Skip("no value (dataAbsentReason)")
    n0 = len(issues)
    if "subject" not in resource:
        issues.add("required", f"{root}.subject", "subject is required: a reference to a Patient.")
        patient = None
    else:
        patient = patient_ref(resource["subject"], f"{root}.subject", issues, entries)
    time = effective_time(resource, root, issues)
    got = None
    if "valueQuantity" in resource:
        got = quantity_value(resource["valueQuantity"], f"{root}.valueQuantity", row, issues)
    elif values:
        issues.add(
            "invalid",
            f"{root}.{values[0]}",
            f"Expected valueQuantity for LOINC {row.code} (a number with a UCUM unit). Got "
            f"{values[0]}. A reading beyond a device's range is a valueQuantity with comparator "
            f"'<' or '>'.",
        )
    else:
        issues.add("required", f"{root}.value[x]", f"valueQuantity is required for {row.display}.")
    comparator = (resource.get("valueQuantity") or {}).get("comparator")
    if comparator is not None and (comparator not in _CENSOR or row.event is not None):
        issues.add(
            "value",
            f"{root}.valueQuantity.comparator",
            f"Expected no comparator, or '<', '<=', '>', '>=' for a reading beyond the "
            f"device's range. Got {show(comparator)}"
            f"{' on an intake' if row.event else ''}.",
        )
    if len(issues) != n0 or got is None or patient is None or time is None:
        return None
    sid = source_id(resource, full_url)
    if row.event is not None:
        return EventRecord(sid, patient, row.event, time, got[0])
    censored = _CENSOR.get(comparator, 0) if comparator else 0
    return ObservationRecord(
        sid, patient, row.canonical_code, time, got[0], row.canonical_unit, censored
    )
