"""Model-predictive control on a T1D twin: the chance constraint on hypoglycaemia and the
fallback to basal-bolus when the twin cannot be trusted."""

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.control import MPC, BasalBolus, PolicyInput, SafetyLimits, kovatchev_risk
from medtwin.control._mpc import choose_plan
from medtwin.data import load_virtual_patient, t1d_population_prior, therapy_settings
from medtwin.errors import ModelError
from medtwin.models import UVAPadova
from medtwin.twin import Twin

MODEL = UVAPadova()
SETTINGS = therapy_settings("adult#001")
P = np.asarray(load_virtual_patient("adult#001"))
BASAL = float(P[MODEL.param_index("u2ss")] * P[MODEL.param_index("BW")] / 6000 * 60)  # U/h
BB = BasalBolus(BASAL, SETTINGS.carb_ratio, SETTINGS.correction_factor)
MPC_ = MPC(BB, bolus_levels=(0.0, 0.5, 1.0, 2.0), particles=200)


@pytest.fixture(scope="module")
def twin():
    return Twin.create(MODEL, t1d_population_prior(), key=jax.random.key(0), n=400)


def median_cgm(twin):
    ens = twin.ensemble
    g = jax.vmap(lambda y, p: MODEL.observe(0.0, y, p))(ens.states, ens.params)
    return float(np.median(np.asarray(g)[:, MODEL.observable_index("sc_glucose")]))


def test_kovatchev_risk():
    # zero near 112.5 mg/dL; 100 at the ends of the 20-600 mg/dL scale; a low reading weighs
    # more than an equally distant high one (the scale is symmetric in log-glucose)
    r = np.asarray(kovatchev_risk(np.array([112.5, 50.0, 175.0, 20.0, 600.0])))
    assert r[0] < 1e-3 and r[1] > 2 * r[2] > 0
    assert 80 < r[3] < 110 and 80 < r[4] < 110


def test_candidates_with_and_without_meal_announcement():
    obs = PolicyInput(0.0, 140.0, meals=((0.0, 60.0),))
    with_meal = MPC_.candidates(obs)
    assert with_meal.shape == (3 * 3 * 4, 3)
    assert with_meal[:, -1].max() == pytest.approx(2 * 60 / SETTINGS.carb_ratio)
    blind = replace(MPC_, announce=False).candidates(obs)
    assert blind.shape == with_meal.shape and blind[:, -1].max() == 0.0


def test_max_iob_caps_the_first_block_as_openaps_caps_a_temp():
    """MPC with max_iob: the first block's basal may add at most the headroom left of max_iob
    hours of basal (net temp insulin on board, boluses not counted); later blocks and boluses
    are unchanged, and no history means the full headroom."""
    mpc = MPC(BB, basal_levels=(0.0, 1.0, 3.0), max_iob=1.0, particles=200)
    free = replace(mpc, max_iob=None)
    obs = PolicyInput(0.0, 250.0, meals=((0.0, 40.0),))
    assert np.array_equal(mpc.candidates(obs), free.candidates(obs))  # 1 h in 30 min: 3x
    temp = (0.2,) + (0.0,) * 71  # 0.2 U above the schedule in the last 5 min
    capped = mpc.candidates(replace(obs, net_hist=temp, bolus_hist=(0.0,) * 72))
    top = float(mpc.first_block_cap(np.array(temp), np.zeros(72), BASAL, every=5.0))
    assert 2 * BASAL < top < 3 * BASAL
    assert capped[:, 0].max() <= top + 1e-9 < free.candidates(obs)[:, 0].max()
    assert np.array_equal(capped[:, 1:], free.candidates(obs)[:, 1:])
    bolus_only = replace(obs, net_hist=temp, bolus_hist=temp)  # a bolus: not the loop's
    assert np.array_equal(mpc.candidates(bolus_only), free.candidates(obs))
    with pytest.raises(Exception, match="net_hist, bolus_hist"):
        mpc.candidates(replace(obs, net_hist=temp))
    with pytest.raises(Exception, match="max_iob"):
        MPC(BB, max_iob=float("nan"))


