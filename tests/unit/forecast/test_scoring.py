"""Unit tests of medtwin.forecast.scoring: hand values, closed forms, brute force, NaN, jit/vmap."""

from __future__ import annotations

import math
from statistics import NormalDist

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ndtri

import medtwin.forecast as forecast
from medtwin.errors import DataError
from medtwin.forecast import (
    Coverage,
    central_interval,
    coverage,
    coverage_drift,
    coverage_interval,
    crps_ensemble,
    interval_covered,
    interval_score,
    mae,
    mard,
    pit,
    rmse,
)

jax.config.update("jax_enable_x64", True)  # before any array is made

NAN = float("nan")
STD_NORMAL = NormalDist()


def gaussian_crps(mu: float, s: float, y: float) -> float:
    """CRPS(N(mu, s^2), y) = s [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)], z = (y - mu) / s.

    Gneiting & Raftery 2007, eq. 5; written out independently of the module.
    """
    z = (y - mu) / s
    return s * (
        z * (2.0 * STD_NORMAL.cdf(z) - 1.0) + 2.0 * STD_NORMAL.pdf(z) - 1.0 / math.sqrt(math.pi)
    )


def brute_crps(x: np.ndarray, y: float, fair: bool = False) -> float:
    """O(m^2) ensemble CRPS straight from the definition (NaN draws dropped)."""
    x = x[~np.isnan(x)]
    m = x.size
    accuracy = np.mean(np.abs(x - y))
    pair_sum = np.sum(np.abs(x[:, None] - x[None, :]))
    denom = m * (m - 1) if fair else m * m
    spread = 0.0 if denom == 0 else pair_sum / (2.0 * denom)
    return float(accuracy - spread)


# --------------------------------------------------------------------------- CRPS


def test_crps_hand_values() -> None:
    # draws [1, 2, 3], y = 2: E|X - y| = (1 + 0 + 1)/3 = 2/3;
    # sum_{i,j} |x_i - x_j| = 2 (1 + 2 + 1) = 8.
    # standard: 2/3 - 8 / (2 * 9) = 2/9; fair: 2/3 - 8 / (2 * 3 * 2) = 0.
    assert float(crps_ensemble([1.0, 2.0, 3.0], 2.0)) == pytest.approx(2.0 / 9.0, abs=1e-15)
    assert float(crps_ensemble([1.0, 2.0, 3.0], 2.0, fair=True)) == pytest.approx(0.0, abs=1e-15)
    # A single draw scores |x - y| in both forms.
    assert float(crps_ensemble([5.0], 2.0)) == pytest.approx(3.0)
    assert float(crps_ensemble([5.0], 2.0, fair=True)) == pytest.approx(3.0)
    # A point ensemble scores |x - y| too; a perfect one scores 0.
    assert float(crps_ensemble([4.0, 4.0, 4.0], 1.0)) == pytest.approx(3.0)
    assert float(crps_ensemble([4.0, 4.0], 4.0)) == 0.0


def test_crps_matches_gaussian_closed_form_with_200k_random_draws() -> None:
    # Monte Carlo: 200k draws of N(100, 15^2) give about 0.4 % error at worst here (standard
    # form; its bias E|X - X'| / (2m) ~ 4e-5 is negligible). Tolerance: 1 % relative.
    mu, s = 100.0, 15.0
    ys = np.array([mu - 2 * s, mu - 0.5 * s, mu, mu + s, mu + 3 * s])
    draws = np.random.default_rng(20240611).normal(mu, s, 200_000)
    got = np.asarray(crps_ensemble(draws[None, :], ys))  # draws broadcast over 5 targets
    expected = np.array([gaussian_crps(mu, s, y) for y in ys])
    assert got.shape == (5,)
    np.testing.assert_allclose(got, expected, rtol=0.01)


def test_crps_of_gaussian_quantile_ensemble_is_close_to_closed_form() -> None:
    # Deterministic stratified ensemble x_i = mu + s Phi^-1((i - 1/2)/m), m = 20000: the error
    # is ~2e-8 relative; tolerance 1e-6.
    mu, s, m = 100.0, 15.0, 20_000
    draws = mu + s * ndtri((np.arange(1, m + 1) - 0.5) / m)
    ys = np.array([40.0, 91.0, 100.0, 130.0])
    expected = np.array([gaussian_crps(mu, s, y) for y in ys])
    np.testing.assert_allclose(np.asarray(crps_ensemble(draws, ys)), expected, rtol=1e-6)


