"""Identifiability against analytic answers, on two one-state ODE models written here.

* ``Line``: ``dy/dt = b, y(0) = a``, so ``y(t) = a + b t``, observed with Gaussian noise of known
  sd 0.3. The model is linear in (a, b): the MLE is ordinary least squares and the profile
  likelihood is exactly quadratic, so the 95 % profile interval must equal the analytic
  ``beta_hat +- z_0.975 * sigma * sqrt(diag((X^T X)^-1))`` (the chi2(0.95, 1)/2 = 1.92 threshold
  and z_0.975 = 1.95996 are the same number). Stored tolerance: 1e-3 of the standard error (the
  crossing is refined to 1e-3 in the log-likelihood, i.e. about 5e-4 se). The Wald standard
  errors of the FIM (log scale) times the parameter values are the same analytic numbers
  (exact: the model is linear).
* ``Decay``: ``dy/dt = -a b y, y(0) = y0``: only the product ``k = a b`` enters the solution, a
  structural non-identifiability. The FIM has rank 2 of 3 with the null direction
  ``(log a, log b, log y0) ~ (1, -1, 0)/sqrt(2)`` (analytic, up to sign). Stored tolerances,
  chosen to hold on any CPU: the exact null eigenvalue comes out as round-off (measured 7e-17 of
  the largest, either sign), so we assert ``|lambda_3| < 1e-12 lambda_1``, rank 2 at the default
  ``rtol = 1e-8`` (the other two are 1 and 0.19 of the largest) and a condition number above
  1e12 (the library reports inf for any FIM below full rank; the raw ratio was 1.35e16 on one
  CPU); the null direction to 1e-6 (measured 2e-16). The profile of ``a`` is flat
  (to 1e-6) wherever the compensating ``b = k/a`` stays within its bounds; ``y0`` is
  identifiable. With the product fixed (free ``a, y0``) the same data identify ``a``, and its
  profile interval matches the asymptotic (Wald) interval ``exp(log a_hat +- 1.96 se)`` to 2 %
  of its width (measured: 1.1 %; the decay is nonlinear in ``a``, so the agreement is
  asymptotic, not exact).
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.analysis import fisher_information, identifiability
from medtwin.assimilate import observations
from medtwin.models import (
    AbstractODEModel,
    GaussianNoise,
    InputSpec,
    ObservableSpec,
    ParameterSpec,
    StateSpec,
)

Z975 = 1.959963984540054  # sqrt(chi2.ppf(0.95, 1))
SIGMA_LINE, SIGMA_DECAY = 0.3, 0.2
T = np.arange(0.0, 21.0, 2.0)  # 11 readings over 20 min


class Line(AbstractODEModel):
    """y(t) = a + b t, as an ODE (test model, unregistered)."""

    name: ClassVar[str] = "test-line"
    title: ClassVar[str] = "straight line"
    reference: ClassVar[str] = "analytic"
    time_unit: ClassVar[str] = "min"
    states: ClassVar = (StateSpec("y", "1"),)
    parameters: ClassVar = (
        ParameterSpec("a", "1", 2.0, (1e-3, 1e3)),
        ParameterSpec("b", "1/min", 0.5, (1e-3, 1e3)),
    )
    inputs: ClassVar = (InputSpec("u", "1"),)
    observables: ClassVar = (ObservableSpec("y", "1", noise=GaussianNoise(SIGMA_LINE)),)
    input_dt: float = 1.0

    def initial_state(self, params):
        return jnp.stack([self.named(params).a])

    def vector_field(self, t, y, u, params):
        return jnp.stack([self.named(params).b])

    def observe(self, t, y, params):
        return y


class Decay(AbstractODEModel):
    """dy/dt = -a b y: only the product a*b is determined (test model, unregistered)."""

    name: ClassVar[str] = "test-decay"
    title: ClassVar[str] = "exponential decay with a product rate"
    reference: ClassVar[str] = "analytic"
    time_unit: ClassVar[str] = "min"
    states: ClassVar = (StateSpec("y", "1"),)
    parameters: ClassVar = (
        ParameterSpec("a", "1", 1.0, (1e-3, 1e3)),
        ParameterSpec("b", "1/min", 0.1, (1e-3, 1e3)),
        ParameterSpec("y0", "1", 10.0, (1e-2, 1e3)),
    )
    inputs: ClassVar = (InputSpec("u", "1"),)
    observables: ClassVar = (ObservableSpec("y", "1", noise=GaussianNoise(SIGMA_DECAY)),)
    input_dt: float = 0.5  # RK4 at k*dt = 0.05: 1e-8 relative error, far below the noise

    def initial_state(self, params):
        return jnp.stack([self.named(params).y0])

    def vector_field(self, t, y, u, params):
        p = self.named(params)
        return -p.a * p.b * y

    def observe(self, t, y, params):
        return y


def test_linear_gaussian_profile_interval_is_the_analytic_one():
    y = 2.0 + 0.5 * T + np.random.default_rng(0).normal(0.0, SIGMA_LINE, T.size)
    rep = identifiability(Line(), observations(T, y, "y"), free=("a", "b"))
    X = np.column_stack([np.ones_like(T), T])
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    se = SIGMA_LINE * np.sqrt(np.diag(np.linalg.inv(X.T @ X)))
    for j, p in enumerate(rep.profiles.profiles):
        assert p.verdict == "identifiable"
        assert p.mle == pytest.approx(beta[j], abs=1e-5 * se[j])
        assert abs(p.lower - (beta[j] - Z975 * se[j])) < 1e-3 * se[j]
        assert abs(p.upper - (beta[j] + Z975 * se[j])) < 1e-3 * se[j]
    fim = rep.fisher  # at the point (2, 0.5), log scale: se_log * value = se (linear model)
    np.testing.assert_allclose(fim.standard_errors * fim.point, se, rtol=1e-8)
    assert fim.rank == 2 and fim.poorly_determined() == ()


@pytest.fixture(scope="module")
def decay_data():
    y = 10.0 * np.exp(-0.1 * T) + np.random.default_rng(0).normal(0.0, SIGMA_DECAY, T.size)
    return observations(T, y, "y")


def test_product_of_two_rates_is_structurally_non_identifiable(decay_data):
    rep = identifiability(Decay(), decay_data, free=("a", "b", "y0"))
    fim = rep.fisher
    assert fim.rank == 2  # 3 parameters, 1 structural relation
    assert fim.condition > 1e12  # singular: huge (inf here), whatever the CPU's round-off
    assert abs(fim.eigenvalues[2]) < 1e-12 * fim.eigenvalues[0]
    null = fim.eigenvectors[:, 2] * np.sign(fim.eigenvectors[0, 2])  # up to sign
    np.testing.assert_allclose(null, [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0], atol=1e-6)
    (combo,) = fim.poorly_determined()
    assert math.isinf(combo.sd) and list(combo.loadings) == ["log a", "log b", "log y0"]
    # |log a| and |log b| loadings tie: the first parameter's is positive on every CPU
    np.testing.assert_allclose(
        list(combo.loadings.values()), [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0], atol=1e-6
    )
    assert str(combo) == "0.71*log a -0.71*log b (sd inf)"
    se = fim.standard_errors
    assert math.isinf(se[0]) and math.isinf(se[1]) and math.isfinite(se[2])

    verdicts = rep.verdicts()
    assert verdicts == {
        "a": "structurally non-identifiable",
        "b": "structurally non-identifiable",
        "y0": "identifiable",
    }
    prof = rep.profiles["a"]
    k_hat = rep.profiles.mle[0] * rep.profiles.mle[1]
    inside = (k_hat / prof.values >= 1e-3) & (k_hat / prof.values <= 1e3)
    assert inside.sum() >= 8 and prof.values.min() == pytest.approx(1e-3)
    assert np.all(np.abs(prof.delta[inside]) < 1e-6)  # flat while b can compensate
    assert prof.lower is None  # flat down to a's own lower bound
    assert prof.upper == pytest.approx(k_hat / 1e-3, rel=0.5)  # rises once b hits its bound


def test_identifiable_rate_profile_matches_the_wald_interval(decay_data):
    point = Decay().make_params(b=1.0, a=0.1)  # b fixed: a is now the decay rate itself
    rep = identifiability(Decay(), decay_data, free=("a", "y0"), point=point)
    p = rep.profiles["a"]
    assert p.verdict == "identifiable"
    # Wald interval from the FIM at the MLE (log scale)
    fim = fisher_information(Decay(), decay_data, free=("a", "y0"), point=point.at[0].set(p.mle))
    se = fim.standard_errors[0]
    lo, hi = p.mle * math.exp(-Z975 * se), p.mle * math.exp(Z975 * se)
    width = hi - lo
    assert abs(p.lower - lo) < 0.02 * width and abs(p.upper - hi) < 0.02 * width
    assert 0.08 < p.lower < p.mle < p.upper < 0.12  # and the truth 0.1 is inside
    assert p.lower < 0.1 < p.upper