def test_automatic_correction_candidates():
    """With correction_levels the hybrid MPC also offers the IOB-net correction the patient's
    own rules would not give now (between meals); never on top of a meal's own correction, and
    the usual plan (the anchor) carries none."""
    bb = replace(BB, correct_between_meals=False)
    mpc = MPC(bb, bolus_reference="basal-bolus", bolus_levels=(1.0,), basal_levels=(0.0, 1.0),
              correction_levels=(0.0, 0.6), switch_margin=1.0)  # fmt: skip
    lv, _, cl = mpc.levels()
    assert lv.shape == (8, 2) and sorted(set(cl)) == [0.0, 0.6]
    assert cl[mpc.anchor()] == 0.0 and np.all(lv[mpc.anchor()] == 1.0)
    cf = SETTINGS.correction_factor
    high = 250.0
    # between meals: the rules give nothing, the correction is 0.6 x (250 - 140) / CF - IOB
    between = mpc.candidates(PolicyInput(0.0, high, iob=0.5))
    want = 0.6 * ((high - bb.target) / cf - 0.5)
    assert sorted(set(np.round(between[:, -1], 1))) == pytest.approx([0.0, round(want, 1)])
    # with a meal the rules already correct: the automatic correction adds nothing
    with_meal = mpc.candidates(PolicyInput(0.0, high, iob=0.5, meals=((0.0, 50.0),)))
    assert len(set(with_meal[:, -1])) == 1
    # below the threshold: nothing to correct
    assert np.all(mpc.candidates(PolicyInput(0.0, 120.0))[:, -1] == 0.0)
    with pytest.raises(Exception, match="correction_levels"):
        MPC(bb, correction_levels=(0.0, 0.6))  # the 'carbs' reference corrects already


@pytest.mark.slow
def test_mpc_respects_the_chance_constraint_where_a_large_bolus_causes_hypoglycaemia(twin):
    """A 50 g meal with twice the carb-ratio bolus: the lowest-risk plans overdose part of the
    posterior. MPC must pick a plan with P(BG < 70) <= 5 % although lower-risk plans exist."""
    obs = PolicyInput(0.0, median_cgm(twin), meals=((0.0, 50.0),), twin=twin)
    plan = MPC_.plan(obs)
    d = MPC_.decide(obs)
    assert d.fallback == "" and d.reason.startswith("MPC")
    assert plan.feasible and plan.p_hypo[plan.chosen] <= 0.05
    big = plan.plans[:, -1] == plan.plans[:, -1].max()
    assert plan.p_hypo[big].min() > 0.05  # the large bolus risks hypoglycaemia
    assert np.any((plan.risk < plan.risk[plan.chosen]) & (plan.p_hypo > 0.05))  # binding
    assert d.bolus == pytest.approx(plan.plans[plan.chosen, -1]) and d.bolus < 10.0
    assert d.basal == pytest.approx(plan.plans[plan.chosen, 0])
    # all-zero insulin is a candidate and its risk is finite
    assert np.isfinite(plan.risk).all() and (plan.plans == 0).all(axis=1).any()


def _collapse(twin):
    lw = jnp.full(twin.ensemble.size, -1e9).at[7].set(0.0)
    return replace(twin, ensemble=replace(twin.ensemble, log_weights=lw))


def _at_bounds(twin):
    params = twin.ensemble.params
    for name in twin.free:
        i = MODEL.param_index(name)
        params = params.at[:, i].set(MODEL.parameters[i].bounds[1])
    return replace(twin, ensemble=replace(twin.ensemble, params=params))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("ess", "effective sample size collapsed"),
        ("drifting", "forecast coverage drifting"),
        ("cgm_out_of_range", "outside the ensemble's predicted range"),
        ("cgm_invalid", "outside the validated range"),
        ("bounds", "parameters at their bounds"),
        ("stale", "twin is stale"),
        ("no_twin", "no twin"),
    ],
)
def test_mpc_falls_back_to_basal_bolus_and_says_why(twin, case, expected):
    cgm = median_cgm(twin)
    obs = PolicyInput(30.0, cgm, meals=((31.0, 40.0),), twin=twin, iob=0.5)
    obs = replace(obs, time=0.0)
    obs = {
        "ess": replace(obs, twin=_collapse(twin)),
        "drifting": replace(obs, drifting=True),
        "cgm_out_of_range": replace(obs, cgm=cgm + 150.0),
        "cgm_invalid": replace(obs, cgm=30.0),
        "bounds": replace(obs, twin=_at_bounds(twin)),
        "stale": replace(obs, time=60.0, meals=((61.0, 40.0),)),
        "no_twin": replace(obs, twin=None),
    }[case]
    d = MPC_.decide(obs)
    ref = BB.decide(obs)
    assert expected in d.fallback, d.fallback
    assert (d.basal, d.bolus) == (ref.basal, ref.bolus)
    assert d.reason.startswith("basal-bolus")


