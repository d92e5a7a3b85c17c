"""Measurement-noise models: how an observable is seen by an instrument."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # JAX loads when a prior or noise model is used, not declared
    import numpy as np
    from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

__all__ = ["GaussianNoise", "NoiseModel", "censored_log_likelihood", "noise_theta"]


class NoiseModel:
    """Base class: ``sample(key, y)`` draws a measurement of the true value ``y``;
    ``log_likelihood(observed, y)`` scores one.

    A noise model may read parameters of its model (an ordinal link's cut points,
    :class:`~medtwin.models.OrdinalNoise`): it names them in ``reads`` and every method then
    takes ``theta``, their values in that order along the last axis (shape ``y.shape +
    (len(reads),)``, broadcast against ``y``; :func:`noise_theta` gathers them from a
    parameter vector). A model learns them like any other parameter. ``renamed(prefix)`` is the
    same noise model reading the prefixed names (a composed model's), ``check(values,
    censored, name)`` refuses readings the noise model cannot produce (at the boundary)."""

    @property
    def reads(self) -> tuple[str, ...]:
        """The model parameters this noise model reads, by name (none for most)."""
        return ()

    def renamed(self, prefix: str) -> NoiseModel:
        """This noise model reading ``prefix.name`` for each ``name`` it reads."""
        return self

    def check(self, values: np.ndarray, censored: np.ndarray, name: str) -> None:
        """Raise :class:`~medtwin.errors.DataError` for readings it cannot produce (any
        finite number is a reading of a continuous noise model)."""

    @property
    def support(self) -> tuple[float, float, bool]:
        """The readings it can produce: (lowest, highest, whole numbers only). Ingestion
        refuses a recorded value outside it (``medtwin.data.LOINC``'s row of the code)."""
        return (-math.inf, math.inf, False)

    def sample(
        self, key: PRNGKeyArray, y: Float[ArrayLike, ...], theta: ArrayLike | None = None
    ) -> Float[Array, ...]:
        raise NotImplementedError

    def log_likelihood(
        self, observed: Float[ArrayLike, ...], y: Float[ArrayLike, ...],
        theta: ArrayLike | None = None,
    ) -> Float[Array, ...]:  # fmt: skip
        raise NotImplementedError

    def log_prob_below(
        self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...],
        theta: ArrayLike | None = None,
    ) -> Array:  # fmt: skip
        """log P(measurement < limit | true value y): a left-censored reading ("LO")."""
        raise NotImplementedError

    def log_prob_above(
        self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...],
        theta: ArrayLike | None = None,
    ) -> Array:  # fmt: skip
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

    def sample(
        self, key: PRNGKeyArray, y: Float[ArrayLike, ...], theta: ArrayLike | None = None
    ) -> Float[Array, ...]:
        import jax
        import jax.numpy as jnp

        y = jnp.asarray(y, dtype=jnp.float64)
        return y + self.sd(y) * jax.random.normal(key, y.shape, dtype=jnp.float64)

    def log_likelihood(
        self, observed: Float[ArrayLike, ...], y: Float[ArrayLike, ...],
        theta: ArrayLike | None = None,
    ) -> Float[Array, ...]:  # fmt: skip
        import jax.numpy as jnp

        sd = self.sd(y)
        z = (jnp.asarray(observed) - jnp.asarray(y)) / sd
        return -0.5 * z**2 - jnp.log(sd) - 0.5 * math.log(2 * math.pi)

    def log_prob_below(
        self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...],
        theta: ArrayLike | None = None,
    ) -> Array:  # fmt: skip
        import jax
        import jax.numpy as jnp
        import jax.scipy.stats

        return jax.scipy.stats.norm.logcdf((jnp.asarray(limit) - jnp.asarray(y)) / self.sd(y))

    def log_prob_above(
        self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...],
        theta: ArrayLike | None = None,
    ) -> Array:  # fmt: skip
        import jax
        import jax.numpy as jnp
        import jax.scipy.stats

        return jax.scipy.stats.norm.logcdf((jnp.asarray(y) - jnp.asarray(limit)) / self.sd(y))


def censored_log_likelihood(
    noise: NoiseModel,
    observed: Float[ArrayLike, ...],
    y: Float[ArrayLike, ...],
    censored: ArrayLike,
    theta: ArrayLike | None = None,
) -> Float[Array, ...]:
    """Log-likelihood of readings ``observed`` of true values ``y`` under ``noise``, elementwise,
    censored readings included: where ``censored`` is 0 the density of the reading
    (``noise.log_likelihood``); where it is negative (``LO``: the true reading lies below the
    reported limit ``observed``) ``log P(measurement < observed)``; where it is positive (``HI``)
    ``log P(measurement > observed)``. The three terms are evaluated everywhere and selected, so
    the function is jit- and vmap-friendly; arguments broadcast against each other. ``theta``:
    the parameters the noise model reads (``noise.reads``; :func:`noise_theta`)."""
    import jax.numpy as jnp

    exact = noise.log_likelihood(observed, y, theta)
    below = noise.log_prob_below(observed, y, theta)
    above = noise.log_prob_above(observed, y, theta)
    c = jnp.asarray(censored)
    return jnp.where(c == 0, exact, jnp.where(c < 0, below, above))


def noise_theta(model: Any, noise: NoiseModel | None, params: ArrayLike) -> Array | None:
    """The parameters ``noise`` reads (``noise.reads``, looked up by name in ``model``) out of
    ``params`` (``(..., n_params)``), along the last axis; None when it reads none."""
    if noise is None or not noise.reads:
        return None
    import jax.numpy as jnp

    idx = [model.param_index(name) for name in noise.reads]
    return jnp.asarray(params)[..., jnp.asarray(idx)]
