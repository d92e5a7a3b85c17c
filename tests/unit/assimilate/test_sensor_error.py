"""The sensor's autocorrelated error as a particle state (medtwin.assimilate._sensor): its
conditional density is the sensor model's (against the derivative of its distribution function
and by integrating to one), a particle at the truth sees calibrated one-step bands on the
sensor's own noise, censored readings score their tail, and the state travels with an
ensemble through the store's codec."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import ndtr

from medtwin.assimilate import Ensemble, ParticleFilter, SensorError
from medtwin.assimilate._sensor import sensor_band_pit, sensor_weight
from medtwin.loop._codec import pack_ensemble, unpack_ensemble
from medtwin.models.glucose.cgm import CGMSensor

ERR = SensorError.of(CGMSensor())
KEY = jax.random.key(0)


def _cdf(value, pred, e_prev, dt, first):
    """P(reading <= value): the Gaussian AR(1) conditional through the inverse transform."""
    r = 0.0 if first else ERR.pacf ** (dt / ERR.step)
    return ndtr((ERR.latent(value - pred) - r * e_prev) / np.sqrt(1 - r**2))


@pytest.mark.parametrize("first", [True, False])
def test_the_density_is_the_sensor_models(first):
    pred = jnp.array([90.0, 120.0, 200.0])
    e_prev = jnp.array([-1.2, 0.3, 2.0])
    for value in (70.0, 118.0, 131.5, 240.0):
        ll, e = sensor_weight(ERR, pred, value, 0, e_prev, 5.0, first, KEY)
        h = 1e-4
        fd = (_cdf(value + h, pred, e_prev, 5.0, first) - _cdf(value - h, pred, e_prev, 5.0,
                                                                first)) / (2 * h)  # fmt: skip
        np.testing.assert_allclose(np.exp(ll), fd, rtol=1e-6, atol=1e-10)  # central difference
        np.testing.assert_allclose(e, ERR.latent(value - pred), rtol=1e-12)
    # and it integrates to one over the readings (trapezoid on a fine grid)
    grid = jnp.linspace(-200.0, 600.0, 160_001)
    ll, _ = jax.vmap(lambda v: sensor_weight(ERR, pred, v, 0, e_prev, 5.0, first, KEY))(grid)
    mass = np.trapezoid(np.exp(np.asarray(ll)), np.asarray(grid), axis=0)
    np.testing.assert_allclose(mass, 1.0, atol=1e-6)


def test_a_particle_at_the_truth_sees_calibrated_bands_on_the_sensors_own_noise():
    """One-step 95 % bands cover 95 % of readings (3,000 readings: +- 1.5 points is about 3.8
    binomial sd) and the PIT is uniform (every decile within 2 points of 10 %)."""
    sensor = CGMSensor()
    noise = sensor.noise_sequence(jax.random.key(3), (1,), 3000)[0]
    truth = 120.0 + 30.0 * jnp.sin(jnp.arange(3000) / 40.0)
    readings = truth + noise

    def step(e_prev, x):
        k, g, y = x
        first = k == 0
        pit = sensor_band_pit(ERR, g[None], jnp.zeros(1), y, e_prev, 5.0, first)
        _, e = sensor_weight(ERR, g[None], y, 0, e_prev, 5.0, first, KEY)
        return e, pit

    _, pit = jax.lax.scan(step, jnp.zeros(1), (jnp.arange(3000), truth, readings))
    pit = np.asarray(pit)
    inside = np.mean((pit >= 0.025) & (pit <= 0.975))
    assert abs(inside - 0.95) < 0.015, inside
    deciles = np.histogram(pit, bins=10, range=(0, 1))[0] / pit.size
    assert np.all(np.abs(deciles - 0.1) < 0.02), deciles


def test_censored_readings_score_their_tail_and_draw_the_state_from_it():
    pred = jnp.array([45.0, 60.0, 100.0])
    e_prev = jnp.array([0.0, -1.0, 1.0])
    ll, e = sensor_weight(ERR, pred, 40.0, -1, e_prev, 5.0, False, KEY)
    np.testing.assert_allclose(np.exp(ll), _cdf(40.0, pred, e_prev, 5.0, False), rtol=1e-10)
    assert np.all(np.asarray(e) <= np.asarray(ERR.latent(40.0 - pred)) + 1e-12)
    ll, e = sensor_weight(ERR, pred, 400.0, 1, e_prev, 5.0, False, KEY)
    r = ERR.pacf ** (5.0 / ERR.step)
    z = (ERR.latent(400.0 - pred) - r * e_prev) / np.sqrt(1 - r**2)
    np.testing.assert_allclose(ll, np.log(ndtr(-z)), rtol=1e-10)  # far in the tail
    assert np.all(np.asarray(e) >= np.asarray(ERR.latent(400.0 - pred)) - 1e-12)


def test_a_filter_takes_a_sensor_or_a_tempered_likelihood_not_both():
    with pytest.raises(ValueError, match="not both"):
        ParticleFilter(temper=0.2, sensor=ERR)
    with pytest.raises(ValueError, match="pacf"):
        SensorError(pacf=1.0)


def test_the_sensor_state_travels_with_the_ensemble_through_the_codec():
    ens = Ensemble(jnp.ones((4, 2)), jnp.zeros((4, 3)), jnp.full(4, -np.log(4)), 30.0,
                   jnp.array([0.1, -0.2, 1.5, 0.0]), 25.0)  # fmt: skip
    back = unpack_ensemble(pack_ensemble(ens))
    np.testing.assert_array_equal(back.sensor, ens.sensor)
    assert back.sensor_time == 25.0
    plain = unpack_ensemble(pack_ensemble(Ensemble(ens.params, ens.states, ens.log_weights, 5.0)))
    assert plain.sensor is None and plain.sensor_time is None
