"""Per-patient insulin regimens for UVA/Padova trials: random meal days, a basal rate from each
patient's own steady state and meal boluses from each patient's carb ratio.

:class:`T1DRegimen` is a picklable ``regimen(subject, rng) -> Regimen`` for
:class:`~medtwin.cohorts.RegimenArm`:

* basal: ``basal_scale`` x the patient's steady-state basal ``u2ss * BW / 6000`` U/min (u2ss in
  pmol/kg/min, 6000 pmol/U as in simglucose), i.e. ``60 * u2ss * BW / 6000`` U/h;
* meals: :class:`MealScenario` -- fixed clock times and sizes with a uniform time jitter and a
  uniform size factor, drawn from the patient's generator (the same in every arm);
* boluses: ``bolus_scale * grams / CR`` U with each meal (``bolus_delay`` min after its start),
  CR the covariate ``carb_ratio`` (g/U) when the population has it, else the "500 rule"
  ``CR = 500 / TDI`` with the total daily insulin ``TDI`` taken as twice the daily basal (basal
  about half of TDI; Walsh J, Roberts R, Pumping Insulin, 4th ed., Torrey Pines 2006).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..models.glucose.uva_padova import U_TO_PMOL
from ..simulate import Regimen, basal, bolus, meal
from ._trials import Subject

__all__ = ["MealScenario", "T1DRegimen"]

DAY = 1440.0  # min


@dataclass(frozen=True)
class MealScenario:
    """``days`` days of meals ``(clock minute, grams)``, each moved by a uniform
    ``+-jitter`` min and scaled by a uniform factor in ``[1 - spread, 1 + spread]``."""

    meals: tuple[tuple[float, float], ...] = ((7 * 60, 45.0), (12 * 60 + 30, 70.0), (19 * 60, 60.0))
    days: int = 1
    jitter: float = 30.0
    spread: float = 0.3

    def __post_init__(self) -> None:
        if int(self.days) != self.days or self.days < 1:
            raise ModelError(f"MealScenario.days must be an integer >= 1. Got {self.days!r}.")
        if not 0.0 <= self.spread < 1.0 or self.jitter < 0:
            raise ModelError(
                f"MealScenario needs jitter >= 0 and 0 <= spread < 1. Got jitter={self.jitter!r},"
                f" spread={self.spread!r}."
            )

    @property
    def horizon(self) -> float:
        return self.days * DAY

    def draw(self, rng: np.random.Generator) -> list[tuple[float, float]]:
        """One patient's meals ``[(minute, grams)]`` (times clipped into the horizon)."""
        out = []
        for d in range(int(self.days)):
            for clock, grams in self.meals:
                t = d * DAY + clock + rng.uniform(-self.jitter, self.jitter)
                g = grams * rng.uniform(1.0 - self.spread, 1.0 + self.spread)
                out.append((float(np.clip(np.round(t), 0.0, self.horizon - 60.0)), float(round(g))))
        return out


@dataclass(frozen=True)
class T1DRegimen:
    """Basal from the patient's steady state and carb-counted meal boluses (module docstring)."""

    scenario: MealScenario = MealScenario()
    basal_scale: float = 1.0
    bolus_scale: float = 1.0
    bolus_delay: float = 0.0
    carb_ratio: str = "carb_ratio"

    def basal_u_per_h(self, subject: Subject) -> float:
        p = subject.params
        return 60.0 * p["u2ss"] * p["BW"] / U_TO_PMOL

    def cr(self, subject: Subject) -> float:
        if self.carb_ratio in subject.covariates:
            return float(subject.covariates[self.carb_ratio])
        return 500.0 / (2.0 * 24.0 * self.basal_u_per_h(subject))

    def __call__(self, subject: Subject, rng: np.random.Generator) -> Regimen:
        cr = self.cr(subject)
        events = [basal(0.0, self.basal_scale * self.basal_u_per_h(subject))]
        for t, g in self.scenario.draw(rng):
            events.append(meal(t, g))
            if self.bolus_scale > 0:
                events.append(bolus(t + self.bolus_delay, round(self.bolus_scale * g / cr, 2)))
        return Regimen(tuple(events))
