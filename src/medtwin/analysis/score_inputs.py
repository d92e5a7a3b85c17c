"""The inputs of the clinical scores (:mod:`medtwin.analysis.scores`) as data: per input its
LOINC code, its canonical UCUM unit, the UCUM units accepted with their conversion into the
canonical one, and its physically possible range. One table for the scores and for whatever
ingests their inputs (FHIR, CSV): a unit not on an input's list is refused, never guessed.

Conversions (canonical = factor * value):

- pressures, kPa -> mm[Hg]: x 7.50062 (1 kPa = 1000 Pa, 1 mm[Hg] = 133.322 Pa);
- bilirubin, umol/L -> mg/dL: / 17.104 (molar mass of bilirubin 584.66 g/mol);
- creatinine, umol/L -> mg/dL: / 88.42 (molar mass of creatinine 113.12 g/mol);
- lactate, mg/dL -> mmol/L: / 9.008 (molar mass of lactate 90.08 g/mol);
- FiO2, % -> fraction (UCUM ``1``): x 0.01;
- platelets, 10*9/L = /nL = 10*3/uL; /uL -> 10*3/uL: x 0.001;
- urine output, mL/d -> mL/h: / 24, L/d -> mL/h: x 1000/24.

Vasopressor doses have no LOINC code (they are medication administrations, coded by drug);
their unit is ug/kg/min. References: LOINC 2.77 (https://loinc.org), UCUM
(https://ucum.org/ucum).

The table loads no numpy (FHIR ingestion, :mod:`medtwin.data.loinc`, reads it without the
numerics); :func:`to_canonical` loads numpy when called.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..errors import DataError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SCORE_INPUTS", "VASOPRESSORS", "ScoreInput", "to_canonical"]

_MMHG_PER_KPA = 1000.0 / 133.322387415  # 7.50062


@dataclass(frozen=True)
class ScoreInput:
    """One input of the clinical scores: ``loinc`` (None where no LOINC code applies),
    ``display``, the canonical UCUM ``unit`` the score functions take, ``units`` (accepted UCUM
    code -> factor into ``unit``), ``valid_range`` (inclusive, in ``unit``) and ``also``: other
    LOINC codes of the same quantity (another specimen or method), read as ``loinc``."""

    name: str
    loinc: str | None
    display: str
    unit: str
    units: Mapping[str, float]
    valid_range: tuple[float, float]
    also: tuple[tuple[str, str], ...] = ()  # (LOINC code, its display)


def _in(name, loinc, display, unit, units, valid_range, also=()) -> ScoreInput:
    return ScoreInput(name, loinc, display, unit, MappingProxyType(dict(units)), valid_range,
                      tuple(also))  # fmt: skip


_PRESSURE = {"mm[Hg]": 1.0, "kPa": _MMHG_PER_KPA}

SCORE_INPUTS: Mapping[str, ScoreInput] = MappingProxyType({
    s.name: s
    for s in (
        _in("pao2", "2703-7", "Oxygen [Partial pressure] in Arterial blood", "mm[Hg]",
            _PRESSURE, (0.0, 800.0)),
        _in("fio2", "3150-0", "Inhaled oxygen concentration", "1", {"1": 1.0, "%": 0.01},
            (0.21, 1.0)),
        _in("pf_ratio", "50984-4", "Horowitz index in Arterial blood (PaO2/FiO2)", "mm[Hg]",
            _PRESSURE, (0.0, 1000.0)),
        _in("peep", "20077-4", "Positive end expiratory pressure setting Ventilator",
            "cm[H2O]", {"cm[H2O]": 1.0}, (0.0, 50.0)),
        _in("platelets", "777-3", "Platelets [#/volume] in Blood by Automated count",
            "10*3/uL", {"10*3/uL": 1.0, "10*9/L": 1.0, "/nL": 1.0, "/uL": 1e-3},
            (0.0, 5000.0)),
        _in("bilirubin", "1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL",
            {"mg/dL": 1.0, "umol/L": 1.0 / 17.104}, (0.0, 100.0)),
        _in("map", "8478-0", "Mean blood pressure", "mm[Hg]", _PRESSURE, (0.0, 300.0)),
        _in("gcs", "9269-2", "Glasgow coma score total", "{score}", {"{score}": 1.0},
            (3.0, 15.0)),
        _in("creatinine", "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL",
            {"mg/dL": 1.0, "umol/L": 1.0 / 88.42}, (0.0, 40.0),
            also=[("38483-4", "Creatinine [Mass/volume] in Blood")]),
        _in("urine_output", "9187-6", "Urine output", "mL/h",
            {"mL/h": 1.0, "mL/d": 1.0 / 24.0, "L/d": 1000.0 / 24.0}, (0.0, 5000.0)),
        _in("lactate", "2524-7", "Lactate [Moles/volume] in Serum or Plasma", "mmol/L",
            {"mmol/L": 1.0, "mg/dL": 1.0 / 9.008}, (0.0, 100.0)),
        _in("vasopressor", None, "Vasopressor infusion rate per body weight", "ug/kg/min",
            {"ug/kg/min": 1.0, "ug/(kg.min)": 1.0}, (0.0, 100.0)),
    )
})  # fmt: skip
"""The score inputs by name (:class:`ScoreInput`)."""

VASOPRESSORS = ("dopamine", "dobutamine", "epinephrine", "norepinephrine")
"""The vasopressors and inotropes the SOFA cardiovascular component names (Vincent 1996)."""


def to_canonical(name: str, value: object, unit: str | None = None) -> np.ndarray:
    """``value`` (a number or an array) of score input ``name`` in its canonical unit, from
    ``unit`` (default: the canonical unit). :class:`~medtwin.errors.DataError` for an unknown
    input, a unit not accepted for it, a non-finite value or one outside its valid range."""
    spec = SCORE_INPUTS.get(name)
    if spec is None:
        raise DataError(
            f"Unknown score input {name!r}. Expected one of: {', '.join(SCORE_INPUTS)}."
        )
    import numpy as np  # here: the table above is read without numpy

    unit = spec.unit if unit is None else unit
    factor = spec.units.get(unit)
    if factor is None:
        raise DataError(
            f"The unit {unit!r} is not accepted for {name} ({spec.display}). Expected one of: "
            f"{', '.join(spec.units)} (UCUM codes); convert the value or give its UCUM unit."
        )
    try:
        x = np.asarray(value, dtype=np.float64) * factor
    except (TypeError, ValueError):
        raise DataError(f"{name} must be a number or an array of numbers. Got {value!r}.") from None
    lo, hi = spec.valid_range
    tol = 1e-9 * max(1.0, abs(hi))  # a converted boundary value is not refused for round-off
    bad = ~np.isfinite(x) | (x < lo - tol) | (x > hi + tol)
    if np.any(bad):
        first = x[bad].flat[0] if x.ndim else float(x)
        raise DataError(
            f"{name} must lie in [{lo:g}, {hi:g}] {spec.unit} (a count or concentration cannot "
            f"be negative; NaN is a missing value, which a score cannot use). Got "
            f"{first!r} {spec.unit} (converted from {unit}). Check the value and its unit."
        )
    return x if x.ndim else np.asarray(float(x))
