"""Meals as a recipe and its realisation: the recipes draw what the trials and the closed loop
drew before (same generator, same meals), a realisation becomes regimen events and rates, and
bad recipes are refused."""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.cohorts import MealScenario, T1DRegimen
from medtwin.cohorts._trials import Subject
from medtwin.control import MealSchedule, random_meals
from medtwin.errors import ModelError
from medtwin.models import UVAPadova
from medtwin.simulate import ClockMeals, MealRecipe, Meals, SimglucoseMeals


def test_the_old_names_are_the_recipe_and_the_realisation():
    assert MealScenario is ClockMeals and MealSchedule is Meals
    assert isinstance(ClockMeals(), MealRecipe) and isinstance(SimglucoseMeals(), MealRecipe)


def test_clock_meals_draw_patient_after_patient():
    recipe = ClockMeals(days=2, jitter=20.0, spread=0.2)
    meals = recipe.sample(np.random.default_rng(4), 3)
    assert meals.times.shape == (3, 6) and recipe.horizon == 2880.0
    np.testing.assert_array_equal(meals.announced, meals.grams)  # counted exactly
    rng = np.random.default_rng(4)
    for p in range(3):  # one generator, drawn patient by patient, gives the same meals
        assert recipe.draw(rng) == [(t, g) for t, g, _ in meals.patient(p)]
    clock = meals.times % 1440
    nominal = np.array([420.0, 750.0, 1140.0] * 2)
    assert np.all(np.abs(clock - nominal) <= 20.0)
    assert np.all(np.abs(meals.grams / np.array([45.0, 70.0, 60.0] * 2) - 1) <= 0.2 + 0.02)


def test_simglucose_meals_are_random_meals():
    a = SimglucoseMeals(days=2, carb_error=0.2).sample(np.random.default_rng(9), 4)
    b = random_meals(4, 2, seed=9, carb_error=0.2)
    for f in ("times", "grams", "announced"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    silent = SimglucoseMeals(announce=False).sample(np.random.default_rng(9), 2)
    assert np.all(silent.announced == 0) and np.any(silent.grams > 0)


def test_a_realisation_becomes_events_and_rates():
    meals = Meals(
        np.array([[30.0, np.nan, 100.0]]), np.array([[50.0, 0.0, 20.0]]),
        np.array([[40.0, 0.0, 0.0]]),
    )  # fmt: skip
    assert meals.patient(0) == ((30.0, 50.0, 40.0), (100.0, 20.0, 0.0))
    eaten = meals.regimen(0)
    assert [(e.time, e.amount) for e in eaten.events] == [(30.0, 50.0), (100.0, 20.0)]
    told = meals.regimen(0, announced=True)
    assert [(e.time, e.amount) for e in told.events] == [(30.0, 40.0)]
    model = UVAPadova()
    rates = meals.rates(200, announced=False, model=model)  # g/min, 5 g/min per meal
    assert rates.sum() == pytest.approx(70.0) and rates[0, 30] == 5.0 and rates[0, 29] == 0.0
    assert meals.rates(200, announced=True, model=model).sum() == pytest.approx(40.0)
    np.testing.assert_array_equal(meals.announced_at(30, 5.0)[0, [5, 6, 20]], [0.0, 40.0, 0.0])
    starts = meals.announce_starts(200)[0]
    assert np.all(starts[30:38] == 30.0) and np.all(np.isinf(starts[:30]))
    assert np.all(np.isinf(starts[100:]))  # the second meal is not announced


def test_a_regimen_arm_boluses_the_announced_grams_of_any_recipe():
    model = UVAPadova()
    params = dict(zip(model.parameter_names, np.asarray(model.default_params()).tolist(),
                      strict=True))  # fmt: skip
    subject = Subject("p", params, {"carb_ratio": 10.0})
    recipe = SimglucoseMeals(carb_error=0.3)
    regimen = T1DRegimen(recipe)(subject, np.random.default_rng(2))
    meals = recipe.sample(np.random.default_rng(2))
    boluses = [e.amount for e in regimen.events if e.label == "bolus"]
    np.testing.assert_allclose(boluses, [round(a / 10.0, 2) for _, _, a in meals.patient(0)])
    assert any(g != a for _, g, a in meals.patient(0))  # eaten and announced differ


def test_bad_recipes_and_realisations_are_refused():
    with pytest.raises(ModelError, match=r"ClockMeals.days must be an integer >= 1\. Got 0"):
        ClockMeals(days=0)
    with pytest.raises(ModelError, match="jitter >= 0"):
        ClockMeals(jitter=-1.0)
    with pytest.raises(ModelError, match="carb_error >= 0"):
        SimglucoseMeals(carb_error=-0.1)
    with pytest.raises(ModelError, match="n_patients, an integer >= 1"):
        SimglucoseMeals().sample(np.random.default_rng(0), 0)
    with pytest.raises(ModelError, match="one shape"):
        Meals(np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ModelError, match=">= 0 g"):
        Meals(np.zeros((1, 1)), -np.ones((1, 1)), np.zeros((1, 1)))
