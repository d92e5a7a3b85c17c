"""AdaptiveRK (``simulate/_erk.py``): accuracy against closed-form solutions and the reference
solver, its step size carried across input steps, a member's numbers independent of its batch
and chunking, failures per member, forward-mode derivatives and argument checks."""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.data import load_virtual_patients
from medtwin.models import BergmanMinimal, UVAPadova
from medtwin.simulate import (
    Adaptive,
    AdaptiveRK,
    Infusion,
    Regimen,
    Status,
    bolus,
    meal,
    simulate,
)

BERGMAN = BergmanMinimal()


def _value(params, name):
    return float(params[BERGMAN.param_index(name)])


def _decay(t, y, u, params):  # dy/dt = -k y, k = params[0]
    return -params[0] * y


@pytest.mark.parametrize("method", [diffrax.Dopri8(), diffrax.Tsit5()])
def test_gut_chain_under_an_infusion_matches_the_closed_form(method):
    # The Bergman gut chain under a constant infusion with p1 = 0 has a closed form (see
    # tests/reference/test_bergman_analytic.py); a double eigenvalue -1/tau (a Jordan block).
    tau, r, t1 = 40.0, 0.2, 600
    params = BERGMAN.make_params(p1=0.0, tau_m=tau)
    solver = AdaptiveRK(rtol=1e-10, atol=1e-10, method=method)
    tr = simulate(BERGMAN, params, Regimen((Infusion(0.0, "carbs", r, float(t1)),)), t1=t1,
                  solver=solver)  # fmt: skip
    assert bool(tr.ok)
    t = np.asarray(tr.ts)
    Ag, VG, BW, Gb = (_value(params, k) for k in ("Ag", "VG", "BW", "Gb"))
    R = 1000.0 * Ag * r
    D1 = R * tau * (1.0 - np.exp(-t / tau))
    D2 = R * tau * (1.0 - np.exp(-t / tau) * (1.0 + t / tau))
    # requested 1e-10 per step; measured 6e-16 (Dopri8) and 5e-13 (Tsit5) of the scale R tau,
    # 8e-16 and 2e-13 relative in G
    np.testing.assert_allclose(tr.state("D1"), D1, rtol=0, atol=1e-10 * R * tau)
    np.testing.assert_allclose(tr.state("D2"), D2, rtol=0, atol=1e-10 * R * tau)
    np.testing.assert_allclose(tr.state("G"), Gb + (R * t - D1 - D2) / (VG * BW), rtol=1e-11)


# slow (about a minute: UVA/Padova compiled for both solvers)
@pytest.mark.slow
def test_a_day_of_meals_and_boluses_agrees_with_the_reference_solver():
    # inputs switching on the grid and the model's on_step memory: each input step is
    # integrated from its start to its end, so both solvers resolve the same dynamics
    model = UVAPadova()
    patients = load_virtual_patients(["adult#001", "child#002", "adolescent#003"])
    regimen = Regimen((meal(120, 45), bolus(120, 2.0), meal(400, 70), bolus(400, 3.0)))
    ref = simulate(model, patients, regimen, t1=720, solver=Adaptive(rtol=1e-11, atol=1e-11))
    got = simulate(model, patients, regimen, t1=720, solver=AdaptiveRK(rtol=1e-10, atol=1e-10))
    assert bool(np.all(got.ok))
    # measured 2.0e-7 mg/dL at most (the reference at 1e-11)
    np.testing.assert_allclose(got.observable("bg"), ref.observable("bg"), rtol=0, atol=1e-5)


