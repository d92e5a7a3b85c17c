"""Unit tests of the Reynolds et al. 2006 acute inflammatory response model: declaration and
parameter specs, exact rest state, the two interventions (antibiotic lowers the pathogen,
anti-inflammatory raises C_A exactly as the linear C_A equation says at rest), a batch of
initial pathogen loads in one call, the outcome classifier and RK4 accuracy at input_dt."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

import medtwin.models as models
from medtwin.models import get_model
from medtwin.models.inflammation import Reynolds2006, outcome_class
from medtwin.simulate import Adaptive, Dose, Infusion, Regimen, simulate

# Table 1 of Reynolds et al. 2006 (as curated in BIOMD0000000714).
PUBLISHED = {
    "k_pg": 0.3, "p_inf": 20.0, "k_pm": 0.6, "s_m": 0.005, "mu_m": 0.002, "k_mp": 0.01,
    "k_pn": 1.8, "k_np": 0.1, "k_nn": 0.01, "s_nr": 0.08, "mu_nr": 0.12, "mu_n": 0.05,
    "k_nd": 0.02, "k_dn": 0.35, "x_dn": 0.06, "mu_d": 0.02, "c_inf": 0.28, "s_c": 0.0125,
    "k_cn": 0.04, "k_cnd": 48.0, "mu_c": 0.1,
}  # fmt: skip
CA_REST = 0.0125 / 0.1  # s_c / mu_c


@pytest.fixture(scope="module")
def model() -> Reynolds2006:
    return Reynolds2006()


def test_registry_and_exports(model):
    assert isinstance(get_model("reynolds2006"), Reynolds2006)
    assert isinstance(get_model("sepsis"), Reynolds2006)
    assert models.Reynolds2006 is Reynolds2006 is models.inflammation.Reynolds2006
    assert "Reynolds2006" in models.__all__ and "inflammation" in models.__all__
    for name in models.inflammation.__all__:
        assert hasattr(models.inflammation, name)


def test_declaration(model):
    assert model.time_unit == "h"
    assert model.input_dt == 0.05
    assert model.state_names == ("P", "N", "D", "CA")
    assert [s.unit for s in model.states] == ["1e6 cells/cc", "a.u.", "a.u.", "a.u."]
    assert model.input_names == ("antibiotic", "anti_inflammatory")
    assert [s.unit for s in model.inputs] == ["1/h", "a.u./h"]
    assert model.observable_names == ("wbc", "damage", "pathogen", "anti_inflammatory", "sofa")
    loinc = {o.name: o.loinc for o in model.observables}
    assert loinc == {
        "wbc": "6690-2", "damage": None, "pathogen": None, "anti_inflammatory": None,
        "sofa": "96790-1",  # LOINC SOFA Total Score
    }  # fmt: skip
    for obs in model.observables:
        assert obs.unit and obs.description and obs.noise is not None, obs.name
    assert model.observables[0].unit == "10*3/uL"


def test_parameter_specs(model):
    assert model.parameter_names == (
        *PUBLISHED, "P0", "wbc0", "wbc_per_N", "sofa_c1", "sofa_gap", "sofa_s"
    )  # fmt: skip
    for spec in model.parameters:
        lo, hi = spec.bounds
        assert spec.unit and spec.reference and spec.description, spec.name
        assert math.isfinite(lo) and math.isfinite(hi), spec.name
        assert lo <= spec.default <= hi, spec.name
        if spec.name in PUBLISHED:
            assert spec.default == PUBLISHED[spec.name], spec.name
            assert "Reynolds et al. 2006" in spec.reference and "BIOMD0000000714" in spec.reference
            assert lo > 0.0, spec.name  # rates and scales stay positive
    assert model.default_params()[model.param_index("P0")] == 1.0


def test_initial_state_and_observe(model):
    params = model.make_params(P0=2.5)
    y0 = model.initial_state(params)
    np.testing.assert_allclose(y0, [2.5, 0.0, 0.0, CA_REST], rtol=1e-15)
    np.testing.assert_allclose(model.baseline_inputs(params), [0.0, 0.0])
    y = jnp.array([0.3, 0.8, 5.0, 0.4])
    np.testing.assert_allclose(
        model.observe(0.0, y, params), [7.0 + 10.0 * 0.8, 5.0, 0.3, 0.4, 5.0]
    )


# Every scenario of the behaviour tests in one batched call (one compile): name -> (parameter
# overrides, regimen). Saved hourly to 600 h, plus one input step (0.05 h) after t = 0.
R_AI, T_AI = 0.05, 2.0  # anti-inflammatory infusion rate (a.u./h) and start (h)
SCENARIOS = {
    "rest": ({"P0": 0.0}, Regimen()),
    "rest+ai": ({"P0": 0.0}, Regimen((Infusion(T_AI, "anti_inflammatory", R_AI, 1000.0),))),
    "sick": ({"P0": 1.5}, Regimen()),
    "sick+abx": ({"P0": 1.5}, Regimen((Infusion(0.0, "antibiotic", 0.5, 24.0),))),
    "sick+abx dose": ({"P0": 1.5}, Regimen((Dose(0.0, "antibiotic", 2.0),))),
    "sick+ai": ({"P0": 1.5}, Regimen((Infusion(T_AI, "anti_inflammatory", R_AI, 24.0),))),
    "load 0.2": ({"P0": 0.2}, Regimen()),
    "load 0.5": ({"P0": 0.5}, Regimen()),
    "load 5": ({"P0": 5.0}, Regimen()),
    "load 20": ({"P0": 20.0}, Regimen()),
}
SAVEAT = np.concatenate([[0.0, 0.05], np.arange(1.0, 601.0)])


@pytest.fixture(scope="module")
def runs(model):
    params = jnp.stack([model.make_params(**kw) for kw, _ in SCENARIOS.values()])
    tr = simulate(model, params, [r for _, r in SCENARIOS.values()], t1=600.0, saveat=SAVEAT)
    assert tr.states.shape == (len(SCENARIOS), SAVEAT.size, 4)
    assert tr.observables.shape == (len(SCENARIOS), SAVEAT.size, 5)
    assert bool(jnp.all(tr.ok))
    names = list(SCENARIOS)
    return {name: np.asarray(tr.states[names.index(name)]) for name in names}


def test_rest_state_is_exact(model, runs):
    params = model.make_params(P0=0.0)
    y0 = model.initial_state(params)
    np.testing.assert_array_equal(model.vector_field(0.0, y0, jnp.zeros(2), params), 0.0)
    y = runs["rest"]
    np.testing.assert_array_equal(y[:, :3], 0.0)
    np.testing.assert_allclose(y[:, 3], CA_REST, rtol=1e-13)
    assert outcome_class(y[-1]) == "health"


def test_antibiotic_lowers_pathogen_and_averts_aseptic_death(runs):
    # P0 = 1.5 is the paper's aseptic-death case (Fig. 2b); a 24-h course of 0.5/h from t = 0
    # clears the pathogen before it recruits enough phagocytes to sustain the damage.
    p_none, p_course = runs["sick"][:, 0], runs["sick+abx"][:, 0]
    assert np.all(p_course[:26] <= p_none[:26])
    assert np.all(p_course[2:14] < 0.75 * p_none[2:14])
    assert outcome_class(runs["sick"][-1]) == "aseptic death"
    assert outcome_class(runs["sick+abx"][-1]) == "health"
    # A dose of amount a within one step is a log-kill: P drops by about exp(-a) over the step
    # (1 % more, as the local response kills faster at a lower load).
    ratio = runs["sick+abx dose"][1, 0] / p_none[1]
    assert ratio == pytest.approx(math.exp(-2.0), rel=0.02)
    assert outcome_class(runs["sick+abx dose"][-1]) == "health"


def test_anti_inflammatory_raises_ca(runs):
    # At rest (P = N* = D = 0) dCA/dt = s_c - mu_c CA + u is linear: an infusion of r from t0
    # gives CA(t) = s_c/mu_c + (r/mu_c)(1 - exp(-mu_c (t - t0))), exact up to RK4's error.
    exact = CA_REST + (R_AI / 0.1) * -np.expm1(-0.1 * np.clip(SAVEAT - T_AI, 0.0, None))
    np.testing.assert_allclose(runs["rest+ai"][:, 3], exact, rtol=1e-10)
    np.testing.assert_array_equal(runs["rest+ai"][:, :3], 0.0)
    # During an infection it raises C_A too (and, given early, lets the pathogen grow more).
    ca_base, ca_treated = runs["sick"][:, 3], runs["sick+ai"][:, 3]
    after = (SAVEAT > T_AI) & (SAVEAT <= 26.0)
    assert np.all(ca_treated[after] > ca_base[after])
    np.testing.assert_array_equal(ca_treated[SAVEAT <= T_AI], ca_base[SAVEAT <= T_AI])
    assert runs["sick+ai"][24, 0] > runs["sick"][24, 0]


def test_batch_of_initial_loads(runs):
    loads = ["rest", "load 0.2", "load 0.5", "sick", "load 5", "load 20"]
    np.testing.assert_allclose([runs[k][0, 0] for k in loads], [0.0, 0.2, 0.5, 1.5, 5.0, 20.0])
    at_12h = np.array([runs[k][13, 1] for k in loads])  # index 13: t = 12 h
    assert np.all(np.diff(at_12h) > 0)  # a larger load recruits more phagocytes by 12 h
    outcomes = [outcome_class(runs[k][-1]) for k in loads]
    assert outcomes == ["health"] * 3 + ["aseptic death"] * 3


def test_outcome_class():
    health = [0.0, 0.01, 0.04, CA_REST]
    aseptic = [0.0, 0.635, 17.4, 0.523]
    septic = [4.94, 0.98, 17.5, 0.523]
    assert outcome_class(health) == "health"
    assert outcome_class(aseptic) == "aseptic death"
    assert outcome_class(septic) == "septic death"
    assert outcome_class([0.0, 0.0, 0.06, CA_REST]) == "aseptic death"  # damage persists
    batch = outcome_class(np.array([health, aseptic, septic, [np.nan, 0, 0, 0]]))
    assert batch.tolist() == ["health", "aseptic death", "septic death", "unknown"]
    with pytest.raises(ValueError, match="shape"):
        outcome_class([1.0, 2.0, 3.0])


def test_rk4_at_input_dt_matches_adaptive(model):
    # The input_dt choice: 168 h, published parameters, loads near and far from the class
    # boundaries, untreated and with both interventions. Measured max |RK4 - ref| / peak|y|:
    # 1.3e-7 (2e-6 at input_dt = 0.1 h, 7e-5 at 0.25 h).
    cases = [dict(P0=1.0), dict(P0=1.5), dict(P0=5.0), dict(P0=1.0, k_pg=0.6)]
    params = jnp.stack([model.make_params(**c) for c in cases] * 2)
    treated = Regimen(
        (Infusion(6.0, "antibiotic", 0.5, 48.0), Infusion(12.0, "anti_inflammatory", 0.05, 24.0))
    )
    regimens = [Regimen()] * len(cases) + [treated] * len(cases)
    saveat = np.arange(0.0, 169.0, 1.0)
    rk4 = simulate(model, params, regimens, t1=168.0, saveat=saveat)
    ref = simulate(
        model, params, regimens, t1=168.0, saveat=saveat, solver=Adaptive(rtol=1e-10, atol=1e-10)
    )
    assert bool(jnp.all(rk4.ok)) and bool(jnp.all(ref.ok))
    x, y = np.asarray(rk4.states), np.asarray(ref.states)
    peak = np.abs(y).max(axis=1, keepdims=True)
    assert np.max(np.abs(x - y) / peak) < 1e-6
