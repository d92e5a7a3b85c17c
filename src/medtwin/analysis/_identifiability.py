"""Identifiability: which parameters one patient's data pins down, and which it cannot.

Given a model, a patient's observations, the regimen they were taken under, a parameter point
(e.g. a twin's posterior median) and the ``free`` parameters:

* :func:`fisher_information` -- the Fisher information matrix (FIM) of the free parameters at
  the point, on the scale the twin estimates them (``log`` for parameters whose lower bound is
  >= 0, natural otherwise). The sensitivities ``J = d mu / d z`` of the predicted observables
  come from ``jax.jacfwd`` through ``simulate``'s compiled kernel (``method="jacfwd"``) or from
  central finite differences in one batched run (``method="finite-difference"``); the two agree
  (tested on UVA/Padova, whose meal memory is a discrete update). For Gaussian noise whose sd
  ``s(mu)`` depends on the mean, each reading adds ``J_i^T J_i (1 + 2 s'(mu)^2) / s^2``
  (the expected information of ``N(mu, s(mu)^2)``). Its eigen-decomposition gives the numerical
  rank (eigenvalues above ``rtol`` times the largest), the condition number, Wald standard
  errors and the poorly determined parameter combinations (eigen-directions whose Wald sd on
  the estimation scale exceeds ``max_sd``). Censored readings (LO/HI) are left out of the FIM.
* :func:`profile_likelihood` -- the profile likelihood of Raue et al. (2009): the maximum
  likelihood estimate (MLE) from the point, then for each free parameter a walk outwards on both
  sides, fixing it on an adaptive grid and re-optimising the others (L-BFGS-B on the negative
  log-likelihood, censored readings included, gradients by ``jacfwd``; warm-started from the
  previous grid point, started where the path points: predictor-corrector) until the profile
  rises by ``chi2(level, 1) / 2`` (1.92 for 95 %) or the parameter reaches its bound; the
  crossing is refined by regula falsi to 1e-3 and bounds the likelihood-based confidence
  interval. Verdicts: *structurally non-identifiable* if the parameter loads on a direction
  beyond the numerical rank of the FIM at the MLE and its profile is flat (within ``flat_tol``)
  at the first grid point on both sides, or if the profile stays flat on both sides up to the
  bounds (a structural relation keeps the profile flat only while the compensating parameters
  stay inside their own bounds, so a flat stretch that rises where they reach them is still
  structural); *identifiable* if the profile crosses the threshold on both sides; otherwise
  *practically non-identifiable* (an open side: the data bound the parameter at most on one
  side).
* :func:`identifiability` runs both; :func:`twin_identifiability` takes the data, regimen, free
  parameters and the weighted posterior median from a :class:`~medtwin.Twin`.

Deterministic models only (a stochastic model has no closed-form likelihood here).

The expected information of one reading ``y ~ N(mu, s(mu)^2)`` about ``z`` is
``(d mu/d z)^2 (1 + 2 s'(mu)^2) / s(mu)^2`` (differentiate the normal log-density in ``mu``
through both its mean and its sd, and take the expectation).

This module holds the compiled likelihood and the verbs; the Fisher information lives in
``_fim.py`` and the profile likelihood in ``_profile.py``, whose public names are re-exported
here; ``medtwin.analysis`` re-exports the public names (``identifiability`` is the function: this
module is private so that its name does not shadow it).

References: Raue A, Kreutz C, Maiwald T, Bachmann J, Schilling M, Klingmueller U, Timmer J.
Structural and practical identifiability analysis of partially observed dynamical models by
exploiting the profile likelihood. Bioinformatics 25(15):1923-1929 (2009).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from jaxtyping import Array, ArrayLike, Float

from ..assimilate._observations import Observations, prepare
from ..errors import DataError, ModelError
from ..models._base import AbstractModel
from ..models._free import free_parameters
from ..models._noise import censored_log_likelihood
from ..simulate import RK4, Regimen, Solver
from ..simulate._simulate import _kernel
from ._fim import Combination, FisherInformation, _fisher
from ._profile import Profile, ProfileLikelihood, Verdict, _profile

if TYPE_CHECKING:
    from ..twin import Twin

__all__ = [
    "Combination",
    "FisherInformation",
    "IdentifiabilityReport",
    "Profile",
    "ProfileLikelihood",
    "fisher_information",
    "identifiability",
    "profile_likelihood",
    "twin_identifiability",
]


class _Likelihood:
    """The data, regimen and point compiled once: predictions and the negative log-likelihood
    as functions of the free parameters on the estimation scale ``z``."""

    def __init__(self, model, data, regimen, point, free, t0, solver) -> None:
        if not isinstance(model, AbstractModel) or model.stochastic:
            raise ModelError(
                f"Identifiability needs a deterministic medtwin model. Got {model!r}; stochastic "
                "models have no closed-form likelihood here (use replicates and a sensitivity "
                "analysis instead)."
            )
        if not isinstance(data, Observations):
            raise DataError(
                "Identifiability needs Observations (medtwin.assimilate.observations()). "
                f"Got {type(data).__name__}."
            )
        self.model, self.free = model, tuple(free)
        if not self.free or len(set(self.free)) != len(self.free):
            raise ModelError(f"'free' must name distinct parameters. Got {self.free!r}.")
        # unclipped: the optimiser keeps z inside the z-bounds, the FIM needs the exact transform
        self.free_params = free_parameters(model, self.free, clip=False)
        self.idx, self.log = self.free_params.index, self.free_params.log
        base = np.asarray(model.default_params() if point is None else point, dtype=np.float64)
        if base.shape != (model.n_params,) or not np.all(np.isfinite(base)):
            raise ModelError(
                f"The point must be a finite parameter vector of shape ({model.n_params},) for "
                f"{model.name!r}. Got shape {base.shape}."
            )
        bad = [
            n for n, i, lg in zip(self.free, self.idx, self.log, strict=True) if lg and base[i] <= 0
        ]
        if bad:
            raise ModelError(
                f"Free parameters {bad} are estimated on the log scale and must be > 0."
            )
        self.base = jnp.asarray(base)
        self.free_params = eqx.tree_at(lambda f: f.base, self.free_params, self.base)
        self.z0 = self.free_params.to_z(base)
        self.zlo, self.zhi = self.free_params.z_bounds()

        dt, t0 = float(model.input_dt), float(t0)
        clean, self.report = prepare(data, model.observable_names, t0 - dt / 2, dt, t0)
        if len(clean) == 0:
            raise DataError(f"No usable observations at or after t0 = {t0:g}: {self.report}.")
        times = np.unique(clean.times)
        steps = np.round((times - t0) / dt).astype(np.int64)
        n = max(int(steps[-1]), 1)
        self.row = np.searchsorted(times, clean.times)
        self.col = np.array([model.observable_index(o) for o in clean.observable])
        self.values, self.cens = jnp.asarray(clean.values), np.asarray(clean.censored)
        self.groups = []
        for j in np.unique(self.col):
            noise = model.observables[j].noise
            if noise is None:
                raise ModelError(
                    f"Observable {model.observable_names[j]!r} of {model.name!r} has no noise "
                    "model; give its ObservableSpec one (e.g. GaussianNoise) to score data."
                )
            if noise.reads:
                raise ModelError(
                    f"Observable {model.observable_names[j]!r} of {model.name!r} is seen through "
                    f"a noise model that reads parameters {noise.reads} (an ordinal score); "
                    "the identifiability analysis scores predictions alone. Leave it out."
                )
            self.groups.append((np.flatnonzero(self.col == j), noise))
        c = (regimen or Regimen()).compile(model.input_names, t0, dt, n)
        self.solver = solver or RK4()
        refine = self.solver.refine_mask(np.any(c.dose_rate != 0, axis=-1))
        self.kernel_args = (
            jnp.asarray(c.dose_rate),
            jnp.asarray(c.override),
            None if refine is None else jnp.asarray(refine),
            None if refine is None else jnp.asarray(refine),
            jnp.float64(t0),
            dt,
            tuple(int(s) for s in np.diff(np.concatenate([[0], steps]))),
            False,
        )
        # One compiled forward-mode pass gives predictions and sensitivities; the likelihood
        # and its gradient follow from them (J^T dNLL/dmu) without a second heavy compile.
        self.static = (model, self.solver)
        self.arrays = (self.free_params, jnp.asarray(self.row), jnp.asarray(self.col))
        self._score = jax.jit(jax.value_and_grad(self.nll_of))

    def clip(self, z: np.ndarray) -> np.ndarray:
        return np.clip(z, self.zlo, self.zhi)

    def natural(self, z: ArrayLike) -> np.ndarray:
        return self.free_params.natural(np.asarray(z, dtype=np.float64))

    def predict_batch(self, z: Float[ArrayLike, "b p"]) -> Float[Array, "b n_obs"]:
        """Predicted observables for each row of ``z`` (one batched, compiled run)."""
        z = jnp.asarray(z, dtype=jnp.float64)
        return _predict_jit(self.static, self.arrays, self.kernel_args, z)

    def jacobian(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(d mu / d z ``[n_obs, p]``, mu ``[n_obs]``) at ``z``."""
        jac, mu = _jacobian_jit(
            self.static, self.arrays, self.kernel_args, jnp.asarray(z, dtype=jnp.float64)
        )
        return np.asarray(jac), np.asarray(mu)

    def value_and_grad(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        """The negative log-likelihood at ``z`` and its gradient (1e30 and 0 where the model
        fails, so the optimiser backs off)."""
        jac, mu = self.jacobian(z)
        f, g_mu = self._score(jnp.asarray(mu))
        g = jac.T @ np.asarray(g_mu)
        if not (math.isfinite(float(f)) and np.all(np.isfinite(g))):
            return 1e30, np.zeros(len(z))
        return float(f), g

    def nll_of(self, mu: Float[Array, " n_obs"]) -> Float[Array, ""]:
        total = jnp.float64(0.0)
        for sel, noise in self.groups:
            m, v, c = mu[sel], self.values[sel], self.cens[sel]
            total = total - jnp.sum(censored_log_likelihood(noise, v, m, c))
        return total

    def minimise(self, z: np.ndarray, fixed: int | None = None) -> tuple[np.ndarray, float]:
        """Minimise the NLL over the free parameters (all but ``fixed``) from ``z``."""
        keep = np.array([k != fixed for k in range(len(z))])
        z = np.array(z, dtype=np.float64)
        if not keep.any():
            return z, self.value_and_grad(z)[0]

        # Scaled so the first quasi-Newton step (identity Hessian) moves by about 1 at most.
        scale = max(1.0, float(np.max(np.abs(self.value_and_grad(z)[1][keep]))))

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            z[keep] = x
            f, g = self.value_and_grad(z)
            return f / scale, g[keep] / scale

        bounds = [
            (None if not math.isfinite(a) else a, None if not math.isfinite(b) else b)
            for a, b in zip(self.zlo[keep], self.zhi[keep], strict=True)
        ]
        x0 = np.clip(z[keep], self.zlo[keep], self.zhi[keep])
        opts = {"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9}
        res = scipy.optimize.minimize(
            fun, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts
        )
        z[keep] = res.x
        return z, float(res.fun) * scale


def _predict(static, arrays, kernel_args, z):
    model, solver = static
    free, row, col = arrays
    p = free.from_z(z)
    y0 = jax.vmap(model.initial_state)(p)
    outs, _ = _kernel(model, solver, p, y0, None, *kernel_args)
    return outs[0][:, row, col]


# Module-level, so a new data set on the same time grid and model reuses the compiled code.
_predict_jit = eqx.filter_jit(_predict)


@eqx.filter_jit
def _jacobian_jit(static, arrays, kernel_args, z):
    def one(x):
        mu = _predict(static, arrays, kernel_args, x[None])[0]
        return mu, mu

    return jax.jacfwd(one, has_aux=True)(z)


# ------------------------------------------------------------------------------------------
# the verbs (Fisher information: _fim.py; profile likelihood: _profile.py)


def fisher_information(
    model: AbstractModel,
    data: Observations,
    regimen: Regimen | None = None,
    *,
    free: Sequence[str],
    point: Float[ArrayLike, " n_params"] | None = None,
    t0: float = 0.0,
    method: str = "jacfwd",
    rtol: float = 1e-8,
    solver: Solver | None = None,
) -> FisherInformation:
    """The Fisher information of ``free`` at ``point`` (default: the model's defaults) for
    ``data`` taken under ``regimen`` from ``t0`` (the state at ``t0`` is the model's
    ``initial_state``). See the module docstring."""
    lik = _Likelihood(model, data, regimen, point, free, t0, solver)
    return _fisher(lik, lik.z0, method, rtol)


def profile_likelihood(
    model: AbstractModel,
    data: Observations,
    regimen: Regimen | None = None,
    *,
    free: Sequence[str],
    point: Float[ArrayLike, " n_params"] | None = None,
    t0: float = 0.0,
    level: float = 0.95,
    max_step: float = 1.0,
    max_steps: int = 25,
    flat_tol: float = 0.1,
    solver: Solver | None = None,
) -> ProfileLikelihood:
    """Profile likelihood of each of ``free`` around the MLE found from ``point``. Each side
    walks at most ``max_steps`` steps of at most ``max_step`` on the estimation scale (log
    for positive parameters: 1.0 is a factor e). See the module docstring."""
    return identifiability(
        model, data, regimen, free=free, point=point, t0=t0, level=level, max_step=max_step,
        max_steps=max_steps, flat_tol=flat_tol, solver=solver,
    ).profiles  # fmt: skip


@dataclass(frozen=True, eq=False)
class IdentifiabilityReport:
    """The Fisher information at the point and the profiles around the MLE."""

    fisher: FisherInformation
    profiles: ProfileLikelihood

    def verdicts(self) -> dict[str, Verdict]:
        return {p.name: p.verdict for p in self.profiles.profiles}


def identifiability(
    model: AbstractModel,
    data: Observations,
    regimen: Regimen | None = None,
    *,
    free: Sequence[str],
    point: Float[ArrayLike, " n_params"] | None = None,
    t0: float = 0.0,
    level: float = 0.95,
    rtol: float = 1e-8,
    method: str = "jacfwd",
    max_step: float = 1.0,
    max_steps: int = 25,
    flat_tol: float = 0.1,
    solver: Solver | None = None,
) -> IdentifiabilityReport:
    """Fisher information at ``point`` and profile likelihood around the MLE (one compiled
    likelihood for both)."""
    if not 0 < level < 1 or max_step <= 0 or int(max_steps) != max_steps or max_steps < 1:
        raise ModelError(
            f"identifiability() needs 0 < level < 1, max_step > 0 and max_steps >= 1. Got "
            f"level={level!r}, max_step={max_step!r}, max_steps={max_steps!r}."
        )
    lik = _Likelihood(model, data, regimen, point, free, t0, solver)
    fim = _fisher(lik, lik.z0, method, rtol)
    z_hat, f_hat = lik.minimise(lik.z0)
    fim_hat = _fisher(lik, z_hat, method, rtol)
    prof = _profile(lik, fim_hat, z_hat, f_hat, level, max_step, int(max_steps), flat_tol)
    return IdentifiabilityReport(fim, prof)


def twin_identifiability(twin: Twin, **kwargs) -> IdentifiabilityReport:
    """:func:`identifiability` of a twin's free parameters from everything it assimilated, under
    the regimen it knows, at its weighted posterior median (per parameter)."""
    obs = [u.observations for u in twin.updates]
    if not obs:
        raise DataError("This twin has assimilated no observations yet; nothing to analyse.")
    data = obs[0]
    for o in obs[1:]:
        data = data + o
    ens = twin.ensemble
    point = ens.quantiles(ens.params, (0.5,))[0]
    return identifiability(
        twin.model, data, twin.regimen, free=twin.free, point=point, t0=twin.t0, **kwargs
    )
