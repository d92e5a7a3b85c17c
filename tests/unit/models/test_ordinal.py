"""The ordinal observation model (OrdinalNoise): hand-computed probabilities, censoring, draws,
the particle filter's exact use of it, its declaration and composition."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.assimilate import EnsembleKalmanFilter, SpecPrior, assimilate, observations
from medtwin.assimilate._filters import pf_weight
from medtwin.errors import DataError, ModelError
from medtwin.models import (
    Declaration,
    ObservableSpec,
    OrdinalNoise,
    ParameterSpec,
    StateSpec,
    get_model,
    noise_theta,
)
from medtwin.twin import Twin


def _sig(x):
    return 1.0 / (1.0 + math.exp(-x))


# four levels, cut points 1, 2.5, 4 (first 1, gap 1.5 repeated), scale 0.5
NOISE = OrdinalNoise(cuts=("c1", "gap"), scale="s", levels=4)
THETA = np.array([1.0, 1.5, 0.5])


def _by_hand(y):
    ge = [1.0] + [_sig((y - c) / 0.5) for c in (1.0, 2.5, 4.0)] + [0.0]
    return [ge[k] - ge[k + 1] for k in range(4)]


@pytest.mark.parametrize("y", [-3.0, 0.0, 1.0, 2.2, 3.9, 9.0])
def test_probabilities_match_the_cumulative_logit_by_hand(y):
    p = np.exp(np.asarray(NOISE.log_pmf(y, THETA)))
    # the hand version differences sigmoids near 1 (cancellation: ~1e-16 absolute)
    np.testing.assert_allclose(p, _by_hand(y), rtol=1e-9, atol=1e-14)
    assert abs(p.sum() - 1.0) < 1e-12
    for k in range(4):
        ll = float(NOISE.log_likelihood(float(k), y, THETA))
        assert abs(ll - math.log(_by_hand(y)[k])) < 1e-8
    e = sum(_sig((y - c) / 0.5) for c in (1.0, 2.5, 4.0))
    assert abs(float(NOISE.expected(y, THETA)) - e) < 1e-12
    assert int(NOISE.mode(y, THETA)) == int(np.argmax(_by_hand(y)))


def test_far_tail_is_finite_and_exact():
    # y 40 scales below the first cut point: P(score = 3) ~ exp(-(4 + 40*0.5... )) underflows
    # in a naive difference of sigmoids; the log form keeps it.
    ll = float(NOISE.log_likelihood(3.0, -16.0, THETA))
    assert math.isfinite(ll) and abs(ll - (-(4.0 + 16.0) / 0.5)) < 1e-6


def test_censored_scores_are_tail_probabilities():
    y = 2.2
    p = _by_hand(y)
    assert abs(math.exp(float(NOISE.log_prob_below(2.0, y, THETA))) - (p[0] + p[1])) < 1e-12
    assert abs(math.exp(float(NOISE.log_prob_above(1.0, y, THETA))) - (p[2] + p[3])) < 1e-12
    assert float(NOISE.log_prob_below(0.0, y, THETA)) == -math.inf
    assert float(NOISE.log_prob_above(3.0, y, THETA)) == -math.inf
    assert float(NOISE.log_prob_below(4.0, y, THETA)) == 0.0


def test_draws_follow_the_probabilities():
    y = jnp.full(40_000, 2.2)
    draws = np.asarray(NOISE.sample(jax.random.key(0), y, jnp.tile(THETA, (40_000, 1))))
    freq = np.bincount(draws.astype(int), minlength=4) / draws.size
    # binomial sd at 40,000 draws <= 0.0025: 5 sd
    np.testing.assert_allclose(freq, _by_hand(2.2), atol=0.0125)


def test_refuses_bad_declarations_and_readings():
    with pytest.raises(ModelError, match="levels >= 2"):
        OrdinalNoise(cuts=("c1",), scale="s", levels=1)
    with pytest.raises(ModelError, match="gap"):
        OrdinalNoise(cuts=("c1",), scale="s", levels=3)
    with pytest.raises(ModelError, match="distinct"):
        OrdinalNoise(cuts=("c1", "s"), scale="s", levels=3)
    with pytest.raises(DataError, match=r"scores 0\.\.3"):
        NOISE.check(np.array([1.0, 2.5]), np.zeros(2), "sofa")
    with pytest.raises(DataError, match=r"scores 0\.\.3"):
        NOISE.check(np.array([4.0]), np.zeros(1), "sofa")
    with pytest.raises(ModelError, match="pass theta"):
        NOISE.log_pmf(1.0, None)


def test_a_declaration_must_declare_what_its_noise_reads():
    with pytest.raises(ModelError, match=r"reads parameters \['gap', 's'\]"):
        Declaration(
            name="toy", title="", reference="", time_unit="h",
            states=(StateSpec("x", "a.u."),),
            parameters=(ParameterSpec("c1", "a.u.", 1.0),),
            inputs=(),
            observables=(ObservableSpec("score", "{score}", noise=NOISE),),
        )  # fmt: skip


def test_reynolds_sofa_link_and_its_composed_copy():
    sepsis, composed = get_model("sepsis"), get_model("pneumonia-sepsis")
    noise = sepsis.observables[sepsis.observable_index("sofa")].noise
    assert noise.reads == ("sofa_c1", "sofa_gap", "sofa_s") and noise.levels == 25
    c_noise = composed.observables[composed.observable_index("sys.sofa")].noise
    assert c_noise.reads == ("sys.sofa_c1", "sys.sofa_gap", "sys.sofa_s")
    theta = noise_theta(sepsis, noise, np.asarray(sepsis.default_params()))
    np.testing.assert_allclose(
        noise_theta(composed, c_noise, np.asarray(composed.default_params())), theta
    )
    # the paper's death equilibria (D = 17.4-17.5) read a high SOFA, rest reads 0
    assert 15.0 < float(noise.expected(17.45, theta)) < 16.0
    assert int(noise.mode(0.0, theta)) == 0 and float(noise.expected(0.0, theta)) < 0.2


def test_the_particle_filter_weighs_a_score_by_its_exact_probability():
    model = get_model("sepsis")
    twin = Twin.create(model, SpecPrior(("k_pg", "sofa_c1", "sofa_s")), key=jax.random.key(0),
                       n=16)  # fmt: skip
    ens = twin.ensemble
    j = model.observable_index("sofa")
    states = ens.states.at[:, 2].set(jnp.linspace(0.0, 6.0, 16))  # damage D per particle
    lw, _, _ = pf_weight(
        model, jnp.float64(0.0), states, ens.params, ens.log_weights, (j,),
        jnp.asarray([3.0]), jnp.asarray([0], dtype=jnp.int8),
    )  # fmt: skip
    noise = model.observables[j].noise
    ll = np.array([
        float(noise.log_pmf(float(states[i, 2]), noise_theta(model, noise, ens.params[i]))[3])
        for i in range(16)
    ])  # fmt: skip
    expect = ll - np.log(np.sum(np.exp(ll)))
    np.testing.assert_allclose(np.asarray(lw), expect, rtol=1e-10, atol=1e-10)


def test_assimilate_refuses_non_scores_and_the_enkf():
    model = get_model("sepsis")
    twin = Twin.create(model, SpecPrior(("k_pg",)), key=jax.random.key(0), n=8)
    with pytest.raises(DataError, match=r"scores 0\.\.24"):
        assimilate(twin, observations([1.0], [2.5], "sofa"))
    with pytest.raises(ModelError, match="Gaussian noise"):
        assimilate(twin, observations([1.0], [2.0], "sofa"), method=EnsembleKalmanFilter())
