"""MedicationAdministration of a vasopressor -> an :class:`ObservationRecord` of its infusion
rate (ug/kg/min), the dose the SOFA cardiovascular component and Sepsis-3's septic shock read
(:mod:`medtwin.analysis.scores`).

A vasopressor is recognised by its medication (as insulin is, ``_medication.py``): an RxNorm
ingredient code -- norepinephrine 7512, epinephrine 3992, dopamine 3628, dobutamine 3616 -- or
the drug's name in the coding's display or the concept's text. The rate is
``dosage.rateQuantity`` in UCUM ``ug/kg/min`` (``ug/(kg.min)``; ``mcg/kg/min`` as a human unit)
or ``ug/kg/h`` (divided by 60); it is stored under the drug's name in medtwin's score-input code
system (:func:`medtwin.data.loinc.vasopressor_code`) at ``effectiveDateTime`` (or
``effectivePeriod.start``), and holds until the next rate of that drug (a rate of 0 stops it).

Taken: status ``completed`` or ``in-progress``; other statuses are skipped. Errors: a
vasopressor without a dose (no ``dosage.rateQuantity``: a bolus or a dose without a rate cannot
be scored), a rate in any other unit (a rate not per kilogram, mg/h, needs the patient's weight:
convert it first), a negative or impossible rate, a missing time or subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...analysis.score_inputs import SCORE_INPUTS, VASOPRESSORS
from ..loinc import vasopressor_code
from ..records import ObservationRecord
from ..units import UCUM_SYSTEM
from ._issues import Issues, Skip, show
from ._medication import RXNORM
from ._refs import patient_ref, source_id
from ._times import effective_time

__all__ = ["read_vasopressor", "vasopressor_of"]

# RxNorm ingredient concepts of the vasopressors and inotropes SOFA names.
_RXNORM = {"7512": "norepinephrine", "3992": "epinephrine", "3628": "dopamine",
           "3616": "dobutamine"}  # fmt: skip
# human spellings of the drugs' names (a coding's display, the concept's text)
_NAMES = {"noradrenaline": "norepinephrine", "adrenaline": "epinephrine",
          **{d: d for d in VASOPRESSORS}}  # fmt: skip
# rate unit -> factor into ug/kg/min (UCUM codes; a human unit matched case-insensitively)
_UNITS = {"ug/kg/min": 1.0, "ug/(kg.min)": 1.0, "ug/kg/h": 1.0 / 60.0, "ug/(kg.h)": 1.0 / 60.0}
_HUMAN = {"mcg/kg/min": "ug/kg/min", "µg/kg/min": "ug/kg/min", "mcg/kg/h": "ug/kg/h",
          "µg/kg/h": "ug/kg/h", "mcg/kg/hr": "ug/kg/h"}  # fmt: skip
_TAKEN = ("completed", "in-progress")


def vasopressor_of(concept: dict[str, Any] | None) -> str | None:
    """The vasopressor (a name of ``VASOPRESSORS``) a medication CodeableConcept names, or
    None."""
    if not concept:
        return None
    texts = [str(concept.get("text") or "")]
    for c in concept.get("coding") or ():
        if c.get("system") == RXNORM and c.get("code") in _RXNORM:
            return _RXNORM[c["code"]]
        texts.append(str(c.get("display") or ""))
    for text in texts:
        low = text.lower()
        for name, drug in _NAMES.items():
            if name in low:
                return drug
    return None


def _rate(dosage: Any, where: str, drug: str, issues: Issues) -> float | None:
    """The rate in ug/kg/min, or None with an issue."""
    q = dosage.get("rateQuantity") if isinstance(dosage, dict) else None
    if not isinstance(q, dict):
        issues.add(
            "required",
            f"{where}.rateQuantity" if isinstance(dosage, dict) else where,
            f"A {drug} administration needs its dose: dosage.rateQuantity in ug/kg/min (a "
            f"vasopressor without a dose cannot be scored). Got "
            f"{'no dosage' if not isinstance(dosage, dict) else 'no rateQuantity'}.",
        )
        return None
    value, code, unit, system = q.get("value"), q.get("code"), q.get("unit"), q.get("system")
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        issues.add("required", f"{where}.rateQuantity.value",
                   f"A numeric {drug} rate is required. Got {show(value)}.")  # fmt: skip
        return None
    if code is not None:
        ucum = code if system in (None, UCUM_SYSTEM) and code in _UNITS else None
    else:
        text = str(unit or "").strip()
        ucum = text if text in _UNITS else _HUMAN.get(text.lower())
    if ucum is None:
        issues.add(
            "code-invalid",
            f"{where}.rateQuantity.{'code' if code is not None else 'unit'}",
            f"A {drug} rate must be weight-based: UCUM ug/kg/min (or ug/kg/h). Got "
            f"{show(code if code is not None else unit)}; convert a rate in mg/h or ug/min "
            "with the patient's weight first.",
        )
        return None
    rate = float(value) * _UNITS[ucum]
    lo, hi = SCORE_INPUTS["vasopressor"].valid_range
    if not lo <= rate <= hi:
        issues.add(
            "value",
            f"{where}.rateQuantity.value",
            f"A {drug} rate of {rate:g} ug/kg/min lies outside [{lo:g}, {hi:g}] ug/kg/min. "
            "Check the value and its unit.",
        )
        return None
    return rate


def read_vasopressor(
    resource: dict[str, Any],
    drug: str,
    root: str,
    issues: Issues,
    *,
    entries: Mapping[str, dict[str, Any]] | None,
    full_url: str | None,
) -> ObservationRecord | Skip | None:
    """The rate record of one validated vasopressor administration (``drug``), a
    :class:`Skip`, or None (issues added). The status is checked by the caller."""
    status = resource.get("status")
    if status not in _TAKEN:
        return Skip(f"status {status!r}: only completed or in-progress infusions are used")
    n0 = len(issues)
    patient = patient_ref(resource.get("subject"), f"{root}.subject", issues, entries or {})
    time = effective_time(resource, root, issues)
    rate = _rate(resource.get("dosage"), f"{root}.dosage", drug, issues)
    if len(issues) != n0 or patient is None or time is None or rate is None:
        return None
    return ObservationRecord(source_id(resource, full_url), patient, vasopressor_code(drug),
                             time, rate, SCORE_INPUTS["vasopressor"].unit)  # fmt: skip
