import dataclasses

import jax
import numpy as np
import pytest

from medtwin.assimilate import (
    HI,
    LO,
    EnsembleKalmanFilter,
    ParticleFilter,
    PopulationPrior,
    assimilate,
    assimilate_with_report,
    observations,
)
from medtwin.assimilate._observations import prepare
from medtwin.data import load_virtual_patients
from medtwin.errors import DataError, ModelError
from medtwin.forecast import forecast, score_forecasts, what_if
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, meal
from medtwin.twin import Twin, replay

MODEL = UVAPadova()
FREE = ("Vmx", "kp1", "kabs")


@pytest.fixture(scope="module")
def twin():
    pop = np.asarray(load_virtual_patients())
    return Twin.create(MODEL, PopulationPrior(pop, FREE), key=jax.random.key(0), n=64)


def test_lo_hi_strings_are_censored_readings():
    obs = observations([5, 10, 15, 20], [120, "LO", "HI", None], "sc_glucose")
    assert obs.censored.tolist() == [0, LO, HI, 0]
    assert obs.values[1] == 40.0 and obs.values[2] == 400.0 and np.isnan(obs.values[3])


@pytest.mark.parametrize(
    ("times", "values", "fragment"),
    [
        ([5, 10], [100], "same length. Got (2,) times and (1,) values"),
        ([5], ["high-ish"], "Observation 0: the value must be a number"),
        (["noon"], [100], "Observation 0: the time must be a number"),
    ],
)
def test_malformed_streams_raise_clear_errors(times, values, fragment):
    with pytest.raises(DataError) as info:
        observations(times, values, "sc_glucose")
    assert fragment in str(info.value)


def test_prepare_says_what_it_dropped_and_why():
    obs = observations(
        [20, 10, 10, 15, 3, float("nan"), 25.4, 30],
        [110, 100, 100, float("nan"), 90, 95, "LO", 120],
        "sc_glucose",
    )
    clean, report = prepare(obs, MODEL.observable_names, after=5.0, dt=1.0, t0=0.0)
    assert clean.times.tolist() == [10.0, 20.0, 25.0, 30.0]  # sorted, snapped to the grid
    assert report.reordered and report.received == 8 and report.used == 4
    assert report.censored == 1
    assert report.dropped == {
        "exact duplicate": 1,
        "missing value (NaN)": 1,
        "at or before the twin's time (already assimilated or late)": 1,
        "without a valid time": 1,
    }
    assert "8 received, 4 used (1 censored)" in str(report)


def test_unknown_observable_is_an_error_not_a_silent_drop(twin):
    with pytest.raises(DataError, match=r"Observations of \['lactate'\] cannot be assimilated"):
        assimilate(twin, observations([5], [2.0], "lactate"))


@pytest.mark.slow
def test_censored_lo_reading_favours_particles_predicting_low_glucose(twin):
    sc = np.asarray(jax.vmap(MODEL.observe, (None, 0, 0))(0.0, twin.ensemble.states,
                                                          twin.ensemble.params))[:, 1]  # fmt: skip
    no_resampling = ParticleFilter(resample_threshold=1e-6)
    out = assimilate_with_report(
        twin, observations([1], ["LO"], "sc_glucose"), method=no_resampling
    )
    w = np.asarray(out.twin.ensemble.weights)
    low, high = sc < np.median(sc), sc >= np.median(sc)
    assert out.report.data.censored == 1
    assert w[low].sum() > w[high].sum()
    enkf = assimilate_with_report(twin, observations([1], ["LO"], "sc_glucose"),
                                  method=EnsembleKalmanFilter())  # fmt: skip
    assert enkf.report.data.used == 0
    assert enkf.report.data.dropped == {"censored (the EnKF uses values only)": 1}


def test_versions_replay_bit_for_bit(twin):
    reg = Regimen((meal(10, 40), bolus(10, 4.0)))
    t = twin
    for k in range(1, 4):
        t = assimilate(t, observations([10.0 * k], [150 + 5 * k], "sc_glucose"), reg)
    assert t.version == 3 and twin.version == 0  # the original is untouched
    again = replay(t)
    for field in ("params", "states", "log_weights"):
        a, b = getattr(t.ensemble, field), getattr(again.ensemble, field)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert t.time == 30.0 and len(t.regimen) == 2


def test_a_restored_twin_continues_with_the_same_numbers(twin):
    reg = Regimen((meal(10, 40), bolus(10, 4.0)))
    t = assimilate(twin, observations([10.0], [150.0], "sc_glucose"), reg)
    stored = Twin.restore(MODEL, t.ensemble, t.prior, key=t.key, t0=t.t0, version=t.version,
                          regimen=t.regimen)  # fmt: skip
    nxt = observations([20.0], [160.0], "sc_glucose")
    a, b = assimilate(t, nxt), assimilate(stored, nxt)
    assert b.version == a.version == 2
    np.testing.assert_array_equal(np.asarray(a.ensemble.params), np.asarray(b.ensemble.params))
    with pytest.raises(ModelError, match="restored at version 1"):
        replay(b)


@pytest.mark.slow
def test_forecast_bands_are_nested_and_the_ledger_scores_them(twin):
    t = assimilate(twin, observations([5.0], [140.0], "sc_glucose"))
    fc = forecast(t, 60)
    assert fc.times.tolist() == [10.0 + 5 * k for k in range(12)]
    assert fc.draws.shape == (64, 3, 12) and fc.lower.shape == (3, 3, 12)
    lo = fc.lower[:, 1]
    hi = fc.upper[:, 1]
    assert np.all(lo[2] <= lo[1]) and np.all(lo[1] <= lo[0]) and np.all(lo[0] <= fc.median[1])
    assert np.all(fc.median[1] <= hi[0]) and np.all(hi[0] <= hi[1]) and np.all(hi[1] <= hi[2])
    later = observations(fc.times, fc.observable("sc_glucose"), "sc_glucose")
    skill = score_forecasts([fc], later, "sc_glucose")
    assert skill.scored == 12 and skill.at(60.0).coverage[0.5] == 1.0  # medians are inside
    assert skill.at(60.0).mard == 0.0
    with pytest.raises(Exception, match="horizon > 0 that is a multiple of every=5"):
        forecast(t, 7)


def test_what_if_ranks_a_meal_above_no_meal(twin):
    t = assimilate(twin, observations([5.0], [140.0], "sc_glucose"))
    w = what_if(t, {"fast": Regimen(), "meal": Regimen((meal(10, 60),))}, 120)
    assert w.options == ("fast", "meal")
    assert w.metrics["meal"]["bg_mean"] > w.metrics["fast"]["bg_mean"] + 10


def test_twin_create_checks_its_arguments():
    pop = np.asarray(load_virtual_patients())
    with pytest.raises(ModelError, match="needs n >= 2 particles"):
        Twin.create(MODEL, PopulationPrior(pop, FREE), key=jax.random.key(0), n=1)
    with pytest.raises(ModelError, match="has no parameter named 'SI'"):
        Twin.create(MODEL, PopulationPrior(pop, ("SI",)), key=jax.random.key(0), n=4)
    with pytest.raises(ModelError, match="at least 2 parameter vectors"):
        PopulationPrior(pop[:1], FREE).sample(MODEL, jax.random.key(0), 4)
    assert dataclasses.is_dataclass(Twin)