def test_safety_thresholds_are_configurable(twin):
    obs = PolicyInput(0.0, median_cgm(twin) + 150.0, twin=twin)
    loose = replace(MPC_, limits=SafetyLimits(margin=400.0))
    from medtwin.control import safety_check

    assert safety_check(twin, obs.cgm, 0.0, limits=loose.limits) == ""
    assert "predicted range" in safety_check(twin, obs.cgm, 0.0, limits=MPC_.limits)


def test_the_twin_vetoes_an_anchor_likelier_to_cause_a_low_than_the_usual_therapy():
    # plans: 0 suspend, 1 the usual therapy, 2 double basal, 3 the anchor (OpenAPS-style)
    risk = jnp.array([9.0, 6.0, 3.0, 4.0])
    p_hypo = jnp.array([0.00, 0.04, 0.08, 0.20])
    # relative to the anchor every plan is within the limit and the anchor is kept (no plan
    # lowers its risk by more than the margin of 2)
    assert int(choose_plan(risk, p_hypo, 0.02, anchor=3, margin=2.0)[0]) == 3
    # relative to the usual therapy (0.04) the anchor (0.20) and the double basal (0.08) are
    # over the limit: the lowest-risk plan within it, the usual therapy, whatever the margin
    chosen, ok = choose_plan(risk, p_hypo, 0.02, anchor=3, margin=2.0, reference=1)
    assert (int(chosen), bool(ok)) == (1, True)
    # p_hypo_max above the anchor's: it is within the limit and kept as before
    assert int(choose_plan(risk, p_hypo, 0.25, anchor=3, margin=2.0, reference=1)[0]) == 3
    # an anchor within the limit is left only for a risk lower by more than the margin
    p_ok = jnp.array([0.00, 0.04, 0.03, 0.01])
    assert int(choose_plan(risk, p_ok, 0.02, anchor=3, margin=2.0, reference=1)[0]) == 3
    assert int(choose_plan(risk, p_ok, 0.02, anchor=3, margin=0.5, reference=1)[0]) == 2


def test_the_twins_glucose_for_the_aps_plan_needs_that_plan():
    with pytest.raises(ModelError, match="aps_glucose must be 'reading'"):
        MPC(BB, aps_glucose="cgm")
    with pytest.raises(ModelError, match=r"aps_glucose='twin' .* needs anchor_plan='aps'"):
        MPC(BB, aps_glucose="twin")
    assert MPC(BB, aps_glucose="twin", low_guard=True).aps_glucose == "twin"
    assert MPC(BB, aps_glucose="twin", anchor_plan="aps", switch_margin=1.0).uses_aps


def test_the_veto_needs_the_aps_anchor_and_the_usual_plan():
    with pytest.raises(ModelError, match=r"veto=True .* needs anchor_plan='aps'"):
        MPC(BB, veto=True, switch_margin=1.0)
    with pytest.raises(ModelError, match="need the usual plan in the grid"):
        MPC(BB, veto=True, anchor_plan="aps", switch_margin=1.0, basal_levels=(0.0, 2.0))
    mpc = MPC(BB, veto=True, anchor_plan="aps", switch_margin=1.0)
    lv, bl, cl = mpc.levels()
    u = mpc.usual()
    assert np.all(lv[u] == 1.0) and bl[u] == 1.0 and cl[u] == 0.0 and u != mpc.anchor()
