"""A sensor's autocorrelated error as a state of every particle: the exact conditional
likelihood of a reading given the particle's previous sensor error.

A CGM's error is not independent from one reading to the next (lag-one correlation about 0.9
at 5 min, Breton & Kovatchev 2008): treated as independent, a run of sensor error looks like
the patient's glucose. Here the error is the sensor model itself, a Johnson SU transform of a
stationary Gaussian AR(1) process ``e`` (as :class:`~medtwin.models.glucose.CGMSensor`
draws it)::

    e_k = r e_{k-1} + sqrt(1 - r^2) w_k,  w_k ~ N(0, 1),  r = pacf ** (dt / step)
    reading_k = y_k + xi + lam sinh((e_k - gamma) / delta)

with ``y_k`` the particle's predicted observable and ``dt`` the time since the previous
reading. The transform is monotone, so a reading and ``y_k`` give ``e_k`` exactly,
``e_k = gamma + delta asinh((reading - y_k - xi) / lam)``, and the reading's density is that of
``e_k`` given ``e_{k-1}`` times ``de/d(reading) = delta / sqrt(lam^2 + (reading - y_k - xi)^2)``.
Each particle carries its ``e`` of the previous reading (the first reading: the stationary
N(0, 1)); a censored reading (LO/HI: the value is the reporting limit) has the probability of
``e_k`` beyond the limit's ``e``, and the particle's new ``e`` is drawn from that tail of its
conditional. The one-step predictive distribution of the next reading is the particles'
mixture, so whether a reading falls in the 95 % band is whether its probability integral
transform ``F(reading) = sum_i w_i Phi((e_i(reading) - r e_{i,prev}) / sqrt(1 - r^2))`` lies in
[0.025, 0.975].

References
----------
Breton M, Kovatchev B. Analysis, modeling, and simulation of the accuracy of continuous glucose
sensors. J Diabetes Sci Technol 2(5):853-862, 2008.
Andrieu C, Doucet A, Holenstein R. Particle Markov chain Monte Carlo methods. J R Stat Soc B
72(3):269-342, 2010 (state augmentation of a particle filter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri
from jax.scipy.stats import norm
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

__all__ = ["SensorError", "sensor_band_pit", "sensor_range", "sensor_weight"]


@dataclass(frozen=True)
class SensorError:
    """The autocorrelated error of the sensor that reads ``observable`` (module docstring):
    ``pacf`` the Gaussian process's correlation over ``step`` (model time units), the Johnson SU
    ``gamma``, ``lam``, ``delta``, ``xi`` (``lam``, ``xi`` in the observable's unit). The
    defaults are simglucose's Dexcom sensor (Breton & Kovatchev 2008)."""

    observable: str = "sc_glucose"
    pacf: float = 0.7
    step: float = 15.0
    gamma: float = -0.5444
    lam: float = 15.9574
    delta: float = 1.6898
    xi: float = -5.47

    def __post_init__(self) -> None:
        ok = (
            0 <= self.pacf < 1
            and self.step > 0
            and self.lam > 0
            and self.delta > 0
            and all(math.isfinite(v) for v in (self.gamma, self.xi, self.step))
        )
        if not ok:
            raise ValueError(
                "SensorError needs 0 <= pacf < 1, step > 0, lam > 0, delta > 0 and finite "
                f"gamma, xi. Got pacf={self.pacf!r}, step={self.step!r}, lam={self.lam!r}, "
                f"delta={self.delta!r}, gamma={self.gamma!r}, xi={self.xi!r}."
            )

    @classmethod
    def of(cls, sensor: Any, observable: str = "sc_glucose") -> SensorError:
        """The error model of a :class:`~medtwin.models.glucose.CGMSensor` (its AR(1) runs at
        15 min with ``pacf``, as here)."""
        return cls(observable, sensor.pacf, 15.0, sensor.gamma, sensor.lam, sensor.delta,
                   sensor.xi)  # fmt: skip

    def latent(self, noise: Float[ArrayLike, ...]) -> Array:
        """The Gaussian ``e`` of an additive error ``noise`` (inverse Johnson SU)."""
        return self.gamma + self.delta * jnp.arcsinh((jnp.asarray(noise) - self.xi) / self.lam)

    def error(self, e: Float[ArrayLike, ...]) -> Array:
        """The additive error (the observable's unit) of a Gaussian ``e`` (Johnson SU); the
        inverse of :meth:`latent`."""
        return self.xi + self.lam * jnp.sinh((jnp.asarray(e) - self.gamma) / self.delta)

    def rho(self, dt: Float[ArrayLike, ""]) -> Array:
        """Correlation of ``e`` across ``dt`` (model time units)."""
        return jnp.asarray(self.pacf, jnp.float64) ** (jnp.asarray(dt) / self.step)


def _conditional(err: SensorError, e_prev: Array, dt: Array, first: Array) -> tuple[Array, Array]:
    """Mean and sd of ``e`` now given ``e_prev`` ``dt`` ago (stationary N(0, 1) if ``first``)."""
    r = jnp.where(first, 0.0, err.rho(dt))
    return r * e_prev, jnp.sqrt(1.0 - r**2)


def sensor_weight(
    err: SensorError,
    pred: Float[Array, " n"],
    value: Float[ArrayLike, ""],
    censored: ArrayLike,
    e_prev: Float[Array, " n"],
    dt: Float[ArrayLike, ""],
    first: ArrayLike,
    key: PRNGKeyArray,
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Every particle's log-likelihood of one reading ``value`` (``censored`` -1 LO, 1 HI, 0
    exact) given its predicted observable ``pred`` and its previous sensor error ``e_prev``
    read ``dt`` earlier (``first``: no previous reading), and its sensor error now (module
    docstring; traceable). Impossible particles get -inf."""
    mean, sd = _conditional(err, e_prev, jnp.asarray(dt), jnp.asarray(first))
    noise = jnp.asarray(value) - pred
    e = err.latent(noise)
    z = (e - mean) / sd
    exact = (
        norm.logpdf(z) - jnp.log(sd) + jnp.log(err.delta)
        - 0.5 * jnp.log(err.lam**2 + (noise - err.xi) ** 2)
    )  # fmt: skip
    c = jnp.asarray(censored)
    below, above = norm.logcdf(z), norm.logcdf(-z)
    loglik = jnp.where(c == 0, exact, jnp.where(c < 0, below, above))
    # a censored reading: e from its conditional's tail beyond the limit (the upper tail as
    # the mirrored lower one, so that a far tail keeps its precision)
    side = jnp.where(c > 0, -1.0, 1.0)
    u = (1.0 - jax.random.uniform(key, pred.shape)) * ndtr(side * z)  # in (0, P(tail)]
    tail = mean + side * sd * ndtri(u)
    e_new = jnp.where(c == 0, e, tail)
    loglik = jnp.where(jnp.isfinite(loglik), loglik, -jnp.inf)
    return loglik, jnp.where(jnp.isfinite(e_new), e_new, mean)


def sensor_band_pit(
    err: SensorError,
    pred: Float[Array, " n"],
    log_weights: Float[Array, " n"],
    value: Float[ArrayLike, ""],
    e_prev: Float[Array, " n"],
    dt: Float[ArrayLike, ""],
    first: ArrayLike,
) -> Array:
    """The probability integral transform of ``value`` under the particles' one-step predictive
    mixture (module docstring): in [0.025, 0.975] when it falls in the 95 % band."""
    mean, sd = _conditional(err, e_prev, jnp.asarray(dt), jnp.asarray(first))
    e = err.latent(jnp.asarray(value) - pred)
    return jnp.sum(jnp.exp(log_weights) * ndtr((e - mean) / sd))


def sensor_range(
    err: SensorError,
    pred: Float[Array, " n"],
    e_prev: Float[Array, " n"],
    dt: Float[ArrayLike, ""],
    first: ArrayLike,
    z: float = 3.29,
) -> tuple[Array, Array]:
    """The lowest and highest reading the particles predict now: each particle's predicted
    observable plus its sensor error's conditional ``+- z`` sd band (3.29: 99.9 %),
    transformed; the range a reading of a patient the twin covers falls in."""
    mean, sd = _conditional(err, e_prev, jnp.asarray(dt), jnp.asarray(first))
    return jnp.min(pred + err.error(mean - z * sd)), jnp.max(pred + err.error(mean + z * sd))
