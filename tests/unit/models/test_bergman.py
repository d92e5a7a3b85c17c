"""Unit tests of the Bergman minimal model (T1D, gut and SC insulin chains): declaration,
parameter specs, exact rest state, insulin lowers glucose, glucose never negative."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

import medtwin.models as models
from medtwin.models import BergmanMinimal, get_model
from medtwin.models.glucose import BergmanMinimal as GlucoseBergmanMinimal
from medtwin.simulate import Adaptive, Regimen, basal, bolus, meal, simulate

# Rest must hold to round-off: 24 h of RK4 steps from an exact equilibrium.
REST_RTOL = 1e-9


@pytest.fixture(scope="module")
def model() -> BergmanMinimal:
    return BergmanMinimal()


def test_registry_and_exports(model):
    assert isinstance(get_model("bergman"), BergmanMinimal)
    assert isinstance(get_model("minimal"), BergmanMinimal)
    assert models.BergmanMinimal is BergmanMinimal is GlucoseBergmanMinimal
    assert "BergmanMinimal" in models.__all__
    assert "BergmanMinimal" in models.glucose.__all__


def test_declaration(model):
    assert model.time_unit == "min"
    assert model.input_dt == 1.0
    assert model.input_names == ("carbs", "insulin")
    assert [s.unit for s in model.inputs] == ["g/min", "U/min"]
    assert model.state_names == ("G", "X", "I", "Isc1", "Isc2", "D1", "D2")
    assert model.observable_names == ("bg", "insulin")
    bg, ins = model.observables
    assert (bg.unit, bg.loinc, bg.noise.absolute, bg.noise.relative) == (
        "mg/dL",
        "2339-0",
        3.0,
        0.05,
    )
    assert (ins.unit, ins.noise.absolute, ins.noise.relative) == ("µU/mL", 2.0, 0.1)
    assert model.parameter_names == (
        "Gb", "p1", "p2", "p3", "n", "Ib", "VI", "VG", "BW", "tau_i", "tau_m", "Ag",
    )  # fmt: skip


def test_parameter_specs(model):
    for spec in model.parameters:
        lo, hi = spec.bounds
        assert spec.unit, spec.name
        assert spec.reference, spec.name
        assert spec.description, spec.name
        assert math.isfinite(lo) and math.isfinite(hi), spec.name
        assert lo <= spec.default <= hi, spec.name
    # SI = p3/p2 at the defaults is the literature's ~5e-4 (mL/uU)/min.
    p = dict(zip(model.parameter_names, np.asarray(model.default_params()), strict=True))
    assert p["p3"] / p["p2"] == pytest.approx(5e-4)


def test_baseline_basal_and_rest_state(model):
    params = model.default_params()
    p = dict(zip(model.parameter_names, np.asarray(params), strict=True))
    basal_u_min = p["n"] * p["Ib"] * p["VI"] * p["BW"] / 1e6
    np.testing.assert_allclose(model.baseline_inputs(params), [0.0, basal_u_min], rtol=1e-15)
    assert 0.5 < basal_u_min * 60 < 1.0  # ~0.7 U/h for a 70-kg adult
    y0 = model.initial_state(params)
    np.testing.assert_allclose(
        y0, [p["Gb"], 0, p["Ib"], basal_u_min * p["tau_i"], basal_u_min * p["tau_i"], 0, 0]
    )
    f = model.vector_field(0.0, y0, model.baseline_inputs(params), params)
    np.testing.assert_allclose(f, 0.0, atol=1e-15)
    np.testing.assert_allclose(model.observe(0.0, y0, params), [p["Gb"], p["Ib"]])


@pytest.mark.parametrize("explicit_basal", [False, True])
def test_rest_for_24_hours(model, explicit_basal):
    params = model.default_params()
    rate_u_h = float(model.baseline_inputs(params)[1]) * 60
    regimen = Regimen((basal(0.0, rate_u_h),)) if explicit_basal else Regimen()
    tr = simulate(model, params, regimen, t1=24 * 60)
    assert bool(tr.ok)
    Gb, Ib = float(params[model.param_index("Gb")]), float(params[model.param_index("Ib")])
    np.testing.assert_allclose(tr.state("G"), Gb, rtol=REST_RTOL)
    np.testing.assert_allclose(tr.observable("bg"), Gb, rtol=REST_RTOL)
    np.testing.assert_allclose(tr.state("I"), Ib, rtol=REST_RTOL)
    np.testing.assert_allclose(tr.state("X"), 0.0, atol=1e-15)


def test_meal_raises_and_bolus_lowers_glucose(model):
    params = model.default_params()
    no_bolus = simulate(model, params, Regimen((meal(60, 50),)), t1=600)
    with_bolus = simulate(model, params, Regimen((meal(60, 50), bolus(60, 5.0))), t1=600)
    g0, g1 = np.asarray(no_bolus.observable("bg")), np.asarray(with_bolus.observable("bg"))
    assert g0.max() > 250.0  # 50 g without insulin: a large excursion
    assert np.all(g1 <= g0 + 1e-9)  # extra insulin never raises glucose
    assert g1.max() < g0.max() - 50.0
    assert g1.min() < 130.0 - 15.0  # the bolus outlasts the meal: dips below Gb
    ins0 = np.asarray(no_bolus.observable("insulin"))
    ins1 = np.asarray(with_bolus.observable("insulin"))
    np.testing.assert_allclose(ins0, 10.0, rtol=1e-12)  # no meal effect on insulin (T1D)
    assert ins1.max() > 30.0


@pytest.mark.parametrize("with_meal", [False, True])
def test_glucose_never_negative_under_huge_bolus(model, with_meal):
    params = model.default_params()
    events = (bolus(30, 100.0),) + ((meal(30, 20),) if with_meal else ())
    tr = simulate(model, params, Regimen(events), t1=24 * 60)
    g = np.asarray(tr.state("G"))
    assert bool(tr.ok)
    assert np.all(np.isfinite(g))
    assert g.min() >= 0.0
    assert g.min() < 20.0  # the bolus does act


def test_glucose_guard(model):
    params = model.default_params()
    u = model.baseline_inputs(params)
    # G < 0 with a negative derivative (only reachable numerically): frozen at 0.
    y = model.initial_state(params).at[0].set(-1.0).at[1].set(-5.0)
    assert float(model.vector_field(0.0, y, u, params)[0]) == 0.0
    # G < 0 with a positive derivative: left to recover.
    y = model.initial_state(params).at[0].set(-1.0)
    assert float(model.vector_field(0.0, y, u, params)[0]) > 0.0


def test_rk4_matches_adaptive_and_batches(model):
    base = model.default_params()
    params = jnp.stack([base, model.make_params(p3=2.5e-5, tau_m=60.0)])
    regimen = Regimen((meal(60, 60), bolus(55, 6.0), meal(300, 30)))
    rk4 = simulate(model, params, regimen, t1=600)
    ref = simulate(model, params, regimen, t1=600, solver=Adaptive(rtol=1e-10, atol=1e-10))
    assert rk4.observable("bg").shape == (2, 601)
    assert bool(jnp.all(rk4.ok)) and bool(jnp.all(ref.ok))
    # RK4 with 1-min steps errs by ~5e-6 on insulin the minute after a bolus (fast clearance
    # n = 0.138/min driven by a one-minute pulse) and by ~5e-8 on glucose.
    bg, ins = (model.observable_index(k) for k in ("bg", "insulin"))
    np.testing.assert_allclose(rk4.observables[..., bg], ref.observables[..., bg], rtol=1e-6)
    np.testing.assert_allclose(rk4.observables[..., ins], ref.observables[..., ins], rtol=2e-5)
    assert float(rk4.observable("bg")[1, -1]) != float(rk4.observable("bg")[0, -1])
