"""Basal-bolus and PID policies, insulin on board and the pump limits every policy obeys."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import medtwin.control as control
from medtwin.control import (
    MPC,
    PID,
    BasalBolus,
    Decision,
    Policy,
    PolicyInput,
    clip_to_pump,
    insulin_on_board,
    insulin_remaining,
)
from medtwin.errors import ModelError
from medtwin.models.glucose.pump import InsulinPump, pump_preset


def on_grid(x, inc):
    k = round(x / inc)
    return math.isclose(k * inc, x, rel_tol=0, abs_tol=1e-9)


def test_all_is_complete():
    for name in control.__all__:
        assert hasattr(control, name)
    assert {"MPC", "BasalBolus", "PID", "clip_to_pump"} <= set(control.__all__)


def test_insulin_action_curve():
    f = insulin_remaining(np.array([-5.0, 0.0, 75.0, 180.0, 360.0]), dia=360.0, peak=75.0)
    assert f[0] == 1.0 and f[1] == pytest.approx(1.0) and f[-1] == 0.0
    assert np.all(np.diff(insulin_remaining(np.linspace(0, 360, 200))) <= 1e-12)
    # activity (-dIOB/dt) is largest at the peak time
    t = np.linspace(1, 359, 359)
    assert abs(t[np.argmax(-np.gradient(insulin_remaining(t), t))] - 75.0) <= 2.0
    assert insulin_on_board([0.0, 100.0, 500.0], [2.0, 3.0, 9.0], 100.0) == pytest.approx(
        2.0 * float(insulin_remaining(100.0)) + 3.0
    )
    with pytest.raises(ModelError, match="2\\*peak < dia"):
        insulin_remaining(1.0, dia=100.0, peak=60.0)


def test_basal_bolus_meal_and_correction_net_of_iob():
    bb = BasalBolus(basal=1.2, carb_ratio=10.0, correction_factor=40.0, target=140.0)
    meal = PolicyInput(time=60.0, cgm=220.0, meals=((62.0, 60.0), (300.0, 80.0)))
    d = bb.decide(meal)
    assert d.basal == pytest.approx(1.2)
    assert d.bolus == pytest.approx(6.0 + 2.0)  # 60/10 + (220-140)/40
    assert d.fallback == ""
    # IOB of 1.5 U reduces the correction; IOB of 3 U covers it entirely
    assert bb.decide(PolicyInput(60.0, 220.0, iob=1.5)).bolus == pytest.approx(0.5)
    covered = bb.decide(PolicyInput(60.0, 220.0, iob=3.0))
    assert covered.bolus == 0.0 and "IOB" in covered.reason
    assert bb.decide(PolicyInput(60.0, 145.0)).bolus == 0.0  # below the threshold


def test_pid_terms_and_anti_windup():
    pid = PID(basal=1.0)
    t = tuple(np.arange(-120.0, 0.0, 5.0))
    flat = PolicyInput(0.0, 140.0, cgm_times=t, cgm_values=(140.0,) * len(t))
    assert pid.decide(flat).basal == pytest.approx(1.0)
    rising = PolicyInput(0.0, 200.0, cgm_times=t, cgm_values=tuple(np.linspace(80, 195, len(t))))
    p, _i, d = pid.terms(rising)
    assert p == pytest.approx(0.06 * 60)
    assert d > 0 and pid.decide(rising).basal > 1.0 + p
    # a long high excursion: the integral is clamped to what the pump can deliver
    high = PolicyInput(0.0, 400.0, cgm_times=t, cgm_values=(400.0,) * len(t),
                       pump=InsulinPump(max_basal=3.0))  # fmt: skip
    assert pid.terms(high)[1] == pytest.approx(2.0)
    assert pid.decide(high).basal == 3.0
    low = PolicyInput(0.0, 50.0, cgm_times=t, cgm_values=(50.0,) * len(t))
    assert pid.terms(low)[1] == pytest.approx(-1.0) and pid.decide(low).basal == 0.0


def test_clip_to_pump():
    pump = pump_preset("Insulet")
    d = clip_to_pump(Decision(basal=-1.0, bolus=float("nan")), pump)
    assert (d.basal, d.bolus) == (0.0, 0.0)
    d = clip_to_pump(Decision(basal=99.0, bolus=1.234, reason="x"), pump)
    assert (d.basal, d.reason) == (30.0, "x") and d.bolus == pytest.approx(1.2)


POLICIES = st.sampled_from(["bb", "pid", "pid_bolus", "mpc_without_twin"])


@settings(max_examples=150, deadline=None)
@given(
    kind=POLICIES,
    basal=st.floats(0.0, 60.0),
    cr=st.floats(0.5, 50.0),
    cf=st.floats(1.0, 200.0),
    cgm=st.floats(20.0, 600.0),
    history=st.lists(st.floats(20.0, 600.0), min_size=0, max_size=30),
    carbs=st.floats(0.0, 400.0),
    iob=st.floats(0.0, 20.0),
    preset=st.sampled_from(["Insulet", "Cozmo", "small"]),
)
def test_no_policy_commands_beyond_the_pump(kind, basal, cr, cf, cgm, history, carbs, iob, preset):
    pump = (
        InsulinPump(max_basal=2.0, basal_increment=0.1, max_bolus=5.0, bolus_increment=0.5)
        if preset == "small"
        else pump_preset(preset)
    )
    policy: Policy = {
        "bb": BasalBolus(basal, cr, cf),
        "pid": PID(basal),
        "pid_bolus": PID(basal, carb_ratio=cr),
        "mpc_without_twin": MPC(BasalBolus(basal, cr, cf)),  # falls back, still clipped
    }[kind]
    times = tuple(-5.0 * np.arange(len(history), 0, -1))
    obs = PolicyInput(0.0, cgm, times, tuple(history), meals=((2.0, carbs),), iob=iob, pump=pump)
    d = policy.decide(obs)
    assert 0.0 <= d.basal <= pump.max_basal
    assert 0.0 <= d.bolus <= pump.max_bolus
    assert on_grid(d.basal, pump.basal_increment) and on_grid(d.bolus, pump.bolus_increment)
