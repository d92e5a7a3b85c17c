"""Unit tests of medtwin.models.glucose.cgm: sampling, delay, limits, keys, noise statistics."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.errors import ModelError
from medtwin.models.glucose import CGM_PRESETS, CGMReadings, CGMSensor, cgm_preset

jax.config.update("jax_enable_x64", True)  # before any array is made

# Breton & Kovatchev 2008 Johnson SU parameters (the CGMSensor defaults).
PACF, GAMMA, LAM, DELTA, XI = 0.7, -0.5444, 15.9574, 1.6898, -5.47

DAY = np.arange(0.0, 1441.0)  # one day on the 1-minute model grid
SMOOTH = 140.0 + 60.0 * np.sin(DAY / 180.0)  # 80..200 mg/dL, inside the reporting range
WIDE = {"min_value": -1e6, "max_value": 1e6}  # no clipping: look at the noise itself


def johnson_su_moments(xi: float, lam: float, gamma: float, delta: float) -> tuple[float, float]:
    """Mean and sd of X = xi + lam * sinh(Y), Y = (Z - gamma) / delta, Z ~ N(0, 1).

    Y ~ N(a, s^2) with a = -gamma/delta, s = 1/delta, and E[exp(kY)] = exp(k a + k^2 s^2 / 2), so
      E[sinh Y]   = (E[e^Y] - E[e^-Y]) / 2 = exp(s^2/2) sinh(a)
      E[sinh^2 Y] = (E[cosh 2Y] - 1) / 2   = (exp(2 s^2) cosh(2a) - 1) / 2
      Var[sinh Y] = E[sinh^2 Y] - E[sinh Y]^2; with w = exp(s^2) and sinh^2 a = (cosh 2a - 1)/2
                  = (w^2 cosh 2a - 1 - w cosh 2a + w) / 2 = (w - 1)(w cosh 2a + 1) / 2.
    """
    a, w = -gamma / delta, math.exp(1.0 / delta**2)
    mean = xi + lam * math.sqrt(w) * math.sinh(a)
    var = lam**2 * (w - 1.0) * (w * math.cosh(2.0 * a) + 1.0) / 2.0
    return mean, math.sqrt(var)


def test_sample_times_every_sample_time_within_the_series() -> None:
    r = CGMSensor(noise=False).measure(jax.random.key(0), DAY, SMOOTH)
    assert isinstance(r, CGMReadings)
    np.testing.assert_array_equal(r.times, np.arange(0.0, 1441.0, 5.0))
    assert r.values.shape == (289,) and r.censored.shape == (289,)
    assert r.censored.dtype == jnp.int8
    # Shifted grid, span not a multiple of the sample time: t0 + k*7 <= t_end.
    r = CGMSensor(sample_time=7.0, noise=False).measure(
        jax.random.key(0), DAY[:30] + 100.0, SMOOTH[:30]
    )
    np.testing.assert_array_equal(r.times, [100.0, 107.0, 114.0, 121.0, 128.0])  # grid ends at 129


def test_noise_free_without_delay_reads_the_input_exactly() -> None:
    r = CGMSensor(noise=False).measure(jax.random.key(0), DAY, SMOOTH)
    np.testing.assert_array_equal(r.values, SMOOTH[::5])
    np.testing.assert_array_equal(r.censored, 0)


def test_delay_shifts_a_ramp_by_exactly_the_delay() -> None:
    ramp = 100.0 + 1.0 * DAY  # 1 mg/dL/min
    r = CGMSensor(noise=False, delay=10.0, max_value=2000.0).measure(None, DAY, ramp)
    expected = 100.0 + np.maximum(r.times - 10.0, 0.0)  # first value held before the start
    np.testing.assert_array_equal(r.values, expected)
    np.testing.assert_array_equal(r.values[2:] - ramp[::5][2:], -10.0)
    # A delay between grid points interpolates linearly.
    r = CGMSensor(noise=False, delay=2.5, max_value=2000.0).measure(None, DAY, ramp)
    np.testing.assert_allclose(r.values[1:], ramp[::5][1:] - 2.5, rtol=0, atol=1e-12)


def test_clipping_and_censored_flags() -> None:
    t = np.arange(6.0)
    g = np.array([20.0, 39.0, 39.5, 200.0, 400.0, 450.0])
    r = CGMSensor(sample_time=1.0, noise=False).measure(None, t, g)
    np.testing.assert_array_equal(r.values, [39.0, 39.0, 39.5, 200.0, 400.0, 400.0])
    np.testing.assert_array_equal(r.censored, [-1, 0, 0, 0, 0, 1])
    # A sensor gap (NaN) stays NaN and is not censored.
    r = CGMSensor(sample_time=1.0).measure(jax.random.key(1), t, np.where(t == 2, np.nan, g))
    assert np.isnan(r.values[2]) and r.censored[2] == 0
    assert np.all(np.isfinite(np.delete(np.asarray(r.values), 2)))


def test_noisy_readings_stay_in_range_and_flag_censoring() -> None:
    g = np.full((200, DAY.size), 45.0)  # near LO: noise pushes some below 39
    r = CGMSensor().measure(jax.random.key(3), DAY, g)
    v, c = np.asarray(r.values), np.asarray(r.censored)
    assert v.min() == 39.0 and v.max() <= 400.0
    assert np.all((c == -1) == (v == 39.0)) and np.any(c == -1) and not np.any(c == 1)


def test_same_key_same_readings_different_key_different() -> None:
    sensor = CGMSensor()
    a = sensor.measure(jax.random.key(7), DAY, SMOOTH)
    b = sensor.measure(jax.random.key(7), DAY, SMOOTH)
    c = sensor.measure(jax.random.key(8), DAY, SMOOTH)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.any(np.asarray(a.values) == np.asarray(c.values))


def test_batch_members_get_independent_noise() -> None:
    g = np.broadcast_to(SMOOTH, (4, 3, DAY.size))
    r = CGMSensor(**WIDE).measure(jax.random.key(11), DAY, g)
    assert r.values.shape == (4, 3, 289) and r.censored.shape == (4, 3, 289)
    noise = np.asarray(r.values - SMOOTH[::5]).reshape(12, 289)
    corr = np.corrcoef(noise)[np.triu_indices(12, 1)]
    assert len({tuple(row) for row in noise}) == 12
    # Independent AR(1) series of 289 samples (n_eff ~ 289/17): |corr| is mostly well below 0.8.
    assert np.max(np.abs(corr)) < 0.8 and abs(corr.mean()) < 0.15


def test_works_under_jit() -> None:
    sensor = CGMSensor(delay=3.0)
    g = np.stack([SMOOTH, SMOOTH + 20.0])
    eager = sensor.measure(jax.random.key(5), DAY, g)
    jitted = jax.jit(sensor.measure)(jax.random.key(5), jnp.asarray(DAY), jnp.asarray(g))
    np.testing.assert_array_equal(jitted.times, eager.times)
    np.testing.assert_allclose(jitted.values, eager.values, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(jitted.censored, eager.censored)


def test_noise_has_the_johnson_su_stationary_distribution() -> None:
    # 2,000 members x 100 readings = 200,000 noise samples at 5-minute sampling.
    n_members, n_samples = 2000, 100
    t = np.arange(0.0, 5.0 * (n_samples - 1) + 1.0)
    r = CGMSensor(**WIDE).measure(jax.random.key(2008), t, np.full((n_members, t.size), 150.0))
    noise = np.asarray(r.values) - 150.0
    assert noise.shape == (n_members, n_samples)
    mean, sd = johnson_su_moments(XI, LAM, GAMMA, DELTA)  # 0.762, 12.06 mg/dL
    assert mean == pytest.approx(0.7617, abs=1e-3) and sd == pytest.approx(12.06, abs=1e-2)
    # Tolerance: the per-sample autocorrelation 0.7**(1/3) = 0.888 cuts the effective sample size
    # by ~(1 + 0.888) / (1 - 0.888) = 17, to ~12,000, so the standard error of the mean is
    # ~12.06 / sqrt(12,000) = 0.11 mg/dL; we allow 0.5 mg/dL (4.5 SE) and 3 % on the sd.
    assert abs(noise.mean() - mean) < 0.5
    assert abs(noise.std() / sd - 1.0) < 0.03
    # Every sample (the first included) has the stationary law: no warm-up transient.
    assert abs(noise[:, 0].mean() - mean) < 5 * sd / math.sqrt(n_members)

    # The Gaussian AR(1) behind it: invert the Johnson SU transform.
    e = GAMMA + DELTA * np.arcsinh((noise - XI) / LAM)
    assert abs(e.mean()) < 0.05 and abs(e.std() - 1.0) < 0.02

    def autocorr(lag: int) -> float:
        return float(np.corrcoef(e[:, :-lag].ravel(), e[:, lag:].ravel())[0, 1])

    assert autocorr(3) == pytest.approx(PACF, abs=0.02)  # 15 min
    assert autocorr(1) == pytest.approx(PACF ** (1 / 3), abs=0.02)  # 5 min
    assert autocorr(6) == pytest.approx(PACF**2, abs=0.02)  # 30 min


def test_autocorrelation_per_sample_follows_sample_time() -> None:
    assert CGMSensor(sample_time=15.0).rho == pytest.approx(0.7)
    assert CGMSensor(sample_time=5.0).rho == pytest.approx(0.7 ** (1 / 3))
    assert CGMSensor(sample_time=1.0, pacf=0.0).rho == 0.0


def test_presets_match_simglucose_sensor_params() -> None:
    assert set(CGM_PRESETS) == {"Dexcom", "GuardianRT", "Navigator"}
    for name, sample_time in (("Dexcom", 3.0), ("GuardianRT", 5.0), ("Navigator", 1.0)):
        s = cgm_preset(name)
        assert s.sample_time == sample_time
        assert (s.pacf, s.gamma, s.lam, s.delta, s.xi) == (PACF, GAMMA, LAM, DELTA, XI)
        assert (s.min_value, s.max_value) == (39.0, 400.0)
    assert cgm_preset("Dexcom", delay=5.0, noise=False).delay == 5.0
    with pytest.raises(ModelError, match="GuardianRT"):
        cgm_preset("Libre")


@pytest.mark.parametrize(
    "field, value",
    [("sample_time", 0.0), ("delay", -1.0), ("pacf", 1.0), ("delta", 0.0), ("max_value", 39.0)],
)
def test_invalid_configuration_raises(field: str, value: float) -> None:
    with pytest.raises(ModelError, match=field):
        CGMSensor(**{field: value})


def test_shape_and_grid_errors() -> None:
    with pytest.raises(ModelError, match="PRNG key"):
        CGMSensor().measure(None, DAY, SMOOTH)
    sensor = CGMSensor(noise=False)
    with pytest.raises(ModelError, match="shape"):
        sensor.measure(None, DAY, SMOOTH[:-1])
    two_min = np.arange(0.0, 61.0, 2.0)
    with pytest.raises(ModelError, match="grid_dt"):
        sensor.measure(None, two_min, 100.0 + two_min)
    r = sensor.measure(None, two_min, 100.0 + two_min, grid_dt=2.0)
    np.testing.assert_array_equal(r.times, np.arange(0.0, 61.0, 5.0))
    np.testing.assert_allclose(r.values, 100.0 + r.times, rtol=0, atol=1e-12)
