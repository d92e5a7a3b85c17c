"""What the dashboard shows is computed where the rest of medtwin computes it: a what-if's
outcome metrics by ``medtwin.forecast.outcome_metrics`` (as ``what_if`` does), and the matching
of stored forecasts to later readings by ``medtwin.loop.stored_observations`` (as the skill
ledger does). Checked here on numbers worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from medtwin import loop
from medtwin.forecast import Forecast, outcome_metrics
from medtwin.models import get_model
from medtwin.service._dashboard_drift import calibration_of
from medtwin.store import StoredObservation

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def test_outcome_metrics_by_hand():
    model = get_model("t1d")  # bg and sc_glucose in mg/dL, insulin in pmol/L
    draws = np.zeros((2, 3, 3))  # (draws, observables, times)
    draws[:, 0] = [[60.0, 100.0, 200.0], [100.0, 120.0, 150.0]]  # 4 of 6 in 70-180
    draws[:, 1] = [[80.0, 90.0, np.nan], [65.0, 69.0, 75.0]]  # NaN left out of the mean
    draws[:, 2] = [[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]]
    got = outcome_metrics(model, draws)
    assert got == {
        "bg_mean": pytest.approx(730.0 / 6),
        "bg_tir_pct": pytest.approx(100 * 4 / 6),
        "bg_p_below_70": 0.5,  # one draw of two dips below 70
        "sc_glucose_mean": pytest.approx(379.0 / 5),
        "sc_glucose_tir_pct": pytest.approx(100 * 3 / 6),  # NaN is not in range
        "sc_glucose_p_below_70": 0.5,
        "insulin_mean": pytest.approx(35.0),  # not mg/dL: the mean alone
    }


def _stored(model: str, times: list[float], unit: str = "min") -> loop.StoredForecast:
    n = len(times)
    names = tuple(o.name for o in get_model(model).observables)
    k = len(names)
    fc = Forecast(0.0, 1, np.asarray(times), names, (0.5, 0.8, 0.95), np.full((k, n), 100.0),
                  np.full((3, k, n), 90.0), np.full((3, k, n), 110.0), np.zeros((99, k, n)),
                  tuple(np.arange(1, 100) / 100))  # fmt: skip
    return loop.StoredForecast(1, "p-1", 1, EPOCH, times[-1], fc, EPOCH, unit, model)


def test_readings_are_snapped_to_the_grid_and_mapped_to_observables():
    fcs = [_stored("t1d", [5.0, 10.0])]
    at = [EPOCH + timedelta(minutes=m) for m in (5.4, 9.6, 10.0, 12.0)]
    observed = [(at[0], "99504-3", 104.0, 0), (at[1], "2339-0", 120.0, 0),
                (at[2], "1234-5", 1.0, 0), (at[3], "99504-3", 400.0, 1)]  # fmt: skip
    stream = loop.stored_observations(fcs, observed)
    assert stream is not None
    np.testing.assert_array_equal(stream.times, [5.0, 10.0, 12.0])  # 1-minute grid
    assert tuple(stream.observable) == ("sc_glucose", "bg", "sc_glucose")  # 1234-5: not seen
    np.testing.assert_array_equal(stream.censored, [0, 0, 1])
    assert loop.stored_observations([], observed) is None
    unregistered = [replace(fcs[0], model="no-such-model")]
    assert loop.stored_observations(unregistered, observed) is None
    # the skill ledger and the dashboard's calibration score the same targets
    skill = loop.stored_skill(fcs, observed)
    obs = [StoredObservation(i, "p-1", f"h1:{i}", code, t, v, "mg/dL", c, EPOCH, "applied", 1)
           for i, (t, code, v, c) in enumerate(observed)]  # fmt: skip
    calibration = calibration_of(fcs, obs)
    for name, n in (("sc_glucose", 1), ("bg", 1)):  # 104 at 5 min, 120 at 10 min
        assert skill["by_observable"][name]["scored"] == n == calibration[name]["n"]
    assert calibration["sc_glucose"]["censored"] == 1 and calibration["bg"]["censored"] == 0
    assert calibration["sc_glucose"]["coverage"] == {"0.5": 1.0, "0.8": 1.0, "0.95": 1.0}
    assert calibration["bg"]["coverage"] == {"0.5": 0.0, "0.8": 0.0, "0.95": 0.0}
