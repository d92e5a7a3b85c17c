"""Clinical scores of organ failure: SOFA with its six components, Sepsis-3 sepsis and septic
shock, KDIGO acute kidney injury stages and Berlin ARDS severity.

Pure functions over numbers or arrays (broadcast together, one score per element). Inputs are
in the canonical units of :data:`medtwin.analysis.score_inputs.SCORE_INPUTS` unless ``units``
names another accepted UCUM unit per input (``units={"bilirubin": "umol/L"}``); a unit that is
not accepted, a negative count, a value outside the physically possible range or a vasopressor
without a dose raises :class:`~medtwin.errors.DataError`, before any score is computed.

References
----------
- Vincent JL, Moreno R, Takala J, et al. The SOFA (Sepsis-related Organ Failure Assessment)
  score to describe organ dysfunction/failure. Intensive Care Med 22:707-710, 1996 (Table 1).
- Singer M, Deutschman CS, Seymour CW, et al. The Third International Consensus Definitions
  for Sepsis and Septic Shock (Sepsis-3). JAMA 315(8):801-810, 2016.
- Kidney Disease: Improving Global Outcomes (KDIGO) Acute Kidney Injury Work Group. KDIGO
  Clinical Practice Guideline for Acute Kidney Injury. Kidney Int Suppl 2(1):1-138, 2012
  (Table 2: staging of AKI).
- The ARDS Definition Task Force. Acute respiratory distress syndrome: the Berlin Definition.
  JAMA 307(23):2526-2533, 2012.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..errors import DataError
from .score_inputs import VASOPRESSORS, to_canonical

__all__ = [
    "BERLIN_SEVERITY",
    "SOFA",
    "berlin_ards",
    "kdigo_stage",
    "sepsis3",
    "septic_shock",
    "sofa",
    "sofa_cardiovascular",
    "sofa_cns",
    "sofa_coagulation",
    "sofa_liver",
    "sofa_renal",
    "sofa_respiration",
]

Units = Mapping[str, str] | None  # input name -> the UCUM unit of its values
Doses = Mapping[str, ArrayLike | None] | None  # vasopressor -> ug/kg/min

BERLIN_SEVERITY = ("none", "mild", "moderate", "severe")
"""The names of :func:`berlin_ards`'s grades 0-3."""


def _canon(name: str, value: object, units: Units) -> np.ndarray:
    return to_canonical(name, value, None if units is None else units.get(name))


def _bool(name: str, value: object) -> np.ndarray:
    x = np.asarray(value)
    if x.dtype != np.bool_:
        raise DataError(f"{name} must be True/False (or an array of them). Got {value!r}.")
    return x


def _grade(x: np.ndarray, cuts: tuple[float, ...], *, below: bool) -> np.ndarray:
    """Points 0..len(cuts): one point per cut passed (``x < cut`` when ``below``, else
    ``x >= cut``)."""
    passed = [(x < c) if below else (x >= c) for c in cuts]
    return np.sum(passed, axis=0).astype(np.int64)


# ---- SOFA (Vincent 1996, Table 1) ---------------------------------------------------------


def sofa_respiration(
    pf_ratio: ArrayLike, ventilated: ArrayLike, *, units: Units = None
) -> np.ndarray:
    """PaO2/FiO2 (mm[Hg]): >= 400: 0; < 400: 1; < 300: 2; < 200 *with respiratory support*:
    3; < 100 with respiratory support: 4. Without respiratory support the points stop at 2."""
    pf = _canon("pf_ratio", pf_ratio, units)
    vent = _bool("ventilated", ventilated)
    points = _grade(pf, (400.0, 300.0, 200.0, 100.0), below=True)
    return np.where(vent, points, np.minimum(points, 2))


def sofa_coagulation(platelets: ArrayLike, *, units: Units = None) -> np.ndarray:
    """Platelets (10*3/uL): >= 150: 0; < 150: 1; < 100: 2; < 50: 3; < 20: 4."""
    return _grade(_canon("platelets", platelets, units), (150.0, 100.0, 50.0, 20.0), below=True)


def sofa_liver(bilirubin: ArrayLike, *, units: Units = None) -> np.ndarray:
    """Total bilirubin (mg/dL): < 1.2: 0; 1.2-1.9: 1; 2.0-5.9: 2; 6.0-11.9: 3; >= 12: 4."""
    return _grade(_canon("bilirubin", bilirubin, units), (1.2, 2.0, 6.0, 12.0), below=False)


def _doses(vasopressors: Doses, units: Units) -> dict[str, np.ndarray]:
    doses = {}
    for agent, dose in (vasopressors or {}).items():
        if agent not in VASOPRESSORS:
            raise DataError(
                f"Unknown vasopressor {agent!r}. Expected one of: {', '.join(VASOPRESSORS)}."
            )
        if dose is None or (isinstance(dose, float) and math.isnan(dose)):
            raise DataError(
                f"The vasopressor {agent!r} has no dose. Give its infusion rate in ug/kg/min "
                "(0 when it is not running); the SOFA points depend on the dose."
            )
        doses[agent] = _canon("vasopressor", dose, units)
    return doses


