"""The parameter table's scales, bounds and priors (medtwin.petab.Parameters)."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from medtwin.errors import DataError
from medtwin.petab import Parameters
from medtwin.petab._parameters import PRIORS, prior_code, scale_code


def _table(prior=(-1, -1, -1), args=((np.nan, np.nan),) * 3):
    return Parameters(
        ("a", "b", "c", "fixed"),
        np.array([0, 1, 2, 2]),
        np.array([-1.0, 0.1, 1e-3, 1.0]),
        np.array([5.0, 10.0, 1e3, 1.0]),
        np.array([2.0, 3.0, 100.0, 7.0]),
        np.array([0, 1, 2]),
        np.array([*prior, -1]),
        np.array([*args, (np.nan, np.nan)], np.float64),
    )


def test_scales_map_both_ways():
    t = _table()
    z = t.to_z()
    np.testing.assert_allclose(z, [2.0, math.log(3.0), 2.0])
    np.testing.assert_allclose(t.from_z(z), [2.0, 3.0, 100.0, 7.0], rtol=1e-14)
    np.testing.assert_allclose(t.from_z([1.0, 0.0, -1.0]), [1.0, 1.0, 0.1, 7.0], rtol=1e-14)
    lo, hi = t.z_bounds()
    np.testing.assert_allclose(lo, [-1.0, math.log(0.1), -3.0])
    np.testing.assert_allclose(hi, [5.0, math.log(10.0), 3.0])
    # the derivative of 10**z is ln(10) 10**z, of exp(z) exp(z), of z 1
    jac = jax.jacfwd(t.from_z)(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(np.diag(jac[:3]), [1.0, 1.0, 0.1 * math.log(10.0)], rtol=1e-14)


def test_a_wrong_length_is_refused():
    with pytest.raises(DataError, match=r"vector of 3 values \(a, b, c\).*Got shape \(2,\)"):
        _table().from_z([1.0, 2.0])


def test_priors_hand_computed():
    codes = tuple(PRIORS.index(n) for n in ("normal", "parameterScaleLaplace", "logNormal"))
    t = _table(codes, ((1.0, 2.0), (0.0, 0.5), (0.0, 1.0)))
    z = np.array([2.0, math.log(3.0), 1.0])  # a = 2, b = 3 (z = ln 3), c = 10
    expected = (
        0.5 * math.log(2 * math.pi * 4.0) + 0.5 * (1.0 / 2.0) ** 2  # normal(1, 2) at 2
        + math.log(2 * 0.5) + math.log(3.0) / 0.5  # laplace(0, 0.5) at z = ln 3
        + 0.5 * math.log(2 * math.pi) + math.log(10.0) + 0.5 * math.log(10.0) ** 2  # logN(0,1)
    )  # fmt: skip
    assert float(t.neg_log_prior(z)) == pytest.approx(expected, rel=1e-13)
    assert float(_table().neg_log_prior(z)) == 0.0


def test_unknown_scale_and_prior_are_refused_with_the_choices():
    with pytest.raises(DataError, match=r"'k' has parameterScale 'ln'.*lin, log, log10"):
        scale_code("ln", "k")
    with pytest.raises(DataError, match=r"'k' has objectivePriorType 'gamma'"):
        prior_code("gamma", "k")
    assert scale_code(float("nan"), "k") == 0 and prior_code("", "k") == -1
