"""The closed loop: its twin is the particle filter of ``assimilate`` (same numbers), the pump's
limits hold over random scenarios, and an MPC that may not trust its twin is basal-bolus."""

from dataclasses import replace

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medtwin.assimilate import assimilate, observations
from medtwin.control import (
    APS,
    FALLBACK_REASONS,
    MPC,
    BasalBolus,
    ClosedLoop,
    HypoTreatment,
    MealSchedule,
    SafetyLimits,
    random_meals,
)
from medtwin.data import (
    T1D_CGM_FILTER,
    T1D_FILTER,
    load_virtual_patients,
    t1d_population_prior,
    therapy_settings,
)
from medtwin.errors import ModelError
from medtwin.models import UVAPadova
from medtwin.models.glucose.pump import InsulinPump
from medtwin.simulate import Regimen, basal, bolus, meal
from medtwin.twin import Twin

MODEL = UVAPadova()
NAMES = ["adult#002", "child#003", "adolescent#004"]
TRUTH = np.asarray(load_virtual_patients(NAMES))
BASAL = TRUTH[:, MODEL.param_index("u2ss")] * TRUTH[:, MODEL.param_index("BW")] / 6000 * 60
BBS = [
    BasalBolus(float(b), therapy_settings(n).carb_ratio, therapy_settings(n).correction_factor)
    for b, n in zip(BASAL, NAMES, strict=True)
]
PRIORS = [t1d_population_prior(exclude=(n,)) for n in NAMES]
KEY = jax.random.key(7)
PUMP = InsulinPump(max_basal=1.5, basal_increment=0.1, max_bolus=4.0, bolus_increment=0.5)


def scenario(times, grams, told):
    return MealSchedule(np.array(times, float), np.array(grams, float), np.array(told, float))


def _mpc_run(method):
    # a meal at 10 min (announced 10 % low) and one at 40 min (not announced)
    sc = scenario([[10, 40]] * 3, [[50, 20]] * 3, [[45, 0]] * 3)
    loop = ClosedLoop(MODEL, PRIORS, method=method, particles=16, pump=PUMP)
    pols = [MPC(b, particles=4) for b in BBS]
    return loop, sc, loop.run(pols, TRUTH, sc, days=60 / 1440, key=KEY)


@pytest.fixture(scope="module")
def mpc_run():
    return _mpc_run(T1D_FILTER)


@pytest.fixture(scope="module")
def mpc_sensor_run():
    # the live-stream filter: the CGM's error as every particle's AR(1) state
    return _mpc_run(T1D_CGM_FILTER)


@pytest.mark.parametrize("run", [pytest.param("mpc_run", marks=pytest.mark.slow), "mpc_sensor_run"])
def test_the_loops_twin_is_assimilate_reading_by_reading(run, request):
    loop, sc, res = request.getfixturevalue(run)
    i = 1  # the child: any patient of the batch gives its own twin's numbers
    _, k_twin = jax.random.split(KEY)
    twin = Twin.create(MODEL, PRIORS[i], key=jax.random.fold_in(k_twin, i), n=16,
                       method=loop.method)  # fmt: skip
    n = res.times.size
    for k, t in enumerate(res.times):
        events = [basal(t, res.basal[i, k])]
        if res.bolus[i, k] > 0:
            events.append(bolus(t, res.bolus[i, k]))
        events += [meal(m, g) for m, g in zip(sc.times[i], sc.announced[i], strict=True)
                   if g > 0 and t <= m < t + 5]  # fmt: skip
        obs = observations([t], [res.cgm[i, k]], "sc_glucose")
        twin = assimilate(twin, obs, Regimen(tuple(events)), until=5.0 * n if k == n - 1 else None)
    ens = twin.ensemble
    np.testing.assert_allclose(res.twin["params"][i], np.asarray(ens.params), rtol=1e-9)
    np.testing.assert_allclose(res.twin["lw"][i], np.asarray(ens.log_weights), atol=1e-9)
    np.testing.assert_allclose(res.twin["states"][i], np.asarray(ens.states), rtol=1e-7, atol=1e-9)
    if loop.method.sensor is not None:  # and every particle's sensor error state
        np.testing.assert_allclose(res.twin["sensor"][i], np.asarray(ens.sensor), atol=1e-9)


