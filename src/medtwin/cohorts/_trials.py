"""In-silico trials: arms given to every patient of a population, endpoints per patient, and
results with bootstrap confidence intervals.

* An **arm** is anything with a ``name`` and ``run(population_chunk, seed)`` returning the chunk's
  trajectories (a :class:`~medtwin.simulate.Trajectory`, batch first) or its endpoint values
  directly (``{endpoint name: [n]}``) -- the :class:`Arm` protocol. :class:`RegimenArm` gives a
  regimen: the same for all, or built per patient from its parameters and covariates (a basal
  rate from its own steady state, boluses from its carb ratio). Closed-loop policy arms
  (:mod:`medtwin.control`) plug in through the same protocol.
* An **endpoint** maps a chunk's trajectories (and the chunk) to one value per patient
  (:mod:`~medtwin.cohorts._endpoints`).
* :func:`run_trial` runs every arm on every chunk of the population through an executor
  (serial, processes, Dask): each chunk is one task that runs all arms with the same chunk seed,
  so a patient meets the same random scenario (meals, noise) in every arm and between-arm
  differences are paired. Numbers are identical across executors for the same chunking.

Patient ``i`` of a chunk draws its randomness from ``SeedSequence(chunk seed entropy,
spawn_key=chunk spawn_key + (i,))`` (the ``i``-th child of the chunk seed), the same in every arm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np
from jaxtyping import ArrayLike

from ..errors import ModelError, SimulationError
from ..executors import Executor, Progress, SerialExecutor, chunked
from ..models._base import AbstractModel
from ..simulate import Regimen, Solver, simulate
from ._endpoints import Endpoint
from ._populations import Population
from ._results import TrialResult

__all__ = ["Arm", "RegimenArm", "Subject", "run_trial", "subject_rng", "subjects"]


@runtime_checkable
class Arm(Protocol):
    """One arm of a trial: ``run(chunk, seed)`` -> trajectories or ``{endpoint: [n]}``."""

    name: str

    def run(
        self, population: Population, seed: np.random.SeedSequence
    ) -> Any: ...  # Trajectory-like (batch first) or Mapping[str, array [n]]


@dataclass(frozen=True)
class Subject:
    """One patient as a per-patient regimen function sees it."""

    id: str
    params: Mapping[str, float]
    covariates: Mapping[str, Any]


def subject_rng(seed: np.random.SeedSequence, i: int) -> np.random.Generator:
    """The random generator of patient ``i`` of a chunk with seed ``seed`` (child ``i`` of it,
    without changing ``seed``'s spawn counter: every arm gets the same one)."""
    child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, int(i)))
    return np.random.default_rng(child)


def subjects(population: Population) -> list[Subject]:
    """The chunk's patients as :class:`Subject` views (for per-patient regimens)."""
    names = population.parameter_names
    return [
        Subject(
            str(population.ids[i]),
            dict(zip(names, population.params[i].tolist(), strict=True)),
            {k: v[i] for k, v in population.covariates.items()},
        )
        for i in range(len(population))
    ]


RegimenFn = Callable[[Subject, np.random.Generator], Regimen]


@dataclass(frozen=True, eq=False)
class RegimenArm:
    """An arm that gives a regimen: one :class:`~medtwin.simulate.Regimen` for all, or
    ``regimen(subject, rng) -> Regimen`` per patient (a module-level function or a picklable
    object when the executor uses other processes). Simulated from 0 to ``t1`` with ``simulate``;
    ``saveat`` defaults to every input step; ``save_states`` for endpoints on states (e.g. the
    sepsis outcome); ``observables`` the observables the endpoints read (default: all), so a
    chunk holds only those."""

    name: str
    model: AbstractModel
    regimen: Regimen | RegimenFn
    t1: float
    saveat: ArrayLike | None = None
    save_states: bool = False
    solver: Solver | None = None
    observables: tuple[str, ...] | None = None

    def run(self, population: Population, seed: np.random.SeedSequence) -> Any:
        if isinstance(self.regimen, Regimen):
            regimens: Regimen | list[Regimen] = self.regimen
        else:
            regimens = [
                self.regimen(s, subject_rng(seed, i)) for i, s in enumerate(subjects(population))
            ]
        key = jax.random.key(int(seed.generate_state(1)[0])) if self.model.stochastic else None
        return simulate(
            self.model,
            population.params,
            regimens,
            t1=self.t1,
            saveat=self.saveat,
            save_states=self.save_states,
            solver=self.solver,
            key=key,
            observables=self.observables,
        )


