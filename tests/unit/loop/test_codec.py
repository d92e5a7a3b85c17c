"""The stored forecast's packing (``medtwin.loop._codec``): the median and times exactly, every
other quantile within half a step of the step the module documents (``max(IQR, range / 4) /
(2 sqrt(n))`` for ``n`` draws), losslessly when a quantile is not finite, and blobs of the
earlier float64 layout still read."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

from medtwin.forecast import Forecast, draw_quantiles
from medtwin.loop import QUANTILES, forecast_model, pack_forecast, unpack_forecast

NAMES = ("bg", "sc_glucose", "insulin")
LEVELS = (0.5, 0.8, 0.95)
EDGES = [0.5, 0.25, 0.1, 0.025, 0.75, 0.9, 0.975]


def make(draws: np.ndarray, issued: float = 10.0, every: float = 5.0) -> Forecast:
    q = draw_quantiles(draws, EDGES)
    times = issued + every * np.arange(1, draws.shape[2] + 1)
    return Forecast(issued, 3, times, NAMES, LEVELS, q[0], q[1:4], q[4:], draws)


def step_of(draws: np.ndarray) -> np.ndarray:
    """The documented step, computed here from the draws (not by the codec)."""
    q = draw_quantiles(draws, [0.01, 0.25, 0.75, 0.99])
    return np.maximum(q[2] - q[1], (q[3] - q[0]) / 4) / (2 * np.sqrt(draws.shape[0]))


@pytest.mark.parametrize("n", [200, 2000])
def test_quantiles_within_half_a_step_median_and_times_exact(n):
    rng = np.random.default_rng(n)
    draws = rng.normal(150.0, 20.0, (n, 3, 12))
    draws[:, 2] = np.exp(draws[:, 2] / 40.0) * 1e-3  # skewed, tiny values: another scale
    fc = make(draws)
    blob = pack_forecast(fc, "t1d")
    got = unpack_forecast(blob, 3, NAMES, LEVELS)
    np.testing.assert_array_equal(got.median, fc.median)
    np.testing.assert_array_equal(got.times, fc.times)
    assert got.issued_at == fc.issued_at and forecast_model(blob) == "t1d"
    assert got.quantile_levels == tuple(QUANTILES)
    half = step_of(draws) / 2 * (1 + 1e-6)
    exact = draw_quantiles(draws, QUANTILES)
    assert np.all(np.abs(got.draws - exact) <= half)
    assert np.all(np.abs(got.lower - fc.lower) <= half)
    assert np.all(np.abs(got.upper - fc.upper) <= half)
    assert np.all(np.diff(got.draws, axis=0) >= 0)  # still quantiles: they rise with the level
    np.testing.assert_array_equal(got.draws[49], got.median)  # the 50 % level is the median
    # Against the 29.6 KB float64 layout: a few KB (the exact size depends on the draws).
    assert len(blob) < 4096


def test_irregular_times_are_kept_exactly():
    draws = np.random.default_rng(1).normal(100.0, 10.0, (200, 3, 4))
    fc = make(draws)
    fc = Forecast(fc.issued_at, 3, np.array([10.1, 15.3, 21.7, 30.0]), NAMES, LEVELS,
                  fc.median, fc.lower, fc.upper, draws)  # fmt: skip
    got = unpack_forecast(pack_forecast(fc, "t1d"), 3, NAMES, LEVELS)
    np.testing.assert_array_equal(got.times, fc.times)


def test_a_constant_forecast_is_exact():
    fc = make(np.full((200, 3, 6), 5.5))
    got = unpack_forecast(pack_forecast(fc, "m"), 0, NAMES, LEVELS)
    assert np.all(got.draws == 5.5) and np.all(got.lower == 5.5) and np.all(got.upper == 5.5)


def test_a_non_finite_quantile_keeps_the_forecast_lossless():
    draws = np.random.default_rng(2).normal(100.0, 10.0, (200, 3, 6))
    draws[:, 1, 2] = np.nan  # every draw of one target failed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fc = make(draws)
        got = unpack_forecast(pack_forecast(fc, "t1d"), 3, NAMES, LEVELS)
        exact = np.nanquantile(draws, QUANTILES, axis=0)
    np.testing.assert_array_equal(got.draws, exact)
    np.testing.assert_array_equal(got.lower, fc.lower)


def test_blobs_of_the_earlier_layout_still_read():
    draws = np.random.default_rng(3).normal(100.0, 10.0, (200, 3, 6))
    fc = make(draws)
    buf = io.BytesIO()  # the float64 npz a store wrote before forecasts were packed
    np.savez_compressed(buf, issued_at=np.float64(fc.issued_at), times=fc.times,
                        median=fc.median, lower=fc.lower, upper=fc.upper,
                        quantiles=draw_quantiles(draws, QUANTILES))  # fmt: skip
    got = unpack_forecast(buf.getvalue(), 3, NAMES, LEVELS)
    np.testing.assert_array_equal(got.draws, draw_quantiles(draws, QUANTILES))
    assert forecast_model(buf.getvalue()) is None