def test_the_trial_metrics_count_band_readings_and_fallbacks_as_shares(mpc_sensor_run):
    _, _, res = mpc_sensor_run
    assert set(np.unique(res.inside)) <= {0.0, 1.0}  # each reading in the band or not
    m = res.metrics()
    np.testing.assert_allclose(m["band"], 100 * res.inside[:, 1:].mean(axis=1))
    np.testing.assert_allclose(m["fallbacks"], 100 * (res.fallback > 0).mean(axis=1))


def test_the_loop_records_what_the_pump_delivered(mpc_sensor_run):
    _, _, res = mpc_sensor_run
    assert res.bg.shape == res.cgm.shape == res.basal.shape == (3, 12)
    assert np.all((res.cgm >= 39) & (res.cgm <= 400))
    assert np.all(res.bolus[:, 2] > 0)  # the announced meal is bolused in its interval
    assert set(np.unique(res.fallback)) <= set(range(len(FALLBACK_REASONS)))
    assert np.all(np.isfinite(res.ess)) and np.all(res.ess <= 1.0 + 1e-12)
    assert res.bolus_factor is None  # no meal-bolus learning


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    error=st.floats(0.0, 0.5),
    scale=st.floats(0.5, 4.0),
)
def test_pump_limits_are_never_exceeded(seed, error, scale):
    """Random meals (up to 4x simglucose's amounts, carb errors up to 50 %) under a pump that
    cannot deliver what MPC asks: every command is within its limits and on its grid (PID and
    basal-bolus: tests/unit/control/test_policies.py)."""
    sc = random_meals(3, 1, seed=seed, carb_error=error)
    sc = replace(sc, grams=sc.grams * scale, announced=np.round(sc.announced * scale))
    # the whole day's meals within the simulated hour, so boluses are large (the run has the
    # shape of mpc_sensor_run's, so it reuses its compilation)
    sc = replace(sc, times=np.where(np.isnan(sc.times), np.nan, (sc.times % 1440) / 24))
    loop = ClosedLoop(MODEL, PRIORS, method=T1D_CGM_FILTER, particles=16, pump=PUMP)
    for pols in ([MPC(b, particles=4) for b in BBS],):
        res = loop.run(pols, TRUTH, sc, days=60 / 1440, key=jax.random.key(seed))
        assert np.all((res.basal >= 0) & (res.basal <= PUMP.max_basal + 1e-12))
        assert np.all((res.bolus >= 0) & (res.bolus <= PUMP.max_bolus + 1e-12))
        for x, inc in ((res.basal, PUMP.basal_increment), (res.bolus, PUMP.bolus_increment)):
            np.testing.assert_allclose(x / inc, np.round(x / inc), atol=1e-6)
        assert np.all(np.isfinite(res.bg))


# slow (about 70 s on 2 cores): a full MPC day; the MPC's decisions are tested in test_mpc.py
@pytest.mark.slow
def test_an_mpc_that_may_not_trust_its_twin_is_basal_bolus():
    """With a validated CGM range no reading falls in, every decision falls back (code 3) and
    the run is the basal-bolus run, number for number."""
    sc = random_meals(3, 1, seed=3)
    sc = replace(sc, times=sc.times / 24)  # the day's meals within the simulated hour
    loop = ClosedLoop(MODEL, PRIORS, method=T1D_FILTER, particles=16, pump=PUMP)
    never = SafetyLimits(cgm_range=(0.0, 1.0))
    mpc = loop.run(
        [MPC(b, particles=4, limits=never) for b in BBS], TRUTH, sc, days=1 / 24, key=KEY
    )
    bb = loop.run(BBS, TRUTH, sc, days=1 / 24, key=KEY)
    assert np.any(bb.bolus > 0)
    assert np.all(mpc.fallback > 0)  # the first failing check's code (drift may come first)
    assert FALLBACK_REASONS.index("CGM outside the validated range") in mpc.fallback
    np.testing.assert_array_equal(mpc.basal, bb.basal)
    np.testing.assert_array_equal(mpc.bolus, bb.bolus)
    np.testing.assert_array_equal(mpc.bg, bb.bg)
    assert np.all(bb.fallback == 0) and np.all(np.isnan(bb.ess))


