"""Virtual populations: sampling designs, plausibility, enlargement and replicas."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.assimilate import Ensemble
from medtwin.cohorts import (
    Population,
    concat,
    enlarge,
    plausible,
    replica,
    sample_lognormal,
    sample_prior,
    sample_ranges,
)
from medtwin.data import t1d_population_prior, virtual_population
from medtwin.errors import ModelError
from medtwin.models import UVAPadova


def test_population_keeps_covariates_with_their_rows():
    pop = Population(np.arange(6.0).reshape(3, 2), ("a", "b"), {"sex": ["F", "M", "F"]}, "xyz")
    sub = pop.subset(np.array([False, True, True]))
    assert list(sub.ids) == ["y", "z"] and list(sub.covariates["sex"]) == ["M", "F"]
    np.testing.assert_array_equal(sub.covariate("b"), [3.0, 5.0])  # a parameter by name
    both = concat([pop, sub])
    assert len(both) == 5 and list(both.covariates["sex"]) == ["F", "M", "F", "M", "F"]
    with pytest.raises(ModelError, match="one value per patient"):
        Population(np.ones((3, 2)), ("a", "b"), {"age": [1, 2]})
    with pytest.raises(ModelError, match=r"shape \(N, 2\)"):
        Population(np.ones((3, 3)), ("a", "b"))


@pytest.mark.parametrize("method", ["lhs", "sobol"])
def test_sample_ranges_spans_the_bounds_on_the_right_scale(method):
    model = UVAPadova()
    pop = sample_ranges(model, 64, names=("Vmx", "f"), method=method, seed=1)
    lo_v, hi_v = model.parameters[model.param_index("Vmx")].bounds  # spans > a decade: log
    lo_f, hi_f = model.parameters[model.param_index("f")].bounds  # linear
    u_v = np.log(pop.param("Vmx") / lo_v) / np.log(hi_v / lo_v)
    u_f = (pop.param("f") - lo_f) / (hi_f - lo_f)
    for u in (u_v, u_f):
        assert np.all((u > 0) & (u < 1))
        # both designs put exactly 4 of 64 points in each sixteenth of every axis
        np.testing.assert_array_equal(np.bincount((u * 16).astype(int), minlength=16), 4)
    # unnamed parameters keep the defaults; same seed, same sample
    np.testing.assert_array_equal(pop.param("BW"), model.default_params()[0])
    again = sample_ranges(model, 64, names=("Vmx", "f"), method=method, seed=1)
    np.testing.assert_array_equal(pop.params, again.params)


def test_sample_lognormal_has_the_requested_median_and_spread():
    model = UVAPadova()
    pop = sample_lognormal(model, 4000, omega={"Vmx": 0.3, "kp1": 0.2}, seed=2)
    typ = np.asarray(model.default_params())
    for name, sd in (("Vmx", 0.3), ("kp1", 0.2)):
        eta = np.log(pop.param(name) / typ[model.param_index(name)])
        assert abs(np.median(eta)) < 0.01 and abs(eta.std() - sd) < 0.01 * sd


def test_sample_prior_uses_the_twin_prior():
    model = UVAPadova()
    pop = sample_prior(model, t1d_population_prior(), 50, seed=0)
    assert pop.params.shape == (50, model.n_params)
    assert np.all(pop.param("BW") > 0) and len(np.unique(pop.param("Vmx"))) == 50


def test_plausible_keeps_rows_in_every_range_and_drops_nan():
    pop = Population(np.zeros((4, 1)), ("a",), {"g": [50.0, 100.0, np.nan, 250.0]})
    assert list(plausible(pop, {"g": (70, 200)}).ids) == ["vp000001"]


def test_enlarge_reproduces_the_log_mean_and_covariance_by_group():
    rng = np.random.default_rng(0)
    cov = np.array([[0.09, 0.05], [0.05, 0.16]])
    z = rng.multivariate_normal([0.0, 1.0], cov, size=400)
    cohort = Population(np.exp(z), ("a", "b"), {"grp": np.repeat(["x", "y"], 200)})
    big = enlarge(cohort, 20_000, by="grp", shares={"x": 0.25, "y": 0.75}, seed=1)
    assert np.sum(big.covariates["grp"] == "x") == 5000
    lz = np.log(big.params)
    np.testing.assert_allclose(lz.mean(axis=0), np.log(cohort.params).mean(axis=0), atol=0.02)
    np.testing.assert_allclose(np.cov(lz, rowvar=False), cov, atol=0.025)


def test_enlarge_with_a_mixture_keeps_two_modes_that_a_normal_fills_in():
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.normal(-2.0, 0.2, 100), rng.normal(2.0, 0.2, 100)])
    cohort = Population(np.column_stack([z, rng.normal(size=200)]), ("a", "b"))
    between = {}
    for method in ("gmm", "mvn"):
        new = enlarge(cohort, 4000, method=method, components=2, seed=4).param("a")
        between[method] = np.mean(np.abs(new) < 1.0)
    assert between["gmm"] < 0.01 < 0.2 < between["mvn"]


def test_enlarged_virtual_patients_stay_in_the_age_groups_shares():
    cohort = virtual_population()
    new = enlarge(cohort, 90, by="age_group", seed=0)
    groups, counts = np.unique(new.covariates["age_group"], return_counts=True)
    assert list(groups) == ["adolescent", "adult", "child"] and list(counts) == [30, 30, 30]
    assert "carb_ratio" not in new.covariates  # derived from the old parameters: dropped
    # children stay lighter than adults
    bw = new.param("BW")
    assert bw[new.covariates["age_group"] == "child"].max() < np.median(
        bw[new.covariates["age_group"] == "adult"]
    )


def test_replica_takes_weighted_medians_or_weighted_draws():
    params = jnp.asarray([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    w = jnp.log(jnp.asarray([0.1, 0.1, 0.8]))
    e1 = Ensemble(params, jnp.zeros((3, 1)), w, 0.0)
    e2 = Ensemble(params * 2, jnp.zeros((3, 1)), jnp.log(jnp.full(3, 1 / 3)), 0.0)
    rep = replica([e1, e2], ("a", "b"), ids=["p1", "p2"], covariates={"sex": ["F", "M"]})
    np.testing.assert_array_equal(rep.params, [[3.0, 30.0], [4.0, 40.0]])
    draws = replica([e1, e2], ("a", "b"), draws=500, covariates={"sex": ["F", "M"]}, seed=0)
    assert len(draws) == 1000 and draws.ids[0] == "patient000/0"
    assert abs(np.mean(draws.params[:500, 0] == 3.0) - 0.8) < 0.05
    assert list(np.unique(draws.covariates["sex"][500:])) == ["M"]
