"""Global sensitivity analysis: Sobol indices and Morris screening for any scalar model output.

``fn`` maps a parameter matrix ``[N, P]`` (natural units, columns ordered like
``problem.names``) to one scalar output per row ``[N]`` -- typically one vmapped ``simulate``
call and a summary such as mean plasma glucose. The sample is evaluated in chunks of ``chunk``
rows through an executor (:mod:`medtwin.cohorts`), so serial, process and Dask runs give the same
indices for the same seed.

* :func:`sobol` -- first-order ``S1`` and total ``ST`` indices (Saltelli 2002 sampling on a
  scrambled Sobol sequence, Jansen/Saltelli estimators; SALib ``sample.sobol`` and
  ``analyze.sobol``) with bootstrap confidence intervals. Cost: ``n * (P + 2)`` evaluations.
* :func:`morris` -- elementary-effects screening (Morris 1991; ``mu*`` of Campolongo et al. 2007):
  ``mu*`` with a bootstrap CI, ``mu`` and ``sigma``. Cost: ``r * (P + 1)`` evaluations.

A :class:`Problem` holds names and bounds; :func:`problem_from_model` takes them from a model's
``ParameterSpec`` bounds. Parameters that are positive and span more than a decade
(``high / low > 10``) are sampled log-uniformly (uniform in ``log10``), the others uniformly.

Stochastic models: pass ``stochastic=True`` and ``replicates=k``; ``fn(X, seed)`` is then called
``k`` times per chunk with seeds spawned from that chunk's ``SeedSequence`` (an ``int``, e.g. for
``jax.random.key``) and the mean output per row enters the indices.

Requires ``pip install 'medtwin[cohorts]'`` (SALib). References: Saltelli A et al., Global
Sensitivity Analysis: The Primer, Wiley 2008; Sobol' IM, Math Comput Simul 55:271-280 (2001);
Morris MD, Technometrics 33:161-174 (1991); Herman J, Usher W, JOSS 2:97 (2017) (SALib).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jaxtyping import ArrayLike

from ..errors import MedtwinError, ModelError, SimulationError
from ..executors import Executor, SerialExecutor, run_batched
from ..models._base import AbstractModel

__all__ = ["MorrisResult", "Problem", "SobolResult", "morris", "problem_from_model", "sobol"]

_HINT = "pip install 'medtwin[cohorts]'"


def _salib(module: str) -> Any:
    try:
        return __import__(f"SALib.{module}", fromlist=["_"])
    except ImportError:  # pragma: no cover - depends on the environment
        raise MedtwinError(f"Sensitivity analysis needs SALib. Install it with: {_HINT}") from None


@dataclass(frozen=True)
class Problem:
    """Inputs of a sensitivity analysis: names, bounds (natural units) and which are log-uniform."""

    names: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    log: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        names, bounds = tuple(self.names), tuple((float(a), float(b)) for a, b in self.bounds)
        log = tuple(bool(v) for v in self.log) or (False,) * len(names)
        if not names or len(bounds) != len(names) or len(log) != len(names):
            raise ModelError(
                f"A sensitivity Problem needs one (low, high) bound and one log flag per name. "
                f"Got {len(names)} names, {len(bounds)} bounds, {len(self.log)} log flags."
            )
        for n, (lo, hi), lg in zip(names, bounds, log, strict=True):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi) or (lg and lo <= 0):
                raise ModelError(
                    f"Input {n!r} needs finite bounds low < high (low > 0 if log-uniform). "
                    f"Got ({lo:g}, {hi:g}), log={lg}."
                )
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "bounds", bounds)
        object.__setattr__(self, "log", log)

    def salib(self) -> dict[str, Any]:
        """The SALib problem dict, on the sampling scale (``log10`` for log-uniform inputs)."""
        b = [
            [math.log10(lo), math.log10(hi)] if lg else [lo, hi]
            for (lo, hi), lg in zip(self.bounds, self.log, strict=True)
        ]
        return {"num_vars": len(self.names), "names": list(self.names), "bounds": b}

    def to_natural(self, x: ArrayLike) -> np.ndarray:
        """Sampling-scale rows ``[N, P]`` to natural units (``10**x`` for log-uniform inputs)."""
        x = np.array(x, dtype=np.float64)
        logs = np.asarray(self.log)
        x[:, logs] = 10.0 ** x[:, logs]
        return x


def problem_from_model(
    model: AbstractModel, names: Sequence[str] | None = None, *, log: bool | None = None
) -> Problem:
    """A :class:`Problem` over ``names`` (default: all) of ``model`` with its ParameterSpec bounds.

    ``log=None`` samples positive inputs spanning more than a decade log-uniformly; True/False
    forces it for all (True needs positive bounds).
    """
    names = tuple(names) if names is not None else model.parameter_names
    specs = {p.name: p for p in model.parameters}
    bounds, logs = [], []
    for n in names:
        if n not in specs:
            raise ModelError(
                f"Model {model.name!r} has no parameter {n!r}. Expected some of: "
                f"{', '.join(model.parameter_names)}."
            )
        lo, hi = specs[n].bounds
        bounds.append((lo, hi))
        logs.append(lo > 0 and hi / lo > 10.0 if log is None else log)
    return Problem(names, tuple(bounds), tuple(logs))


@dataclass(frozen=True, eq=False)
class SobolResult:
    """Sobol indices per input; ``*_conf`` are half-widths of the ``conf`` bootstrap intervals."""

    names: tuple[str, ...]
    S1: np.ndarray
    S1_conf: np.ndarray
    ST: np.ndarray
    ST_conf: np.ndarray
    n: int  # base sample size
    n_evaluations: int
    conf: float
    samples: np.ndarray = field(repr=False)  # [n_evaluations, P], natural units
    outputs: np.ndarray = field(repr=False)  # [n_evaluations]

    @property
    def S1_ci(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of the first-order indices."""
        return self.S1 - self.S1_conf, self.S1 + self.S1_conf

    @property
    def ST_ci(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of the total indices."""
        return self.ST - self.ST_conf, self.ST + self.ST_conf


@dataclass(frozen=True, eq=False)
class MorrisResult:
    """Morris screening per input: ``mu_star`` (mean |elementary effect|) with its bootstrap CI
    half-width, ``mu`` (signed mean) and ``sigma`` (spread: interactions / non-linearity)."""

    names: tuple[str, ...]
    mu_star: np.ndarray
    mu_star_conf: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    r: int
    n_evaluations: int
    conf: float

    @property
    def ranking(self) -> tuple[str, ...]:
        """Input names from most to least influential by ``mu_star``."""
        return tuple(self.names[i] for i in np.argsort(-self.mu_star, kind="stable"))


class _Evaluate:
    """Picklable chunk function: fn on natural-unit rows, averaged over seeded replicates."""

    def __init__(self, fn: Callable[..., ArrayLike], stochastic: bool, replicates: int) -> None:
        self.fn, self.stochastic, self.replicates = fn, stochastic, replicates

    def __call__(self, rows: np.ndarray, seed: np.random.SeedSequence) -> np.ndarray:
        if not self.stochastic:
            return np.asarray(self.fn(rows), dtype=np.float64).reshape(rows.shape[0])
        outs = [
            np.asarray(self.fn(rows, int(s.generate_state(1)[0])), dtype=np.float64)
            for s in seed.spawn(self.replicates)
        ]
        return np.mean(outs, axis=0).reshape(rows.shape[0])


def _evaluate(fn, x, *, chunk, executor, seed, stochastic, replicates) -> np.ndarray:
    if int(replicates) != replicates or replicates < 1 or (replicates > 1 and not stochastic):
        raise SimulationError(
            f"'replicates' must be an integer >= 1, and > 1 only with stochastic=True (the "
            f"function then takes (X, seed)). Got replicates={replicates!r}, "
            f"stochastic={stochastic}."
        )
    y = run_batched(
        _Evaluate(fn, stochastic, int(replicates)),
        x,
        chunk=chunk,
        executor=executor or SerialExecutor(),
        seed=seed,
    )
    bad = ~np.isfinite(y)
    if bad.any():
        raise SimulationError(
            f"The model output must be finite for every sample. Got {int(bad.sum())} of "
            f"{y.size} non-finite (first at inputs {x[np.argmax(bad)].tolist()}). Narrow the "
            f"bounds or make the output robust to failed members."
        )
    return y


def sobol(
    fn: Callable[..., ArrayLike],
    problem: Problem,
    *,
    n: int,
    seed: int,
    executor: Executor | None = None,
    chunk: int = 1024,
    stochastic: bool = False,
    replicates: int = 1,
    conf: float = 0.95,
    num_resamples: int = 1000,
) -> SobolResult:
    """Sobol first-order and total indices of ``fn`` over ``problem`` with bootstrap CIs.

    ``n`` is the base sample size (a power of 2, as the Sobol sequence needs); ``fn`` is run on
    ``n * (P + 2)`` rows. ``seed`` fixes the scrambling, the chunk seeds and the bootstrap.
    """
    if int(n) != n or n < 2 or int(n) & (int(n) - 1):
        raise SimulationError(
            f"The base sample size 'n' of sobol() must be a power of 2 (e.g. 1024). Got {n!r}."
        )
    sample, analyze = _salib("sample.sobol"), _salib("analyze.sobol")
    sp = problem.salib()
    u = sample.sample(sp, int(n), calc_second_order=False, scramble=True, seed=seed)
    x = problem.to_natural(u)
    y = _evaluate(
        fn,
        x,
        chunk=chunk,
        executor=executor,
        seed=seed,
        stochastic=stochastic,
        replicates=replicates,
    )
    si = analyze.analyze(
        sp,
        y,
        calc_second_order=False,
        num_resamples=int(num_resamples),
        conf_level=float(conf),
        seed=seed,
    )
    return SobolResult(
        names=problem.names,
        S1=np.asarray(si["S1"]),
        S1_conf=np.asarray(si["S1_conf"]),
        ST=np.asarray(si["ST"]),
        ST_conf=np.asarray(si["ST_conf"]),
        n=int(n),
        n_evaluations=int(y.size),
        conf=float(conf),
        samples=x,
        outputs=y,
    )


def morris(
    fn: Callable[..., ArrayLike],
    problem: Problem,
    *,
    r: int,
    levels: int = 4,
    seed: int,
    executor: Executor | None = None,
    chunk: int = 1024,
    stochastic: bool = False,
    replicates: int = 1,
    conf: float = 0.95,
    num_resamples: int = 1000,
) -> MorrisResult:
    """Morris elementary-effects screening with ``r`` trajectories on a ``levels``-level grid.

    Effects are per unit of the sampling scale (``log10`` for log-uniform inputs).
    """
    if int(r) != r or r < 2 or int(levels) != levels or levels < 2 or levels % 2:
        raise SimulationError(
            f"morris() needs r >= 2 trajectories and an even number of levels >= 2. Got "
            f"r={r!r}, levels={levels!r}."
        )
    sample, analyze = _salib("sample.morris"), _salib("analyze.morris")
    sp = problem.salib()
    u = sample.sample(sp, int(r), num_levels=int(levels), seed=seed)
    y = _evaluate(
        fn,
        problem.to_natural(u),
        chunk=chunk,
        executor=executor,
        seed=seed,
        stochastic=stochastic,
        replicates=replicates,
    )
    si = analyze.analyze(
        sp,
        u,
        y,
        num_resamples=int(num_resamples),
        conf_level=float(conf),
        num_levels=int(levels),
        seed=seed,
    )
    return MorrisResult(
        names=problem.names,
        mu_star=np.asarray(si["mu_star"], dtype=np.float64),
        mu_star_conf=np.asarray(si["mu_star_conf"], dtype=np.float64),
        mu=np.asarray(si["mu"], dtype=np.float64),
        sigma=np.asarray(si["sigma"], dtype=np.float64),
        r=int(r),
        n_evaluations=int(y.size),
        conf=float(conf),
    )