def test_bad_input_is_refused():
    loop = ClosedLoop(MODEL, PRIORS, method=T1D_FILTER, particles=16)
    sc = random_meals(3, 1, seed=0)
    with pytest.raises(ModelError, match="one policy per patient"):
        loop.run(BBS[:2], TRUTH, sc, days=0.1, key=KEY)
    with pytest.raises(ModelError, match="one kind of policy"):
        loop.run([BBS[0], MPC(BBS[1]), BBS[2]], TRUTH, sc, days=0.1, key=KEY)
    with pytest.raises(ModelError, match="one policy configuration"):
        pols = [MPC(BBS[0], particles=4), MPC(BBS[1], particles=8), MPC(BBS[2], particles=4)]
        loop.run(pols, TRUTH, sc, days=0.1, key=KEY)
    with pytest.raises(ModelError, match="meal scenario has 2 patients"):
        loop.run(BBS, TRUTH, random_meals(2, 1, seed=0), days=0.1, key=KEY)
    with pytest.raises(ModelError, match="one shape"):
        MealSchedule(np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 3)))


def test_random_meals_follow_the_scenario():
    sc = random_meals(200, 3, seed=1, carb_error=0.1)
    minutes = sc.times % 1440
    ok = ~np.isnan(sc.times)
    assert 0.5 < ok.mean() < 0.7  # 3 x 0.95 + 3 x 0.3 slots of 6
    assert np.all((minutes[ok] >= 300) & (minutes[ok] <= 23 * 60))
    main = sc.grams.reshape(200, 3, 6)[:, :, [0, 2, 4]]
    happened = ~np.isnan(sc.times.reshape(200, 3, 6)[:, :, [0, 2, 4]])
    assert abs(main[happened].mean() - 65.0) < 2.0  # (45 + 70 + 80) / 3
    rel = sc.announced[ok] / sc.grams[ok] - 1
    assert abs(np.std(rel) - 0.1) < 0.02
    again = random_meals(200, 3, seed=1, carb_error=0.1)
    np.testing.assert_array_equal(sc.announced, again.announced)
    silent = random_meals(5, 1, seed=1, announce=False)
    assert np.all(silent.announced == 0)


def _bb(basal, cr, cf):
    return BasalBolus(basal, cr, cf, correct_between_meals=False)


def _bb_low_target(basal, cr, cf):
    return BasalBolus(basal, cr, cf, target=110.0, threshold=120.0, correct_between_meals=False)


# slow (about 35 s): a trial of closed-loop arms; trials are tested in cohorts/test_trials.py
@pytest.mark.slow
def test_a_policy_is_a_trial_arm():
    """Closed-loop policies as arms of run_trial: same meals and noise per patient in every arm
    (paired), endpoints from the loop's glucose, the same numbers on a second run."""
    from medtwin.cohorts import GlucoseEndpoint, run_trial
    from medtwin.control import PolicyArm
    from medtwin.data import virtual_population

    pop = virtual_population(NAMES)
    loop = ClosedLoop(MODEL, PRIORS, method=T1D_FILTER, particles=16)
    arms = [PolicyArm("usual", loop, _bb), PolicyArm("tight", loop, _bb_low_target)]
    ends = [GlucoseEndpoint("tir"), GlucoseEndpoint("mean")]
    res = run_trial(pop, arms, ends, chunk=3, seed=5)
    assert res.values.shape == (2, 2, 3) and np.all(res.status == 0)
    tir, mean = res.values[:, 0], res.values[:, 1]
    assert np.all((tir >= 0) & (tir <= 100))
    assert np.all(mean[1] <= mean[0] + 1e-9)  # a lower correction target never raises glucose
    again = run_trial(pop, arms, ends, chunk=3, seed=5)
    np.testing.assert_array_equal(res.values, again.values)