@pytest.mark.parametrize("fair", [False, True])
@pytest.mark.parametrize("m", [1, 2, 3, 7, 40])
def test_crps_equals_brute_force_on_small_ensembles(m: int, fair: bool) -> None:
    rng = np.random.default_rng(m)
    draws = rng.normal(120.0, 30.0, size=(6, m))
    draws[1] = np.round(draws[1])  # ties
    ys = rng.normal(120.0, 40.0, size=6)
    ys[2] = draws[2, 0]  # observation equal to a draw
    got = np.asarray(crps_ensemble(draws, ys, fair=fair))
    expected = np.array([brute_crps(draws[b], ys[b], fair) for b in range(6)])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_crps_drops_nan_draws_and_skips_unobserved_targets() -> None:
    rng = np.random.default_rng(7)
    draws = rng.normal(0.0, 1.0, size=(4, 9))
    draws[0, [1, 4, 8]] = NAN
    draws[2, :] = NAN  # no valid draw
    ys = np.array([0.3, NAN, 0.1, -0.7])
    for fair in (False, True):
        got = np.asarray(crps_ensemble(draws, ys, fair=fair))
        assert got[0] == pytest.approx(brute_crps(draws[0], 0.3, fair), abs=1e-12)
        assert np.isnan(got[1])  # not observed
        assert np.isnan(got[2])  # no draws
        assert got[3] == pytest.approx(brute_crps(draws[3], -0.7, fair), abs=1e-12)


def test_crps_batch_axes_and_integer_input() -> None:
    rng = np.random.default_rng(3)
    draws = rng.normal(size=(2, 3, 11))
    ys = rng.normal(size=(2, 3))
    got = np.asarray(crps_ensemble(draws, ys))
    assert got.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert got[i, j] == pytest.approx(brute_crps(draws[i, j], ys[i, j]), abs=1e-12)
    # Integers become floats: [1, 2, 3] vs 2 -> 2/9.
    assert float(crps_ensemble(np.array([1, 2, 3]), 2)) == pytest.approx(2.0 / 9.0)


def test_crps_jit_vmap_and_gradient() -> None:
    rng = np.random.default_rng(11)
    draws = jnp.asarray(rng.normal(size=(5, 13)))
    ys = jnp.asarray(rng.normal(size=5))
    eager = crps_ensemble(draws, ys)
    np.testing.assert_allclose(jax.jit(crps_ensemble)(draws, ys), eager, rtol=1e-14)
    np.testing.assert_allclose(jax.vmap(crps_ensemble)(draws, ys), eager, rtol=1e-14)
    # dCRPS/dy = 2 F(y) - 1 between draws: draws [1, 2, 3, 4], y = 1.5 -> F = 1/4 -> -0.5.
    grad = jax.grad(crps_ensemble, argnums=1)(jnp.array([1.0, 2.0, 3.0, 4.0]), 1.5)
    assert float(grad) == pytest.approx(-0.5)
    # NaN draws and observations do not poison the gradient of the other targets.
    d = jnp.array([[1.0, NAN, 3.0], [0.0, 1.0, 2.0]])
    g = jax.grad(lambda x: jnp.nansum(crps_ensemble(x, jnp.array([2.0, NAN]))))(d)
    assert np.all(np.isfinite(np.asarray(g)))


# --------------------------------------------------------------------------- PIT


def test_pit_hand_values_mid_rank() -> None:
    draws = [1.0, 2.0, 3.0, 4.0]
    assert float(pit(draws, 2.5)) == 0.5
    assert float(pit(draws, 2.0)) == pytest.approx(1.5 / 4.0)  # one below, one tie
    assert float(pit(draws, 0.0)) == 0.0
    assert float(pit(draws, 5.0)) == 1.0
    assert float(pit([2.0, 2.0, 2.0, 2.0], 2.0)) == 0.5  # all tied -> mid-point
    assert float(pit([1.0, NAN, 3.0], 2.0)) == 0.5  # NaN draw dropped
    got = np.asarray(pit([[1.0, 2.0], [NAN, NAN]], [NAN, 1.0]))
    assert np.isnan(got).all()  # not observed / no valid draw


