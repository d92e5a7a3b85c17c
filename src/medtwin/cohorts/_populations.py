"""Virtual populations: parameter matrices whose rows are patients, with their covariates.

A :class:`Population` is ``params [N, P]`` (ordered like a model's ``parameter_names``), a dict
of per-patient covariate arrays ``[N]`` (age group, sex, body weight, simulated observables, ...)
and patient ids. It travels whole through sampling, filtering, selection and trials: a subset
keeps each patient's covariates with its parameters.

Where patients come from:

* :func:`sample_ranges` -- the model's ``ParameterSpec`` bounds (or given ones), uniform or
  log-uniform, on a Latin hypercube or a scrambled Sobol sequence (``scipy.stats.qmc``).
* :func:`sample_lognormal` -- inter-individual variability around a typical patient,
  ``theta_i = theta_typ * exp(eta_i)``, ``eta ~ N(0, Omega)`` (the log-normal random effects of
  population pharmacometrics), on the same quasi-random designs.
* :func:`sample_prior` -- any twin :class:`~medtwin.assimilate.Prior` (``SpecPrior``,
  ``PopulationPrior``).
* :func:`enlarge` (in ``_generative``) and :func:`replica` -- from real patients' twins.

:func:`observe` attaches simulated observables as covariates and :func:`plausible` keeps the
rows whose observables lie in plausible ranges; :func:`select_arm` (in ``_selection``) then picks
a virtual population that matches a target distribution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import jax
import numpy as np
import numpy.typing as npt
from jaxtyping import ArrayLike

from ..assimilate._ensemble import Prior
from ..errors import ModelError, SimulationError
from ..executors import Executor, Progress, run_batched
from ..models._base import AbstractModel
from ..models._free import FreeParameters

__all__ = [
    "Population",
    "observe",
    "plausible",
    "sample_lognormal",
    "sample_prior",
    "sample_ranges",
]

_METHODS = ("lhs", "sobol", "random")


@dataclass(frozen=True, eq=False, init=False)
class Population:
    """``N`` virtual patients: ``params[i]`` (columns ``parameter_names``), ``covariates[k][i]``
    and ``ids[i]``. Immutable; :meth:`subset`, :meth:`with_covariates` and :func:`concat`
    return new populations.

    The constructor takes array-likes (lists too) and stores arrays: ``params`` float64
    ``[N, P]`` (read-only), each covariate ``[N]`` (strings as object arrays), ``ids`` ``[N]``
    strings (``vp000000``, ``vp000001``, ... when not given)."""

    params: np.ndarray
    parameter_names: tuple[str, ...]
    covariates: Mapping[str, np.ndarray]
    ids: np.ndarray

    def __init__(
        self,
        params: npt.ArrayLike,
        parameter_names: Sequence[str],
        covariates: Mapping[str, npt.ArrayLike] | None = None,
        ids: Iterable[object] | None = None,
    ) -> None:
        p = np.array(params, dtype=np.float64)
        names = tuple(parameter_names)
        if p.ndim != 2 or p.shape[1] != len(names):
            raise ModelError(
                f"A Population needs params of shape (N, {len(names)}) (one column per parameter "
                f"name). Got shape {p.shape}."
            )
        n = p.shape[0]
        id_array = (
            np.array([f"vp{i:06d}" for i in range(n)], dtype=object)
            if ids is None
            else np.array([str(i) for i in ids], dtype=object)
        )
        cov = {}
        for k, v in dict(covariates or {}).items():
            a = np.asarray(v)
            if a.shape != (n,):
                raise ModelError(
                    f"Covariate {k!r} needs one value per patient, shape ({n},). Got {a.shape}."
                )
            cov[str(k)] = a.astype(object) if a.dtype.kind in "OUS" else a
        if id_array.shape != (n,):
            raise ModelError(f"A Population of {n} patients needs {n} ids. Got {id_array.shape}.")
        p.setflags(write=False)
        object.__setattr__(self, "params", p)
        object.__setattr__(self, "parameter_names", names)
        object.__setattr__(self, "covariates", cov)
        object.__setattr__(self, "ids", id_array)

    def __len__(self) -> int:
        return int(self.params.shape[0])

    @property
    def size(self) -> int:
        return len(self)

    def __repr__(self) -> str:
        return (
            f"Population(n={len(self)}, parameters={len(self.parameter_names)}, "
            f"covariates={sorted(self.covariates)})"
        )

    def param(self, name: str) -> np.ndarray:
        """Column ``name`` of ``params`` ``[N]``."""
        if name not in self.parameter_names:
            raise ModelError(
                f"This population has no parameter {name!r}. Expected one of: "
                f"{', '.join(self.parameter_names)}."
            )
        return self.params[:, self.parameter_names.index(name)]

    def covariate(self, name: str) -> np.ndarray:
        """Covariate ``name`` ``[N]`` (a parameter of the same name if there is no covariate)."""
        if name in self.covariates:
            return self.covariates[name]
        if name in self.parameter_names:
            return self.param(name)
        raise ModelError(
            f"This population has no covariate {name!r}. Covariates: "
            f"{', '.join(sorted(self.covariates)) or 'none'}; parameters can be named too."
        )

    def subset(self, index: npt.ArrayLike | slice) -> Population:
        """The patients at ``index`` (integer indices, a boolean mask or a slice)."""
        idx = index if isinstance(index, slice) else np.asarray(index)
        return Population(
            self.params[idx],
            self.parameter_names,
            {k: v[idx] for k, v in self.covariates.items()},
            self.ids[idx],
        )

    def with_covariates(self, **values: npt.ArrayLike) -> Population:
        """A copy with covariates added or replaced."""
        return Population(
            self.params, self.parameter_names, {**self.covariates, **values}, self.ids
        )


def concat(populations: Sequence[Population]) -> Population:
    """One population from several with the same parameters and covariate names."""
    if not populations:
        raise ModelError("concat() needs at least one Population.")
    first = populations[0]
    for p in populations[1:]:
        if p.parameter_names != first.parameter_names or set(p.covariates) != set(first.covariates):
            raise ModelError(
                "concat() needs populations with the same parameter and covariate names. Got "
                f"{sorted(first.covariates)} and {sorted(p.covariates)}."
            )
    return Population(
        np.concatenate([p.params for p in populations]),
        first.parameter_names,
        {k: np.concatenate([p.covariates[k] for p in populations]) for k in first.covariates},
        np.concatenate([p.ids for p in populations]),
    )


def _unit_design(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """``[n, d]`` points in the unit cube (open at 0 and 1)."""
    from scipy.stats import qmc

    if method not in _METHODS:
        raise ModelError(f"The sampling method must be one of {_METHODS}. Got {method!r}.")
    if int(n) != n or n < 1:
        raise ModelError(f"The number of patients to sample must be >= 1. Got {n!r}.")
    rng = np.random.default_rng(seed)
    if method == "lhs":
        u = qmc.LatinHypercube(d=d, rng=rng).random(n)
    elif method == "sobol":
        u = qmc.Sobol(d=d, scramble=True, rng=rng).random(n)  # n need not be a power of 2
    else:
        u = rng.uniform(size=(n, d))
    return np.clip(u, 1e-12, 1.0 - 1e-12)


def _base(model: AbstractModel, base: ArrayLike | None) -> np.ndarray:
    b = np.asarray(model.default_params() if base is None else base, dtype=np.float64)
    if b.shape != (model.n_params,):
        raise ModelError(
            f"'base' must be one parameter vector of {model.name!r}, shape ({model.n_params},). "
            f"Got {b.shape}."
        )
    return b


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}{i:06d}" for i in range(n)], dtype=object)


def sample_ranges(
    model: AbstractModel,
    n: int,
    *,
    names: Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    method: str = "lhs",
    log: bool | None = None,
    base: ArrayLike | None = None,
    covariates: Mapping[str, ArrayLike] | None = None,
    seed: int = 0,
) -> Population:
    """``n`` patients with ``names`` (default: all parameters) spread over their ranges.

    Ranges are the ``ParameterSpec`` bounds unless ``bounds`` gives others. ``method`` is
    ``"lhs"`` (Latin hypercube; McKay, Beckman & Conover 1979, Technometrics 21:239),
    ``"sobol"`` (scrambled Sobol' sequence; Owen 1998) or ``"random"``. As in
    :func:`~medtwin.analysis.problem_from_model`, positive parameters whose range spans more than
    a decade are spread log-uniformly (``log=True``/``False`` forces it). Parameters not named
    keep ``base`` (default: the model's defaults).
    """
    names = tuple(names) if names is not None else model.parameter_names
    bounds = dict(bounds or {})
    specs = {p.name: p for p in model.parameters}
    for k in (*names, *bounds):
        if k not in specs:
            raise ModelError(
                f"Model {model.name!r} has no parameter {k!r}. Expected some of: "
                f"{', '.join(model.parameter_names)}."
            )
    lo = np.array([bounds.get(k, specs[k].bounds)[0] for k in names], dtype=np.float64)
    hi = np.array([bounds.get(k, specs[k].bounds)[1] for k in names], dtype=np.float64)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo < hi)):
        bad = [
            k for k, a, b in zip(names, lo, hi, strict=True) if not (math.isfinite(a + b) and a < b)
        ]
        raise ModelError(
            f"sample_ranges() needs finite ranges low < high. Parameters {bad} have none; pass "
            "bounds={name: (low, high)}."
        )
    lg = (
        (lo > 0) & (hi / np.where(lo > 0, lo, 1.0) > 10.0)
        if log is None
        else np.full(len(names), log)
    )
    if np.any(lg & (lo <= 0)):
        raise ModelError("Log-uniform sampling needs positive lower bounds.")
    u = _unit_design(method, n, len(names), seed)
    index = np.array([model.param_index(k) for k in names], dtype=np.int64)
    free = FreeParameters(index, _base(model, base), lg, lo, hi, clip=False)
    zlo, zhi = free.z_bounds()
    params = free.from_z(zlo + u * (zhi - zlo))
    return Population(params, model.parameter_names, dict(covariates or {}), _ids("vp", n))


def sample_lognormal(
    model: AbstractModel,
    n: int,
    *,
    omega: Mapping[str, float] | ArrayLike,
    names: Sequence[str] | None = None,
    typical: ArrayLike | None = None,
    method: str = "lhs",
    clip: bool = True,
    covariates: Mapping[str, ArrayLike] | None = None,
    seed: int = 0,
) -> Population:
    """``n`` patients ``theta_i = theta_typ * exp(eta_i)``, ``eta_i ~ N(0, Omega)``.

    ``omega`` is either ``{name: sd of eta}`` (a diagonal Omega over those parameters, e.g.
    ``{"Vmx": 0.3}`` for about 30 % CV) or a full covariance matrix ``[k, k]`` over ``names``.
    The normal deviates come from the ``method`` design pushed through the normal quantile
    function, so ``"lhs"``/``"sobol"`` stratify the random effects. ``typical`` defaults to the
    model's defaults; draws are clipped to the ``ParameterSpec`` bounds unless ``clip=False``.
    """
    from scipy.stats import norm

    if isinstance(omega, Mapping):
        names = tuple(omega) if names is None else tuple(names)
        cov = np.diag([float(omega[k]) ** 2 for k in names])
    else:
        cov = np.atleast_2d(np.asarray(omega, dtype=np.float64))
        if names is None or cov.shape != (len(names), len(names)):
            raise ModelError(
                "sample_lognormal() with a covariance matrix needs names of matching length: "
                f"got a {cov.shape} matrix and names={names!r}."
            )
        names = tuple(names)
    typ = _base(model, typical)
    idx = [model.param_index(k) for k in names]
    if np.any(typ[idx] <= 0):
        raise ModelError(f"Log-normal variability needs positive typical values of {names}.")
    root = _matrix_root(cov)
    eta = norm.ppf(_unit_design(method, n, len(names), seed)) @ root.T
    params = np.tile(typ, (n, 1))
    values = typ[idx] * np.exp(eta)
    if clip:
        lo = np.array([model.parameters[i].bounds[0] for i in idx])
        hi = np.array([model.parameters[i].bounds[1] for i in idx])
        values = np.clip(values, lo, hi)
    params[:, idx] = values
    return Population(params, model.parameter_names, dict(covariates or {}), _ids("vp", n))


def _matrix_root(cov: np.ndarray) -> np.ndarray:
    """``L`` with ``L @ L.T == cov`` for a symmetric positive semi-definite ``cov`` (rank
    deficient allowed: eigen-decomposition with negative round-off clipped)."""
    cov = 0.5 * (cov + cov.T)
    w, v = np.linalg.eigh(cov)
    if np.any(w < -1e-8 * max(1.0, float(np.max(np.abs(w))))):
        raise ModelError("The covariance matrix must be positive semi-definite.")
    return v * np.sqrt(np.clip(w, 0.0, None))


def sample_prior(
    model: AbstractModel,
    prior: Prior,
    n: int,
    *,
    covariates: Mapping[str, ArrayLike] | None = None,
    seed: int = 0,
) -> Population:
    """``n`` patients drawn from a twin prior (``prior.sample(model, key, n)``)."""
    params = np.asarray(prior.sample(model, jax.random.key(seed), int(n)), dtype=np.float64)
    return Population(params, model.parameter_names, dict(covariates or {}), _ids("vp", n))


def observe(
    population: Population,
    fn: Callable[[np.ndarray, np.random.SeedSequence], ArrayLike],
    names: Sequence[str],
    *,
    chunk: int = 256,
    executor: Executor | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Population:
    """Attach simulated observables as covariates.

    ``fn(params_rows [n, P], seed) -> [n, len(names)]`` (e.g. one vmapped ``simulate`` and a
    summary: fasting glucose, peak glucose after a meal, ...) runs in chunks of ``chunk`` rows
    through ``executor`` (:func:`~medtwin.cohorts.run_batched`), a module-level function when
    the executor uses other processes.
    """
    names = tuple(names)
    out = run_batched(
        fn, population.params, chunk=chunk, executor=executor, seed=seed, progress=progress
    )
    out = out.reshape(len(population), -1)
    if out.shape[1] != len(names):
        raise SimulationError(
            f"observe(): the function returned {out.shape[1]} values per patient for "
            f"{len(names)} names {names}."
        )
    return population.with_covariates(**{k: out[:, j] for j, k in enumerate(names)})


def plausible(population: Population, ranges: Mapping[str, tuple[float, float]]) -> Population:
    """The patients whose covariates (e.g. observables from :func:`observe`) all lie in their
    ``ranges`` ``{name: (low, high)}`` (bounds included); NaN is never plausible."""
    keep = np.ones(len(population), dtype=bool)
    for k, (lo, hi) in ranges.items():
        v = np.asarray(population.covariate(k), dtype=np.float64)
        keep &= np.isfinite(v) & (v >= lo) & (v <= hi)
    return population.subset(keep)