# slow (90 s in the parallel default run: two compilations of the guarded MPC loop)
@pytest.mark.slow
def test_patients_run_in_chunks_give_the_numbers_of_one_batch(monkeypatch):
    # each thread's chunk of patients is run apart; the last chunk is padded with the last
    # patient: the numbers must be those of the whole cohort in one batch (bit for bit here;
    # to 1e-10 so that another CPU's vector width may round a batch of 4 and of 7 apart)
    from medtwin.control import _closed_loop

    names = [*NAMES, "adult#005", "child#006", "adolescent#007", "adult#008"]
    truth = np.asarray(load_virtual_patients(names))
    bb = [BasalBolus(1.0, therapy_settings(n).carb_ratio, therapy_settings(n).correction_factor)
          for n in names]  # fmt: skip
    priors = [t1d_population_prior(exclude=(n,)) for n in names]
    sc = scenario([[10, 40]] * 7, [[50, 20]] * 7, [[45, 0]] * 7)
    loop = ClosedLoop(MODEL, priors, method=T1D_CGM_FILTER, particles=8, pump=PUMP)
    pols = [MPC(b, particles=4) for b in bb]

    def run(chunks):
        monkeypatch.setattr(_closed_loop, "_patient_chunks", lambda n: chunks)
        return loop.run(pols, truth, sc, days=30 / 1440, key=KEY)

    one = run([np.arange(7)])
    two = run([np.arange(4), np.array([4, 5, 6, 6])])
    for field in ("bg", "cgm", "basal", "bolus", "fallback", "ess", "coverage", "inside"):
        np.testing.assert_allclose(getattr(two, field), getattr(one, field), rtol=1e-10,
                                   atol=1e-12, err_msg=field)  # fmt: skip
    for name in one.twin:
        np.testing.assert_allclose(two.twin[name], one.twin[name], rtol=1e-10, atol=1e-12,
                                   err_msg=name)  # fmt: skip


@pytest.mark.slow
def test_an_mpc_that_falls_back_to_aps_is_the_aps_run_when_it_may_not_trust_its_twin():
    sc = random_meals(3, 1, seed=3)
    sc = replace(sc, times=sc.times / 24)
    loop = ClosedLoop(MODEL, PRIORS, method=T1D_FILTER, particles=16, pump=PUMP)
    never = SafetyLimits(cgm_range=(0.0, 1.0))
    mpc = loop.run([MPC(b, particles=4, limits=never, fallback_to="aps") for b in BBS], TRUTH,
                   sc, days=1 / 24, key=KEY)  # fmt: skip
    aps = loop.run([APS(b) for b in BBS], TRUTH, sc, days=1 / 24, key=KEY)
    assert np.all(mpc.fallback > 0)
    np.testing.assert_array_equal(mpc.basal, aps.basal)
    np.testing.assert_array_equal(mpc.bolus, aps.bolus)
    np.testing.assert_array_equal(mpc.bg, aps.bg)


@pytest.mark.slow
def test_the_low_guard_suspends_what_the_twin_would_overdose():
    # an MPC that may only double the basal: unguarded it never suspends; guarded it gives no
    # basal whenever the OpenAPS-style policy would suspend, and its glucose stays higher
    sc = random_meals(3, 1, seed=3)
    loop = ClosedLoop(MODEL, PRIORS, method=T1D_FILTER, particles=16, pump=PUMP)
    kw = {"particles": 4, "basal_levels": (2.0,), "bolus_levels": (1.0,)}
    plain = loop.run([MPC(b, **kw) for b in BBS], TRUTH, sc, days=0.25, key=KEY)
    guarded = loop.run([MPC(b, **kw, low_guard=True) for b in BBS], TRUTH, sc, days=0.25,
                       key=KEY)  # fmt: skip
    own = plain.fallback == 0
    assert np.all(plain.basal[own] > 0)
    assert np.any(guarded.basal[guarded.fallback == 0] == 0)
    assert guarded.bg.min() > plain.bg.min()


def test_aps_fallback_and_guard_are_closed_loop_options():
    with pytest.raises(ModelError, match="fallback_to must be 'basal-bolus' or 'aps'"):
        MPC(BBS[0], fallback_to="pid")
    with pytest.raises(ModelError, match="need the OpenAPS-style policy's CGM and insulin"):
        MPC(BBS[0], low_guard=True).decide(None)  # type: ignore[arg-type]