def sofa_cardiovascular(map_mmhg: ArrayLike, vasopressors: Doses = None, *,
                        units: Units = None) -> np.ndarray:  # fmt: skip
    """Mean arterial pressure (mm[Hg]) and vasopressors (``{agent: dose in ug/kg/min}``, given
    for at least an hour): MAP >= 70 without vasopressors: 0; MAP < 70: 1; dopamine <= 5 or
    any dobutamine: 2; dopamine > 5, epinephrine <= 0.1 or norepinephrine <= 0.1: 3;
    dopamine > 15, epinephrine > 0.1 or norepinephrine > 0.1: 4."""
    m = _canon("map", map_mmhg, units)
    d = _doses(vasopressors, units)
    zero = np.zeros_like(m)
    dopa = d.get("dopamine", zero)
    dobu = d.get("dobutamine", zero)
    epi = d.get("epinephrine", zero)
    norepi = d.get("norepinephrine", zero)
    points = np.where(m < 70.0, 1, 0)
    points = np.where((dopa > 0.0) | (dobu > 0.0), 2, points)
    points = np.where((dopa > 5.0) | (epi > 0.0) | (norepi > 0.0), 3, points)
    points = np.where((dopa > 15.0) | (epi > 0.1) | (norepi > 0.1), 4, points)
    return points.astype(np.int64)


def sofa_cns(gcs: ArrayLike, *, units: Units = None) -> np.ndarray:
    """Glasgow coma scale (3-15, whole points): 15: 0; 13-14: 1; 10-12: 2; 6-9: 3; < 6: 4."""
    g = _canon("gcs", gcs, units)
    if np.any(g != np.round(g)):
        raise DataError(f"The Glasgow coma score is a whole number 3-15. Got {gcs!r}.")
    return _grade(g, (15.0, 13.0, 10.0, 6.0), below=True)


def sofa_renal(creatinine: ArrayLike, urine_output: ArrayLike | None = None, *,
               units: Units = None) -> np.ndarray:  # fmt: skip
    """Creatinine (mg/dL): < 1.2: 0; 1.2-1.9: 1; 2.0-3.4: 2; 3.5-4.9: 3; >= 5: 4; or by urine
    output (mL/h, the day's mean; None: not known): < 500 mL/d: 3; < 200 mL/d: 4 (the larger
    of the two)."""
    points = _grade(_canon("creatinine", creatinine, units), (1.2, 2.0, 3.5, 5.0), below=False)
    if urine_output is None:
        return points
    per_day = 24.0 * _canon("urine_output", urine_output, units)
    by_urine = np.where(per_day < 200.0, 4, np.where(per_day < 500.0, 3, 0))
    return np.maximum(points, by_urine)


@dataclass(frozen=True)
class SOFA:
    """The six SOFA components (0-4 points each) and their ``total`` (0-24)."""

    respiration: np.ndarray
    coagulation: np.ndarray
    liver: np.ndarray
    cardiovascular: np.ndarray
    cns: np.ndarray
    renal: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return (
            self.respiration + self.coagulation + self.liver + self.cardiovascular + self.cns
            + self.renal
        )  # fmt: skip


def sofa(*, pf_ratio: ArrayLike, ventilated: ArrayLike, platelets: ArrayLike,
         bilirubin: ArrayLike, map_mmhg: ArrayLike, gcs: ArrayLike, creatinine: ArrayLike,
         vasopressors: Doses = None, urine_output: ArrayLike | None = None,
         units: Units = None) -> SOFA:  # fmt: skip
    """The SOFA score (Vincent 1996) of the inputs, each in its canonical unit unless
    ``units`` names another (see the component functions)."""
    return SOFA(
        sofa_respiration(pf_ratio, ventilated, units=units),
        sofa_coagulation(platelets, units=units),
        sofa_liver(bilirubin, units=units),
        sofa_cardiovascular(map_mmhg, vasopressors, units=units),
        sofa_cns(gcs, units=units),
        sofa_renal(creatinine, urine_output, units=units),
    )


# ---- Sepsis-3 (Singer 2016) ---------------------------------------------------------------


def sepsis3(sofa_total: ArrayLike, baseline: ArrayLike = 0, *,
            infection: ArrayLike = True) -> np.ndarray:  # fmt: skip
    """Sepsis: a (suspected) infection with an acute rise of the total SOFA score of 2 points
    or more from the patient's baseline (0 when no prior organ dysfunction is known)."""
    now, base = np.asarray(sofa_total), np.asarray(baseline)
    for name, x in (("sofa_total", now), ("baseline", base)):
        if not np.all((x >= 0) & (x <= 24) & (x == np.round(x))):
            raise DataError(f"{name} must be a whole SOFA total in 0-24. Got {x!r}.")
    return _bool("infection", infection) & (now - base >= 2)