@dataclass(frozen=True, eq=False)
class _Task:
    arms: tuple[Any, ...]
    endpoints: tuple[Endpoint, ...]
    population: Population = field(repr=False)


def _run_chunk(task: _Task, seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """One chunk, every arm: values ``[A, E, n]`` and status ``[A, n]`` (0 = ok)."""
    n = len(task.population)
    values = np.full((len(task.arms), len(task.endpoints), n), np.nan)
    status = np.zeros((len(task.arms), n), dtype=np.int64)
    for a, arm in enumerate(task.arms):
        out = arm.run(task.population, seed)
        if isinstance(out, Mapping):
            missing = [e.name for e in task.endpoints if e.name not in out]
            if missing:
                raise SimulationError(
                    f"Arm {arm.name!r} returned endpoint values without {missing}; return them "
                    "or a Trajectory the endpoints can be computed from."
                )
            for j, e in enumerate(task.endpoints):
                values[a, j] = np.asarray(out[e.name], dtype=np.float64).reshape(n)
            st = out.get("status")
            status[a] = 0 if st is None else np.asarray(st).reshape(n)
            continue
        status[a] = np.asarray(out.status).reshape(n)
        for j, e in enumerate(task.endpoints):
            values[a, j] = np.asarray(e(out, task.population), dtype=np.float64).reshape(n)
    values[:, :, :] = np.where(status[:, None, :] == 0, values, np.nan)
    return values, status


def run_trial(
    population: Population,
    arms: Sequence[Any],
    endpoints: Sequence[Endpoint],
    *,
    chunk: int = 256,
    executor: Executor | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> TrialResult:
    """Give every arm to every patient of ``population`` and compute the endpoints.

    The population is cut into chunks of ``chunk`` patients, each one task (all arms, one
    vmapped simulation per arm) on ``executor`` (serial by default); ``progress(done, total)`` is
    called as chunks finish. A patient whose simulation fails in an arm gets status != 0 there
    and NaN endpoints, and is left out of that arm's means (and of paired differences with it).
    """
    arms, endpoints = tuple(arms), tuple(endpoints)
    if not arms or not endpoints:
        raise ModelError("run_trial() needs at least one arm and one endpoint.")
    for arm in arms:
        if not isinstance(arm, Arm):
            raise ModelError(
                f"Each arm needs a 'name' and a run(population, seed) method. Got {arm!r}."
            )
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ModelError(f"Arm names must be unique. Got {names}.")
    enames = [e.name for e in endpoints]
    if len(set(enames)) != len(enames):
        raise ModelError(f"Endpoint names must be unique. Got {enames}.")
    tasks = [_Task(arms, endpoints, population.subset(s)) for s in chunked(len(population), chunk)]
    ex = executor if executor is not None else SerialExecutor()
    kwargs = {} if progress is None else {"progress": progress}
    outs = ex.map_chunks(_run_chunk, tasks, seed=seed, **kwargs)
    if outs:
        values = np.concatenate([o[0] for o in outs], axis=2)
        status = np.concatenate([o[1] for o in outs], axis=1)
    else:
        values = np.empty((len(arms), len(endpoints), 0))
        status = np.empty((len(arms), 0), dtype=np.int64)
    return TrialResult(
        population=population,
        arms=tuple(names),
        endpoints=tuple(enames),
        units=tuple(getattr(e, "unit", "") for e in endpoints),
        values=values,
        status=status,
    )