@pytest.mark.slow
def test_an_mpc_anchored_on_aps_is_the_aps_run_unless_the_twin_foresees_a_gain():
    # an unreachable margin: MPC always keeps the OpenAPS-style plan, so the run is the APS
    # run; with no margin the twin takes other plans at some decisions
    sc = random_meals(3, 1, seed=3)
    sc = replace(sc, times=sc.times / 12)
    loop = ClosedLoop(MODEL, PRIORS, method=T1D_FILTER, particles=16, pump=PUMP)
    kw = {"particles": 4, "anchor_plan": "aps", "fallback_to": "aps"}
    kept = loop.run([MPC(b, **kw, switch_margin=1e9) for b in BBS], TRUTH, sc, days=2 / 24,
                    key=KEY)  # fmt: skip
    free = loop.run([MPC(b, **kw, switch_margin=0.0) for b in BBS], TRUTH, sc, days=2 / 24,
                    key=KEY)  # fmt: skip
    aps = loop.run([APS(b) for b in BBS], TRUTH, sc, days=2 / 24, key=KEY)
    np.testing.assert_array_equal(kept.basal, aps.basal)
    np.testing.assert_array_equal(kept.bolus, aps.bolus)
    np.testing.assert_array_equal(kept.bg, aps.bg)
    assert np.any(free.basal != aps.basal) or np.any(free.bolus != aps.bolus)
    # with the veto and no room for hypoglycaemia beyond the usual therapy's, the twin leaves
    # the OpenAPS-style plan even at an unreachable margin; where it first does, that plan's
    # temp basal was above the usual basal (the same meal bolus: only more insulin than the
    # usual therapy makes a low likelier on the same particles)
    vetoed = loop.run([MPC(b, **kw, switch_margin=1e9, veto=True, p_hypo_max=0.0) for b in BBS],
                      TRUTH, sc, days=2 / 24, key=KEY)  # fmt: skip
    moved = (vetoed.basal != aps.basal) | (vetoed.bolus != aps.bolus)
    assert np.any(moved)
    i, k = np.argwhere(moved)[0]
    assert aps.basal[i, k] > PUMP.deliver_basal(BBS[i].basal)


@pytest.mark.slow
def test_the_aps_plan_doses_on_the_twins_glucose_where_it_reads_the_sensor_high():
    # an unreachable margin keeps the OpenAPS-style plan; dosing on the lower of the reading
    # and the twin's glucose, it gives no more insulin than on the reading up to where the two
    # runs part, and less there
    sc = random_meals(3, 1, seed=3)
    sc = replace(sc, times=sc.times / 12)
    loop = ClosedLoop(MODEL, PRIORS, method=T1D_CGM_FILTER, particles=16, pump=PUMP)
    kw = {"particles": 4, "anchor_plan": "aps", "fallback_to": "aps", "switch_margin": 1e9}
    read = loop.run([MPC(b, **kw) for b in BBS], TRUTH, sc, days=3 / 24, key=KEY)
    twin = loop.run([MPC(b, **kw, aps_glucose="twin") for b in BBS], TRUTH, sc, days=3 / 24,
                    key=KEY)  # fmt: skip
    moved = (twin.basal != read.basal) | (twin.bolus != read.bolus)
    assert np.any(moved)
    # the run records the glucose the plan dosed on: never above the reading, the reading
    # where the loop fell back; the run on the reading records none
    assert read.aps_glucose is None and twin.aps_glucose is not None
    assert np.all(twin.aps_glucose <= twin.cgm)
    np.testing.assert_array_equal(twin.aps_glucose[twin.fallback > 0],
                                  twin.cgm[twin.fallback > 0])  # fmt: skip
    for i in np.flatnonzero(moved.any(axis=1)):
        k = int(np.argmax(moved[i]))
        np.testing.assert_array_equal(twin.cgm[i, : k + 1], read.cgm[i, : k + 1])
        assert twin.aps_glucose[i, k] < twin.cgm[i, k]  # the twin judged the sensor high
        assert twin.basal[i, k] <= read.basal[i, k] and twin.bolus[i, k] <= read.bolus[i, k]
        assert twin.basal[i, k] + twin.bolus[i, k] < read.basal[i, k] + read.bolus[i, k]


