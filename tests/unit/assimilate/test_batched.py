"""assimilate_many and forecast_many give what one-by-one assimilate_with_report and forecast
give: the same ensembles, reports and forecasts, for twins that differ in their data (numbers of
readings, censored readings, events on some twins only, current times, keys).

The contract is agreement to 1e-12 (relative), which the tests assert; on CPU the two paths also
agree bit for bit, which one test asserts for the updates.
"""

import dataclasses

import jax
import numpy as np
import pytest

from medtwin.assimilate import (
    EnsembleKalmanFilter,
    ParticleFilter,
    SpecPrior,
    assimilate_many,
    assimilate_with_report,
    observations,
)
from medtwin.assimilate._batched_kernel import bucket
from medtwin.data import T1D_FILTER, t1d_population_prior
from medtwin.errors import DataError
from medtwin.forecast import forecast, forecast_many
from medtwin.models import Reynolds2006, UVAPadova
from medtwin.simulate import Infusion, Regimen, bolus, meal
from medtwin.twin import Twin

RTOL = 1e-12


def assert_close(a, b):
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=RTOL, atol=1e-300)


def assert_same_update(one, many):
    """``many`` (batched) is ``one`` (one-by-one): ensemble, time, regimen, report, record."""
    assert not isinstance(many, Exception), many
    e1, e2 = one.twin.ensemble, many.twin.ensemble
    assert_close(e1.params, e2.params)
    assert_close(e1.states, e2.states)
    assert_close(e1.log_weights, e2.log_weights)
    assert e1.time == e2.time
    assert one.twin.regimen == many.twin.regimen
    assert one.twin.version == many.twin.version
    r1, r2 = one.report, many.report
    assert r1.data == r2.data
    assert (r1.resampled, r1.degenerate, r1.failed_particles) == (
        r2.resampled,
        r2.degenerate,
        r2.failed_particles,
    )
    np.testing.assert_allclose(r2.ess, r1.ess, rtol=RTOL)
    np.testing.assert_allclose(r2.log_evidence, r1.log_evidence, rtol=RTOL)
    u1, u2 = one.twin.updates[-1], many.twin.updates[-1]
    assert (u1.method, u1.until, u1.regimen) == (u2.method, u2.until, u2.regimen)
    np.testing.assert_array_equal(jax.random.key_data(u1.key), jax.random.key_data(u2.key))


def assert_same_forecast(one, many):
    assert not isinstance(many, Exception), many
    assert (one.issued_at, one.twin_version, one.levels) == (
        many.issued_at,
        many.twin_version,
        many.levels,
    )
    np.testing.assert_array_equal(one.times, many.times)
    for f in ("draws", "median", "lower", "upper"):
        a, b = getattr(one, f), getattr(many, f)
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=1e-300)


# -- T1D: UVA/Padova, the population prior, the T1D filter (drift) -----------------------------


N_PLAIN = 20  # twins with one reading each, besides the four special cases: a batch of 24,
# large enough that XLA would sum a batch's rows otherwise than one row's (below ~16 it does not)


@pytest.fixture(scope="module")
def t1d():
    model = UVAPadova()
    prior = t1d_population_prior()
    twins = [
        Twin.create(model, prior, key=jax.random.key(10 + i), n=64, method=T1D_FILTER)
        for i in range(4 + N_PLAIN)
    ]
    # twin 2 is ahead of the others (its own current time and version)
    twins[2] = assimilate_with_report(twins[2], observations([5.0], [140.0], "sc_glucose")).twin
    obs = [
        observations([5.0], [120.0], "sc_glucose"),
        observations([5.0, 10.0, 15.0], [150.0, "LO", 135.0], "sc_glucose"),
        observations([10.0, 15.0], [160.0, "HI"], "sc_glucose"),
        observations([5.0], [float("nan")], "sc_glucose"),  # nothing usable: no move
    ] + [observations([5.0], [90.0 + 15.0 * i], "sc_glucose") for i in range(N_PLAIN)]
    regimens = [None, Regimen((meal(3, 40), bolus(3, 4.0))), None, None] + [None] * N_PLAIN
    until = [None, None, 20.0, None] + [None] * N_PLAIN
    one = [
        assimilate_with_report(t, o, r, until=u)
        for t, o, r, u in zip(twins, obs, regimens, until, strict=True)
    ]
    many = assimilate_many(twins, obs, regimens, until=until)
    return twins, one, many


