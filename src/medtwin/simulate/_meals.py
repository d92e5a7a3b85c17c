"""Meals, one concept in two parts.

* A **recipe** (:class:`MealRecipe`) is a distribution of meals: when and how much a patient eats
  each day, how that varies and what the patient announces. :class:`ClockMeals` (fixed clock
  times and sizes with a uniform time jitter and size factor) and :class:`SimglucoseMeals`
  (simglucose's random scenario) are recipes.
* A **realisation** (:class:`Meals`) is what one draw of a recipe gives: the concrete meals of
  ``P`` patients over the recipe's days -- start time, grams eaten and grams announced of each
  meal. Simulations consume realisations: as regimen events (:meth:`Meals.regimen`, meals eaten
  at 5 g/min as :func:`~medtwin.simulate.meal`) or as per-minute carbohydrate rates
  (:meth:`Meals.rates`).

``recipe.sample(rng, n_patients)`` draws a realisation from a NumPy generator; the same generator
state gives the same meals.

:class:`SimglucoseMeals` follows simglucose's random scenario (Xie 2018): six daily slots
(breakfast, lunch, dinner and three snacks), each happening with its probability at a
truncated-normal time within its bounds and with a normal amount (at least 5 g), rounded to
whole minutes and grams; announced amounts are the eaten ones times ``1 + carb_error N(0, 1)``
(at least 0, rounded to whole grams).

Units: min, g.

References
----------
Xie J. simglucose v0.2.1, 2018 (MIT): the random meal scenario (slot times, amounts and
probabilities).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from ..errors import ModelError
from ..models._base import AbstractModel
from ._regimen import Regimen, meal

__all__ = ["ClockMeals", "MealRecipe", "Meals", "SimglucoseMeals"]

DAY = 1440.0  # min

# simglucose's random scenario (Xie 2018): slot bounds and means (h), sd (min), amounts (g)
_SLOT_LB = (5.0, 9.0, 10.0, 14.0, 16.0, 20.0)
_SLOT_UB = (9.0, 10.0, 14.0, 16.0, 20.0, 23.0)
_SLOT_MU = (7.0, 9.5, 12.0, 15.0, 18.0, 21.5)
_SLOT_SD = (60.0, 30.0, 60.0, 30.0, 60.0, 30.0)
_AMOUNT_MU = (45.0, 10.0, 70.0, 10.0, 80.0, 10.0)
_AMOUNT_SD = (10.0, 5.0, 10.0, 5.0, 10.0, 5.0)
_PROB = (0.95, 0.3, 0.95, 0.3, 0.95, 0.3)


@dataclass(frozen=True)
class Meals:
    """The meals ``P`` patients eat and announce (a realisation of a :class:`MealRecipe`):
    ``times`` (P, K) min from the start (NaN: no meal in that slot), ``grams`` (P, K) eaten,
    ``announced`` (P, K) announced at the meal's start (0: not announced)."""

    times: np.ndarray
    grams: np.ndarray
    announced: np.ndarray

    def __post_init__(self) -> None:
        shapes = {np.shape(self.times), np.shape(self.grams), np.shape(self.announced)}
        if len(shapes) != 1 or np.ndim(self.times) != 2:
            raise ModelError(
                f"{type(self).__name__} needs times, grams and announced of one shape "
                f"(patients, meals). Got {sorted(shapes)}."
            )
        ok = np.isnan(self.times) | (np.nan_to_num(self.grams) >= 0)
        if not ok.all() or np.any(np.nan_to_num(self.announced) < 0):
            raise ModelError(f"{type(self).__name__} amounts must be >= 0 g.")

    @property
    def n_patients(self) -> int:
        return int(np.shape(self.times)[0])

    def patient(self, p: int) -> tuple[tuple[float, float, float], ...]:
        """Patient ``p``'s meals as ``(minute, grams eaten, grams announced)``, in slot order
        (empty slots left out)."""
        ok = ~np.isnan(self.times[p])
        return tuple(
            (float(t), float(g), float(a))
            for t, g, a in zip(
                self.times[p][ok], self.grams[p][ok], self.announced[p][ok], strict=True
            )
        )

    def regimen(self, p: int, *, announced: bool = False) -> Regimen:
        """Patient ``p``'s meals as regimen events (:func:`~medtwin.simulate.meal`), with the
        eaten or the announced amounts; meals of 0 g are left out."""
        amounts = self.announced if announced else self.grams
        ok = ~np.isnan(self.times[p]) & (amounts[p] > 0)
        return Regimen(tuple(meal(float(t), float(g)) for t, g in
                             zip(self.times[p][ok], amounts[p][ok], strict=True)))  # fmt: skip

    def rates(self, n_minutes: int, *, announced: bool, model: AbstractModel) -> np.ndarray:
        """Carbohydrate rate (P, n_minutes) in g/min on the model's input grid from 0, eaten at
        the meal rate of :func:`~medtwin.simulate.meal`, from the actual or the announced
        amounts."""
        out = np.zeros((self.n_patients, n_minutes))
        ic = model.input_names.index("carbs")
        for p in range(self.n_patients):  # host set-up, once per run
            reg = self.regimen(p, announced=announced)
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

    def announce_starts(self, n_minutes: int) -> np.ndarray:
        """For each minute (P, n_minutes), the latest start time (min) of an announced meal
        being eaten then, inf if none (a controller knows a meal's carbs from the decision
        interval in which it starts)."""
        out = np.full((self.n_patients, n_minutes), np.inf)
        for p in range(self.n_patients):  # host set-up, once per run
            ok = ~np.isnan(self.times[p]) & (self.announced[p] > 0)
            for t, g in zip(self.times[p][ok], self.announced[p][ok], strict=True):
                eaten = meal(float(t), float(g))  # eaten at the meal's own rate
                assert eaten.rate is not None  # a meal is always eaten at a rate
                a, b = int(t), min(math.ceil(t + eaten.amount / eaten.rate) + 1, n_minutes)
                out[p, a:b] = np.where(np.isinf(out[p, a:b]), t, np.maximum(out[p, a:b], t))
        return out


