"""The free parameters of a model and the scale they are estimated on.

A twin, a profile likelihood, a sampled cohort or a generative cohort model varies some of a
model's parameters (the *free* ones) and keeps the others at a base vector. Each free parameter
is handled on its estimation scale ``z``: its logarithm where ``log`` is set (the twin's rule:
parameters whose lower bound is >= 0, so a multiplicative spread is symmetric and the value
stays positive), the parameter itself otherwise. :class:`FreeParameters` holds the indices, the
base vector, the per-parameter scale and the bounds together, and maps both ways:

* ``to_z(params) -> z``: ``log(max(theta, 1e-300))`` where ``log``, else ``theta`` (a parameter
  at a lower bound of 0 maps to ``log(1e-300)``, about -690.8, not to ``-inf``);
* ``from_z(z) -> params``: the base vector with the free entries replaced by ``exp(z)`` where
  ``log``, else ``z``, clipped to ``[lower, upper]`` when ``clip`` is set and bounds are given.

Both take a leading batch shape (``[..., n_params]`` and ``[..., k]``), work under ``jax.jit``
and ``jax.vmap``, and compute with the library of their input: NumPy arrays in, NumPy arrays out
(computed with NumPy); JAX arrays or tracers in, JAX arrays out. ``from_z`` returns a new array
and never writes into ``base``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Float

from ..errors import ModelError

if TYPE_CHECKING:
    from ._base import AbstractModel

__all__ = ["FreeParameters", "free_parameters"]

_FLOOR = 1e-300  # the smallest value a log-scale parameter is taken at before the log


def _xp(*arrays: Any) -> Any:
    """jax.numpy if any of ``arrays`` is a JAX array (or tracer), else NumPy."""
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np


class FreeParameters(eqx.Module):
    """The free parameters of a model: ``index`` ``[k]`` (positions in the parameter vector),
    ``base`` ``[..., n_params]`` (the vector(s) the free values are written into), ``log``
    ``[k]`` (estimated as the logarithm) and the natural-unit bounds ``lower``/``upper`` ``[k]``
    (``None``: unbounded). ``clip=False`` keeps ``from_z`` from clipping to the bounds, for a
    caller that keeps ``z`` inside :meth:`z_bounds` itself (an optimiser with box constraints,
    a sampling design), so values and derivatives at a bound are the transform's own.

    Build one for a model with :func:`free_parameters`; see the module docstring."""

    index: Any  # Int[ndarray | Array, " k"]: NumPy for host callers, JAX under a trace
    base: Any  # Float[..., "*batch n_params"]
    log: Any  # Bool[..., " k"]
    lower: Float[ArrayLike, " k"] | None = None
    upper: Float[ArrayLike, " k"] | None = None
    clip: bool = eqx.field(static=True, default=True)

    @property
    def size(self) -> int:
        """The number of free parameters ``k``."""
        return int(np.shape(self.index)[0])

    def to_z(self, params: Float[ArrayLike, "*batch n_params"]) -> Any:
        """The free parameters of ``params`` on the estimation scale."""
        xp = _xp(params)
        values = xp.asarray(params)[..., self.index]
        return xp.where(self.log, xp.log(xp.maximum(values, _FLOOR)), values)

    def natural(self, z: Float[ArrayLike, "*batch k"]) -> Any:
        """The free parameters in natural units (clipped to the bounds if ``clip``)."""
        xp = _xp(z)
        values = xp.where(self.log, xp.exp(z), z)
        if self.clip and self.lower is not None and self.upper is not None:
            values = xp.clip(values, self.lower, self.upper)
        return values

    def from_z(
        self,
        z: Float[ArrayLike, "*batch k"],
        base: Float[ArrayLike, "*batch n_params"] | None = None,
    ) -> Any:
        """Parameter vectors: ``base`` (default: ``self.base``; e.g. each particle's own vector)
        with the free entries set from ``z``, broadcast over the batch shapes of both."""
        values = self.natural(z)
        base = self.base if base is None else base
        shape = np.broadcast_shapes(np.shape(values)[:-1], np.shape(base)[:-1])
        shape = shape + np.shape(base)[-1:]
        if _xp(values, base) is np:
            out = np.array(np.broadcast_to(base, shape))
            out[..., self.index] = values
            return out
        return jnp.broadcast_to(base, shape).at[..., self.index].set(values)

    def z_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The bounds on the estimation scale (NumPy): ``log`` of a bound where ``log`` (a lower
        bound of 0 becomes ``-inf``), the bound itself otherwise."""
        if self.lower is None or self.upper is None:
            raise ModelError(
                "FreeParameters.z_bounds() needs lower and upper bounds. Got none; build it with "
                "free_parameters(model, names) or pass lower= and upper=."
            )
        log = np.asarray(self.log, dtype=bool)
        out = []
        for b in (np.asarray(self.lower, np.float64), np.asarray(self.upper, np.float64)):
            with np.errstate(divide="ignore"):
                out.append(np.where(log, np.log(np.where(log, b, 1.0)), b))
        return out[0], out[1]


def free_parameters(
    model: AbstractModel,
    names: Sequence[str],
    base: Float[ArrayLike, "*batch n_params"] | None = None,
    *,
    clip: bool = True,
) -> FreeParameters:
    """The :class:`FreeParameters` ``names`` of ``model``: estimated on the log scale where the
    ``ParameterSpec`` lower bound is >= 0, bounded by the spec bounds, written into ``base``
    (default: the model's defaults). Unknown names raise ``ModelError``."""
    index = np.array([model.param_index(n) for n in names], dtype=np.int64)
    specs = [model.parameters[i] for i in index]
    lower = np.array([s.bounds[0] for s in specs], dtype=np.float64)
    upper = np.array([s.bounds[1] for s in specs], dtype=np.float64)
    return FreeParameters(
        index,
        model.default_params() if base is None else base,
        lower >= 0,
        lower,
        upper,
        clip=clip,
    )
