import numpy as np
import pytest

from medtwin.errors import RegimenError
from medtwin.simulate import Dose, Infusion, Regimen, SetRate, basal, bolus, meal

INPUTS = ("carbs", "insulin")


def compile_(regimen, n=30, t0=0.0, dt=1.0):
    return regimen.compile(INPUTS, t0, dt, n)


def test_events_are_sorted_by_time():
    r = Regimen((meal(30, 10), bolus(5, 1), basal(0, 1.2)))
    assert [e.time for e in r.events] == [0.0, 5.0, 30.0]


def test_meal_is_eaten_at_5_g_per_min_with_remainder_in_last_minute():
    c = compile_(Regimen((meal(3, 47),)))
    carbs = c.dose_rate[:, 0]
    np.testing.assert_allclose(carbs[3:12], 5.0)
    assert carbs[12] == pytest.approx(2.0)
    assert carbs[:3].sum() == 0 and carbs[13:].sum() == 0
    assert carbs.sum() == pytest.approx(47.0)


def test_overlapping_meals_queue_behind_each_other():
    c = compile_(Regimen((meal(0, 20), meal(2, 10))))
    carbs = c.dose_rate[:, 0]
    np.testing.assert_allclose(carbs[:6], 5.0)  # never faster than 5 g/min
    assert carbs[6:].sum() == 0
    assert carbs.sum() == pytest.approx(30.0)


def test_bolus_is_delivered_within_its_step():
    c = compile_(Regimen((bolus(7.5, 4.5),)), dt=1.0)
    ins = c.dose_rate[:, 1]
    assert ins[7] == pytest.approx(4.5)
    assert ins.sum() == pytest.approx(4.5)
    c5 = compile_(Regimen((bolus(12, 3.0),)), dt=5.0)
    assert c5.dose_rate[2, 1] == pytest.approx(3.0 / 5.0)  # U/min over the 5-min step


def test_infusion_partial_steps_deliver_rate_times_duration():
    c = compile_(Regimen((Infusion(2.5, "insulin", 0.2, 4.0),)))
    ins = c.dose_rate[:, 1]
    assert ins[2] == pytest.approx(0.1) and ins[6] == pytest.approx(0.1)
    np.testing.assert_allclose(ins[3:6], 0.2)
    assert ins.sum() == pytest.approx(0.8)


def test_basal_overrides_baseline_from_its_step_on():
    c = compile_(Regimen((basal(10, 1.2), basal(20.5, 0.0))))
    ovr = c.override[:, 1]
    assert np.isnan(ovr[:10]).all()
    np.testing.assert_allclose(ovr[10:21], 1.2 / 60)
    np.testing.assert_allclose(ovr[21:], 0.0)
    assert np.isnan(c.override[:, 0]).all()


def test_events_before_t0_count_for_what_they_still_deliver():
    c = compile_(Regimen((meal(-4, 45), basal(-100, 0.6))), t0=0.0)
    np.testing.assert_allclose(c.dose_rate[:5, 0], 5.0)
    assert c.dose_rate[5:, 0].sum() == 0
    np.testing.assert_allclose(c.override[:, 1], 0.01)


def test_repeated_and_shifted():
    r = Regimen((meal(420, 45),)).repeated(1440, 3)
    assert [e.time for e in r.events] == [420.0, 1860.0, 3300.0]
    assert r.shifted(10).events[0].time == 430.0
    assert len(r + Regimen((bolus(0, 1),))) == 4


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: meal(0, -5), "amount of the meal must be >= 0. Got -5"),
        (lambda: meal(0, "lots"), "amount of the meal must be a number. Got 'lots'"),
        (lambda: bolus(float("nan"), 1), "time of the bolus must be a finite number"),
        (lambda: meal(0, 10, rate=0), "rate of the meal must be > 0"),
        (lambda: basal(0, -1), "basal rate (U/h) must be >= 0"),
        (lambda: Infusion(0, "insulin", 1, 0), "duration of the infusion must be > 0"),
        (lambda: Regimen(("meal",)), "holds Dose, Infusion and SetRate events. Got str"),
    ],
)
def test_bad_events_raise_clear_errors(make, fragment):
    with pytest.raises(RegimenError) as info:
        make()
    assert fragment in str(info.value)


def test_unknown_input_and_horizon_errors():
    with pytest.raises(RegimenError, match=r"targets input 'heparin'.*carbs, insulin"):
        compile_(Regimen((Dose(0, "heparin", 1.0),)))
    with pytest.raises(RegimenError, match=r"meal at t=2000 lies outside .*\[0, 1440\)"):
        Regimen((meal(2000, 10),)).check_horizon(0, 1440)
    SetRate(0, "insulin", 0.0)  # zero rate is valid
