"""The identifiability evidence item on models whose answer is known analytically: the ramp
y = a + b t read at three times determines both a and b (the item passes, and the 95 %
profile intervals are the linear-regression ones: a +- 1.96 se); the decay dy/dt = -a b y
determines only the product a b (a structural non-identifiability: the item fails)."""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest
from test_sensitivity_evidence import Ramp  # the ramp y = a + b t (rootdir-relative import)

from medtwin.credibility.evidence.identifiability import check_identifiability
from medtwin.models import (
    AbstractODEModel,
    GaussianNoise,
    InputSpec,
    ObservableSpec,
    ParameterSpec,
    StateSpec,
)


class Decay(AbstractODEModel):
    """dy/dt = -a b y, y(0) = 10 (test model, unregistered)."""

    name: ClassVar[str] = "test-decay-ident"
    title: ClassVar[str] = "decay"
    reference: ClassVar[str] = "analytic"
    time_unit: ClassVar[str] = "min"
    states: ClassVar = (StateSpec("y", "1"),)
    parameters: ClassVar = (
        ParameterSpec("a", "1/min", 0.2, (1e-3, 1e3)),
        ParameterSpec("b", "1", 0.5, (1e-3, 1e3)),
    )
    inputs: ClassVar = (InputSpec("u", "1"),)
    observables: ClassVar = (ObservableSpec("y", "1", noise=GaussianNoise(0.1)),)
    input_dt: float = 1.0

    def initial_state(self, params):
        return jnp.array([10.0])

    def vector_field(self, t, y, u, params):
        p = self.named(params)
        return -p.a * p.b * y

    def observe(self, t, y, params):
        return y


def test_the_ramp_is_identifiable_with_the_regression_intervals():
    times = (0.0, 5.0, 10.0)
    res = check_identifiability(Ramp, learnt=("a", "b"), truth={"a": 1.5, "b": 0.5},
                                design={"y": times})  # fmt: skip
    assert res.passed, res.checks
    # OLS: se(a) = sigma sqrt(sum t^2 / (n Sxx)) with sigma 0.1 (Ramp's declared noise)
    t = np.asarray(times)
    sxx = float(((t - t.mean()) ** 2).sum())
    se_a = 0.1 * math.sqrt(float((t**2).sum()) / (len(t) * sxx))
    z = 1.959963984540054
    assert res.metrics["a_lower_over_truth"] * 1.5 == pytest.approx(1.5 - z * se_a, abs=2e-3 * se_a)
    assert res.metrics["a_upper_over_truth"] * 1.5 == pytest.approx(1.5 + z * se_a, abs=2e-3 * se_a)


def test_a_product_only_the_data_determine_fails_the_item():
    res = check_identifiability(Decay, learnt=("a", "b"), truth={"a": 0.2, "b": 0.5},
                                design={"y": (1.0, 3.0, 6.0, 10.0)})  # fmt: skip
    assert not res.passed
    assert res.metrics["fim_rank"] == 1.0
    assert not res.checks["the Fisher information has full rank (1 of 2)"]