def test_pit_of_calibrated_forecast_is_uniform() -> None:
    rng = np.random.default_rng(5)
    draws = rng.normal(size=(4000, 99))
    ys = rng.normal(size=4000)
    values = np.asarray(jax.jit(pit)(draws, ys))
    counts, _ = np.histogram(values, bins=5, range=(0.0, 1.0))
    # Each bin expects 800; binomial sd ~ 25; allow 5 sd.
    assert np.all(np.abs(counts - 800) < 125), counts
    np.testing.assert_allclose(jax.vmap(pit)(draws, ys), values, rtol=0, atol=0)


# --------------------------------------------------------------------------- intervals


def test_central_interval_linear_quantiles() -> None:
    draws = np.arange(101.0)  # quantile q of 0..100 (linear) is 100 q
    lo, hi = central_interval(draws, 0.8)
    assert (float(lo), float(hi)) == pytest.approx((10.0, 90.0))
    lo, hi = central_interval(draws, [0.5, 0.8, 0.95])
    np.testing.assert_allclose(lo, [25.0, 10.0, 2.5], rtol=1e-14)
    np.testing.assert_allclose(hi, [75.0, 90.0, 97.5], rtol=1e-14)
    # [0, 1, 2, 3], level 0.5: positions 3 * 0.25 = 0.75 and 3 * 0.75 = 2.25; NaN dropped.
    lo, hi = central_interval([0.0, NAN, 1.0, 2.0, 3.0], 0.5)
    assert (float(lo), float(hi)) == pytest.approx((0.75, 2.25))


def test_central_interval_batch_axes_levels_last() -> None:
    rng = np.random.default_rng(9)
    draws = rng.normal(size=(2, 3, 50))
    levels = [0.5, 0.8, 0.95]
    lo, hi = central_interval(draws, levels)
    assert lo.shape == hi.shape == (2, 3, 3)
    for k, level in enumerate(levels):
        np.testing.assert_allclose(lo[..., k], np.quantile(draws, (1 - level) / 2, axis=-1))
        np.testing.assert_allclose(hi[..., k], np.quantile(draws, (1 + level) / 2, axis=-1))
    # Nested bands.
    assert np.all(np.diff(np.asarray(lo), axis=-1) <= 0)
    assert np.all(np.diff(np.asarray(hi), axis=-1) >= 0)
    # jit with a traced level, and vmap.
    jlo, _ = jax.jit(central_interval)(draws, jnp.asarray(levels))
    np.testing.assert_allclose(jlo, lo, rtol=1e-14)
    vlo, _ = jax.vmap(lambda d: central_interval(d, 0.8))(draws.reshape(6, 50))
    np.testing.assert_allclose(vlo.reshape(2, 3), lo[..., 1], rtol=1e-14)
    # All-NaN ensemble -> NaN ends.
    lo, hi = central_interval([NAN, NAN], 0.8)
    assert np.isnan(float(lo)) and np.isnan(float(hi))


def test_interval_covered_and_coverage_hand_values() -> None:
    obs = np.array([-1.0, 0.0, 5.0, 10.0, 11.0, NAN])  # ends are inside (closed interval)
    covered = np.asarray(interval_covered(0.0, 10.0, obs))
    np.testing.assert_array_equal(covered[:5], [0.0, 1.0, 1.0, 1.0, 0.0])
    assert np.isnan(covered[5])
    cov = coverage(np.zeros(6), np.full(6, 10.0), obs)
    assert isinstance(cov, Coverage)
    assert (float(cov.fraction), int(cov.k), int(cov.n)) == (pytest.approx(0.6), 3, 5)