@pytest.mark.slow
def test_a_member_equals_its_solo_run_whatever_its_chunk():
    params = np.stack([BERGMAN.make_params(p1=p, tau_m=tau)
                       for p, tau in [(0.01, 40.0), (0.03, 25.0), (0.002, 70.0), (0.02, 50.0),
                                      (0.015, 30.0)]])  # fmt: skip
    regimen = Regimen((meal(30, 60.0),))
    # chunks of 2: three compiled calls, the last padded
    solver = AdaptiveRK(rtol=1e-9, atol=1e-9, chunk=2)
    batch = simulate(BERGMAN, params, regimen, t1=300, solver=solver)
    whole = simulate(BERGMAN, params, regimen, t1=300, solver=AdaptiveRK(rtol=1e-9, atol=1e-9))
    for k in range(len(params)):
        solo = simulate(BERGMAN, params[k], regimen, t1=300, solver=solver)
        np.testing.assert_allclose(batch.states[k], solo.states, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(batch.states, whole.states, rtol=1e-13, atol=1e-12)


def test_the_carried_step_size_matches_restarting_every_input_step():
    # interval() restarts from an estimated step, interval_carried() continues from the
    # step the controller proposed; both meet the tolerance against exp(-k t)
    solver = AdaptiveRK(rtol=1e-10, atol=1e-12)
    k, y0, dt, u = jnp.array([0.7]), jnp.array([2.0, -1.0]), 0.5, jnp.zeros(0)

    @jax.jit
    def run():
        def step(c, i):
            y_fresh, y_carried, carry = c
            y_fresh, ok1 = solver.interval(_decay, i * dt, y_fresh, u, k, dt)
            y_carried, ok2, carry = solver.interval_carried(_decay, i * dt, y_carried, u, k, dt,
                                                            carry=carry)  # fmt: skip
            return (y_fresh, y_carried, carry), ok1 & ok2

        return jax.lax.scan(step, (y0, y0, solver.initial_carry()), jnp.arange(20.0))

    (y_fresh, y_carried, carry), ok = run()
    assert bool(jnp.all(ok))
    exact = y0 * np.exp(-0.7 * 20 * dt)
    np.testing.assert_allclose(y_fresh, exact, rtol=1e-9)
    np.testing.assert_allclose(y_carried, exact, rtol=1e-9)
    assert 0.0 < float(carry) < np.inf  # the proposal carried on


def test_a_failing_member_gets_a_status_and_leaves_the_others_intact():
    params = np.stack([BERGMAN.make_params(), BERGMAN.make_params(tau_m=0.0),
                       BERGMAN.make_params(p1=0.02)])  # fmt: skip
    regimen = Regimen((meal(30, 50.0),))  # tau_m = 0: the gut chain divides 0 by 0
    solver = AdaptiveRK(rtol=1e-8, atol=1e-8)
    traj = simulate(BERGMAN, params, regimen, t1=120, solver=solver)
    assert traj.status.tolist() == [Status.SUCCESS, Status.SOLVER_FAILED, Status.SUCCESS]
    assert np.isnan(traj.observable("bg")[1, -1])
    good = simulate(BERGMAN, params[[0, 2]], regimen, t1=120, solver=solver)
    np.testing.assert_allclose(np.asarray(traj.observables)[[0, 2]], np.asarray(good.observables),
                               rtol=1e-13)  # fmt: skip


def test_too_many_steps_fail_the_member():
    solver = AdaptiveRK(rtol=1e-12, atol=1e-12, max_steps=3)
    ks = jnp.array([[0.01], [50.0]])  # the fast decay needs more than 3 steps in [0, 1]
    y, ok, carry = jax.vmap(
        lambda k: solver.interval_carried(_decay, 0.0, jnp.array([1.0]), jnp.zeros(0), k, 1.0)
    )(ks)
    assert ok.tolist() == [True, False]
    assert float(carry[1]) == 0.0  # the failed member is marked idle for the next steps
    _, ok2, _ = solver.interval_carried(_decay, 1.0, y[1], jnp.zeros(0), ks[1], 1.0,
                                        carry=carry[1])  # fmt: skip
    assert not bool(ok2)


def test_forward_mode_derivatives_and_nested_vmap():
    solver = AdaptiveRK(rtol=1e-11, atol=1e-13)
    y0, u, T = jnp.array([3.0]), jnp.zeros(0), 2.0

    def end(k):
        return solver.interval(_decay, 0.0, y0, u, jnp.array([k]), T)[0][0]

    ks = jnp.array([0.1, 0.5, 1.3])
    grads = jax.vmap(jax.jacfwd(end))(ks)
    np.testing.assert_allclose(grads, -T * 3.0 * np.exp(-np.asarray(ks) * T), rtol=1e-8)
    grid = jnp.stack([ks, 2 * ks])  # [2, 3]: vmap of vmap
    nested = jax.vmap(jax.vmap(end))(grid)
    np.testing.assert_allclose(nested, 3.0 * np.exp(-np.asarray(grid) * T), rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rtol": 0.0}, r"AdaptiveRK\.rtol must be a number > 0\. Got 0\.0"),
        ({"atol": float("nan")}, r"AdaptiveRK\.atol must be a number > 0"),
        ({"max_steps": 0}, r"AdaptiveRK\.max_steps must be an integer >= 1\. Got 0"),
        ({"chunk": 2.5}, r"AdaptiveRK\.chunk must be an integer >= 1\. Got 2\.5"),
        ({"method": diffrax.Kvaerno5()}, r"AdaptiveRK\.method must be an explicit diffrax"),
        ({"method": diffrax.Euler()}, r"embedded error estimate .* Got Euler"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdaptiveRK(**kwargs)
