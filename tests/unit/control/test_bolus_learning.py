"""Run-to-run learning of the meal bolus: a low within the window of a meal bolus cuts the
factor once, a meal without one gives a little back, the floor and 1 bound it; in the closed
loop the next meal's bolus is the patient's own times the learnt factor."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.control import MPC, BasalBolus, BolusLearning, ClosedLoop, MealSchedule, SafetyLimits
from medtwin.data import T1D_FILTER, t1d_population_prior
from medtwin.errors import ModelError
from medtwin.models.glucose.pump import InsulinPump


def _run(learning: BolusLearning, steps):
    """The state after each (t, cgm, meal_now) of ``steps`` for one patient."""
    s = learning.init(1)
    out = []
    for t, g, meal in steps:
        s = learning.update(s, jnp.float64(t), jnp.array([g], float), jnp.array([meal]))
        out.append(float(s.factor[0]))
    return out


def test_a_low_after_a_meal_bolus_cuts_the_factor_once():
    lr = BolusLearning(down=0.1, up=0.02, window=360.0, low=70.0, clear=100.0)
    # a low 4 h after the meal cuts once; a second low in the same window does not
    f = _run(lr, [(0, 150, True), (240, 65, False), (250, 60, False), (300, 90, False)])
    assert f == pytest.approx([1.0, 0.9, 0.9, 0.9])
    # a low before any meal bolus, or after the window, counts for nothing
    assert _run(lr, [(0, 60, False)]) == [1.0]
    assert _run(lr, [(0, 150, True), (370, 60, False)]) == [1.0, 1.0]


def test_a_meal_without_a_low_gives_back_up_to_the_patients_bolus():
    lr = BolusLearning(down=0.1, up=0.05, floor=0.7)
    low_meal = [(0, 150, True), (200, 60, False)]  # a low: 0.9
    # the next meal opens a new window and closes the low one: nothing given back
    f = _run(lr, [*low_meal, (300, 120, True), (500, 110, False), (600, 130, True)])
    assert f == pytest.approx([1.0, 0.9, 0.9, 0.9, 0.9 * 1.05])
    # a window with a reading between low and clear (a near-low) gives nothing back
    f = _run(lr, [*low_meal, (300, 120, True), (400, 85, False), (700, 130, False)])
    assert f[-1] == pytest.approx(0.9)
    # a window that passes without a new meal closes too, and gives back; never above 1
    f = _run(lr, [*low_meal, (300, 120, True), (661, 130, False)])
    assert f[-1] == pytest.approx(0.9 * 1.05)
    big = BolusLearning(down=0.1, up=0.5)
    assert _run(big, [*low_meal, (300, 120, True), (661, 130, False)])[-1] == 1.0


def test_above_the_patients_bolus_only_after_highs_and_up_to_the_ceiling():
    lr = BolusLearning(up=0.1, ceiling=1.15)
    high_meal = [(0, 150, True), (90, 240, False)]
    # no high: the factor stays at the patient's bolus; a high: it rises, to the ceiling
    assert _run(lr, [(0, 150, True), (90, 170, False), (400, 150, False)])[-1] == 1.0
    f = _run(lr, [*high_meal, (300, 150, True), (390, 250, False), (600, 150, True)])
    assert f[2] == pytest.approx(1.1) and f[-1] == pytest.approx(1.15)
    # a meal with neither a low nor a high keeps what was learnt
    f = _run(lr, [*high_meal, (300, 150, True), (390, 150, False), (600, 150, True)])
    assert f[-1] == pytest.approx(1.1)
    with pytest.raises(ModelError, match="ceiling"):
        BolusLearning(ceiling=0.9)


def test_the_factor_stops_at_its_floor():
    lr = BolusLearning(down=0.2, floor=0.7)
    steps = []
    for i in range(5):  # five meals, each followed by a low
        steps += [(600 * i, 150, True), (600 * i + 120, 60, False)]
    assert _run(lr, steps)[-1] == pytest.approx(0.7)


def test_patients_learn_independently():
    lr = BolusLearning()
    s = lr.init(2)
    s = lr.update(s, jnp.float64(0), jnp.array([150.0, 150.0]), jnp.array([True, True]))
    s = lr.update(s, jnp.float64(60), jnp.array([60.0, 140.0]), jnp.array([False, False]))
    np.testing.assert_allclose(s.factor, [0.9, 1.0])


def test_bad_settings_are_refused():
    with pytest.raises(ModelError, match="0 < down < 1"):
        BolusLearning(down=1.5)
    with pytest.raises(ModelError, match="floor"):
        BolusLearning(floor=0.0)
    with pytest.raises(ModelError, match="low <= clear"):
        BolusLearning(low=120.0, clear=100.0)
    with pytest.raises(ModelError, match="clear <= high"):
        BolusLearning(clear=200.0)
    bb = BasalBolus(1.0, 10.0, 50.0)
    with pytest.raises(ModelError, match="bolus_learning learns from the lows"):
        MPC(bb, bolus_learning=BolusLearning()).decide(None)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match=r"MPC.plan\(\) sees one reading"):
        MPC(bb, bolus_learning=BolusLearning()).plan(None)  # type: ignore[arg-type]


def test_in_the_loop_the_next_meal_bolus_is_the_patients_times_the_factor(overdosed):
    # a patient whose carb ratio is a third of the truth's: the first meal's bolus brings a low;
    # an MPC that may not trust its twin gives the patient's basal-bolus (no correction: both
    # meals come below the correction threshold), scaled by the learnt factor
    model, name, truth, bb = (overdosed.model, overdosed.name, overdosed.truth,
                              overdosed.therapy)  # fmt: skip
    sc = MealSchedule(np.array([[30.0, 420.0]]), np.array([[60.0, 60.0]]),
                      np.array([[60.0, 60.0]]))  # fmt: skip
    pump = InsulinPump(bolus_increment=0.01)
    loop = ClosedLoop(model, [t1d_population_prior(exclude=(name,))], method=T1D_FILTER,
                      particles=4, pump=pump)  # fmt: skip
    never = SafetyLimits(cgm_range=(0.0, 1.0))
    mpc = MPC(bb, particles=2, limits=never, bolus_learning=BolusLearning(down=0.2))
    res = loop.run([mpc], truth, sc, days=0.3, key=jax.random.key(1))
    first, second = (np.flatnonzero(res.times == t)[0] for t in (30.0, 420.0))
    assert np.all(res.fallback > 0)
    assert np.any(res.cgm[0, first:second] < 70)  # the first bolus brought a low
    own = 60.0 / bb.carb_ratio
    assert res.bolus[0, first] == pytest.approx(own, abs=0.01)
    assert res.bolus[0, second] == pytest.approx(0.8 * own, abs=0.01)
    # the result says which factor each decision used
    assert res.bolus_factor is not None
    assert res.bolus_factor[0, first] == 1.0
    assert res.bolus_factor[0, second] == pytest.approx(0.8)