def test_the_aps_anchor_is_a_closed_loop_option_with_a_margin():
    with pytest.raises(ModelError, match="anchor_plan must be 'therapy'"):
        MPC(BBS[0], anchor_plan="pid")
    with pytest.raises(ModelError, match="anchor_plan='aps' needs a switch_margin"):
        MPC(BBS[0], anchor_plan="aps")
    mpc = MPC(BBS[0], anchor_plan="aps", switch_margin=1.0)
    assert mpc.anchor() == mpc.levels()[1].size  # the plan after the grid
    with pytest.raises(ModelError, match="need the OpenAPS-style policy's CGM and insulin"):
        mpc.decide(None)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_low_is_treated_with_rescue_carbohydrate_by_the_15_15_rule():
    # three times the basal rate all day and no meals: without treatment the patients live
    # below 70 mg/dL; with the rule every low reading is followed by 15 g, at most every 15 min
    truth, bbs = TRUTH[:2], [replace(b, basal=3 * b.basal) for b in BBS[:2]]
    sc = scenario([[60]] * 2, [[10]] * 2, [[0]] * 2)
    runs = {}
    for rescue in (None, HypoTreatment()):
        loop = ClosedLoop(MODEL, PRIORS[:2], method=T1D_FILTER, particles=8, rescue=rescue)
        runs[rescue is not None] = loop.run(bbs, truth, sc, days=0.5, key=KEY)
    off, on = runs[False], runs[True]
    assert np.all(off.rescue == 0.0)
    assert np.all(off.metrics()["rescues"] == 0.0)
    assert np.all(np.isin(on.rescue, (0.0, 15.0)))
    given = on.rescue > 0
    assert np.all(on.cgm[given] < 70.0)  # only at a low reading
    for row in given:  # and at least 15 min apart
        assert np.all(np.diff(on.times[row]) >= 15.0)
    assert np.all(on.metrics()["rescues"] > 0)
    np.testing.assert_allclose(on.metrics()["rescues"], given.sum(1) / 0.5)
    # a low 15 min after a treatment is treated again
    low_again = (on.cgm < 70.0) & ~given
    k = np.argwhere(given)
    for p, i in k:
        later = i + 3  # 15 min on
        if later < given.shape[1] and on.cgm[p, later] < 70.0 and not given[p, i + 1 : later].any():
            assert given[p, later]
    assert low_again.any()  # readings between treatments are low without a new one
    # the treatment lifts the patients out of the low: less time below 54 and 70 mg/dL
    for key_ in ("below54", "below70"):
        assert np.all(on.metrics()[key_] < off.metrics()[key_])


# slow (about 1.5 min on 2 cores: two compilations of the MPC loop, logged and not)
@pytest.mark.slow
def test_a_logged_treatment_is_told_to_the_twin():
    # an MPC that never trusts its twin doses as basal-bolus (here a meal bolus three times too
    # large, so the patients go low within the hour and are treated) while its twin follows
    # the patient; logged or not, the patients live the same, but only the logged run's twin
    # has the treatment's carbohydrate in its gut on top of the meal's
    truth = TRUTH[:2]
    bbs = [replace(b, carb_ratio=b.carb_ratio / 3) for b in BBS[:2]]
    sc = scenario([[10]] * 2, [[40]] * 2, [[40]] * 2)
    never = SafetyLimits(cgm_range=(0.0, 1.0))
    pols = [MPC(b, particles=4, limits=never) for b in bbs]
    runs = {}
    for logged in (False, True):
        loop = ClosedLoop(
            MODEL, PRIORS[:2], method=T1D_FILTER, particles=8,
            rescue=HypoTreatment(logged=logged),
        )  # fmt: skip
        runs[logged] = loop.run(pols, truth, sc, days=3 / 24, key=KEY)
    off, on = runs[False], runs[True]
    np.testing.assert_array_equal(on.bg, off.bg)
    np.testing.assert_array_equal(on.rescue, off.rescue)
    gut = [MODEL.state_names.index(n) for n in ("Qsto1", "Qsto2", "Qgut")]
    carbs_on = on.twin["states"][:, :, gut].sum(-1)  # (patients, particles) mg
    carbs_off = off.twin["states"][:, :, gut].sum(-1)
    recent = on.rescue[:, -12:].sum(1) >= 15.0  # treated within the last hour
    untreated = on.rescue.sum(1) == 0
    assert recent.any()
    assert np.all(carbs_on[recent] - carbs_off[recent] > 1000.0)  # g in the last hour, in mg
    for key in ("states", "params", "lw"):  # an untreated patient's twin is the same
        np.testing.assert_array_equal(on.twin[key][untreated], off.twin[key][untreated])


def test_a_hypo_treatment_is_checked():
    with pytest.raises(ModelError, match=r"HypoTreatment needs .*grams=0"):
        HypoTreatment(grams=0)
    with pytest.raises(ModelError, match="threshold=nan"):
        HypoTreatment(threshold=float("nan"))
    with pytest.raises(ModelError, match="logged must be True"):
        HypoTreatment(logged=1)  # type: ignore[arg-type]
