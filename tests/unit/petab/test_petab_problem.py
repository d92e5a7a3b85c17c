"""load_petab and PetabProblem.nllh on a tiny problem with a closed-form solution (see
_tiny.py): the likelihood, its gradient, pre-equilibration and a time discontinuity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from petab_tiny import closed_form_nllh, nllh_normal, write

import medtwin.petab as mp
from medtwin.petab import load_petab


def test_public_api():
    assert set(mp.__all__) == {
        "FitResult",
        "Parameters",
        "PetabProblem",
        "SolverSettings",
        "fit",
        "load_petab",
    }
    for name in mp.__all__:
        assert hasattr(mp, name)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_petab(write(tmp_path_factory.mktemp("tiny")))


def test_nllh_at_nominal_equals_the_closed_form(tiny):
    assert tiny.parameter_ids == ("k", "scale", "sd")
    np.testing.assert_allclose(tiny.z_nominal, [math.log10(0.5), math.log(2.0), 0.3])
    assert float(tiny.nllh(tiny.z_nominal)) == pytest.approx(closed_form_nllh(), rel=1e-6)


def test_nllh_away_from_nominal_and_its_gradient(tiny):
    z = np.array([math.log10(0.8), math.log(1.5), 0.45])
    assert float(tiny.nllh(z)) == pytest.approx(
        closed_form_nllh(k=0.8, scale=1.5, sd=0.45), rel=1e-6
    )
    value, grad = tiny.value_and_grad(z)
    assert float(value) == pytest.approx(float(tiny.nllh(z)), rel=1e-12)
    h = 1e-5
    fd = [(float(tiny.nllh(z + h * e)) - float(tiny.nllh(z - h * e))) / (2 * h)
          for e in np.eye(3)]  # fmt: skip
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


def test_bounds_are_on_the_parameter_scale(tiny):
    lo, hi = tiny.z_bounds()
    np.testing.assert_allclose(lo, [-2.0, math.log(0.01), 0.01])
    np.testing.assert_allclose(hi, [2.0, math.log(100), 10.0])


def test_preequilibration_starts_from_the_steady_state(tmp_path):
    # pre-equilibrate with the input on (steady state p/k), then simulate with it off
    # (t_on = 0, so the input acts from time 0 in both conditions)
    meas = [
        "observableId\tpreequilibrationConditionId\tsimulationConditionId\tmeasurement\ttime"
        "\tobservableParameters\tnoiseParameters",
        "obs_a\ton\toff\t5.0\t0\tscale\tsd",
        "obs_a\ton\toff\t2.0\t2\tscale\tsd",
    ]
    problem = load_petab(write(tmp_path, t_on=0.0, measurements=meas))
    a = lambda t: 3.0 * math.exp(-0.5 * t)  # noqa: E731  (p_on/k = 3, then decay)
    expected = nllh_normal([(2 * a(0) - 5.0, 0.3), (2 * a(2) - 2.0, 0.3)])
    assert float(problem.nllh(problem.z_nominal)) == pytest.approx(expected, rel=1e-6)


def test_a_condition_sets_the_initial_value_and_reinitialises_it_after_preequilibration(
    tmp_path,
):
    conds = ["conditionId\tp\tA", "on\tp_on\t", "off_a4\t0\t4"]
    meas = [
        "observableId\tpreequilibrationConditionId\tsimulationConditionId\tmeasurement\ttime"
        "\tobservableParameters\tnoiseParameters",
        "obs_a\ton\toff_a4\t7.0\t1\tscale\tsd",
    ]
    problem = load_petab(write(tmp_path, t_on=0.0, conditions=conds, measurements=meas))
    expected = nllh_normal([(2 * 4 * math.exp(-0.5) - 7.0, 0.3)])
    assert float(problem.nllh(problem.z_nominal)) == pytest.approx(expected, rel=1e-6)
