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

References: Raue A, Kreutz C, Maiwald T, Bachmann J, Schilling M, Klingmueller U, Timmer J.
Structural and practical identifiability analysis of partially observed dynamical models by
exploiting the profile likelihood. Bioinformatics 25(15):1923-1929 (2009).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.stats
from jaxtyping import Array, ArrayLike, Float

from ..assimilate._ensemble import free_transform
from ..assimilate._observations import LO, DataReport, Observations, prepare
from ..errors import DataError, ModelError
from ..models._base import AbstractModel
from ..simulate import RK4, Regimen, Solver
from ..simulate._simulate import _kernel

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

Verdict = Literal["identifiable", "practically non-identifiable", "structurally non-identifiable"]


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
        self.idx, self.log = free_transform(model, self.free)
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
        self.z0 = np.where(self.log, np.log(np.abs(base[self.idx])), base[self.idx])
        lo = np.array([model.parameters[i].bounds[0] for i in self.idx])
        hi = np.array([model.parameters[i].bounds[1] for i in self.idx])
        with np.errstate(divide="ignore"):
            self.zlo = np.where(self.log, np.log(lo), lo)
            self.zhi = np.where(self.log, np.log(hi), hi)

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
        self.static = (model, self.solver, tuple(bool(v) for v in self.log))
        self.arrays = (self.base, jnp.asarray(self.idx), jnp.asarray(self.row),
                       jnp.asarray(self.col))  # fmt: skip
        self._score = jax.jit(jax.value_and_grad(self.nll_of))

    def clip(self, z: np.ndarray) -> np.ndarray:
        return np.clip(z, self.zlo, self.zhi)

    def natural(self, z: ArrayLike) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        return np.array([math.exp(v) if lg else v for v, lg in zip(z, self.log, strict=True)])

    def predict_batch(self, z: Float[ArrayLike, "b p"]) -> Float[Array, "b n_obs"]:
        """Predicted observables for each row of ``z`` (one batched, compiled run)."""
        z = jnp.asarray(z, dtype=jnp.float64)
        return _predict_jit(self.static, self.arrays, self.kernel_args, z)

    def jacobian(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(d mu / d z ``[n_obs, p]``, mu ``[n_obs]``) at ``z``."""
        z = jnp.asarray(z, dtype=jnp.float64)
        jac, mu = _jacobian_jit(self.static, self.arrays, self.kernel_args, z)
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
            ll = jnp.where(
                c == 0,
                noise.log_likelihood(v, m),
                jnp.where(c == LO, noise.log_prob_below(v, m), noise.log_prob_above(v, m)),
            )
            total = total - jnp.sum(ll)
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
    model, solver, log = static
    base, idx, row, col = arrays
    cols = [jnp.exp(z[:, k]) if lg else z[:, k] for k, lg in enumerate(log)]
    p = jnp.tile(base, (z.shape[0], 1)).at[:, idx].set(jnp.stack(cols, axis=1))
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
# Fisher information


@dataclass(frozen=True)
class Combination:
    """A poorly determined direction: ``sum(loadings[name] * z_name)`` (``z`` = log of the
    parameter, or the parameter itself when it may be negative) with Wald sd ``sd``."""

    eigenvalue: float
    sd: float
    loadings: dict[str, float]

    def __str__(self) -> str:
        terms = [
            f"{'+' if w >= 0 else '-'}{abs(w):.2f}*{n}"
            for n, w in sorted(self.loadings.items(), key=lambda kv: -abs(kv[1]))
            if abs(w) >= 0.05
        ]
        return " ".join(terms).lstrip("+") + f" (sd {self.sd:.3g})"


@dataclass(frozen=True, eq=False)
class FisherInformation:
    """The FIM of the free parameters at ``point`` on the estimation scale (``log[j]``: log)."""

    names: tuple[str, ...]
    log: tuple[bool, ...]
    point: np.ndarray  # natural units
    matrix: np.ndarray  # [P, P]
    eigenvalues: np.ndarray  # descending
    eigenvectors: np.ndarray  # columns, matching eigenvalues
    rank: int
    condition: float
    rtol: float
    n_observations: int

    @property
    def standard_errors(self) -> np.ndarray:
        """Wald standard errors on the estimation scale; ``inf`` for parameters that load on a
        direction beyond the numerical rank."""
        v, lam = self.eigenvectors, self.eigenvalues
        good = np.arange(len(lam)) < self.rank
        var = (v[:, good] ** 2) @ (1.0 / lam[good])
        null = np.any(np.abs(v[:, ~good]) > 1e-3, axis=1)
        return np.where(null, np.inf, np.sqrt(var))

    def poorly_determined(self, max_sd: float = 1.0) -> tuple[Combination, ...]:
        """Eigen-directions whose Wald sd exceeds ``max_sd`` (1.0 on the log scale: a factor
        e), those beyond the numerical rank included, worst first."""
        out = []
        for k in range(len(self.eigenvalues) - 1, -1, -1):
            lam = float(self.eigenvalues[k])
            sd = 1.0 / math.sqrt(lam) if k < self.rank and lam > 0 else math.inf
            if sd > max_sd:
                vec = self.eigenvectors[:, k] * np.sign(
                    self.eigenvectors[np.argmax(np.abs(self.eigenvectors[:, k])), k]
                )
                label = [
                    f"log {n}" if lg else n for n, lg in zip(self.names, self.log, strict=True)
                ]
                out.append(Combination(lam, sd, dict(zip(label, vec.tolist(), strict=True))))
        return tuple(out)


def _fisher(lik: _Likelihood, z: np.ndarray, method: str, rtol: float) -> FisherInformation:
    if method == "jacfwd":
        jac, mu = lik.jacobian(z)
    elif method == "finite-difference":
        h = 1e-5 * np.maximum(1.0, np.abs(z))
        steps = np.concatenate([z[None], z + np.diag(h), z - np.diag(h)])
        y = np.asarray(lik.predict_batch(jnp.asarray(steps)))  # one batched run
        mu, jac = y[0], ((y[1 : len(z) + 1] - y[len(z) + 1 :]) / (2 * h[:, None])).T
    else:
        raise ModelError(f"method must be 'jacfwd' or 'finite-difference'. Got {method!r}.")
    weight = np.zeros_like(mu)
    for sel, noise in lik.groups:
        if not hasattr(noise, "sd"):
            raise ModelError(
                f"The Fisher information needs a Gaussian noise model with sd(); "
                f"{type(noise).__name__} has none. Use profile_likelihood() instead."
            )
        m = jnp.asarray(mu[sel])
        sd = np.asarray(noise.sd(m))
        dsd = np.asarray(jax.vmap(jax.grad(lambda x, nz=noise: nz.sd(x)))(m))
        weight[sel] = (1.0 + 2.0 * dsd**2) / sd**2
    weight = np.where(lik.cens == 0, weight, 0.0)
    if not np.all(np.isfinite(jac[weight > 0])):
        raise ModelError("The predicted observables are not finite at this point; no FIM.")
    fim = jac.T @ (weight[:, None] * jac)
    lam, vec = np.linalg.eigh(fim)
    lam, vec = lam[::-1], vec[:, ::-1]
    rank = int(np.sum(lam > rtol * max(lam[0], 0.0))) if lam[0] > 0 else 0
    # Numerically singular (rank below full at rtol): infinite, whatever sign and size
    # round-off gives the smallest eigenvalue on this CPU.
    cond = float(lam[0] / lam[-1]) if rank == lam.size and lam[-1] > 0 else math.inf
    return FisherInformation(
        lik.free, tuple(bool(v) for v in lik.log), lik.natural(z), fim, lam, vec, rank,
        cond, float(rtol), int(np.count_nonzero(weight)),
    )  # fmt: skip


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


# ------------------------------------------------------------------------------------------
# profile likelihood


@dataclass(frozen=True, eq=False)
class Profile:
    """The profile of one parameter: ``values`` (natural units, ascending) and ``delta`` (the
    profiled negative log-likelihood minus its minimum). ``lower``/``upper`` bound the
    likelihood-based confidence interval; ``None`` where that side never crossed the
    threshold (open up to ``values[0]``/``values[-1]``)."""

    name: str
    log: bool
    mle: float
    values: np.ndarray
    delta: np.ndarray
    lower: float | None
    upper: float | None
    verdict: Verdict


@dataclass(frozen=True, eq=False)
class ProfileLikelihood:
    """Profiles of every free parameter around the MLE, at confidence ``level``."""

    profiles: tuple[Profile, ...]
    mle: np.ndarray  # natural units, free parameters
    nll_min: float
    level: float
    threshold: float  # chi2(level, 1) / 2
    data: DataReport

    def __getitem__(self, name: str) -> Profile:
        for p in self.profiles:
            if p.name == name:
                return p
        raise KeyError(
            f"No profile of {name!r}. Profiled: {', '.join(p.name for p in self.profiles)}."
        )


def _side(lik, j, z_hat, f_hat, d0, sign, h0, max_step, thr, max_steps):
    """Walk parameter ``j`` from the MLE in direction ``sign``: (points, crossing or None).
    Each step starts the others where the profile path points (predictor ``d``: first from
    the FIM, then the secant of the last two optima) and re-optimises them (corrector)."""
    pts, z, f_prev, h, d = [], z_hat.copy(), f_hat, h0, d0.copy()
    bound = lik.zhi[j] if sign > 0 else lik.zlo[j]
    for _ in range(max_steps):
        zj = z[j] + sign * h
        at_bound = (zj - bound) * sign >= 0
        zj = bound if at_bound else zj
        z_new, f = lik.minimise(lik.clip(z + d * (zj - z[j])), fixed=j)
        pts.append((zj, f - f_hat))
        if f - f_hat > thr:
            return pts, _refine(lik, j, z, f_prev - f_hat, z_new, f - f_hat, f_hat, thr)
        if at_bound:
            return pts, None
        dv = max(f - f_prev, 1e-12)
        h = min(max_step, h * float(np.clip(math.sqrt(thr / 4 / dv), 0.5, 2.0)))
        d = (z_new - z) / (z_new[j] - z[j])
        z, f_prev = z_new, f
    return pts, None


def _refine(lik, j, za, da, zb, db, f_hat, thr, tol=1e-3, iters=10):
    """Regula falsi (Illinois) for the threshold crossing between optima ``za`` (below the
    threshold) and ``zb`` (above), warm-started on the segment between them."""
    a, b, ga, gb = za[j], zb[j], da - thr, db - thr
    x = b
    for _ in range(iters):
        x = b - gb * (b - a) / (gb - ga)
        w = (x - za[j]) / (zb[j] - za[j])
        _, f = lik.minimise((1 - w) * za + w * zb, fixed=j)
        g = f - f_hat - thr
        if abs(g) < tol:
            break
        if g > 0:
            b, gb, ga = x, g, ga / 2
        else:
            a, ga = x, g
    return x


def _profile(lik, fim, z_hat, f_hat, level, max_step, max_steps, flat_tol) -> ProfileLikelihood:
    thr = float(scipy.stats.chi2.ppf(level, 1) / 2)
    se = fim.standard_errors
    out = []
    for j, name in enumerate(lik.free):
        span = lik.zhi[j] - lik.zlo[j]
        cap = min(max_step, span / 4) if math.isfinite(span) else max_step
        # Unknown curvature (a null direction): start small, the step doubles while flat.
        h0 = min(cap, 0.5 * se[j]) if math.isfinite(se[j]) and se[j] > 0 else cap / 10
        others = np.arange(len(z_hat)) != j
        d0 = np.zeros(len(z_hat))
        d0[j] = 1.0
        d0[others] = -np.linalg.pinv(fim.matrix[np.ix_(others, others)]) @ fim.matrix[others, j]
        sides = [_side(lik, j, z_hat, f_hat, d0, s, h0, cap, thr, max_steps) for s in (-1, 1)]
        pts = sorted([(z_hat[j], 0.0), *sides[0][0], *sides[1][0]])
        zs, ds = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
        ends = [s[1] for s in sides]
        flat = [max(d for _, d in s[0]) < flat_tol for s in sides]
        flat_near = all(s[0][0][1] < flat_tol for s in sides)  # first grid point each side
        null = bool(np.any(np.abs(fim.eigenvectors[j, fim.rank :]) > 1e-3))
        if (null and flat_near) or (all(e is None for e in ends) and all(flat)):
            verdict: Verdict = "structurally non-identifiable"
        elif all(e is not None for e in ends):
            verdict = "identifiable"
        else:
            verdict = "practically non-identifiable"
        lo, hi = (None if e is None else float(math.exp(e) if lik.log[j] else e) for e in ends)
        values = np.exp(zs) if lik.log[j] else zs
        mle = float(lik.natural(z_hat)[j])
        out.append(Profile(name, bool(lik.log[j]), mle, values, ds, lo, hi, verdict))
    return ProfileLikelihood(tuple(out), lik.natural(z_hat), f_hat, float(level), thr, lik.report)


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
