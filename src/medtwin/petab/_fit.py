"""Calibration of a PEtab problem: multi-start L-BFGS-B with the JAX gradient.

:func:`fit` draws ``n_starts`` points uniformly within the bounds of ``z`` (each parameter on
its ``parameterScale``, the usual multi-start design of PEtab tools), seeded, and runs SciPy's
L-BFGS-B from each with :meth:`~medtwin.petab.PetabProblem.value_and_grad` (one compiled
function for value and gradient). The objective is the negative log-likelihood, plus the
negative log-prior where ``prior=True``. A point where the model cannot be solved gets a large
finite value (``1e10``) and a zero gradient, so the line search backs off from it instead of
stopping on ``inf``.

References
----------
Raue et al. (2013), "Lessons learned from quantitative dynamical modeling in systems
biology", PLoS ONE 8(9): e74335 (multi-start local optimisation); Byrd, Lu, Nocedal, Zhu
(1995), "A limited memory algorithm for bound constrained optimization", SIAM J Sci Comput 16.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from scipy.optimize import minimize

from ..errors import DataError
from ._problem import PetabProblem

__all__ = ["FitResult", "fit"]

_FAILED = 1e10  # objective value where the model cannot be solved


@dataclass(frozen=True)
class FitResult:
    """The outcome of :func:`fit`: the best ``z`` and its objective ``value``; per start (in the
    order drawn) the start point, end point, final value and SciPy's success flag. Arrays are
    ``[n_starts, k]`` or ``[n_starts]``; ``parameter_ids`` names the ``k`` columns."""

    z: np.ndarray
    value: float
    starts: np.ndarray
    ends: np.ndarray
    values: np.ndarray
    converged: np.ndarray
    parameter_ids: tuple[str, ...]


def fit(
    problem: PetabProblem,
    *,
    n_starts: int = 10,
    seed: int = 0,
    maxiter: int = 1000,
    prior: bool = False,
) -> FitResult:
    """Multi-start L-BFGS-B over the estimated parameters (see the module docstring).

    ``seed`` makes the start points reproducible; ``maxiter`` bounds the iterations per
    start; ``prior=True`` minimises ``nllh + neg_log_prior`` (a MAP estimate) instead."""
    if not (isinstance(n_starts, int) and n_starts >= 1):
        raise DataError(f"fit() needs n_starts, an integer >= 1. Got {n_starts!r}.")
    lo, hi = problem.z_bounds()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise DataError(
            "fit() draws its starts within the parameters' bounds, which must be finite on the "
            f"parameterScale. Got lower {lo.tolist()} and upper {hi.tolist()}. Give every "
            "estimated parameter finite bounds (a positive lower bound on log scales)."
        )
    rng = np.random.default_rng(seed)
    starts = rng.uniform(lo, hi, size=(n_starts, len(lo)))

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = problem.value_and_grad(z)
        v, g = float(value), np.asarray(grad, np.float64)
        if prior:
            v += float(problem.neg_log_prior(z))
            g = g + _prior_grad(problem, z)
        if not (np.isfinite(v) and np.all(np.isfinite(g))):
            return _FAILED, np.zeros_like(z)
        return v, g

    ends, values, ok = [], [], []
    for z0 in starts:
        res = minimize(
            objective, z0, jac=True, method="L-BFGS-B",
            bounds=list(zip(lo, hi, strict=True)), options={"maxiter": maxiter},
        )  # fmt: skip
        ends.append(res.x)
        values.append(float(res.fun))
        ok.append(bool(res.success))
    i = int(np.argmin(values))
    return FitResult(ends[i], values[i], starts, np.array(ends), np.array(values),
                     np.array(ok), problem.parameter_ids)  # fmt: skip


def _prior_grad(problem: PetabProblem, z: np.ndarray) -> np.ndarray:
    return np.asarray(jax.grad(problem.neg_log_prior)(z), np.float64)