def test_coverage_batch_axes_and_empty_rows() -> None:
    obs = np.array([[1.0, 2.0, 3.0, 4.0], [NAN, NAN, NAN, NAN], [0.0, 9.0, NAN, 2.5]])
    lower, upper = np.full((3, 4), 1.5), np.full((3, 4), 3.5)
    cov = coverage(lower, upper, obs)
    np.testing.assert_array_equal(cov.k, [2, 0, 1])
    np.testing.assert_array_equal(cov.n, [4, 0, 3])
    np.testing.assert_allclose(np.asarray(cov.fraction)[[0, 2]], [0.5, 1.0 / 3.0])
    assert np.isnan(cov.fraction[1])
    pooled = coverage(lower, upper, obs, axis=None)
    assert (int(pooled.k), int(pooled.n)) == (3, 7)
    assert float(pooled.fraction) == pytest.approx(3.0 / 7.0)
    by_col = coverage(lower, upper, obs, axis=0)
    np.testing.assert_array_equal(by_col.n, [2, 2, 1, 2])
    jitted = jax.jit(coverage)(lower, upper, obs)
    np.testing.assert_array_equal(jitted.k, cov.k)
    # Intervals with levels last against observations broadcast with [..., None].
    lo, hi = central_interval(np.arange(101.0), [0.5, 0.8])
    cov = coverage(lo, hi, np.array([20.0])[..., None], axis=0)
    np.testing.assert_array_equal(cov.k, [0, 1])


# --------------------------------------------------------------------------- Wilson / drift


def test_wilson_interval_k80_n100_by_hand() -> None:
    k, n, conf = 80, 100, 0.95
    z = STD_NORMAL.inv_cdf(0.975)  # 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = coverage_interval(k, n, conf)
    assert float(low) == pytest.approx(centre - half, abs=1e-12)
    assert float(high) == pytest.approx(centre + half, abs=1e-12)
    assert (float(low), float(high)) == pytest.approx((0.71117, 0.86663), abs=1e-5)


def test_wilson_interval_edges() -> None:
    low, high = coverage_interval(jnp.array([0, 10, 0]), jnp.array([10, 10, 0]))
    assert float(low[0]) == 0.0 and 0.0 < float(high[0]) < 0.35
    assert 0.65 < float(low[1]) < 1.0 and float(high[1]) == pytest.approx(1.0)
    assert (float(low[2]), float(high[2])) == (0.0, 1.0)  # n = 0: no evidence
    # Higher confidence -> wider interval.
    l95, h95 = coverage_interval(80, 100, 0.95)
    l99, h99 = coverage_interval(80, 100, 0.99)
    assert float(l99) < float(l95) and float(h99) > float(h95)


def test_coverage_drift_flags() -> None:
    assert bool(coverage_drift(60, 200, 0.8))  # 30 % observed vs 80 % nominal
    assert not bool(coverage_drift(160, 200, 0.8))  # exactly nominal
    flags = coverage_drift(jnp.array([60, 160, 199, 0]), jnp.array([200, 200, 200, 0]), 0.8)
    np.testing.assert_array_equal(flags, [True, False, True, False])  # 199/200: too wide
    jflags = jax.jit(coverage_drift)(jnp.array([60, 160]), jnp.array([200, 200]), 0.8)
    np.testing.assert_array_equal(jflags, [True, False])


# --------------------------------------------------------------------------- interval score


def test_interval_score_hand_values() -> None:
    # [0, 10] at level 0.8: alpha = 0.2, 2/alpha = 10.
    obs = np.array([5.0, -1.0, 12.0, NAN])
    got = np.asarray(interval_score(0.0, 10.0, obs, 0.8))
    np.testing.assert_allclose(got[:3], [10.0, 20.0, 30.0], rtol=1e-14)
    assert np.isnan(got[3])
    # Levels last, broadcast: level 0.5 -> 2/alpha = 4, 0.95 -> 40; y = 12 misses by 2.
    got = interval_score(np.array([0.0, 0.0]), np.array([10.0, 10.0]), 12.0, [0.5, 0.95])
    np.testing.assert_allclose(got, [10.0 + 8.0, 10.0 + 80.0], rtol=1e-12)
    np.testing.assert_allclose(
        jax.jit(interval_score)(0.0, 10.0, obs[:3], 0.8), [10.0, 20.0, 30.0], rtol=1e-14
    )


# --------------------------------------------------------------------------- point errors


