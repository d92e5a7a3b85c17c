"""Populations from real patients: replicas of their twins and enlarged cohorts.

* :func:`replica` -- one virtual patient per real patient's twin (its posterior median), or
  ``draws`` posterior draws each: the trial runs on the patients the clinic actually has.
* :func:`enlarge` -- learn a generative distribution over a small cohort's parameters and sample
  as many new patients as wanted: a multivariate normal on the log scale of positive parameters
  (the log-normal inter-individual variability of population pharmacometrics, with the cohort's
  correlations) or a Gaussian mixture (EM; Dempster, Laird & Rubin 1977, J R Stat Soc B 39:1)
  for multimodal cohorts. Optionally per covariate group (``by="age_group"``), so each group keeps
  its own distribution and the new cohort the chosen group shares. Given per-patient posterior
  draws (from each patient's twin), the distribution is fitted to all draws: between-patient
  variability plus each patient's remaining uncertainty.

Enlarged patients are not checked for plausibility; pass them through
:func:`~medtwin.cohorts.observe` and :func:`~medtwin.cohorts.plausible`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from jaxtyping import ArrayLike

from ..assimilate._ensemble import Ensemble
from ..errors import ModelError
from ..models._free import FreeParameters
from ._populations import Population, _matrix_root, concat

__all__ = ["enlarge", "replica"]


def _ensemble(x: Any) -> Ensemble:
    e = getattr(x, "ensemble", x)  # a Twin or an Ensemble
    if not isinstance(e, Ensemble):
        raise ModelError(
            f"replica() needs Twins or Ensembles (posterior particles). Got {type(x).__name__}."
        )
    return e


def replica(
    posteriors: Sequence[Any],
    parameter_names: Sequence[str],
    *,
    draws: int = 0,
    ids: Sequence[str] | None = None,
    covariates: Mapping[str, ArrayLike] | None = None,
    seed: int = 0,
) -> Population:
    """A population from real patients' twins (``Twin`` or ``Ensemble`` objects, one each).

    ``draws=0``: one virtual patient per real patient, each parameter at its weighted posterior
    median. ``draws=k``: ``k`` particles per patient, resampled by weight (ids ``"<id>/<j>"``,
    covariates repeated), so a trial carries each patient's parameter uncertainty.
    """
    ens = [_ensemble(p) for p in posteriors]
    if not ens:
        raise ModelError("replica() needs at least one twin.")
    m = len(ens)
    ids = [f"patient{i:03d}" for i in range(m)] if ids is None else [str(i) for i in ids]
    cov = {k: np.asarray(v) for k, v in dict(covariates or {}).items()}
    if len(ids) != m or any(v.shape != (m,) for v in cov.values()):
        raise ModelError(f"replica(): ids and each covariate need {m} values, one per twin.")
    if draws == 0:
        params = np.stack([e.quantiles(e.params, (0.5,))[0] for e in ens])
        return Population(params, tuple(parameter_names), cov, ids)
    if int(draws) != draws or draws < 0:
        raise ModelError(f"replica(): draws must be an integer >= 0. Got {draws!r}.")
    rng = np.random.default_rng(seed)
    rows = []
    for e in ens:
        w = np.asarray(e.weights, dtype=np.float64)
        rows.append(np.asarray(e.params)[rng.choice(e.size, size=int(draws), p=w / w.sum())])
    rep = np.repeat(np.arange(m), draws)
    return Population(
        np.concatenate(rows),
        tuple(parameter_names),
        {k: v[rep] for k, v in cov.items()},
        [f"{ids[i]}/{j}" for i in range(m) for j in range(draws)],
    )


def _fit_gmm(z: np.ndarray, k: int, rng: np.random.Generator, iters: int = 200) -> tuple:
    """EM for a ``k``-component Gaussian mixture with full covariances, regularised by 1e-3 of
    each column's variance (a small cohort has fewer patients than parameters)."""
    n, d = z.shape
    reg = np.diag(1e-3 * np.maximum(z.var(axis=0), 1e-12))
    # k-means++ seeding (Arthur & Vassilvitskii 2007) on the standardised values
    zs = (z - z.mean(axis=0)) / np.maximum(z.std(axis=0), 1e-12)
    centres = [int(rng.integers(n))]
    for _ in range(1, k):
        d2 = np.min(((zs[:, None, :] - zs[centres][None]) ** 2).sum(axis=2), axis=1)
        centres.append(int(rng.choice(n, p=d2 / d2.sum())))
    means = z[centres]
    covs = np.stack([np.cov(z, rowvar=False).reshape(d, d) + reg] * k)
    weights = np.full(k, 1.0 / k)
    prev = -np.inf
    for _ in range(iters):
        logp = np.stack([_mvn_logpdf(z, means[j], covs[j]) for j in range(k)], axis=1)
        logp += np.log(weights)
        mx = logp.max(axis=1, keepdims=True)
        ll = float(np.sum(mx[:, 0] + np.log(np.exp(logp - mx).sum(axis=1))))
        resp = np.exp(logp - mx)
        resp /= resp.sum(axis=1, keepdims=True)
        nk = resp.sum(axis=0) + 1e-12
        weights = nk / n
        means = (resp.T @ z) / nk[:, None]
        for j in range(k):
            c = z - means[j]
            covs[j] = (resp[:, j, None] * c).T @ c / nk[j] + reg
        if ll - prev < 1e-8 * abs(ll):
            break
        prev = ll
    return weights, means, covs


