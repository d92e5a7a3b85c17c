"""Sequential filters: a particle filter with regularised (Liu-West) rejuvenation of the
parameters, and a stochastic ensemble Kalman filter.

Both act on an :class:`~medtwin.assimilate.Ensemble` at one observation time: the caller has
already moved every particle to that time with ``advance``.

References
----------
Gordon NJ, Salmond DJ, Smith AFM. Novel approach to nonlinear/non-Gaussian Bayesian state
estimation. IEE Proc F 140:107-113, 1993 (bootstrap particle filter; systematic resampling:
Kitagawa 1996, J Comput Graph Stat 5:1-25).
Liu J, West M. Combined parameter and state estimation in simulation-based filtering. In:
Sequential Monte Carlo Methods in Practice, Springer 2001, pp. 197-223 (kernel shrinkage).
Evensen G. The ensemble Kalman filter: theoretical formulation and practical implementation.
Ocean Dyn 53:343-367, 2003 (perturbed observations).
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from ..models._free import FreeParameters
from ..models._noise import censored_log_likelihood, noise_theta
from ..timeunits import SECONDS, convert
from ._sensor import SensorError

__all__ = ["EnsembleKalmanFilter", "Method", "ParticleFilter"]


@dataclass(frozen=True)
class ParticleFilter:
    """Bootstrap particle filter over parameters and states.

    Resamples (systematic) when the effective sample size falls below
    ``resample_threshold * n``, then moves the free parameters with the Liu-West kernel
    (shrinkage ``a``: new = a*z + (1-a)*mean + sqrt(1-a^2)*N(0, cov), on the log scale for
    positive parameters), so parameter particles do not collapse onto a few values. If every
    particle becomes impossible (all weights zero), the weights are reset to uniform and the
    step is reported as degenerate.

    ``drift`` > 0 lets the free parameters wander as a random walk between observations, with
    standard deviation ``drift`` per square root of an hour (on the log scale for positive
    parameters: 0.05 is about 5 % per sqrt(h), 25 % over a day). Physiological parameters do
    drift -- insulin sensitivity varies within a day (Visentin et al. 2015, Diabetes Technol Ther
    17:1-7) -- and a posterior that may not forget becomes overconfident about a patient it
    can only approximate. With ``drift=0`` (the default) the parameters are static and the filter
    targets their exact posterior.

    ``temper`` in (0, 1] raises each reading's likelihood to that power (a power or
    "coarsened" likelihood: Miller & Dunson 2019, J Am Stat Assoc 114:1113-1125). A CGM's
    sensor error is autocorrelated (about 0.9 from one 5-min reading to the next, Breton &
    Kovatchev 2008), so consecutive readings carry far less independent information than an
    independent-noise likelihood credits; untempered, the filter mistakes a run of sensor error
    for the patient's glucose. For an AR(1) error with lag-one correlation rho the information
    per reading shrinks by about (1 - rho) / (1 + rho). With ``temper=1`` (the default) the
    likelihood is the model's own.

    ``sensor`` (a :class:`~medtwin.assimilate.SensorError`): the readings of its observable
    carry the sensor's autocorrelated error, a state of every particle with its exact
    conditional likelihood (:mod:`medtwin.assimilate._sensor`) instead of the observable's
    independent noise model -- the principled form of what ``temper`` approximates; the two do
    not combine."""

    resample_threshold: float = 0.8
    shrinkage: float = 0.9
    drift: float = 0.0
    temper: float = 1.0
    sensor: SensorError | None = None

    def __post_init__(self) -> None:
        if not 0 < self.resample_threshold <= 1:
            raise ValueError(
                f"ParticleFilter.resample_threshold must be in (0, 1]. Got "
                f"{self.resample_threshold!r}."
            )
        if not 0 < self.shrinkage <= 1:
            raise ValueError(f"ParticleFilter.shrinkage must be in (0, 1]. Got {self.shrinkage!r}.")
        if not 0 < self.temper <= 1:
            raise ValueError(f"ParticleFilter.temper must be in (0, 1]. Got {self.temper!r}.")
        if self.sensor is not None and self.temper != 1.0:
            raise ValueError(
                "ParticleFilter takes a sensor error model or a tempered likelihood, not both: "
                f"the sensor's AR(1) state already accounts for its correlated error. Got "
                f"temper={self.temper!r} with sensor={self.sensor!r}; use temper=1."
            )
        if not (self.drift >= 0 and np.isfinite(self.drift)):
            raise ValueError(
                f"ParticleFilter.drift must be a finite number >= 0. Got {self.drift!r}."
            )


@dataclass(frozen=True)
class EnsembleKalmanFilter:
    """Stochastic ensemble Kalman filter on the free parameters (log scale for positive ones)
    and the states, with perturbed observations. For near-Gaussian problems; censored readings
    cannot be used as values and are reported as dropped."""

    inflation: float = 1.0

    def __post_init__(self) -> None:
        if not self.inflation >= 1:
            raise ValueError(
                f"EnsembleKalmanFilter.inflation must be >= 1. Got {self.inflation!r}."
            )


Method = ParticleFilter | EnsembleKalmanFilter


def _log_likelihood(model, t, states, params, obs_idx, values, censored):
    y = jax.vmap(model.observe, in_axes=(None, 0, 0))(t, states, params)
    total = jnp.zeros(states.shape[0])
    for m, j in enumerate(obs_idx):
        noise, pred = model.observables[j].noise, y[:, j]
        theta = noise_theta(model, noise, params)
        total += censored_log_likelihood(noise, values[m], pred, censored[m], theta)
    return jnp.where(jnp.isfinite(total), total, -jnp.inf)


@eqx.filter_jit
def pf_weight(model, t, states, params, log_weights, obs_idx, values, censored, temper=1.0):
    """New normalised log-weights, whether the step was degenerate, and the log evidence (of
    the tempered likelihood, ``temper`` its power)."""
    loglik = _log_likelihood(model, t, states, params, obs_idx, values, censored)
    lw = log_weights + temper * loglik
    lse = logsumexp(lw)
    degenerate = ~jnp.isfinite(lse)
    n = lw.shape[0]
    return jnp.where(degenerate, -jnp.log(n), lw - lse), degenerate, lse


def normalised(log_weights):
    """``log_weights`` normalised to sum to one (uniform if every particle is impossible)."""
    lse = logsumexp(log_weights)
    n = log_weights.shape[0]
    return jnp.where(jnp.isfinite(lse), log_weights - lse, -jnp.log(n))


def systematic_resample(key, log_weights, n: int | None = None):
    """Ancestor indices by systematic resampling (Kitagawa 1996): one uniform draw, ``n``
    (default: as many as there are particles) evenly spaced points through the cumulative
    weights. Particles must not be thinned by taking the first indices of a longer draw: those
    cover only the first part of the cumulative weight."""
    n = log_weights.shape[0] if n is None else n
    u = (jax.random.uniform(key) + jnp.arange(n)) / n
    cdf = jnp.cumsum(jnp.exp(log_weights))
    return jnp.clip(jnp.searchsorted(cdf, u * cdf[-1]), 0, log_weights.shape[0] - 1)


@eqx.filter_jit
def pf_resample_move(key, params, states, log_weights, idx, log, lo, hi, a):
    """Systematic resampling, then the Liu-West kernel move of the free parameters."""
    n = params.shape[0]
    k_res, k_move = jax.random.split(key)
    anc = systematic_resample(k_res, log_weights)
    params, states = params[anc], states[anc]
    free = FreeParameters(idx, params, log, lo, hi)
    z = free.to_z(params)
    mean = z.mean(axis=0)
    cov = jnp.atleast_2d(jnp.cov(z, rowvar=False)) + 1e-12 * jnp.eye(z.shape[1])
    chol = jnp.linalg.cholesky(cov)
    eps = jax.random.normal(k_move, z.shape) @ chol.T
    z_new = a * z + (1 - a) * mean + jnp.sqrt(1 - a**2) * eps
    params = free.from_z(z_new)
    return params, states, jnp.full((n,), -jnp.log(n)), anc


# Hours per model time unit, for callers that have not switched to medtwin.timeunits.convert.
HOURS_PER_UNIT = {unit: convert(1.0, unit, "h") for unit in SECONDS}


@eqx.filter_jit
def pf_drift(key, params, idx, log, lo, hi, sd):
    """One random-walk step of the free parameters: ``z += sd * N(0, 1)`` (``sd`` traced)."""
    free = FreeParameters(idx, params, log, lo, hi)
    z = free.to_z(params)
    z = z + sd * jax.random.normal(key, z.shape)
    return free.from_z(z)


@eqx.filter_jit
def enkf_update(key, model, t, states, params, obs_idx, values, idx, log, lo, hi, inflation):
    """One perturbed-observation EnKF analysis of (free parameters, states)."""
    n = states.shape[0]
    y = jax.vmap(model.observe, in_axes=(None, 0, 0))(t, states, params)[:, jnp.asarray(obs_idx)]
    free = FreeParameters(idx, params, log, lo, hi)
    z = jnp.concatenate([free.to_z(params), states], axis=1)
    z_mean = z.mean(axis=0)
    z = z_mean + inflation * (z - z_mean)
    sd = jnp.stack([model.observables[j].noise.sd(y[:, m].mean()) for m, j in enumerate(obs_idx)])
    dz, dy = z - z.mean(axis=0), y - y.mean(axis=0)
    c_zy = dz.T @ dy / (n - 1)
    c_yy = dy.T @ dy / (n - 1) + jnp.diag(sd**2)
    gain = jnp.linalg.solve(c_yy, c_zy.T).T
    perturbed = values + sd * jax.random.normal(key, y.shape)
    z = z + (perturbed - y) @ gain.T
    k = idx.shape[0]
    params = free.from_z(z[:, :k])
    return params, z[:, k:]


def bounds(model, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([model.parameters[i].bounds[0] for i in idx])
    hi = np.array([model.parameters[i].bounds[1] for i in idx])
    return lo, hi
