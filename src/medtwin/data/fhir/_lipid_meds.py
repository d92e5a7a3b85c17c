"""MedicationRequest / MedicationStatement of a statin or ezetimibe -> the daily-dose events
of the LDL-cholesterol twin (``medtwin.models.lipids``).

A prescription (MedicationRequest) or a statement of use (MedicationStatement) becomes one
:class:`EventRecord` of kind ``<drug>`` (``atorvastatin``, ``rosuvastatin``, ``simvastatin``,
``pravastatin``, ``fluvastatin``, ``lovastatin``, ``ezetimibe``) with the daily dose in mg/d at
its start, and a second one of amount 0 at its stop when the resource gives a stop. Their
source ids are the resource's own with ``#start`` and ``#stop``, so a second ingest adds
nothing.

- **The drug**: an RxNorm coding (``http://www.nlm.nih.gov/research/umls/rxnorm``) with an
  ingredient code of the table below, a clinical-drug code of the table (with its strength),
  or another code whose RxNorm name is a single-ingredient tablet or capsule of a modelled drug
  (``Atorvastatin 40 MG Oral Tablet``: the strength is read from the name). A resource that
  names no statin or ezetimibe (by code, display or text) is skipped (not lipid-lowering).
- **The dose**: ``dosageInstruction[0].doseAndRate[0].doseQuantity`` in mg (UCUM ``mg``), or
  in tablets (``{tbl}``, ``tablet``) times the coded strength, times the timing's frequency
  per day (``timing.repeat.frequency`` per ``period`` ``periodUnit``; none given: once a day,
  as statins and ezetimibe are labelled). No dosage at all: one tablet of the coded strength
  once a day (Synthea writes no dosage).
- **The start**: the timing's ``boundsPeriod.start``, else ``dispenseRequest.validityPeriod
  .start``, else ``authoredOn`` (MedicationRequest); ``effectivePeriod.start`` or
  ``effectiveDateTime`` (MedicationStatement). **The stop**: the matching ``end``. Times to
  the second with a timezone, as every time medtwin reads.
- Taken statuses: ``active``, ``completed``, ``stopped``; others (``cancelled``, ``draft``,
  ``entered-in-error``, ``on-hold``, ``unknown``, ``not-taken``, ``intended``) are skipped, and
  so are requests whose intent is a ``proposal``, ``plan``, ``option`` or ``directive``.
  A ``stopped`` or ``completed`` resource without a stop date is taken from its start on (the
  next prescription of the same drug replaces its dose).

Errors (nothing of the payload is stored): a statin or ezetimibe without a dose (an ingredient
code and no dosage), an RxNorm code medtwin does not know for a drug that names a statin
(pitavastatin, cerivastatin, an unreadable name), a statin coded in another system only, a dose
in anything but mg or tablets, a daily dose outside the drug's range, a stop before the start,
a missing subject or start.

RxNorm codes: the ingredients atorvastatin 83367, rosuvastatin 301542, simvastatin 36567,
pravastatin 42463, fluvastatin 41127, lovastatin 6472, ezetimibe 341248; the clinical drugs
atorvastatin 80 MG Oral Tablet 259255 (in the Synthea sample data) and simvastatin 20 MG Oral
Tablet 312961 (RxNav). Other clinical drugs are read by their RxNorm name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ...models.lipids._declarations import DOSE_RANGE, DRUGS
from ..records import EventRecord
from ._issues import Issues, Skip, show
from ._refs import patient_ref, source_id
from ._times import fhir_instant

__all__ = ["LIPID_DRUGS", "is_lipid_drug", "read_lipid_medication"]

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LIPID_DRUGS = DRUGS
_INGREDIENTS = {"83367": "atorvastatin", "301542": "rosuvastatin", "36567": "simvastatin",
                "42463": "pravastatin", "41127": "fluvastatin", "6472": "lovastatin",
                "341248": "ezetimibe"}  # fmt: skip
_CLINICAL = {"259255": ("atorvastatin", 80.0), "312961": ("simvastatin", 20.0)}
_LIPID_WORD = re.compile(r"[a-z]*vastatin|ezetimib", re.IGNORECASE)
# An RxNorm single-ingredient name: "<ingredient> [calcium|sodium] <N> MG <form>".
_SCD = re.compile(
    r"^\s*(?:\d+\s*HR\s+)?(?P<drug>[a-z]+)(?:\s+(?:calcium|sodium|magnesium))?\s+"
    r"(?P<mg>\d+(?:\.\d+)?)\s*MG\s+(?:extended release\s+)?oral\s+(?:tablet|capsule)",
    re.IGNORECASE,
)
_TABLETS = ("{tbl}", "{tablet}", "{tablets}", "{capsule}", "{cap}", "tablet", "tablets",
            "capsule", "capsules", "tab", "tbl")  # fmt: skip
_PER_DAY = {"d": 1.0, "h": 24.0, "min": 1440.0, "wk": 1.0 / 7.0, "mo": 12.0 / 365.25}
_STATUS = {
    "MedicationRequest": ("active", "on-hold", "cancelled", "completed", "entered-in-error",
                          "stopped", "draft", "unknown"),
    "MedicationStatement": ("active", "completed", "entered-in-error", "intended", "stopped",
                            "on-hold", "unknown", "not-taken"),
}  # fmt: skip
_TAKEN = ("active", "completed", "stopped")
_NOT_ORDERS = ("proposal", "plan", "option", "directive")


def _concept(resource: dict[str, Any], entries: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    if "medicationCodeableConcept" in resource:
        return resource["medicationCodeableConcept"] or {}
    ref = resource.get("medicationReference") or {}
    target = ref.get("reference") or ""
    if target.startswith("#"):
        for c in resource.get("contained") or ():
            if c.get("resourceType") == "Medication" and c.get("id") == target[1:]:
                return c.get("code") or {}
    elif entries.get(target, {}).get("resourceType") == "Medication":
        return entries[target].get("code") or {}
    return {"text": ref["display"]} if ref.get("display") else {}


def _names(concept: dict[str, Any]) -> list[str]:
    out = [str(c.get("display") or "") for c in concept.get("coding") or ()]
    return [*out, str(concept.get("text") or "")]


def is_lipid_drug(concept: dict[str, Any]) -> bool:
    """True if a CodeableConcept names a statin or ezetimibe (by RxNorm code or by name)."""
    for c in concept.get("coding") or ():
        code = c.get("code")
        if c.get("system") == RXNORM and (code in _INGREDIENTS or code in _CLINICAL):
            return True
    return any(_LIPID_WORD.search(n) for n in _names(concept))


def _drug(concept: dict[str, Any], where: str, issues: Issues) -> tuple[str, float | None] | None:
    """(drug, mg per tablet or None) from the RxNorm coding, or None with an issue."""
    rx = [c for c in concept.get("coding") or () if c.get("system") == RXNORM]
    for c in rx:
        if c.get("code") in _CLINICAL:
            return _CLINICAL[c["code"]]
    for c in rx:
        if c.get("code") in _INGREDIENTS:
            return _INGREDIENTS[c["code"]], None
    for c in rx:
        m = _SCD.match(str(c.get("display") or ""))
        if m and m["drug"].lower() in LIPID_DRUGS:
            return m["drug"].lower(), float(m["mg"])
    got = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in concept.get("coding") or ())
    issues.add(
        "code-invalid",
        f"{where}.coding",
        "A lipid-lowering drug needs an RxNorm code medtwin knows: an ingredient ("
        + ", ".join(f"{d} {c}" for c, d in _INGREDIENTS.items())
        + ") or a clinical drug whose RxNorm name is a single-ingredient tablet of one of them "
        f"(e.g. 'Atorvastatin 40 MG Oral Tablet'). Got {got or 'no coding'} "
        f"({show(' / '.join(n for n in _names(concept) if n))}); pitavastatin and other drugs "
        "outside the meta-analysis are not modelled.",
    )
    return None


def _daily_dose(resource: dict[str, Any], strength: float | None, drug: str, root: str,
                issues: Issues) -> float | None:  # fmt: skip
    dosages = resource.get("dosageInstruction" if "dosageInstruction" in resource else "dosage")
    key = "dosageInstruction" if "dosageInstruction" in resource else "dosage"
    if not dosages:
        if strength is None:
            issues.add(
                "required",
                f"{root}.{key}",
                f"A {drug} prescription coded by its ingredient needs a dose: give "
                f"{key}[0].doseAndRate[0].doseQuantity in mg, or code the clinical drug "
                "(e.g. RxNorm 'Atorvastatin 20 MG Oral Tablet').",
            )
            return None
        return strength  # one tablet a day
    d0, where = dosages[0], f"{root}.{key}[0]"
    q = next((dr.get("doseQuantity") for dr in d0.get("doseAndRate") or ()
              if dr.get("doseQuantity")), None)  # fmt: skip
    if q is None:
        if strength is None:
            issues.add("required", f"{where}.doseAndRate", f"A {drug} dose is required (mg).")
            return None
        per_dose = strength
    else:
        value, unit = q.get("value"), str(q.get("code") or q.get("unit") or "")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            issues.add("value", f"{where}.doseAndRate[0].doseQuantity.value",
                       f"Expected a dose >= 0. Got {show(value)}.")  # fmt: skip
            return None
        if unit.lower() == "mg":
            per_dose = float(value)
        elif unit.lower() in _TABLETS and strength is not None:
            per_dose = float(value) * strength
        else:
            issues.add(
                "code-invalid",
                f"{where}.doseAndRate[0].doseQuantity",
                f"Expected a {drug} dose in mg (UCUM mg), or in tablets of a coded strength. "
                f"Got {show(unit or None)}.",
            )
            return None
    rep = (d0.get("timing") or {}).get("repeat") or {}
    freq, period, unit = rep.get("frequency", 1), rep.get("period", 1), rep.get("periodUnit", "d")
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0
                  for x in (freq, period))  # fmt: skip
    if unit not in _PER_DAY or not numbers:
        issues.add("not-supported", f"{where}.timing.repeat",
                   f"Expected a frequency > 0 per a period > 0 in d, wk, h or min. Got "
                   f"{show(freq)} per {show(period)} {show(unit)}.")  # fmt: skip
        return None
    return per_dose * float(freq) * _PER_DAY[unit] / float(period)


def _times(resource: dict[str, Any], rt: str, root: str,
           issues: Issues) -> tuple[datetime | None, datetime | None]:  # fmt: skip
    """(start, stop) of the therapy; stop None when not given."""
    candidates: list[tuple[dict[str, Any], str]] = []
    if rt == "MedicationRequest":
        for k, d in enumerate(resource.get("dosageInstruction") or ()):
            bounds = ((d.get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
            if bounds:
                candidates.append(
                    (bounds, f"{root}.dosageInstruction[{k}].timing.repeat.boundsPeriod")
                )
        validity = (resource.get("dispenseRequest") or {}).get("validityPeriod")
        if validity:
            candidates.append((validity, f"{root}.dispenseRequest.validityPeriod"))
    elif "effectivePeriod" in resource:
        candidates.append((resource["effectivePeriod"] or {}, f"{root}.effectivePeriod"))
    period, where = candidates[0] if candidates else ({}, "")
    start = stop = None
    if period.get("start") is not None:
        start = fhir_instant(period["start"], f"{where}.start", issues)
    elif rt == "MedicationRequest" and "authoredOn" in resource:
        start = fhir_instant(resource["authoredOn"], f"{root}.authoredOn", issues)
    elif rt == "MedicationStatement" and "effectiveDateTime" in resource:
        start = fhir_instant(resource["effectiveDateTime"], f"{root}.effectiveDateTime", issues)
    else:
        field = "authoredOn" if rt == "MedicationRequest" else "effectiveDateTime"
        issues.add(
            "required",
            f"{root}.{field}",
            f"The start of the therapy is missing: give a period start or {field}.",
        )
    if period.get("end") is not None:
        stop = fhir_instant(period["end"], f"{where}.end", issues)
        if start is not None and stop is not None and stop < start:
            issues.add("value", f"{where}.end",
                       f"The therapy stops ({period['end']}) before it starts "
                       f"({period.get('start') or resource.get('authoredOn')}).")  # fmt: skip
    return start, stop


def read_lipid_medication(
    resource: dict[str, Any],
    rt: str,
    root: str,
    issues: Issues,
    *,
    entries: Mapping[str, dict[str, Any]] | None,
    full_url: str | None,
) -> tuple[EventRecord, ...] | Skip | None:
    """The start (and stop) events of one validated MedicationRequest or MedicationStatement
    of a statin or ezetimibe, a :class:`Skip`, or None (issues added)."""
    concept = _concept(resource, entries or {})
    if not is_lipid_drug(concept):
        return Skip(f"{rt} of a drug other than a statin or ezetimibe (not used by the twins)")
    status = resource.get("status")
    if status not in _STATUS[rt]:
        issues.add("code-invalid", f"{root}.status",
                   f"Expected a {rt} status code ({', '.join(_STATUS[rt])}). Got "
                   f"{show(status)}.")  # fmt: skip
        return None
    if status not in _TAKEN:
        return Skip(f"status {status!r}: only active, completed and stopped therapies are used")
    if rt == "MedicationRequest" and resource.get("intent") in _NOT_ORDERS:
        return Skip(f"intent {resource.get('intent')!r}: a proposal or plan, not a prescription")
    n0 = len(issues)
    where = (f"{root}.medicationCodeableConcept" if "medicationCodeableConcept" in resource
             else f"{root}.medicationReference")  # fmt: skip
    found = _drug(concept, where, issues)
    patient = patient_ref(resource.get("subject"), f"{root}.subject", issues, entries or {})
    start, stop = _times(resource, rt, root, issues)
    dose = None
    if found is not None:
        drug, strength = found
        dose = _daily_dose(resource, strength, drug, root, issues)
        lo, hi = DOSE_RANGE[drug]
        if dose is not None and not lo <= dose <= hi:
            issues.add("value", root, f"A daily {drug} dose of {dose:g} mg is outside "
                                      f"[{lo:g}, {hi:g}] mg/d.")  # fmt: skip
    if len(issues) != n0 or found is None or patient is None or start is None or dose is None:
        return None
    sid = source_id(resource, full_url)
    out = [EventRecord(f"{sid}#start", patient, found[0], start, dose)]
    if stop is not None:
        out.append(EventRecord(f"{sid}#stop", patient, found[0], stop, 0.0))
    return tuple(out)
