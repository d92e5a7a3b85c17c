"""Measurement-noise models: how an observable is seen by an instrument."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # JAX loads when a prior or noise model is used, not declared
    from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

__all__ = ["GaussianNoise", "NoiseModel", "censored_log_likelihood"]


class NoiseModel:
    """Base class: ``sample(key, y)`` draws a measurement of the true value ``y``;
    ``log_likelihood(observed, y)`` scores one."""

    def sample(self, key: PRNGKeyArray, y: Float[ArrayLike, ...]) -> Float[Array, ...]:
        raise NotImplementedError

    def log_likelihood(
        self, observed: Float[ArrayLike, ...], y: Float[ArrayLike, ...]
    ) -> Float[Array, ...]:
        raise NotImplementedError

    def log_prob_below(self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...]) -> Array:
        """log P(measurement < limit | true value y): a left-censored reading ("LO")."""
        raise NotImplementedError

    def log_prob_above(self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...]) -> Array:
        """log P(measurement > limit | true value y): a right-censored reading ("HI")."""
        raise NotImplementedError


@dataclass(frozen=True)
class GaussianNoise(NoiseModel):
    """Additive Gaussian noise whose sd combines an absolute and a relative part:
    ``sd = sqrt(absolute**2 + (relative * y)**2)`` (the usual "constant plus proportional"
    error model of laboratory assays and CGM sensors).

    ``absolute`` is in the observable's unit, ``relative`` is a fraction.
    """

    absolute: float
    relative: float = 0.0

    def __post_init__(self) -> None:
        if self.absolute < 0 or self.relative < 0 or (self.absolute == 0 and self.relative == 0):
            raise ValueError(
                "GaussianNoise needs absolute >= 0, relative >= 0 and one of them > 0. "
                f"Got absolute={self.absolute!r}, relative={self.relative!r}."
            )

    def sd(self, y: Float[ArrayLike, ...]) -> Float[Array, ...]:
        import jax.numpy as jnp

        y = jnp.asarray(y)
        return jnp.sqrt(self.absolute**2 + (self.relative * y) ** 2)

    def sample(self, key: PRNGKeyArray, y: Float[ArrayLike, ...]) -> Float[Array, ...]:
        import jax
        import jax.numpy as jnp

        y = jnp.asarray(y, dtype=jnp.float64)
        return y + self.sd(y) * jax.random.normal(key, y.shape, dtype=jnp.float64)

    def log_likelihood(
        self, observed: Float[ArrayLike, ...], y: Float[ArrayLike, ...]
    ) -> Float[Array, ...]:
        import jax.numpy as jnp

        sd = self.sd(y)
        z = (jnp.asarray(observed) - jnp.asarray(y)) / sd
        return -0.5 * z**2 - jnp.log(sd) - 0.5 * math.log(2 * math.pi)

    def log_prob_below(self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...]) -> Array:
        import jax
        import jax.numpy as jnp
        import jax.scipy.stats

        return jax.scipy.stats.norm.logcdf((jnp.asarray(limit) - jnp.asarray(y)) / self.sd(y))

    def log_prob_above(self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...]) -> Array:
        import jax
        import jax.numpy as jnp
        import jax.scipy.stats

        return jax.scipy.stats.norm.logcdf((jnp.asarray(y) - jnp.asarray(limit)) / self.sd(y))


def censored_log_likelihood(
    noise: NoiseModel,
    observed: Float[ArrayLike, ...],
    y: Float[ArrayLike, ...],
    censored: ArrayLike,
) -> Float[Array, ...]:
    """Log-likelihood of readings ``observed`` of true values ``y`` under ``noise``, elementwise,
    censored readings included: where ``censored`` is 0 the density of the reading
    (``noise.log_likelihood``); where it is negative (``LO``: the true reading lies below the
    reported limit ``observed``) ``log P(measurement < observed)``; where it is positive (``HI``)
    ``log P(measurement > observed)``. The three terms are evaluated everywhere and selected, so
    the function is jit- and vmap-friendly; arguments broadcast against each other."""
    import jax.numpy as jnp

    exact = noise.log_likelihood(observed, y)
    below = noise.log_prob_below(observed, y)
    above = noise.log_prob_above(observed, y)
    c = jnp.asarray(censored)
    return jnp.where(c == 0, exact, jnp.where(c < 0, below, above))
