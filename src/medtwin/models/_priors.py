"""Prior distributions over model parameters.

Each prior is a small frozen dataclass that can draw samples with an explicit JAX key and evaluate
its log-density. They are deliberately few: enough for the twin's population priors and for
virtual-population sampling; anything richer is a population passed as particles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # JAX loads when a prior or noise model is used, not declared
    from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

__all__ = ["LogNormal", "Normal", "Prior", "Uniform"]


class Prior:
    """Base class: ``sample(key, shape)`` and ``log_prob(x)``."""

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...] = ()) -> Float[Array, ...]:
        raise NotImplementedError

    def log_prob(self, x: Float[ArrayLike, ...]) -> Float[Array, ...]:
        raise NotImplementedError


@dataclass(frozen=True)
class Normal(Prior):
    """Normal(mean, sd)."""

    mean: float
    sd: float

    def __post_init__(self) -> None:
        if not self.sd > 0:
            raise ValueError(f"Normal prior needs sd > 0. Got sd={self.sd!r}.")

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...] = ()) -> Float[Array, ...]:
        import jax
        import jax.numpy as jnp

        return self.mean + self.sd * jax.random.normal(key, shape, dtype=jnp.float64)

    def log_prob(self, x: Float[ArrayLike, ...]) -> Float[Array, ...]:
        import jax.numpy as jnp

        z = (jnp.asarray(x) - self.mean) / self.sd
        return -0.5 * z**2 - math.log(self.sd) - 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class LogNormal(Prior):
    """Log-normal with the given median and the sd of log(x) (``sigma``)."""

    median: float
    sigma: float

    def __post_init__(self) -> None:
        if not (self.median > 0 and self.sigma > 0):
            raise ValueError(
                f"LogNormal prior needs median > 0 and sigma > 0. "
                f"Got median={self.median!r}, sigma={self.sigma!r}."
            )

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...] = ()) -> Float[Array, ...]:
        import jax
        import jax.numpy as jnp

        z = jax.random.normal(key, shape, dtype=jnp.float64)
        return self.median * jnp.exp(self.sigma * z)

    def log_prob(self, x: Float[ArrayLike, ...]) -> Float[Array, ...]:
        import jax.numpy as jnp

        x = jnp.asarray(x)
        z = (jnp.log(x) - math.log(self.median)) / self.sigma
        out = -0.5 * z**2 - jnp.log(x * self.sigma) - 0.5 * math.log(2 * math.pi)
        return jnp.where(x > 0, out, -jnp.inf)


@dataclass(frozen=True)
class Uniform(Prior):
    """Uniform on [low, high]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.high > self.low:
            raise ValueError(
                f"Uniform prior needs high > low. Got low={self.low!r}, high={self.high!r}."
            )

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...] = ()) -> Float[Array, ...]:
        import jax
        import jax.numpy as jnp

        return jax.random.uniform(key, shape, dtype=jnp.float64, minval=self.low, maxval=self.high)

    def log_prob(self, x: Float[ArrayLike, ...]) -> Float[Array, ...]:
        import jax.numpy as jnp

        x = jnp.asarray(x)
        inside = (x >= self.low) & (x <= self.high)
        return jnp.where(inside, -math.log(self.high - self.low), -jnp.inf)
