"""The policies as the closed loop runs them: traced ``decide`` gives what the object API decides
for the same reading, and the patients' own numbers are traced (other patients, no new
compilation)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from medtwin.control import PID, BasalBolus, ClosedLoop, PolicyInput
from medtwin.control._loop_state import LoopObservation
from medtwin.control._policies import BasalBolusLoop, PIDLoop, loop_policy
from medtwin.data import T1D_FILTER, load_virtual_patients, t1d_population_prior
from medtwin.models import UVAPadova

MODEL = UVAPadova()
TRUTH = jnp.asarray(load_virtual_patients(["adult#002", "child#003"]))
LOOP = ClosedLoop(MODEL, t1d_population_prior(), method=T1D_FILTER, particles=8)
SPEC = LOOP.spec()
T = 120.0
TIMES = T - 5.0 * np.arange(24, -1, -1)  # 25 readings, the latest at T
G_HIST = np.stack([160.0 + 0.8 * (TIMES - T), 230.0 - 0.3 * (TIMES - T)])  # (2, 25) mg/dL
CARBS, IOB = np.array([30.0, 0.0]), np.array([0.5, 1.5])

TRACES: list[str] = []


@eqx.filter_jit
def _decide(policy, state, obs):
    TRACES.append(policy.kind)  # runs when JAX traces, not when it reuses the compilation
    return policy.decide(SPEC, state, None, obs)


def _observe(h: int) -> LoopObservation:
    g = jnp.asarray(G_HIST[:, -h:])
    return LoopObservation(
        jnp.float64(T), jnp.int64(round(T / 5)), g[:, -1], jnp.zeros(2, jnp.int32), g,
        jnp.ones(g.shape, bool), jnp.asarray(IOB), jnp.asarray(CARBS),
    )  # fmt: skip


def _host(i: int) -> PolicyInput:
    return PolicyInput(
        time=T, cgm=float(G_HIST[i, -1]), cgm_times=tuple(TIMES[:-1]),
        cgm_values=tuple(G_HIST[i, :-1]), meals=((T, float(CARBS[i])),), iob=float(IOB[i]),
    )  # fmt: skip


def test_traced_basal_bolus_decides_as_the_object_api():
    for numbers in ([(1.0, 10.0, 40.0), (0.6, 15.0, 60.0)], [(1.3, 8.0, 30.0), (0.7, 9.0, 45.0)]):
        users = [BasalBolus(*n, correct_between_meals=False) for n in numbers]
        policy = loop_policy(users, SPEC)
        assert isinstance(policy, BasalBolusLoop) and policy.kind == "bb"
        state = policy.init(LOOP, TRUTH, jax.random.key(0))
        assert state.twin is None and state.g_hist.shape == (2, 1)
        d = _decide(policy, state, _observe(1))
        for i, user in enumerate(users):
            host = user.decide(_host(i))  # through the pump: compare delivered amounts
            assert float(SPEC.pump.deliver_bolus(d.bolus[i])) == host.bolus
            assert float(SPEC.pump.deliver_basal(d.basal[i])) == host.basal
        assert int(d.fallback.sum()) == 0 and bool(jnp.all(jnp.isnan(d.ess)))
    assert float(d.bolus[0]) > 0  # the meal is bolused
    assert TRACES.count("bb") == 1  # other patients' numbers: the same compilation


def test_traced_pid_decides_as_the_object_api():
    # every patient's own gains (scaled to its total daily insulin)
    users = [PID(1.0, carb_ratio=10.0).scaled(50.0), PID(0.6, carb_ratio=15.0).scaled(20.0)]
    policy = loop_policy(users, SPEC)
    assert isinstance(policy, PIDLoop) and policy.history(SPEC) == 25
    state = policy.init(LOOP, TRUTH, jax.random.key(0))
    d = _decide(policy, state, _observe(25))
    for i, user in enumerate(users):
        p, i_, dd = user.terms(_host(i))
        np.testing.assert_allclose(float(d.basal[i]), user.basal + p + i_ + dd, rtol=1e-12)
        np.testing.assert_allclose(float(d.bolus[i]), CARBS[i] / user.carb_ratio, rtol=1e-12)
    assert (
        float(d.basal[1]) > float(d.basal[0]) > 1.0
    )  # 230 mg/dL, above target for 2 h vs. 160, below for most of it


def test_traced_epid_ifb_decides_as_the_object_api():
    users = [PID.epid_ifb(1.0, 10.0, tdi=50.0), PID.epid_ifb(0.6, 15.0, tdi=20.0)]
    policy = loop_policy(users, SPEC)
    assert isinstance(policy, PIDLoop) and policy.template.feedback == 0.5
    state = policy.init(LOOP, TRUTH, jax.random.key(0))
    n_l = state.net_hist.shape[1]
    rng = np.random.default_rng(3)
    bolus = np.where(rng.random((2, n_l)) < 0.05, rng.uniform(1.0, 6.0, (2, n_l)), 0.0)
    net = bolus + rng.uniform(-0.08, 0.2, (2, n_l))  # boluses and temp basals above/below
    state = eqx.tree_at(lambda s: (s.net_hist, s.bolus_hist), state,
                        (jnp.asarray(net), jnp.asarray(bolus)))  # fmt: skip
    g = jnp.asarray(G_HIST)
    obs = LoopObservation(
        jnp.float64(T), jnp.int64(round(T / 5)), g[:, -1], jnp.zeros(2, jnp.int32), g,
        jnp.ones(g.shape, bool), jnp.zeros(2), jnp.asarray(CARBS),
    )  # fmt: skip
    d = _decide(policy, state, obs)
    for i, user in enumerate(users):
        host_obs = PolicyInput(
            time=T, cgm=float(G_HIST[i, -1]), cgm_times=tuple(TIMES[:-1]),
            cgm_values=tuple(G_HIST[i, :-1]), meals=((T, float(CARBS[i])),),
            net_hist=tuple(net[i]), bolus_hist=tuple(bolus[i]),
        )  # fmt: skip
        p, i_, dd = user.terms(host_obs)
        raw = user.basal + 1.5 * (p + i_ + dd) - 0.5 * user.insulin_feedback(host_obs)
        np.testing.assert_allclose(float(d.basal[i]), raw, rtol=1e-12, atol=1e-12)
        host = user.decide(host_obs)  # through the pump: compare delivered amounts
        assert float(SPEC.pump.deliver_basal(d.basal[i])) == host.basal
        assert float(SPEC.pump.deliver_bolus(d.bolus[i])) == host.bolus
    assert float(d.bolus[0]) > 0 and float(d.bolus[1]) == 0.0  # the meal is bolused
