"""A PEtab problem compiled for JAX: :class:`PetabProblem` (built by :func:`~._load.load_petab`).

Loading maps every table onto arrays once (host side, NumPy), so the likelihood is one jitted
function of the estimated parameters ``z`` (on their ``parameterScale``):

1. ``values = parameters.from_z(z)``: every row of the parameter table in linear units;
2. per experiment (pre-equilibration and simulation condition), the model's parameter vectors:
   each model parameter takes its condition-table value (a number, or a parameter-table row),
   else its parameter-table value, else the SBML document's value;
3. one vmapped solve of all experiments (:func:`~._solve.solve_experiments`);
4. per observable, its formula and its noise formula over the measurements of that
   observable, with ``observableParameter<k>_<id>`` / ``noiseParameter<k>_<id>`` taken from
   each measurement's overrides (numbers or parameter-table rows), model quantities (species,
   parameters, compartments, reactions: their SBML values) from the solved states, other
   parameter-table ids from ``values`` and ``t``/``time`` the measurement time;
5. ``nllh = sum -log p(m | y, sigma)`` (:mod:`._noise`); ``+inf`` where any solve failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..errors import DataError
from ..sbml import SBMLModel
from ..sbml._jaxmath import emit
from ..sbml._mathml import Expr
from ._noise import neg_log_likelihood
from ._parameters import Parameters
from ._read import Cell
from ._solve import SolverSettings, solve_experiments

__all__ = ["PetabProblem"]


@dataclass(frozen=True)
class _Observable:
    """One observable, compiled: its formulas, the model quantities they read, its codes and
    the measurement rows it owns."""

    id: str
    formula: Expr
    noise: Expr
    model_names: tuple[str, ...]
    transformation: int
    distribution: int
    rows: tuple[int, ...]  # measurement rows (a tuple: observables are static)


class _Gather(eqx.Module):
    """Values that are numbers or parameter-table rows: ``where(index >= 0, values[index],
    const)``."""

    index: np.ndarray
    const: np.ndarray

    def __call__(self, values: Array) -> Array:
        idx = jnp.asarray(self.index)
        return jnp.where(idx >= 0, values[jnp.maximum(idx, 0)], jnp.asarray(self.const))


def _gather(cells: list[list[Cell]], width: int, params: Parameters, fill: list[float],
            what: Callable[[int], str]) -> _Gather:  # fmt: skip
    index = np.full((len(cells), width), -1, np.int64)
    const = (
        np.tile(np.asarray(fill, np.float64), (len(cells), 1))
        if fill
        else np.zeros((len(cells), width))
    )
    for i, row in enumerate(cells):
        for j, c in enumerate(row):
            if isinstance(c, str):
                if c not in params.ids:
                    raise DataError(
                        f"{what(i)} names {c!r}, which is neither a number nor a parameter of "
                        "the parameter table. Add a row for it to the parameter table or use a "
                        "number."
                    )
                index[i, j] = params.ids.index(c)
            elif not math.isnan(c):
                const[i, j] = c
    return _Gather(index, const)


class PetabProblem(eqx.Module):
    """A PEtab problem ready to evaluate; build it with :func:`load_petab`.

    ``nllh(z)`` is the negative log-likelihood at the estimated parameters ``z`` (on their
    scales, in the order of ``parameter_ids``); ``jax.grad(problem.nllh)`` its gradient;
    ``value_and_grad(z)`` both, compiled once. ``z_nominal`` and ``z_bounds()`` come from the
    parameter table; ``neg_log_prior(z)`` is the prior's part of a posterior
    (:mod:`._parameters`)."""

    model: SBMLModel
    parameters: Parameters
    settings: SolverSettings = eqx.field(static=True)
    observables: tuple[_Observable, ...] = eqx.field(static=True)
    measurement: np.ndarray  # [M]
    time: np.ndarray  # [M]
    experiment: np.ndarray  # int [M]
    time_index: np.ndarray  # int [M]
    ts: np.ndarray  # [E, T]
    p_sim: _Gather
    p_pre: _Gather | None
    reinit: np.ndarray | None  # bool [E, n_states]
    obs_par: _Gather
    noise_par: _Gather
    table_names: tuple[str, ...] = eqx.field(static=True)  # non-model table ids in formulas
    jump_exprs: tuple[Expr, ...] = eqx.field(static=True)

    @property
    def parameter_ids(self) -> tuple[str, ...]:
        """The estimated parameters, in the order of ``z``."""
        return self.parameters.estimated_ids

    @property
    def z_nominal(self) -> np.ndarray:
        """The nominal values of the estimated parameters on their scales."""
        return self.parameters.to_z()

    def z_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of ``z``."""
        return self.parameters.z_bounds()

    def simulate(self, z: Float[ArrayLike, " k"]) -> tuple[Array, Array]:
        """Per measurement, the simulated observable and its noise parameter (``sigma``),
        each ``[n_measurements]``, at ``z``; NaN where a solve failed."""
        values = self.parameters.from_z(z)
        p_sim = self.p_sim(values)
        p_pre = None if self.p_pre is None else self.p_pre(values)
        reinit = None if self.reinit is None else jnp.asarray(self.reinit)
        ys, ok = solve_experiments(self.model, p_sim, p_pre, reinit, jnp.asarray(self.ts),
                                   self.jump_exprs, self.settings)  # fmt: skip
        y_meas = ys[self.experiment, self.time_index]
        p_meas = p_sim[self.experiment]
        t = jnp.asarray(self.time)
        obs_par, noise_par = self.obs_par(values), self.noise_par(values)
        sim = jnp.zeros(len(self.time))
        sig = jnp.zeros(len(self.time))
        for o in self.observables:
            r = jnp.asarray(o.rows)
            env = {n: values[self.parameters.index(n)] for n in self.table_names}
            if o.model_names:
                q = jax.vmap(lambda tt, y, p, o=o: self.model.quantities(tt, y, p, o.model_names))(
                    t[r], y_meas[r], p_meas[r]
                )
                env.update({n: q[:, i] for i, n in enumerate(o.model_names)})
            for k in range(obs_par.shape[1]):
                env[f"observableParameter{k + 1}_{o.id}"] = obs_par[r, k]
            for k in range(noise_par.shape[1]):
                env[f"noiseParameter{k + 1}_{o.id}"] = noise_par[r, k]
            n = len(o.rows)
            sim = sim.at[r].set(jnp.broadcast_to(emit(o.formula, env, t[r]), (n,)))
            sig = sig.at[r].set(jnp.broadcast_to(emit(o.noise, env, t[r]), (n,)))
        bad = ~ok[self.experiment]
        return jnp.where(bad, jnp.nan, sim), jnp.where(bad, jnp.nan, sig)

    def nllh(self, z: Float[ArrayLike, " k"]) -> Float[Array, ""]:
        """The negative log-likelihood at ``z`` (priors excluded); ``+inf`` where a solve
        failed."""
        return _nllh(self, jnp.asarray(z, jnp.float64))

    def value_and_grad(self, z: Float[ArrayLike, " k"]) -> tuple[Array, Array]:
        """``(nllh(z), grad nllh(z))``, compiled once per problem."""
        return _value_and_grad(self, jnp.asarray(z, jnp.float64))

    def neg_log_prior(self, z: Float[ArrayLike, " k"]) -> Float[Array, ""]:
        """``-log`` of the prior density at ``z`` (0 where the table gives no priors)."""
        return self.parameters.neg_log_prior(z)


def _nllh_terms(problem: PetabProblem, z: Array) -> Array:
    sim, sig = problem.simulate(z)
    m = jnp.asarray(problem.measurement)
    total = jnp.float64(0.0)
    for o in problem.observables:
        r = jnp.asarray(o.rows)
        total = total + jnp.sum(neg_log_likelihood(m[r], sim[r], sig[r], o.transformation,
                                                   o.distribution))  # fmt: skip
    return jnp.where(jnp.isnan(total), jnp.inf, total)


@eqx.filter_jit
def _nllh(problem: PetabProblem, z: Array) -> Array:
    return _nllh_terms(problem, z)


@eqx.filter_jit
def _value_and_grad(problem: PetabProblem, z: Array) -> tuple[Array, Array]:
    return jax.value_and_grad(lambda zz: _nllh_terms(problem, zz))(z)
