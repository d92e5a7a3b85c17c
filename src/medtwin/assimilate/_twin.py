"""Twin: a model connected to one patient -- its posterior ensemble and its history.

A twin is immutable: every update (``assimilate``) and every forecast returns a new version
that remembers its parent's inputs, so any version can be replayed bit-for-bit from the prior,
the root key and the recorded inputs (:func:`replay`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ..errors import ModelError
from ..models._base import AbstractModel
from ..simulate import Regimen
from ._ensemble import Ensemble, Prior
from ._observations import Observations

__all__ = ["Twin", "Update"]


@dataclass(frozen=True)
class Update:
    """One recorded assimilation: its inputs, its key and what it reported."""

    observations: Observations
    regimen: Regimen
    method: Any
    key: PRNGKeyArray
    until: float | None
    report: Any


@dataclass(frozen=True)
class Twin:
    """A model, its posterior ensemble over the ``free`` parameters and the states, and the
    history of what it was told and what it said. Create with :meth:`Twin.create`."""

    model: AbstractModel
    ensemble: Ensemble
    free: tuple[str, ...]
    prior: Prior
    key: PRNGKeyArray
    t0: float
    regimen: Regimen = field(default_factory=Regimen)
    updates: tuple[Update, ...] = ()
    base_version: int = 0
    method: Any = None
    forecasts: tuple[Any, ...] = field(default=(), compare=False)

    @classmethod
    def create(
        cls,
        model: AbstractModel,
        prior: Prior,
        *,
        key: PRNGKeyArray,
        n: int = 1000,
        t0: float = 0.0,
        method: Any = None,
    ) -> Twin:
        """A new twin at time ``t0`` with ``n`` particles drawn from ``prior``. ``method`` is
        the twin's default assimilation method (``None``: ``ParticleFilter()``)."""
        if not (isinstance(n, int) and n >= 2):
            raise ModelError(f"Twin.create() needs n >= 2 particles. Got n={n!r}.")
        for name in prior.free:
            model.param_index(name)  # raises on unknown names
        params = prior.sample(model, jax.random.fold_in(key, 0), n)
        states = jax.vmap(model.initial_state)(params)
        ens = Ensemble(params, states, jnp.full((n,), -jnp.log(n)), float(t0))
        return cls(model, ens, tuple(prior.free), prior, key, float(t0), method=method)

    @property
    def version(self) -> int:
        """0 for a new twin, +1 per assimilation."""
        return self.base_version + len(self.updates)

    @property
    def time(self) -> float:
        return self.ensemble.time

    @classmethod
    def restore(
        cls,
        model: AbstractModel,
        ensemble: Ensemble,
        prior: Prior,
        *,
        key: PRNGKeyArray,
        t0: float,
        version: int,
        regimen: Regimen | None = None,
        method: Any = None,
    ) -> Twin:
        """A twin continued from a stored version: its ensemble, prior, root key and version
        number (so the next update draws the same keys as if it had never been stored). Its
        in-memory history starts empty; the full chain is replayed from the stored inputs."""
        if not (isinstance(version, int) and version >= 0):
            raise ModelError(f"Twin.restore() needs a version >= 0. Got {version!r}.")
        for name in prior.free:
            model.param_index(name)
        reg = Regimen() if regimen is None else regimen
        return cls(
            model, ensemble, tuple(prior.free), prior, key, float(t0), reg,
            base_version=version, method=method,
        )  # fmt: skip

    def parameter_quantiles(self, qs: tuple[float, ...] = (0.05, 0.5, 0.95)) -> dict[str, tuple]:
        """Weighted posterior quantiles of each free parameter."""
        idx = [self.model.param_index(n) for n in self.free]
        q = self.ensemble.quantiles(self.ensemble.params[:, jnp.asarray(idx)], qs)
        return {name: tuple(float(v) for v in q[:, i]) for i, name in enumerate(self.free)}

    def with_forecast(self, fc: Any) -> Twin:
        """This version with one more issued forecast remembered (for the skill ledger)."""
        return replace(self, forecasts=(*self.forecasts, fc))