@pytest.mark.slow
def test_t1d_batched_updates_equal_one_by_one(t1d):
    _, one, many = t1d
    assert len(many) == len(one)
    for a, b in zip(one, many, strict=True):
        assert_same_update(a, b)
    # the cases differ as intended: readings used, censored, resampled, moved on to until
    assert [m.report.data.used for m in many[:4]] == [1, 3, 2, 0]
    assert many[1].report.data.censored == 1 and many[2].report.data.censored == 1
    assert many[2].twin.time == 20.0 and many[3].twin.time == 0.0
    assert 1 <= sum(m.report.resampled for m in many[4:]) < N_PLAIN  # some resampled, some not


@pytest.mark.slow
@pytest.mark.skipif(jax.default_backend() != "cpu", reason="bit equality is claimed on CPU")
def test_t1d_batched_updates_are_bit_identical_on_cpu(t1d):
    # Stronger than the 1e-12 contract: on CPU the batched path mirrors how XLA groups (and so
    # rounds) the one-by-one path's operations, so a chain of versions made in batches replays
    # bit for bit one-by-one. A last-bit difference here means that mirroring broke.
    _, one, many = t1d
    for a, b in zip(one, many, strict=True):
        for f in ("params", "states", "log_weights"):
            np.testing.assert_array_equal(
                np.asarray(getattr(b.twin.ensemble, f)), np.asarray(getattr(a.twin.ensemble, f))
            )
        assert a.report == b.report


# slow (about 40 s); tests/unit/loop/test_update_many.py compares batched forecasts too
@pytest.mark.slow
def test_t1d_batched_forecasts_equal_one_by_one(t1d):
    _, one, _ = t1d
    new = [a.twin for a in one]
    plans = [None, None, Regimen((meal(40, 30),))] + [None] * (len(new) - 3)  # one planned meal
    ref = [forecast(t, 30.0, p, every=5.0) for t, p in zip(new, plans, strict=True)]
    got = forecast_many(new, 30.0, plans, every=5.0)
    for a, b in zip(ref, got, strict=True):
        assert_same_forecast(a, b)
    assert got[2].issued_at == 20.0 and got[0].issued_at == 5.0


@pytest.mark.slow
def test_unbatchable_twins_run_one_by_one_and_errors_stay_with_their_twin(t1d):
    twins, _, _ = t1d
    enkf = dataclasses.replace(twins[0], method=EnsembleKalmanFilter())
    obs = observations([5.0], [120.0], "sc_glucose")
    bad = observations([5.0], [1.0], "ketones")
    got = assimilate_many([enkf, twins[1]], [obs, bad], errors="return")
    assert_same_update(assimilate_with_report(enkf, obs), got[0])
    assert isinstance(got[1], DataError) and "ketones" in str(got[1])
    with pytest.raises(DataError, match="ketones"):
        assimilate_many([twins[1]], [bad])
    with pytest.raises(DataError, match="one observations, regimen, until and key per twin"):
        assimilate_many(twins[:2], [obs])


# -- sepsis: Reynolds 2006, SpecPrior, the default particle filter -----------------------------


# slow (about 60 s: compiles the sepsis kernels per batch size); the default run keeps the T1D
# update equality here and tests/unit/loop/test_update_many.py (updates and forecasts)
@pytest.mark.slow
def test_sepsis_batched_updates_and_forecasts_equal_one_by_one():
    model = Reynolds2006()
    prior = SpecPrior(("k_pg", "P0"))
    twins = [Twin.create(model, prior, key=jax.random.key(20 + i), n=64) for i in range(3)]
    obs = [
        observations([0.25, 0.5], [7.3, 7.9], "wbc"),
        # two observables at the same time, then one
        observations([0.25, 0.25, 0.5], [7.1, 0.05, 7.4], ["wbc", "damage", "wbc"]),
        observations([0.5], [8.2], "wbc"),
    ]
    regimens = [None, Regimen((Infusion(0.1, "antibiotic", 1.0, 2.0),)), None]
    method = ParticleFilter(resample_threshold=0.9)
    one = [
        assimilate_with_report(t, o, r, method=method)
        for t, o, r in zip(twins, obs, regimens, strict=True)
    ]
    many = assimilate_many(twins, obs, regimens, method=method)
    for a, b in zip(one, many, strict=True):
        assert_same_update(a, b)
    assert [m.report.data.used for m in many] == [2, 3, 1]
    new = [a.twin for a in one]
    ref = [forecast(t, 1.0, every=0.25) for t in new]
    for a, b in zip(ref, forecast_many(new, 1.0, every=0.25), strict=True):
        assert_same_forecast(a, b)


def test_buckets_round_up_to_powers_of_two_and_their_halves():
    assert [bucket(n) for n in (0, 1, 2, 3, 4, 5, 6, 7, 9, 13, 20, 50)] == [
        1, 1, 2, 3, 4, 6, 6, 8, 12, 16, 24, 64,
    ]  # fmt: skip
