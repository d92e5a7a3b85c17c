"""The sensitivity evidence item on a model whose answer is known: y(t) = a + b t (exact under
RK4), with ``c`` entering nowhere. Over a in [1, 2] (learnt) and b = 0.5 +- 20 % at t = 10, the
elementary effects are exact: mu*(b) / mu*(a) = (10 * 0.2) / 1 = 2 on the unit grid, mu*(c) = 0.
So b is influential: the item fails unless b is learnt or declared characterised; c is not."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
import pytest

from medtwin.credibility.evidence.sensitivity import check_sensitivity
from medtwin.models import (
    AbstractODEModel,
    GaussianNoise,
    InputSpec,
    ObservableSpec,
    ParameterSpec,
    StateSpec,
)


class Ramp(AbstractODEModel):
    """y(0) = a, dy/dt = b (test model, unregistered)."""

    name: ClassVar[str] = "test-ramp"
    title: ClassVar[str] = "ramp"
    reference: ClassVar[str] = "analytic"
    time_unit: ClassVar[str] = "min"
    states: ClassVar = (StateSpec("y", "1"),)
    parameters: ClassVar = (
        ParameterSpec("a", "1", 1.5, (1.0, 2.0)),
        ParameterSpec("b", "1/min", 0.5, (1e-3, 1e3)),
        ParameterSpec("c", "1", 3.0, (1e-3, 1e3)),
    )
    inputs: ClassVar = (InputSpec("u", "1"),)
    observables: ClassVar = (ObservableSpec("y", "1", noise=GaussianNoise(0.1)),)
    input_dt: float = 1.0

    def initial_state(self, params):
        return jnp.stack([self.named(params).a])

    def vector_field(self, t, y, u, params):
        return jnp.stack([self.named(params).b])

    def observe(self, t, y, params):
        return y


SETTINGS = {"observable": "y", "stat": "final", "t1": 10.0, "learnt": ("a",), "r": 6}


def test_an_influential_fixed_parameter_fails_the_item():
    res = check_sensitivity(Ramp, **SETTINGS)
    assert not res.passed
    (name,) = res.checks
    assert "neither: b" in name and "influential: a, b" in name
    assert res.metrics["mu_star_rel_b"] == pytest.approx(1.0)
    assert res.metrics["mu_star_rel_a"] == pytest.approx(0.5, rel=1e-9)
    assert res.metrics["mu_star_rel_c"] == pytest.approx(0.0, abs=1e-12)


def test_declared_characterised_or_learnt_passes_and_says_why():
    res = check_sensitivity(Ramp, **SETTINGS, characterised={"b": "set from the patient's file"})
    assert res.passed and "b is fixed but characterised: set from the patient's file" in res.notes
    assert check_sensitivity(Ramp, **{**SETTINGS, "learnt": ("a", "b")}).passed
