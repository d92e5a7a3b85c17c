"""The ePID with insulin feedback (ePID-IFB, Steil et al.; Ruiz et al. 2012): gains from the
total daily insulin by the published formula, the published insulin model behind the feedback,
and the feedback lowering the command after insulin was given (the traced loop policy deciding
as the object API: tests/unit/control/test_loop_policies.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtwin.control import PID, PolicyInput, insulin_feedback, total_daily_insulin
from medtwin.control._pid import IFB_A, IFB_B, IFB_WEIGHTS, ifb_response
from medtwin.errors import ModelError
from medtwin.models.glucose.pump import InsulinPump, pump_preset

TIMES = tuple(np.arange(-120.0, 0.0, 5.0))  # 24 readings before the one at t = 0


def _rising(cgm: float = 200.0, **kw) -> PolicyInput:
    values = tuple(np.linspace(cgm - 50.0, cgm - 2.0, len(TIMES)))
    return PolicyInput(0.0, cgm, TIMES, values, **kw)


def test_gains_follow_the_published_formula():
    # Ruiz et al. 2012: Kp = TDI / 2250 U/h per mg/dL, TI 150 min, TD 75 min, target 120 mg/dL;
    # Steil et al. 2011: gamma 0.5. 0.95 U/h is 47.5 % of 48 U/day (Davidson et al. 2008)
    pid = PID.epid_ifb(0.95, 12.0)
    kp = 48.0 / 2250.0
    assert pid.kp == pytest.approx(kp, rel=1e-12)
    assert pid.ki == pytest.approx(kp / 150.0, rel=1e-12)
    assert pid.kd == pytest.approx(kp * 75.0, rel=1e-12)
    assert (pid.target, pid.feedback, pid.carb_ratio, pid.basal) == (120.0, 0.5, 12.0, 0.95)
    assert PID.epid_ifb(0.95, tdi=60.0).kp == pytest.approx(60.0 / 2250.0, rel=1e-12)
    assert PID.epid_ifb(0.95).kp == pytest.approx(total_daily_insulin(0.95) / 2250.0)
    with pytest.raises(ModelError, match="total daily insulin > 0"):
        PID.epid_ifb(0.95, tdi=0.0)
    with pytest.raises(ModelError, match="gamma >= 0"):
        PID(1.0, feedback=-0.5)
    assert PID(1.0).feedback == 0.0  # simglucose's PID keeps no insulin feedback


def test_insulin_model_is_the_published_one():
    # the 1-min model's poles are the three time constants 50, 70 and 55 min
    assert np.diag(IFB_A) == pytest.approx(np.exp(-1.0 / np.array([50.0, 70.0, 55.0])), abs=1e-4)
    # every state equals the delivery rate (U/h) at steady state; the weights sum to 1
    steady = np.linalg.solve(np.eye(3) - IFB_A, IFB_B) / 60.0
    assert steady == pytest.approx(np.ones(3), rel=1e-3)
    assert IFB_WEIGHTS.sum() == pytest.approx(1.0, abs=1e-5)
    # the response to 1 U given 5..30 min ago, minute by minute from the equations
    bolus, spread = ifb_response(5.0, 6)
    x, got = np.zeros(3), []
    for m in range(30):
        x = IFB_A @ x + IFB_B * (m == 0)
        got.append(IFB_WEIGHTS @ x)
    assert bolus == pytest.approx(np.array(got)[4::5], rel=1e-12)
    assert np.all(spread > 0) and np.all(np.diff(bolus) < 0)
    # constant net delivery of 0.1 U per 5 min (1.2 U/h above basal) for 4 days: I_hat - basal
    # reaches the net rate
    n = 4 * 288
    ifb = float(insulin_feedback(np.full(n, 0.1), np.zeros(n), every=5.0))
    assert ifb == pytest.approx(1.2, rel=1e-3)
    # 6 h of history (the loop's) holds all but about 1 % of a dose's response
    assert spread.size == 6 and ifb_response(5.0, 72)[1].sum() * 5.0 / 60.0 > 0.99
    with pytest.raises(ModelError, match="whole minutes"):
        ifb_response(2.5, 10)


def test_insulin_feedback_lowers_the_command_after_a_bolus():
    pid = PID.epid_ifb(1.0, 10.0)
    zeros = (0.0,) * 72
    after = (4.0, *zeros[1:])  # a 4-U bolus in the last interval
    fresh = pid.decide(_rising(net_hist=zeros, bolus_hist=zeros))
    bolused = pid.decide(_rising(net_hist=after, bolus_hist=after))
    assert pid.insulin_feedback(_rising(net_hist=after, bolus_hist=after)) == pytest.approx(
        4.0 * ifb_response(5.0, 1)[0][0]
    )
    assert bolused.basal < fresh.basal - 1.0
    assert "insulin feedback" in bolused.reason
    # no history: steady basal delivery, the same as none given above basal
    assert pid.decide(_rising()).basal == fresh.basal
    # the same bolus 6 h ago has all but acted: the command is back to the fresh one
    old = (*zeros[1:], 4.0)
    assert pid.decide(_rising(net_hist=old, bolus_hist=old)).basal == pytest.approx(
        fresh.basal, abs=0.1
    )
    # insulin withheld (a suspension: net below basal) raises it
    held = (-1.0 / 12,) * 12 + zeros[12:]
    assert pid.decide(_rising(net_hist=held, bolus_hist=zeros)).basal > fresh.basal
    # without feedback the history is ignored (simglucose's PID)
    plain = PID(1.0)
    assert plain.decide(_rising(net_hist=after, bolus_hist=after)) == plain.decide(_rising())
    # at target, flat, nothing given: the basal rate; the meal is bolused by the carb ratio
    flat = PolicyInput(0.0, 120.0, TIMES, (120.0,) * len(TIMES), meals=((2.0, 45.0),))
    d = pid.decide(flat)
    assert d.basal == pytest.approx(1.0) and d.bolus == pytest.approx(4.5)
    with pytest.raises(ModelError, match="as many net insulin entries as boluses"):
        pid.decide(_rising(net_hist=after, bolus_hist=()))


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(
    basal=st.floats(0.05, 5.0),
    cgm=st.floats(20.0, 600.0),
    history=st.lists(st.floats(20.0, 600.0), min_size=0, max_size=30),
    net=st.lists(st.floats(-0.5, 20.0), min_size=72, max_size=72),
    given_insulin=st.booleans(),
    preset=st.sampled_from(["Insulet", "Cozmo"]),
)
def test_epid_ifb_commands_within_the_pump(basal, cgm, history, net, given_insulin, preset):
    pump: InsulinPump = pump_preset(preset)
    net = net if given_insulin else []
    times = tuple(-5.0 * np.arange(len(history), 0, -1))
    obs = PolicyInput(0.0, cgm, times, tuple(history), meals=((2.0, 50.0),), pump=pump,
                      net_hist=tuple(net), bolus_hist=(0.0,) * len(net))  # fmt: skip
    d = PID.epid_ifb(basal, 10.0).decide(obs)
    assert 0.0 <= d.basal <= pump.max_basal and 0.0 <= d.bolus <= pump.max_bolus
    assert math.isfinite(d.basal)
