"""Meals for the closed loop. The concept lives in :mod:`medtwin.simulate` (a recipe and its
realisation, ``simulate/_meals.py``); here are the closed loop's names for it:
:class:`MealSchedule` is the realisation :class:`~medtwin.simulate.Meals` (what each patient
eats and announces) and :func:`random_meals` draws one from simglucose's random scenario
(:class:`~medtwin.simulate.SimglucoseMeals`) with a seed.

Units: min, g.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..simulate import Meals, SimglucoseMeals

__all__ = ["MealSchedule", "random_meals"]

MealSchedule = Meals  # the closed loop's name for a realisation of meals


def random_meals(
    n_patients: int,
    days: int,
    *,
    seed: int,
    carb_error: float = 0.1,
    announce: bool = True,
) -> Meals:
    """Seeded random meals for ``n_patients`` over ``days``: simglucose's random scenario
    (:class:`~medtwin.simulate.SimglucoseMeals`) drawn from ``numpy.random.default_rng(seed)``.
    Each slot happens with its probability at a truncated-normal time and a normal amount (at
    least 5 g); announced amounts are the eaten ones times ``1 + carb_error * N(0,1)`` (at least
    0), rounded to whole grams; ``announce=False`` announces nothing."""
    if not (isinstance(days, int) and days >= 1 and n_patients >= 1):
        raise ModelError(
            "random_meals() needs integers n_patients >= 1 and days >= 1. Got "
            f"n_patients={n_patients!r}, days={days!r}."
        )
    recipe = SimglucoseMeals(days, carb_error=carb_error, announce=announce)
    return recipe.sample(np.random.default_rng(seed), n_patients)
