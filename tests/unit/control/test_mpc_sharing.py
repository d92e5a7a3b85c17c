"""MPC's scoring shortcuts change no number: plans sharing their first block simulated once and
branched, copies of plans simulated once, the members on the last axis (mpc_scores), and
integrate_rates split in two or members-last as one run of each member alone."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.control import MPC, BasalBolus, kovatchev_risk, mpc_scores
from medtwin.control._mpc import plan_sharing
from medtwin.data import load_virtual_patients
from medtwin.models import UVAPadova
from medtwin.models.glucose.pump import InsulinPump
from medtwin.simulate import RK4, integrate_rates

MODEL = UVAPadova()
PARAMS = jnp.asarray(load_virtual_patients(["adult#001", "child#002", "adolescent#003"]))
STATES = jax.vmap(MODEL.initial_state)(PARAMS)
SOLVER = RK4()
DT = float(MODEL.input_dt)
N = 30
CARBS = np.where((np.arange(N) >= 12) & (np.arange(N) < 17), 6.0, 0.0)  # a meal in the horizon
REFINE = jnp.asarray(SOLVER.refine_mask((CARBS > 0) | (np.arange(N) == 0)))
# the trial's grid on a short horizon: basal 0/1/2 x per block, bolus x1 plus 0 or 60 % of a
# correction: 18 plans, 6 first blocks
MPC_ = MPC(BasalBolus(1.0, 10.0, 40.0), horizon=30.0, blocks=(10.0, 20.0), bolus_levels=(1.0,),
           basal_levels=(0.0, 1.0, 2.0), correction_levels=(0.0, 0.6), particles=3,
           bolus_reference="basal-bolus")  # fmt: skip


def rates_of(basal):
    r = np.zeros((N, len(MODEL.input_names)))
    r[:, MODEL.input_names.index("carbs")] = CARBS
    r[:, MODEL.input_names.index("insulin")] = basal / 60.0
    r[0, MODEL.input_names.index("insulin")] += 2.0 / DT
    return jnp.asarray(r)


@jax.jit
def one_by_one(params, states, rates):
    def member(p, y, r):
        return integrate_rates(MODEL, SOLVER, p, y, 0.0, r, REFINE, REFINE, dt=DT, save_every=5)

    return jax.vmap(member)(params, states, rates)


@jax.jit
def split_members_last(params, states, rates):
    def part(y, first, last):
        r = rates[:, :last].transpose(1, 2, 0)
        return integrate_rates(MODEL, SOLVER, params.T, y, 0.0, r, REFINE[:last],
                               REFINE[:last], dt=DT, save_every=5, first=first,
                               members_last=True)  # fmt: skip

    obs1, y1, ok1 = part(states.T, 0, 10)
    obs2, y2, ok2 = part(y1, 10, N)
    obs = jnp.concatenate([obs1, obs2], axis=0).transpose(2, 0, 1)
    return obs, y2.T, ok1 & ok2


@pytest.mark.slow
def test_integrate_rates_split_and_members_last_give_each_members_run():
    rates = jnp.stack([rates_of(b) for b in (0.5, 1.0, 2.0)])
    want = one_by_one(PARAMS, STATES, rates)
    got = split_members_last(PARAMS, STATES, rates)
    for w, g in zip(want, got, strict=True):
        assert w.shape == g.shape
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-12)


def test_plan_sharing_of_the_trial_grid():
    prefix, same = plan_sharing(MPC_)
    lv, _, cl = MPC_.levels()
    assert len(set(prefix)) == 6 and len(set(same)) == 9
    for i, (p, s) in enumerate(zip(prefix, same, strict=True)):
        assert lv[p, 0] == lv[i, 0] and cl[p] == cl[i] and np.all(lv[s] == lv[i])


@pytest.mark.slow
def test_shared_prefixes_and_copies_give_the_scores_of_every_plan_alone():
    block_steps, every = MPC_.steps(DT)
    j = MODEL.observable_index("bg")
    w = jnp.asarray([0.5, 0.3, 0.2])
    hypo = None
    for corr in (0.0, 1.5):  # no correction: copies of plans (a real branch); a correction: none
        plans = MPC_.grid_for(1.0, 2.0, InsulinPump(), corr)
        # each plan member by member, one after another
        bg = jnp.stack([one_by_one(PARAMS, STATES, jnp.broadcast_to(r, (3, *r.shape)))[0][..., j]
                        for r in _plan_rates(np.asarray(plans), block_steps)], axis=1)  # fmt: skip
        hypo = hypo or _midway(jnp.min(bg, -1))  # some members below it, some not
        # and the chance of a low within the first three scored points (a LowAlert's)
        soon = _midway(jnp.min(bg[..., :3], -1))
        want = (w @ kovatchev_risk(bg).mean(-1), w @ jnp.any(bg < hypo, -1).astype(float),
                w @ jnp.any(bg[..., :3] < soon, -1).astype(float))  # fmt: skip
        score = functools.partial(
            eqx.filter_jit(mpc_scores), MODEL, SOLVER, PARAMS, STATES, w, jnp.float64(0.0),
            jnp.asarray(CARBS), plans, REFINE, REFINE, block_steps=block_steps, dt=DT,
            every=every, observable=j, hypo=hypo, sharing=plan_sharing(MPC_),
        )  # fmt: skip
        got = score(soon=(3, soon))
        assert 0 < float(jnp.max(want[1])) and float(jnp.min(want[1])) < 1
        assert 0 < float(jnp.max(want[2])) and float(jnp.min(want[2])) < 1, want[2]
        for a, b in zip(want, got, strict=True):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12, atol=1e-12)
        # a reading-anchored alert: each member's glucose shifted for the low-soon check only
        shift = jnp.asarray([-20.0, 0.0, 15.0])
        moved = bg[..., :3] + shift[:, None, None]
        level = _midway(jnp.min(moved, -1))
        shifted = score(soon=(3, level), shift=shift)
        np.testing.assert_allclose(  # the risk untouched (another compilation of it)
            np.asarray(shifted.risk), np.asarray(got.risk), rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(
            np.asarray(shifted.p_soon),
            np.asarray(w @ jnp.any(moved < level, -1).astype(float)),
            rtol=1e-12,
            atol=1e-12,
        )


def _midway(minima):
    """A level halfway between the two middle distinct values of ``minima``: some members are
    below it, some not, and none sits on it, so round-off between two computations cannot move
    a member across it."""
    m = np.unique(np.asarray(minima))
    return float(m[m.size // 2 - 1] + m[m.size // 2]) / 2


def _plan_rates(plans, block_steps):
    block_of = np.repeat(np.arange(len(block_steps)), block_steps)
    out = np.zeros((plans.shape[0], N, len(MODEL.input_names)))
    out[:, :, MODEL.input_names.index("carbs")] = CARBS
    out[:, :, MODEL.input_names.index("insulin")] = plans[:, block_of] / 60.0
    out[:, 0, MODEL.input_names.index("insulin")] += plans[:, -1] / DT
    return jnp.asarray(out)
