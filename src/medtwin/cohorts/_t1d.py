"""Per-patient insulin regimens for UVA/Padova trials: random meal days, a basal rate from each
patient's own steady state and meal boluses from each patient's carb ratio.

:class:`T1DRegimen` is a picklable ``regimen(subject, rng) -> Regimen`` for
:class:`~medtwin.cohorts.RegimenArm`:

* basal: ``basal_scale`` x the patient's steady-state basal
  (:meth:`~medtwin.models.UVAPadova.steady_state_basal`, ``u2ss * BW / 6000`` U/min), in U/h;
* meals: a meal recipe (:class:`~medtwin.simulate.MealRecipe`; by default :class:`MealScenario`,
  i.e. :class:`~medtwin.simulate.ClockMeals`: fixed clock times and sizes with a uniform time
  jitter and a uniform size factor), drawn from the patient's generator (the same in every arm);
* boluses: ``bolus_scale * grams / CR`` U with each meal for its announced grams
  (``bolus_delay`` min after its start), CR the covariate ``carb_ratio`` (g/U) when the
  population has it, else the "500 rule" ``CR = 500 / TDI`` with the total daily insulin
  ``TDI`` taken as twice the daily basal (basal about half of TDI; Walsh J, Roberts R, Pumping
  Insulin, 4th ed., Torrey Pines 2006).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..models.glucose.uva_padova import UVAPadova
from ..simulate import ClockMeals, Event, MealRecipe, Regimen, basal, bolus, meal
from ._trials import Subject

__all__ = ["MealScenario", "T1DRegimen"]

MealScenario = ClockMeals  # the trials' name for the meal recipe of a regimen arm
_UVA = UVAPadova()


@dataclass(frozen=True)
class T1DRegimen:
    """Basal from the patient's steady state and carb-counted meal boluses (module docstring)."""

    scenario: MealRecipe = field(default_factory=ClockMeals)
    basal_scale: float = 1.0
    bolus_scale: float = 1.0
    bolus_delay: float = 0.0
    carb_ratio: str = "carb_ratio"

    def basal_u_per_h(self, subject: Subject) -> float:
        """The patient's steady-state basal rate, U/h."""
        params = np.array([subject.params[name] for name in _UVA.parameter_names])
        return 60.0 * float(_UVA.steady_state_basal(params))

    def cr(self, subject: Subject) -> float:
        if self.carb_ratio in subject.covariates:
            return float(subject.covariates[self.carb_ratio])
        return 500.0 / (2.0 * 24.0 * self.basal_u_per_h(subject))

    def __call__(self, subject: Subject, rng: np.random.Generator) -> Regimen:
        cr = self.cr(subject)
        events: list[Event] = [basal(0.0, self.basal_scale * self.basal_u_per_h(subject))]
        for t, eaten, announced in self.scenario.sample(rng).patient(0):
            events.append(meal(t, eaten))
            if self.bolus_scale > 0:  # carb counting: the announced grams
                units = round(self.bolus_scale * announced / cr, 2)
                events.append(bolus(t + self.bolus_delay, units))
        return Regimen(tuple(events))
