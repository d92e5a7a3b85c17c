"""Ensembles of weighted particles over parameters and states, and the priors that seed them."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..errors import ModelError
from ..models._base import AbstractModel
from ..models._free import free_parameters

__all__ = ["Ensemble", "PopulationPrior", "Prior", "SpecPrior", "free_transform"]


@dataclass(frozen=True)
class Ensemble:
    """``params[i]`` and ``states[i]`` of particle ``i`` with log-weight ``log_weights[i]``
    (normalised: logsumexp = 0), all at ``time``. With a filter's sensor error model
    (:class:`~medtwin.assimilate.SensorError`), ``sensor[i]`` is particle ``i``'s sensor
    error state at the last reading, taken at ``sensor_time`` (None before the first)."""

    params: Float[Array, "n n_params"]
    states: Float[Array, "n n_states"]
    log_weights: Float[Array, " n"]
    time: float
    sensor: Float[Array, " n"] | None = None
    sensor_time: float | None = None

    @property
    def size(self) -> int:
        return int(self.params.shape[0])

    @property
    def weights(self) -> Float[Array, " n"]:
        return jnp.exp(self.log_weights)

    @property
    def ess(self) -> float:
        """Effective sample size 1 / sum(w^2)."""
        return effective_sample_size(self.log_weights)

    def quantiles(self, values: Array, qs: tuple[float, ...]) -> np.ndarray:
        """Weighted quantiles of per-particle ``values`` [n, ...] -> [len(qs), ...]."""
        order = jnp.argsort(values, axis=0)
        v = jnp.take_along_axis(values, order, axis=0)
        w = self.weights.reshape((-1,) + (1,) * (values.ndim - 1))
        cw = jnp.cumsum(jnp.take_along_axis(jnp.broadcast_to(w, values.shape), order, 0), 0)
        out = [jnp.take_along_axis(v, jnp.argmax(cw >= q, axis=0)[None], 0)[0] for q in qs]
        return np.asarray(jnp.stack(out))


def effective_sample_size(log_weights: Float[Array, " n"]) -> float:
    """1 / sum(w^2) of normalised log-weights."""
    return float(1.0 / jnp.sum(jnp.exp(log_weights) ** 2))


def free_transform(model: AbstractModel, free: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the free parameters and whether each is estimated on the log scale
    (parameters whose lower bound is >= 0): the ``index`` and ``log`` of
    :func:`medtwin.models.free_parameters`, for callers that take them as two arrays."""
    fp = free_parameters(model, free)
    return np.asarray(fp.index), np.asarray(fp.log)


class Prior:
    """How a twin's first ensemble is drawn: ``sample(model, key, n) -> params [n, P]``.
    ``free`` names the parameters the twin learns; the others stay as drawn."""

    free: tuple[str, ...]

    def sample(self, model: AbstractModel, key: PRNGKeyArray, n: int) -> Array:
        raise NotImplementedError


@dataclass(frozen=True)
class SpecPrior(Prior):
    """Free parameters from their ``ParameterSpec.prior`` (clipped to the bounds), the others at
    their defaults (or at ``base``)."""

    free: tuple[str, ...]
    base: tuple[float, ...] | None = None

    def sample(self, model: AbstractModel, key: PRNGKeyArray, n: int) -> Array:
        base = model.default_params() if self.base is None else jnp.asarray(self.base)
        params = jnp.tile(base, (n, 1))
        for k, name in zip(jax.random.split(key, len(self.free)), self.free, strict=True):
            spec = model.parameters[model.param_index(name)]
            if spec.prior is None:
                raise ModelError(
                    f"SpecPrior: parameter {name!r} of {model.name!r} declares no prior. Give it "
                    "one in its ParameterSpec or use a PopulationPrior."
                )
            draw = jnp.clip(spec.prior.sample(k, (n,)), *spec.bounds)
            params = params.at[:, model.param_index(name)].set(draw)
        return params


@dataclass(frozen=True)
class PopulationPrior(Prior):
    """Whole parameter vectors drawn from a population (e.g. the 30 virtual patients), with the
    free parameters smoothed by a Gaussian kernel of ``bandwidth`` times the population's sd
    (log scale for positive parameters): a kernel density estimate of the population."""

    population: np.ndarray
    free: tuple[str, ...]
    bandwidth: float = 0.5

    def sample(self, model: AbstractModel, key: PRNGKeyArray, n: int) -> Array:
        pop = np.asarray(self.population, dtype=np.float64)
        if pop.ndim != 2 or pop.shape[1] != model.n_params or len(pop) < 2:
            raise ModelError(
                f"PopulationPrior needs at least 2 parameter vectors of length {model.n_params} "
                f"for {model.name!r}. Got an array of shape {pop.shape}."
            )
        k_rows, k_jit = jax.random.split(key)
        rows = jnp.asarray(pop)[jax.random.randint(k_rows, (n,), 0, len(pop))]
        free = free_parameters(model, self.free, rows)
        z_pop = free.to_z(pop)
        sd = self.bandwidth * np.maximum(z_pop.std(axis=0), 1e-6 * np.abs(z_pop.mean(axis=0)))
        z = free.to_z(rows)
        z = z + jnp.asarray(sd) * jax.random.normal(k_jit, z.shape)
        return free.from_z(z)