def _mvn_logpdf(z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    _sign, logdet = np.linalg.slogdet(cov)
    sol = np.linalg.solve(cov, (z - mean).T).T
    return -0.5 * (np.sum((z - mean) * sol, axis=1) + logdet + z.shape[1] * np.log(2 * np.pi))


def _sample_group(
    z: np.ndarray, n: int, method: str, components: int, rng: np.random.Generator
) -> np.ndarray:
    if method == "mvn" or len(z) < 2 * components:
        cov = np.cov(z, rowvar=False).reshape(z.shape[1], z.shape[1]) if len(z) > 1 else None
        if cov is None:
            return np.repeat(z, n, axis=0)
        return z.mean(axis=0) + rng.standard_normal((n, z.shape[1])) @ _matrix_root(cov).T
    weights, means, covs = _fit_gmm(z, components, rng)
    comp = rng.choice(len(weights), size=n, p=weights)
    out = np.empty((n, z.shape[1]))
    for j in range(len(weights)):
        m = comp == j
        out[m] = (
            means[j] + rng.standard_normal((int(m.sum()), z.shape[1])) @ _matrix_root(covs[j]).T
        )
    return out


def _counts(shares: Mapping[str, float], n: int) -> dict[str, int]:
    """Largest-remainder apportionment of ``n`` over groups by ``shares``."""
    total = sum(shares.values())
    exact = {g: n * s / total for g, s in shares.items()}
    counts = {g: int(np.floor(v)) for g, v in exact.items()}
    rest = sorted(exact, key=lambda g: counts[g] - exact[g])[: n - sum(counts.values())]
    for g in rest:
        counts[g] += 1
    return counts


def enlarge(
    cohort: Population,
    n: int,
    *,
    names: Sequence[str] | None = None,
    method: str = "mvn",
    components: int = 2,
    by: str | None = None,
    shares: Mapping[str, float] | None = None,
    draws: ArrayLike | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    seed: int = 0,
) -> Population:
    """``n`` new patients sampled from a distribution learnt over ``cohort``'s parameters.

    ``names`` (default: all) are modelled jointly, on the log scale where every value is
    positive; other parameters and the categorical covariates are copied from a donor patient of
    the same group (numeric covariates derived from the old parameters are dropped). ``method``
    is ``"mvn"`` or ``"gmm"`` (``components``). ``by`` fits each covariate group separately and
    apportions ``n`` by ``shares`` (default: the cohort's own shares). ``draws`` ``[M, S, P]`` are
    posterior draws of the ``M`` cohort patients (fitted to instead of the rows). ``bounds``
    ``{name: (low, high)}`` clip the new values (e.g. the ``ParameterSpec`` bounds).
    """
    if method not in ("mvn", "gmm"):
        raise ModelError(f"enlarge(): method must be 'mvn' or 'gmm'. Got {method!r}.")
    names = tuple(names) if names is not None else cohort.parameter_names
    cols = [cohort.parameter_names.index(k) for k in names if k in cohort.parameter_names]
    if len(cols) != len(names):
        raise ModelError(f"enlarge(): unknown parameters in {names}.")
    m = len(cohort)
    fit_rows = np.asarray(cohort.params)[:, None, :]
    if draws is not None:
        fit_rows = np.asarray(draws, dtype=np.float64)
        if (
            fit_rows.ndim != 3
            or fit_rows.shape[0] != m
            or fit_rows.shape[2] != cohort.params.shape[1]
        ):
            raise ModelError(
                f"enlarge(): draws must have shape ({m}, S, {cohort.params.shape[1]}). "
                f"Got {fit_rows.shape}."
            )
    x = fit_rows[:, :, cols]
    log = np.all(x.reshape(-1, len(cols)) > 0, axis=0)
    free = FreeParameters(np.asarray(cols, np.int64), np.asarray(cohort.params), log, clip=False)
    groups = np.asarray(cohort.covariate(by)).astype(str) if by is not None else np.full(m, "all")
    levels = list(dict.fromkeys(groups.tolist()))
    shares = (
        dict(shares) if shares is not None else {g: float(np.mean(groups == g)) for g in levels}
    )
    unknown = set(shares) - set(levels)
    if unknown:
        raise ModelError(f"enlarge(): shares name groups {sorted(unknown)} absent from the cohort.")
    rng = np.random.default_rng(seed)
    cat = {k: v for k, v in cohort.covariates.items() if v.dtype == object}
    parts = []
    for g, count in _counts(shares, int(n)).items():
        if count == 0:
            continue
        members = np.flatnonzero(groups == g)
        # C order: the fit's sums (BLAS) round by memory layout, and the rows are fitted in order
        z = np.ascontiguousarray(free.to_z(fit_rows[members].reshape(-1, fit_rows.shape[2])))
        new = _sample_group(z, count, method, components, rng)
        donors = members[rng.integers(0, len(members), size=count)]
        params = free.from_z(new, np.asarray(cohort.params[donors]))
        parts.append(
            Population(
                params,
                cohort.parameter_names,
                {k: v[donors] for k, v in cat.items()},
                [f"{g}-new{i:06d}" for i in range(count)],
            )
        )
    out = concat(parts)
    if bounds:
        p = np.array(out.params)
        for k, (lo, hi) in bounds.items():
            if k in out.parameter_names:
                j = out.parameter_names.index(k)
                p[:, j] = np.clip(p[:, j], lo, hi)
        out = Population(p, out.parameter_names, out.covariates, out.ids)
    return out
