"""What the dashboard shows a clinician in words: units as a lab report prints them, the
target range drawn behind a reading, and probabilities.

The store, FHIR and the API carry units as UCUM codes (``10*3/uL``, ``Cel``, ``mm[Hg]``); a
page shows them as people write them (``×10³/µL``, ``°C``, ``mmHg``) with :func:`human_unit`.
The API's JSON keeps the UCUM code (``unit``) and adds the label (``unit_label``).

The target range of a glucose reading is 70-180 mg/dL, the "time in range" of the
international consensus on CGM metrics (Battelino et al., Diabetes Care 2019, 42:1593-1603),
for the LOINC codes the store keeps glucose under (blood 2339-0, which 15074-8 in mmol/L is
converted to at ingestion, and interstitial fluid 99504-3 from a CGM), in mg/dL. No model
declares a target range of its own today; an observable without one has no band.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["TARGET_RANGES", "chance", "human_unit", "probability_phrase", "target_range"]

TARGET_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("2339-0", "mg/dL"): (70.0, 180.0),  # glucose in blood
    ("99504-3", "mg/dL"): (70.0, 180.0),  # glucose in interstitial fluid (CGM)
}
"""(LOINC code, UCUM unit) -> (low, high) of the target range drawn on the page."""

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_ATOMS = {"Cel": "°C", "[degF]": "°F", "mm[Hg]": "mmHg", "[iU]": "IU", "[IU]": "IU"}
_ATOM = re.compile("|".join(re.escape(a) for a in sorted(_ATOMS, key=len, reverse=True)))
_POWER = re.compile(r"(?<![\w.])10(?:\*|\^)(-?\d+)")
_MICRO = re.compile(r"(?<![A-Za-z])u(?=(?:L|l|g|mol|m|U|IU|eq)(?![a-z]))")
_ANNOTATION = re.compile(r"\{([^{}]*)\}")


def human_unit(ucum: str) -> str:
    """``ucum`` as a lab report prints it: powers of ten with a times sign and superscript
    digits (``10*3/uL`` -> ``×10³/µL``), the micro prefix ``u`` as ``µ``, the special atoms
    ``Cel``, ``[degF]``, ``mm[Hg]`` and ``[iU]`` as ``°C``, ``°F``, ``mmHg`` and ``IU``, and
    annotations without braces (``{beats}/min`` -> ``beats/min``). Anything else is returned
    as it is (``mg/dL``, ``U/h``, ``a.u.``)."""
    text = _ANNOTATION.sub(r"\1", str(ucum))
    text = _ATOM.sub(lambda m: _ATOMS[m.group(0)], text)
    text = _POWER.sub(lambda m: "×10" + m.group(1).translate(_SUPERSCRIPT), text)
    return _MICRO.sub("µ", text)


def target_range(model: Any, observable: str) -> tuple[float, float] | None:
    """The target range (low, high) drawn behind ``observable`` of ``model`` (its unit), or
    None: :data:`TARGET_RANGES` by the observable's LOINC code and unit."""
    for spec in model.observables:
        if spec.name == observable and spec.loinc:
            return TARGET_RANGES.get((spec.loinc, spec.unit))
    return None


def chance(p: float) -> str:
    """A probability as a page shows it: ``< 1 %``, ``> 99 %`` or the whole percent."""
    if p <= 0.01 + 1e-9:
        return "< 1 %"
    return "> 99 %" if p >= 0.99 - 1e-9 else f"{100 * p:.0f} %"


def probability_phrase(event: str, p: float) -> str:
    """``P(event) = 7 %``, or ``P(event) < 1 %`` / ``P(event) > 99 %`` at the ends (an
    inequality, not "= > 99 %")."""
    shown = chance(p)
    return f"P({event}) {shown}" if shown[0] in "<>" else f"P({event}) = {shown}"