class MealRecipe(ABC):
    """A distribution of meals over ``days`` days: ``sample(rng, n_patients)`` draws the
    :class:`Meals` of ``n_patients`` patients from a NumPy generator."""

    days: int

    @property
    def horizon(self) -> float:
        """The recipe's length, min."""
        return self.days * DAY

    @abstractmethod
    def sample(self, rng: np.random.Generator, n_patients: int = 1) -> Meals:
        """The meals of ``n_patients`` patients drawn from ``rng``."""


def _check_days(owner: str, days: object) -> None:
    if int(days) != days or days < 1:  # type: ignore[call-overload, operator]
        raise ModelError(f"{owner}.days must be an integer >= 1. Got {days!r}.")


def _check_patients(owner: str, n_patients: int) -> None:
    if not (isinstance(n_patients, int) and n_patients >= 1):
        raise ModelError(f"{owner}.sample() needs n_patients, an integer >= 1. Got {n_patients!r}.")


@dataclass(frozen=True)
class ClockMeals(MealRecipe):
    """``days`` days of meals ``(clock minute, grams)``, each moved by a uniform ``+-jitter``
    min and scaled by a uniform factor in ``[1 - spread, 1 + spread]``, rounded to whole minutes
    (clipped into ``[0, horizon - 60]``) and grams, and announced exactly."""

    meals: tuple[tuple[float, float], ...] = ((7 * 60, 45.0), (12 * 60 + 30, 70.0), (19 * 60, 60.0))
    days: int = 1
    jitter: float = 30.0
    spread: float = 0.3

    def __post_init__(self) -> None:
        _check_days(type(self).__name__, self.days)
        if not 0.0 <= self.spread < 1.0 or self.jitter < 0:
            raise ModelError(
                f"{type(self).__name__} needs jitter >= 0 and 0 <= spread < 1. Got "
                f"jitter={self.jitter!r}, spread={self.spread!r}."
            )

    def sample(self, rng: np.random.Generator, n_patients: int = 1) -> Meals:
        """Patient after patient, day after day, meal after meal: a uniform time shift, then a
        uniform size factor."""
        _check_patients(type(self).__name__, n_patients)
        k = int(self.days) * len(self.meals)
        times, grams = np.zeros((n_patients, k)), np.zeros((n_patients, k))
        for p in range(n_patients):
            i = 0
            for d in range(int(self.days)):
                for clock, size in self.meals:
                    t = d * DAY + clock + rng.uniform(-self.jitter, self.jitter)
                    g = size * rng.uniform(1.0 - self.spread, 1.0 + self.spread)
                    times[p, i] = float(np.clip(np.round(t), 0.0, self.horizon - 60.0))
                    grams[p, i] = float(round(g))
                    i += 1
        return Meals(times, grams, grams.copy())

    def draw(self, rng: np.random.Generator) -> list[tuple[float, float]]:
        """One patient's meals ``[(minute, grams)]`` (``sample(rng)`` as pairs)."""
        return [(t, g) for t, g, _ in self.sample(rng).patient(0)]


@dataclass(frozen=True)
class SimglucoseMeals(MealRecipe):
    """simglucose's random scenario over ``days`` days (module docstring), announced with a
    carb-counting error of sd ``carb_error`` (relative); ``announce=False`` announces
    nothing."""

    days: int = 1
    carb_error: float = 0.1
    announce: bool = True

    def __post_init__(self) -> None:
        _check_days(type(self).__name__, self.days)
        if not self.carb_error >= 0:
            raise ModelError(
                f"{type(self).__name__} needs carb_error >= 0. Got {self.carb_error!r}."
            )

    def sample(self, rng: np.random.Generator, n_patients: int = 1) -> Meals:
        """All patients at once: slot times (P, days, 6), then amounts, then whether each slot
        happens, then the announcement errors."""
        _check_patients(type(self).__name__, n_patients)
        shape = (n_patients, int(self.days), len(_PROB))
        lb, ub = np.array(_SLOT_LB) * 60, np.array(_SLOT_UB) * 60
        mu, sd = np.array(_SLOT_MU) * 60, np.array(_SLOT_SD)
        # truncated normal by inversion of the normal CDF between the slot bounds
        a, b = norm.cdf((lb - mu) / sd), norm.cdf((ub - mu) / sd)
        u = a + (b - a) * rng.random(shape)
        minute = np.round(mu + sd * norm.ppf(u))
        times = minute + DAY * np.arange(int(self.days))[None, :, None]
        grams = np.maximum(
            np.round(np.array(_AMOUNT_MU) + np.array(_AMOUNT_SD) * rng.standard_normal(shape)),
            5.0,
        )
        happens = rng.random(shape) < np.array(_PROB)
        err = 1.0 + self.carb_error * rng.standard_normal(shape)
        told = np.maximum(np.round(grams * err), 0.0) if self.announce else np.zeros(shape)
        times = np.where(happens, times, np.nan).reshape(n_patients, -1)
        grams = np.where(happens, grams, 0.0).reshape(n_patients, -1)
        told = np.where(happens, told, 0.0).reshape(n_patients, -1)
        return Meals(times, grams, told)
