"""Meals for the closed loop: what each patient eats and announces (:class:`MealSchedule`),
drawn by simglucose's random scenario (:func:`random_meals`): six daily slots (breakfast, lunch,
dinner and three snacks) with the slots' probabilities, truncated-normal times and normal
amounts below; announced amounts carry a multiplicative carb-counting error.

Units: min, g.

References
----------
Xie J. simglucose v0.2.1, 2018 (MIT): the random meal scenario (slot times, amounts and
probabilities).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from ..errors import ModelError
from ..models._base import AbstractModel
from ..simulate import Regimen, meal

__all__ = ["MealSchedule", "announce_times", "random_meals"]

# simglucose's random scenario (Xie 2018): slot bounds and means (h), sd (min), amounts (g)
_SLOT_LB = (5.0, 9.0, 10.0, 14.0, 16.0, 20.0)
_SLOT_UB = (9.0, 10.0, 14.0, 16.0, 20.0, 23.0)
_SLOT_MU = (7.0, 9.5, 12.0, 15.0, 18.0, 21.5)
_SLOT_SD = (60.0, 30.0, 60.0, 30.0, 60.0, 30.0)
_AMOUNT_MU = (45.0, 10.0, 70.0, 10.0, 80.0, 10.0)
_AMOUNT_SD = (10.0, 5.0, 10.0, 5.0, 10.0, 5.0)
_PROB = (0.95, 0.3, 0.95, 0.3, 0.95, 0.3)


@dataclass(frozen=True)
class MealSchedule:
    """The meals ``P`` patients eat and announce (realised; ``cohorts.MealScenario`` is a
    recipe for drawing meals in open-loop trials): ``times`` (P, K) min from the start (NaN: no
    meal), ``grams`` (P, K) eaten, ``announced`` (P, K) announced at the meal's start (0: not
    announced)."""

    times: np.ndarray
    grams: np.ndarray
    announced: np.ndarray

    def __post_init__(self) -> None:
        shapes = {np.shape(self.times), np.shape(self.grams), np.shape(self.announced)}
        if len(shapes) != 1 or np.ndim(self.times) != 2:
            raise ModelError(
                "MealSchedule needs times, grams and announced of one shape (patients, meals). "
                f"Got {sorted(shapes)}."
            )
        ok = np.isnan(self.times) | (np.nan_to_num(self.grams) >= 0)
        if not ok.all() or np.any(np.nan_to_num(self.announced) < 0):
            raise ModelError("MealSchedule amounts must be >= 0 g.")

    @property
    def n_patients(self) -> int:
        return int(np.shape(self.times)[0])

    def rates(self, n_minutes: int, *, announced: bool, model: AbstractModel) -> np.ndarray:
        """Carbohydrate rate (P, n_minutes) in g/min, eaten at the model's meal rate, from the
        actual or the announced amounts."""
        amounts = self.announced if announced else self.grams
        out = np.zeros((self.n_patients, n_minutes))
        ic = model.input_names.index("carbs")
        for p in range(self.n_patients):  # host set-up, once per run
            ok = ~np.isnan(self.times[p]) & (amounts[p] > 0)
            reg = Regimen(tuple(meal(float(t), float(g)) for t, g in
                                zip(self.times[p][ok], amounts[p][ok], strict=True)))  # fmt: skip
            out[p] = reg.compile(model.input_names, 0.0, model.input_dt, n_minutes).dose_rate[:, ic]
        return out

    def announced_at(self, n_steps: int, every: float) -> np.ndarray:
        """Carbohydrate announced in each decision interval of ``every`` min (P, n_steps) g."""
        now = np.zeros((self.n_patients, n_steps))
        ok = ~np.isnan(self.times) & (np.nan_to_num(self.announced) > 0)
        p_idx, m_idx = np.nonzero(ok)
        k = np.floor(self.times[p_idx, m_idx] / every).astype(int)
        inside = k < n_steps
        np.add.at(now, (p_idx[inside], k[inside]), self.announced[p_idx, m_idx][inside])
        return now


def random_meals(
    n_patients: int,
    days: int,
    *,
    seed: int,
    carb_error: float = 0.1,
    announce: bool = True,
) -> MealSchedule:
    """Seeded random meals for ``n_patients`` over ``days`` (simglucose's random scenario, module
    docstring): each slot happens with its probability at a truncated-normal time and a normal
    amount (at least 5 g); announced amounts are the eaten ones times ``1 + carb_error * N(0,1)``
    (at least 0), rounded to whole grams; ``announce=False`` announces nothing."""
    if not (isinstance(days, int) and days >= 1 and n_patients >= 1):
        raise ModelError(f"random_meals() needs n_patients >= 1 and days >= 1. Got {days!r}.")
    rng = np.random.default_rng(seed)
    shape = (n_patients, days, len(_PROB))
    lb, ub = np.array(_SLOT_LB) * 60, np.array(_SLOT_UB) * 60
    mu, sd = np.array(_SLOT_MU) * 60, np.array(_SLOT_SD)
    # truncated normal by inversion of the normal CDF between the slot bounds
    a, b = norm.cdf((lb - mu) / sd), norm.cdf((ub - mu) / sd)
    u = a + (b - a) * rng.random(shape)
    minute = np.round(mu + sd * norm.ppf(u))
    times = minute + 1440.0 * np.arange(days)[None, :, None]
    grams = np.maximum(
        np.round(np.array(_AMOUNT_MU) + np.array(_AMOUNT_SD) * rng.standard_normal(shape)), 5.0
    )
    happens = rng.random(shape) < np.array(_PROB)
    err = 1.0 + carb_error * rng.standard_normal(shape)
    told = np.maximum(np.round(grams * err), 0.0) if announce else np.zeros(shape)
    times = np.where(happens, times, np.nan).reshape(n_patients, -1)
    grams = np.where(happens, grams, 0.0).reshape(n_patients, -1)
    told = np.where(happens, told, 0.0).reshape(n_patients, -1)
    return MealSchedule(times, grams, told)


def announce_times(scenario: MealSchedule, n_min: int) -> np.ndarray:
    """For each minute, the latest start time of an announced meal being eaten then (the
    controller knows a meal's carbs from the decision interval in which it starts)."""
    out = np.full((scenario.n_patients, n_min), np.inf)
    for p in range(scenario.n_patients):  # host set-up, once per run
        ok = ~np.isnan(scenario.times[p]) & (scenario.announced[p] > 0)
        for t, g in zip(scenario.times[p][ok], scenario.announced[p][ok], strict=True):
            eaten = meal(float(t), float(g))  # eaten at the meal's own rate
            a, b = int(t), min(math.ceil(t + eaten.amount / eaten.rate) + 1, n_min)
            out[p, a:b] = np.where(np.isinf(out[p, a:b]), t, np.maximum(out[p, a:b], t))
    return out