def test_point_errors_hand_values() -> None:
    assert float(mard([110.0, 90.0], [100.0, 100.0])) == pytest.approx(10.0)
    assert float(mae([110.0, 90.0], [100.0, 100.0])) == pytest.approx(10.0)
    assert float(rmse([110.0, 90.0], [100.0, 100.0])) == pytest.approx(10.0)
    # [110, 150] vs [100, 200]: rel 10 % and 25 % -> 17.5 %; mae (10 + 50)/2 = 30;
    # rmse sqrt((100 + 2500)/2) = sqrt(1300).
    pred, obs = [110.0, 150.0], [100.0, 200.0]
    assert float(mard(pred, obs)) == pytest.approx(17.5)
    assert float(mae(pred, obs)) == pytest.approx(30.0)
    assert float(rmse(pred, obs)) == pytest.approx(math.sqrt(1300.0))


def test_point_errors_skip_nan_pairs_and_batch() -> None:
    pred = np.array([[110.0, NAN, 150.0, 80.0], [NAN, NAN, NAN, NAN]])
    obs = np.array([[100.0, 100.0, 200.0, NAN], [100.0, 100.0, 100.0, 100.0]])
    got = np.asarray(mard(pred, obs))
    assert got[0] == pytest.approx(17.5) and np.isnan(got[1])
    assert float(mae(pred, obs)[0]) == pytest.approx(30.0)
    assert float(rmse(pred, obs)[0]) == pytest.approx(math.sqrt(1300.0))
    assert float(mae(pred, obs, axis=None)) == pytest.approx(30.0)
    by_col = np.asarray(mae(pred, obs, axis=0))
    np.testing.assert_allclose(by_col[[0, 2]], [10.0, 50.0])
    assert np.isnan(by_col[1]) and np.isnan(by_col[3])
    for fn in (mard, mae, rmse):
        np.testing.assert_allclose(jax.jit(fn)(pred, obs), fn(pred, obs), rtol=1e-14)
        np.testing.assert_allclose(jax.vmap(fn)(pred, obs), fn(pred, obs), rtol=1e-14)
    g = jax.grad(lambda p: jnp.nansum(mard(p, obs)))(jnp.asarray(pred))
    assert np.all(np.isfinite(np.asarray(g)))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("level", [0.0, 1.0, 80.0, -0.1, [0.5, 1.2], NAN])
def test_bad_level_raises_data_error(level: object) -> None:
    with pytest.raises(DataError, match="between 0 and 1"):
        central_interval(np.arange(10.0), level)
    with pytest.raises(DataError, match="between 0 and 1"):
        interval_score(0.0, 1.0, 0.5, level)


def test_bad_inputs_raise_data_error() -> None:
    with pytest.raises(DataError, match="last axis"):
        crps_ensemble(3.0, 1.0)  # no draw axis
    with pytest.raises(DataError, match="n_draws >= 1"):
        pit(np.zeros((3, 0)), np.zeros(3))
    with pytest.raises(DataError, match="broadcast"):
        crps_ensemble(np.zeros((1000, 5)), np.zeros(5))  # draws on the wrong axis
    with pytest.raises(DataError, match="numeric"):
        crps_ensemble(np.array(["a", "b"]), 1.0)
    with pytest.raises(DataError, match="scalar or a 1-D"):
        central_interval(np.arange(10.0), [[0.5, 0.8]])
    with pytest.raises(DataError, match="0 <= k <= n"):
        coverage_interval(120, 100)
    with pytest.raises(DataError, match="0 <= k <= n"):
        coverage_drift(-1, 100, 0.8)
    with pytest.raises(DataError, match="between 0 and 1"):
        coverage_interval(80, 100, conf=95.0)
    with pytest.raises(DataError, match="between 0 and 1"):
        coverage_drift(80, 100, nominal=80)
    with pytest.raises(DataError, match="matching"):
        coverage(np.zeros(3), np.ones(4), np.zeros(3))
    with pytest.raises(DataError, match="matching"):
        mard(np.ones(3), np.ones(2))


def test_public_names() -> None:
    assert set(forecast.__all__) >= {
        "Coverage",
        "central_interval",
        "coverage",
        "coverage_drift",
        "coverage_interval",
        "crps_ensemble",
        "interval_covered",
        "interval_score",
        "mae",
        "mard",
        "pit",
        "rmse",
    }
    for name in forecast.__all__:
        assert hasattr(forecast, name)
