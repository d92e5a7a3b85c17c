"""censored_log_likelihood: exact readings by the density, LO/HI by the tail probabilities."""

import math

import jax.numpy as jnp
import numpy as np
import scipy.stats

from medtwin.models import GaussianNoise
from medtwin.models._noise import censored_log_likelihood


def test_each_flag_selects_its_term():
    noise = GaussianNoise(absolute=10.0)
    observed = np.array([100.0, 40.0, 400.0])
    y = jnp.array([110.0, 50.0, 390.0])
    out = np.asarray(censored_log_likelihood(noise, observed, y, np.array([0, -1, 1])))
    expected = [
        scipy.stats.norm.logpdf(100.0, 110.0, 10.0),
        scipy.stats.norm.logcdf(40.0, 50.0, 10.0),  # P(reading < 40)
        scipy.stats.norm.logsf(400.0, 390.0, 10.0),  # P(reading > 400)
    ]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert math.isclose(out[1], math.log(0.5 * math.erfc(1 / math.sqrt(2))), rel_tol=1e-12)
