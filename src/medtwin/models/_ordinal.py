"""An ordinal observation model: a graded score (SOFA, a stage) read off a continuous state.

:class:`OrdinalNoise` is a :class:`~medtwin.models.NoiseModel` whose readings are the integers
``0 .. levels - 1``. With the model's observable ``y`` (a latent severity, e.g. tissue damage)
and ordered cut points ``c_1 < ... < c_K`` (``K = levels - 1``) and a scale ``s`` > 0, the
cumulative-logit (proportional-odds) link of McCullagh (1980)::

    P(score >= k | y) = sigmoid((y - c_k) / s),   k = 1 .. K
    P(score = k | y)  = P(score >= k | y) - P(score >= k + 1 | y)

The cut points and the scale are **parameters of the model** (named in ``cuts`` and ``scale``,
with their units, bounds and priors in its parameter table), so a twin learns them like any
other. ``cuts`` names the first cut point and then the gaps between consecutive ones (each
>= 0), so any parameter draw gives ordered cut points; when fewer gaps are named than the
``levels - 2`` needed, the last gap repeats (equally spaced cut points from there on: a score
of 25 levels needs three parameters, not 25).

The particle filter weighs a reading by ``log P(score = k | y, theta)`` exactly; a censored
reading (``LO``/``HI``: the score lies below / above the reported one) by ``log P(score < k)``
or ``log P(score > k)``. ``sample`` draws a score; ``expected`` and ``mode`` are the read-outs a
decision uses.

Reference: McCullagh P. Regression models for ordinal data. J R Stat Soc B 42(2):109-142, 1980
(the proportional-odds model).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..errors import DataError, ModelError
from ._noise import NoiseModel

if TYPE_CHECKING:  # JAX loads when the noise model is used, not declared
    import numpy as np
    from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

__all__ = ["OrdinalNoise"]


@dataclass(frozen=True)
class OrdinalNoise(NoiseModel):
    """A score of ``levels`` grades (``0 .. levels - 1``) seen through a cumulative-logit link
    of the observable (see the module). ``cuts``: the names of the model parameters giving the
    first cut point and the gaps after it (the last gap repeats); ``scale``: the name of the
    logistic scale's parameter (all in the observable's unit)."""

    cuts: tuple[str, ...]
    scale: str
    levels: int

    def __post_init__(self) -> None:
        names = (*self.cuts, self.scale)
        if not (isinstance(self.levels, int) and self.levels >= 2):
            raise ModelError(f"OrdinalNoise needs levels >= 2 (an integer). Got {self.levels!r}.")
        if not self.cuts or (self.levels > 2 and len(self.cuts) < 2):
            raise ModelError(
                "OrdinalNoise needs the first cut point and, above two levels, at least one "
                f"gap: cuts=('c1', 'gap', ...). Got cuts={self.cuts!r} for {self.levels} levels."
            )
        if len(self.cuts) > self.levels - 1:
            raise ModelError(
                f"OrdinalNoise with {self.levels} levels has {self.levels - 1} cut points; "
                f"cuts names {len(self.cuts)} (the first and the gaps). Name fewer."
            )
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ModelError(f"OrdinalNoise needs distinct parameter names. Got {names!r}.")

    @property
    def reads(self) -> tuple[str, ...]:
        return (*self.cuts, self.scale)

    def renamed(self, prefix: str) -> OrdinalNoise:
        return replace(
            self, cuts=tuple(f"{prefix}.{c}" for c in self.cuts), scale=f"{prefix}.{self.scale}"
        )

    @property
    def support(self) -> tuple[float, float, bool]:
        return (0.0, float(self.levels - 1), True)

    def check(self, values: np.ndarray, censored: np.ndarray, name: str) -> None:
        import numpy as np

        v = np.asarray(values, dtype=np.float64)
        bad = ~((v == np.round(v)) & (v >= 0) & (v <= self.levels - 1))
        if np.any(bad):
            raise DataError(
                f"Readings of {name!r} are scores 0..{self.levels - 1} (whole numbers). Got "
                f"{v[bad][:5].tolist()}. Convert them to the score before assimilating."
            )

    # ---- the link -----------------------------------------------------------------------

    def _z(self, y: ArrayLike, theta: ArrayLike | None) -> Float[Array, "... K"]:
        """``(y - c_k) / s`` for k = 1..K along a new last axis."""
        import jax.numpy as jnp

        if theta is None:
            raise ModelError(
                f"OrdinalNoise reads the model parameters {self.reads}: pass theta "
                "(medtwin.models.noise_theta(model, noise, params))."
            )
        th = jnp.asarray(theta, dtype=jnp.float64)
        n_cut = self.levels - 1
        first = th[..., :1]
        if n_cut > 1:
            n_gap = len(self.cuts) - 1
            cols = jnp.asarray([1 + min(i, n_gap - 1) for i in range(n_cut - 1)])
            c = jnp.concatenate([first, first + jnp.cumsum(th[..., cols], axis=-1)], axis=-1)
        else:
            c = first
        s = th[..., len(self.cuts)]
        y = jnp.asarray(y, dtype=jnp.float64)
        return (y[..., None] - c) / s[..., None]

    def log_pmf(self, y: ArrayLike, theta: ArrayLike | None) -> Float[Array, "... levels"]:
        """``log P(score = k | y)`` for k = 0..levels-1 along a new last axis."""
        import jax
        import jax.numpy as jnp

        z = self._z(y, theta)
        log_ge = jax.nn.log_sigmoid(z)  # log P(score >= k), k = 1..K
        log_lt = jax.nn.log_sigmoid(-z)  # log P(score < k)
        # P(k) = sigmoid(z_k) sigmoid(-z_{k+1}) (1 - exp(z_{k+1} - z_k)) for 0 < k < K
        mid = log_ge[..., :-1] + log_lt[..., 1:] + jnp.log1p(-jnp.exp(z[..., 1:] - z[..., :-1]))
        return jnp.concatenate([log_lt[..., :1], mid, log_ge[..., -1:]], axis=-1)

    def expected(self, y: ArrayLike, theta: ArrayLike | None) -> Float[Array, ...]:
        """The expected score ``sum_k P(score >= k | y)``."""
        import jax

        return jax.nn.sigmoid(self._z(y, theta)).sum(axis=-1)

    def mode(self, y: ArrayLike, theta: ArrayLike | None) -> Array:
        """The most likely score."""
        return self.log_pmf(y, theta).argmax(axis=-1)

    # ---- NoiseModel ---------------------------------------------------------------------

    def sample(
        self, key: PRNGKeyArray, y: Float[ArrayLike, ...], theta: ArrayLike | None = None
    ) -> Float[Array, ...]:
        import jax
        import jax.numpy as jnp

        p_ge = jax.nn.sigmoid(self._z(y, theta))  # decreasing in k: ordered cut points
        u = jax.random.uniform(key, p_ge.shape[:-1], dtype=jnp.float64)
        return jnp.sum(u[..., None] < p_ge, axis=-1).astype(jnp.float64)

    def log_likelihood(
        self, observed: Float[ArrayLike, ...], y: Float[ArrayLike, ...],
        theta: ArrayLike | None = None,
    ) -> Float[Array, ...]:  # fmt: skip
        import jax.numpy as jnp

        lp = self.log_pmf(y, theta)
        k = jnp.clip(jnp.round(jnp.asarray(observed)), 0, self.levels - 1).astype(jnp.int32)
        k = jnp.broadcast_to(k, lp.shape[:-1])
        return jnp.take_along_axis(lp, k[..., None], axis=-1)[..., 0]

    def _tail(self, limit: ArrayLike, y: ArrayLike, theta: ArrayLike | None, above: bool) -> Array:
        import jax
        import jax.numpy as jnp

        z = self._z(y, theta)
        n_cut = self.levels - 1
        lim = jnp.broadcast_to(jnp.round(jnp.asarray(limit)).astype(jnp.int32), z.shape[:-1])
        k = lim if above else lim - 1  # P(score > L) = P(>= L+1); P(score < L) = 1 - P(>= L)
        zk = jnp.take_along_axis(z, jnp.clip(k, 0, n_cut - 1)[..., None], axis=-1)[..., 0]
        v = jax.nn.log_sigmoid(zk if above else -zk)
        certain = k < 0  # every score is above a negative limit / none below limit 0
        never = k >= n_cut
        if above:
            return jnp.where(certain, 0.0, jnp.where(never, -jnp.inf, v))
        return jnp.where(certain, -jnp.inf, jnp.where(never, 0.0, v))

    def log_prob_below(
        self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...],
        theta: ArrayLike | None = None,
    ) -> Array:  # fmt: skip
        """``log P(score < limit)`` (a score reported as below ``limit``)."""
        return self._tail(limit, y, theta, above=False)

    def log_prob_above(
        self, limit: Float[ArrayLike, ...], y: Float[ArrayLike, ...],
        theta: ArrayLike | None = None,
    ) -> Array:  # fmt: skip
        """``log P(score > limit)`` (a score reported as above ``limit``)."""
        return self._tail(limit, y, theta, above=True)
