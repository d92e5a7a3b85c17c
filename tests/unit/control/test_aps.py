"""The OpenAPS-style policy on hand-computed cases: insulin on board of a known bolus, carbs on
board, the deviation, the eventual glucose, the safety cap and the predictive suspend; and the
policy in the closed loop (vectorised, meal boluses as basal-bolus gives them)."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from medtwin.control import (
    APS,
    BasalBolus,
    ClosedLoop,
    MealSchedule,
    aps_temp_basal,
    max_iob_rate,
)
from medtwin.control._aps import (
    carb_lookback,
    carbs_on_board,
    expected_delta,
    net_iob_path,
    observed_delta,
)
from medtwin.control._policies import APSLoop, loop_policy
from medtwin.data import T1D_FILTER, load_virtual_patients, t1d_population_prior
from medtwin.errors import ModelError
from medtwin.models import UVAPadova

TIMES = APS(BasalBolus(1.0, 10.0, 50.0)).horizon()  # 0, 5, ..., 360 min
CURVE = {"every": 5.0, "dia": 360.0, "peak": 75.0}


def remaining(t: float, dia: float = 360.0, peak: float = 75.0) -> float:
    """The exponential insulin curve written out (Maksimovic 2017): the fraction left at t."""
    tau = peak * (1 - peak / dia) / (1 - 2 * peak / dia)
    a = 2 * tau / dia
    s = 1 / (1 - a + (1 + a) * math.exp(-dia / tau))
    return 1 - s * (1 - a) * (
        (t * t / (tau * dia * (1 - a)) - t / tau - 1) * math.exp(-t / tau) + 1
    )


def test_insulin_on_board_of_a_known_bolus():
    net = np.zeros(72)
    net[11] = 2.0  # 2 U given 60 min ago (entry j: (j + 1) * 5 min ago)
    iob = np.asarray(net_iob_path(net, 0.0, TIMES, **CURVE))
    assert iob[0] == pytest.approx(2 * remaining(60.0), rel=1e-12)
    assert iob[6] == pytest.approx(2 * remaining(90.0), rel=1e-12)  # 30 min from now
    assert 1.55 < iob[0] < 1.57 and iob[-1] == 0.0  # 78 % left after 1 h; none at DIA
    now = np.asarray(net_iob_path(np.zeros(72), 3.0, TIMES, **CURVE))  # a 3 U bolus now
    assert now[0] == 3.0 and now[12] == pytest.approx(3 * remaining(60.0), rel=1e-12)
    # a negative net (a zero temp below a 1.2 U/h schedule for 5 min) counts against it
    low = np.zeros(72)
    low[0] = -0.1
    assert float(net_iob_path(low, 0.0, TIMES, **CURVE)[0]) == pytest.approx(
        -0.1 * remaining(5.0), rel=1e-12
    )


def test_carbs_on_board_absorb_linearly():
    carbs = np.zeros(carb_lookback(APS(BasalBolus(1.0, 10.0, 50.0))))
    carbs[12] = 60.0  # 60 g announced 60 min ago, absorbed over 180 min
    cob = np.asarray(carbs_on_board(carbs, TIMES, every=5.0, absorption=180.0))
    np.testing.assert_allclose(cob[[0, 12, 24, 30]], [40.0, 20.0, 0.0, 0.0], atol=1e-12)


def test_eventual_glucose_and_temp_basal():
    # BG 150, 2 U net IOB, 30 g COB, CR 10 g/U, ISF 50 mg/dL/U, no deviation:
    # eventual = 150 - 2 * 50 + 30 * 50 / 10 = 200 mg/dL; the insulin to bring it to 115 is
    # (200 - 115) / 50 = 1.7 U, over a 30-min temp: 1 + 3.4 = 4.4 U/h, capped at 3 x 1 U/h.
    iob = np.where(TIMES <= 120, 2.0 * (1 - TIMES / 120), 0.0)  # any path ending at 0
    cob = np.where(TIMES <= 90, 30.0 * (1 - TIMES / 90), 0.0)
    kw = {"times": TIMES, "target": 115.0, "threshold": 77.5, "duration": 30.0}
    rate, eventual, lowest = aps_temp_basal(150.0, iob, cob, 0.0, 1.0, 10.0, 50.0, max_rate=3.0,
                                            **kw)  # fmt: skip
    assert float(eventual) == pytest.approx(200.0, abs=1e-12)
    assert float(rate) == 3.0
    uncapped, _, _ = aps_temp_basal(150.0, iob, cob, 0.0, 1.0, 10.0, 50.0, max_rate=30.0, **kw)
    assert float(uncapped) == pytest.approx(4.4, abs=1e-12)
    # without the carbs: eventual 50 mg/dL, below target -> less than the schedule, and the
    # predicted minimum (the eventual) is below the threshold 77.5: suspend
    rate, eventual, lowest = aps_temp_basal(150.0, iob, 0 * cob, 0.0, 1.0, 10.0, 50.0,
                                            max_rate=3.0, **kw)  # fmt: skip
    assert float(eventual) == pytest.approx(50.0) and float(lowest) == pytest.approx(50.0)
    assert float(rate) == 0.0
    # a small IOB (0.4 U): eventual 130 -> 1 + (130 - 115) / 50 * 2 = 1.6 U/h
    rate, eventual, _ = aps_temp_basal(150.0, 0.2 * iob, 0 * cob, 0.0, 1.0, 10.0, 50.0,
                                       max_rate=3.0, **kw)  # fmt: skip
    assert float(eventual) == pytest.approx(130.0) and float(rate) == pytest.approx(1.6)
    # eventual 105 (a low temp, not a suspend): 1 + (105 - 115) / 50 * 2 = 0.6 U/h
    rate, _, lowest = aps_temp_basal(125.0, 0.2 * iob, 0 * cob, 0.0, 1.0, 10.0, 50.0,
                                     max_rate=3.0, **kw)  # fmt: skip
    assert float(lowest) == pytest.approx(105.0) and float(rate) == pytest.approx(0.6)


def test_a_predicted_dip_suspends_though_the_eventual_glucose_is_high():
    # a bolus acting before the carbs: the path dips to 60 mg/dL, then ends at 250
    iob = np.where(TIMES <= 60, 3.0 * (1 - TIMES / 60), 0.0)
    cob = np.where(TIMES <= 300, 50.0 * np.clip((300 - TIMES) / 240, 0, 1), 0.0)
    kw = {"times": TIMES, "target": 115.0, "threshold": 77.5, "duration": 30.0}
    rate, eventual, lowest = aps_temp_basal(120.0, iob, cob, 0.0, 1.0, 10.0, 20.0,
                                            max_rate=3.0, **kw)  # fmt: skip
    assert float(eventual) == pytest.approx(120 - 60 + 100.0)
    assert float(lowest) == pytest.approx(60.0) and float(rate) == 0.0


def test_deviation_adds_thirty_minutes_of_the_unexplained_change():
    g = np.array([[100.0, 103.0, 106.0, 109.0], [110.0, 108.0, 106.0, 100.0]])
    valid = np.ones(g.shape, bool)
    # oref0's minDelta: min(last change, change per 5 min since the mean of the three before)
    np.testing.assert_allclose(np.asarray(observed_delta(g, valid)), [3.0, -6.0])  # -6 < -4
    valid[1, 0] = False
    assert float(observed_delta(g, valid)[1]) == 0.0  # fewer than four readings: none
    net = np.zeros(72)
    net[0] = 1.0  # 1 U given 5 min ago has lowered glucose by ISF (1 - remaining(5))
    carbs = np.zeros(37)
    carbs[6] = 36.0  # 36 g announced 30 min ago: 1 g absorbed per 5 min of 180
    exp = expected_delta(net, carbs, 10.0, 50.0, **CURVE, absorption=180.0)
    assert float(exp) == pytest.approx(-50 * (1 - remaining(5.0)) + 50 / 10 * 1.0, rel=1e-12)
    kw = {"times": TIMES, "target": 115.0, "threshold": 77.5, "duration": 30.0}
    _, eventual, _ = aps_temp_basal(150.0, 0 * TIMES, 0 * TIMES, 3.0, 1.0, 10.0, 50.0,
                                    max_rate=3.0, **kw)  # fmt: skip
    assert float(eventual) == pytest.approx(150.0 + 6 * 3.0)


def test_bad_settings_are_refused():
    bb = BasalBolus(1.0, 10.0, 50.0)
    with pytest.raises(ModelError, match="dia <= 360"):
        APS(bb, dia=480.0)
    with pytest.raises(ModelError, match="absorption > 0"):
        APS(bb, absorption=0.0)
    assert APS(bb).threshold == pytest.approx(77.5)


def test_max_iob_leaves_the_headroom_of_the_loops_own_insulin():
    """oref0's max_iob: the net temp-basal insulin on board may reach max_iob hours of basal;
    a 30-min temp gives at most the headroom left (2 x per hour), and boluses do not count."""
    kw = {"max_iob": 3.0, "duration": 30.0, **CURVE}
    none = np.zeros(72)
    assert float(max_iob_rate(none, none, 1.0, **kw)) == pytest.approx(1.0 + 3.0 / 0.5)
    bolus = none.copy()
    bolus[0] = 4.0  # a 4 U meal bolus 5 min ago: the patient's, not the loop's
    assert float(max_iob_rate(bolus, bolus, 1.0, **kw)) == pytest.approx(7.0)
    temp = none.copy()
    temp[0] = 1.0  # 1 U above the schedule in the last interval
    assert float(max_iob_rate(temp, none, 1.0, **kw)) == pytest.approx(
        1.0 + (3.0 - remaining(5.0)) / 0.5
    )
    temp[:12] = 0.5  # 6 U above the schedule in the last hour: more than max_iob on board
    assert float(max_iob_rate(temp, none, 1.0, **kw)) == pytest.approx(1.0)
    assert float(max_iob_rate(none, none, 0.8, **{**kw, "max_iob": 0.0})) == pytest.approx(0.8)
    with pytest.raises(ModelError, match="hours of the scheduled basal"):
        APS(BasalBolus(1.0, 10.0, 50.0), max_iob=-1.0)


def test_aps_in_the_closed_loop_boluses_as_basal_bolus_and_suspends_on_a_fall():
    model = UVAPadova()
    names = ["adult#001", "child#002"]
    truth = np.asarray(load_virtual_patients(names))
    loop = ClosedLoop(model, t1d_population_prior(), method=T1D_FILTER, particles=8)
    bbs = [
        BasalBolus(1.27, 10.0, 8.8, correct_between_meals=False),
        BasalBolus(0.8, 23.0, 36.9, correct_between_meals=False),
    ]  # child: basal 2x too high
    policy = loop_policy([APS(b) for b in bbs], loop.spec())
    assert isinstance(policy, APSLoop) and policy.kind == "aps" and policy.history(loop.spec()) == 4
    meals = MealSchedule(np.array([[30.0], [30.0]]), np.array([[50.0], [40.0]]),
                         np.array([[50.0], [40.0]]))  # fmt: skip
    res = loop.run([APS(b) for b in bbs], truth, meals, days=0.25, key=jax.random.key(3))
    k = 30 // 5
    np.testing.assert_allclose(res.bolus[:, k], [5.0, 1.70], atol=0.05)  # carbs / CR, pump steps
    assert res.bolus[:, :k].sum() == 0 and res.bolus[:, k + 1 :].sum() == 0
    assert np.all(res.basal <= 3 * np.array([[1.27], [0.8]]) + 1e-9)  # the 3 x basal cap
    assert np.any(res.basal[1] == 0.0)  # the child's wrong basal drives it down: suspended
    assert res.bg.min() > 54.0 and res.fallback.sum() == 0


@pytest.mark.slow
def test_max_iob_zero_is_low_glucose_suspend_mode():
    """With max_iob 0 (oref0's default) the loop may lower the basal, and raise it afterwards
    only to make up what it withheld: its net temp-basal insulin on board never goes above 0.
    With no limit the same patient builds up more than 1 U of it after its meal."""
    model = UVAPadova()
    truth = np.asarray(load_virtual_patients(["adult#001"]))
    loop = ClosedLoop(model, t1d_population_prior(), method=T1D_FILTER, particles=8)
    bb = BasalBolus(1.27, 14.0, 8.8, correct_between_meals=False)  # under-boluses the meal
    meals = MealSchedule(np.array([[30.0]]), np.array([[70.0]]), np.array([[70.0]]))
    free = loop.run([APS(bb)], truth, meals, days=0.25, key=jax.random.key(3))
    lgs = loop.run([APS(bb, max_iob=0.0)], truth, meals, days=0.25, key=jax.random.key(3))

    def temp_on_board(basal: np.ndarray) -> np.ndarray:
        """Net temp-basal insulin on board (U) just after each decision."""
        net = (basal[0] - 1.27) * 5.0 / 60.0
        w = np.array([remaining(5.0 * j) for j in range(net.size)])
        return np.array([net[: k + 1][::-1] @ w[: k + 1] for k in range(net.size)])

    assert temp_on_board(free.basal).max() > 1.0
    assert temp_on_board(lgs.basal).max() <= 1e-9 and np.all(lgs.bolus == free.bolus)
    assert lgs.basal.max() > 1.27  # withheld insulin made up (oref0 temps up to net IOB 0)