def septic_shock(vasopressors: Doses, lactate: ArrayLike, *, sepsis: ArrayLike = True,
                 units: Units = None) -> np.ndarray:  # fmt: skip
    """Septic shock: sepsis with a vasopressor needed to hold the mean arterial pressure at
    65 mm[Hg] or more (any vasopressor of ``{agent: dose in ug/kg/min}`` running, dose > 0)
    and a serum lactate above 2 mmol/L despite adequate fluid resuscitation."""
    doses = _doses(vasopressors, units)
    lac = _canon("lactate", lactate, units)
    running = np.zeros(np.shape(lac), dtype=bool)
    for dose in doses.values():
        running = running | (dose > 0.0)
    return _bool("sepsis", sepsis) & running & (lac > 2.0)


# ---- KDIGO AKI (2012, Table 2) ------------------------------------------------------------


def kdigo_stage(creatinine: ArrayLike, baseline: ArrayLike, *,
                rise_48h: ArrayLike | None = None, urine_ml_kg_h: ArrayLike | None = None,
                urine_hours: ArrayLike | None = None, rrt: ArrayLike = False,
                units: Units = None) -> np.ndarray:  # fmt: skip
    """KDIGO acute kidney injury stage 0-3 (the highest stage any criterion gives).

    Creatinine (mg/dL) against the baseline: stage 1 at 1.5-1.9 times, or a rise of >= 0.3
    mg/dL within 48 h (``rise_48h``, when known); stage 2 at 2.0-2.9 times; stage 3 at >= 3.0
    times, at a creatinine >= 4.0 mg/dL when another creatinine criterion of AKI is met, or
    when renal replacement therapy is started (``rrt``). Urine output (``urine_ml_kg_h``, the
    mean over the last ``urine_hours``): < 0.5 mL/kg/h for >= 6 h: stage 1, for >= 12 h:
    stage 2; < 0.3 mL/kg/h for >= 24 h or anuria (0) for >= 12 h: stage 3."""
    scr = _canon("creatinine", creatinine, units)
    base = _canon("creatinine", baseline, units)
    if np.any(base <= 0.0):
        raise DataError(f"The baseline creatinine must be > 0 mg/dL. Got {baseline!r}.")
    ratio = scr / base
    stage = np.where(ratio >= 3.0, 3, np.where(ratio >= 2.0, 2, np.where(ratio >= 1.5, 1, 0)))
    if rise_48h is not None:
        rise = np.asarray(rise_48h, dtype=np.float64) * (
            1.0 if units is None or "creatinine" not in units
            else to_canonical("creatinine", 1.0, units["creatinine"])
        )  # fmt: skip
        stage = np.maximum(stage, np.where(rise >= 0.3, 1, 0))
    stage = np.where((stage >= 1) & (scr >= 4.0), 3, stage)
    stage = np.where(_bool("rrt", rrt), 3, stage)
    if (urine_ml_kg_h is None) != (urine_hours is None):
        raise DataError("kdigo_stage: give urine_ml_kg_h and urine_hours together, or neither.")
    if urine_ml_kg_h is not None:
        uo = np.asarray(urine_ml_kg_h, dtype=np.float64)
        hours = np.asarray(urine_hours, dtype=np.float64)
        if np.any(~np.isfinite(uo) | (uo < 0.0)) or np.any(~np.isfinite(hours) | (hours < 0.0)):
            raise DataError(
                "urine_ml_kg_h and urine_hours must be >= 0 (mL/kg/h and hours). Got "
                f"{urine_ml_kg_h!r} and {urine_hours!r}."
            )
        by_urine = np.where(
            ((uo < 0.3) & (hours >= 24.0)) | ((uo == 0.0) & (hours >= 12.0)), 3,
            np.where((uo < 0.5) & (hours >= 12.0), 2, np.where((uo < 0.5) & (hours >= 6.0), 1, 0)),
        )  # fmt: skip
        stage = np.maximum(stage, by_urine)
    return stage.astype(np.int64)


# ---- Berlin ARDS (2012) -------------------------------------------------------------------


def berlin_ards(pf_ratio: ArrayLike, peep: ArrayLike, *, bilateral_opacities: ArrayLike = True,
                acute: ArrayLike = True, not_cardiac: ArrayLike = True,
                units: Units = None) -> np.ndarray:  # fmt: skip
    """Berlin ARDS grade 0-3 (names in ``BERLIN_SEVERITY``): with PEEP or CPAP >= 5 cm[H2O],
    bilateral opacities, onset within a week (``acute``) and respiratory failure not fully
    explained by cardiac failure or fluid overload: PaO2/FiO2 (mm[Hg]) 200-300: mild (1);
    100-200: moderate (2); <= 100: severe (3); above 300, or a criterion unmet: 0."""
    pf = _canon("pf_ratio", pf_ratio, units)
    pe = _canon("peep", peep, units)
    criteria = (
        (pe >= 5.0)
        & _bool("bilateral_opacities", bilateral_opacities)
        & _bool("acute", acute)
        & _bool("not_cardiac", not_cardiac)
    )
    grade = np.where(pf <= 100.0, 3, np.where(pf <= 200.0, 2, np.where(pf <= 300.0, 1, 0)))
    return np.where(criteria, grade, 0).astype(np.int64)
