"""Selecting a virtual population that matches a target distribution of observables.

The acceptance-rejection method of Allen, Rieger & Musante (2016): simulate a large *plausible*
population (:func:`~medtwin.cohorts.plausible`), then accept each plausible patient with
probability

    P_i = min(1, sf * p_target(y_i) / p_plausible(y_i)),

where ``y_i`` are its simulated observables, ``p_target`` the density of the observables in the
real population (e.g. a multivariate normal fitted to survey data, as the paper fits NHANES),
``p_plausible`` a kernel density estimate of the plausible population's observables, and ``sf`` a
scale factor. A small ``sf`` reproduces the target faithfully but accepts few patients; a large one
accepts more but clips ``P_i`` at 1 and distorts the distribution. As in the paper ``sf`` is chosen
to maximise agreement with the target: here the mean over observables of the two-sample
Kolmogorov-Smirnov statistic between the selected population and a sample of the target (lower
is better) is minimised over a log grid of ``sf``, with the same uniform draws at every ``sf``
(common random numbers) so the choice is not noise, and at least ``min_selected`` patients.

Reference: Allen RJ, Rieger TR, Musante CJ. Efficient generation and selection of virtual
populations in quantitative systems pharmacology models. CPT Pharmacometrics Syst Pharmacol
5(3):140-146 (2016). doi:10.1002/psp4.12063.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from jaxtyping import ArrayLike

from ..errors import ModelError
from ._populations import Population

__all__ = ["ArmSelection", "GaussianTarget", "Target", "select_arm"]


class Target(Protocol):
    """A target distribution of observables ``[N, K]``: its log density and a sampler."""

    def logpdf(self, y: np.ndarray) -> np.ndarray: ...

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class GaussianTarget:
    """A multivariate normal over the observables (over their logarithms if ``log``)."""

    mean: np.ndarray
    cov: np.ndarray
    log: bool = False

    def __post_init__(self) -> None:
        m = np.atleast_1d(np.asarray(self.mean, dtype=np.float64))
        c = np.atleast_2d(np.asarray(self.cov, dtype=np.float64))
        if c.shape != (m.size, m.size):
            raise ModelError(
                f"GaussianTarget needs a ({m.size}, {m.size}) covariance for a mean of length "
                f"{m.size}. Got {c.shape}."
            )
        object.__setattr__(self, "mean", m)
        object.__setattr__(self, "cov", c)

    @classmethod
    def fit(cls, data: ArrayLike, *, log: bool = False) -> GaussianTarget:
        """Mean and covariance of observed data ``[n, K]`` (of its logarithm if ``log``)."""
        y = np.asarray(data, dtype=np.float64)
        y = y.reshape(len(y), -1)
        z = np.log(y) if log else y
        return cls(z.mean(axis=0), np.atleast_2d(np.cov(z, rowvar=False)), log)

    def logpdf(self, y: np.ndarray) -> np.ndarray:
        from scipy.stats import multivariate_normal

        y = np.asarray(y, dtype=np.float64).reshape(-1, self.mean.size)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.log(y)
            out = multivariate_normal(self.mean, self.cov).logpdf(z) - np.sum(z, axis=1)
            return np.where(np.all(y > 0, axis=1), np.atleast_1d(out), -np.inf)
        return np.atleast_1d(multivariate_normal(self.mean, self.cov).logpdf(y))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.multivariate_normal(self.mean, self.cov, size=int(n))
        return np.exp(z) if self.log else z


@dataclass(frozen=True, eq=False)
class ArmSelection:
    """The selected virtual population and how it was chosen."""

    population: Population  # the selected patients
    selected: np.ndarray  # [N_plausible] bool
    probability: np.ndarray  # [N_plausible] inclusion probability at the chosen sf
    scale: float  # the chosen sf
    ks: np.ndarray  # [K] two-sample KS statistic per observable (selected vs target sample)
    ks_pvalue: np.ndarray  # [K]
    observables: tuple[str, ...]

    @property
    def n_selected(self) -> int:
        return int(self.selected.sum())

    @property
    def acceptance(self) -> float:
        """Fraction of the plausible population selected."""
        return float(self.selected.mean())


def _ks(a: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import ks_2samp

    res = [ks_2samp(a[:, j], ref[:, j]) for j in range(a.shape[1])]
    return np.array([r.statistic for r in res]), np.array([r.pvalue for r in res])


def select_arm(
    population: Population,
    observables: Sequence[str],
    target: Target,
    *,
    reference: ArrayLike | None = None,
    n_reference: int = 5000,
    scales: ArrayLike | None = None,
    min_selected: int = 50,
    bandwidth: str | float = "scott",
    seed: int = 0,
) -> ArmSelection:
    """Allen-Rieger-Musante selection of ``population`` (plausible patients whose covariates
    ``observables`` hold their simulated observables) to match ``target``.

    ``reference`` is the sample of the target the agreement is measured against (e.g. the real
    data); by default ``n_reference`` draws of ``target.sample``. ``scales`` are the candidate
    ``sf`` as multiples of ``1 / max(ratio)`` (default ``logspace(0, 3, 31)``: from "no
    probability clipped" to "1000x more"). The plausible density is a Gaussian kernel density
    (``scipy.stats.gaussian_kde`` with ``bandwidth``) on the standardised observables; its cost
    grows as ``N**2``, so a plausible population of up to a few 10,000 patients is practical.
    """
    from scipy.stats import gaussian_kde

    names = tuple(observables)
    y = np.column_stack([np.asarray(population.covariate(k), dtype=np.float64) for k in names])
    if len(population) < 10 or not np.all(np.isfinite(y)):
        raise ModelError(
            "select_arm() needs at least 10 plausible patients with finite observables "
            f"{names}. Got {len(population)} patients; filter with plausible() first."
        )
    rng = np.random.default_rng(seed)
    ref = (
        target.sample(n_reference, rng)
        if reference is None
        else np.asarray(reference, dtype=np.float64)
    )
    ref = ref.reshape(len(ref), -1)
    if ref.shape[1] != len(names):
        raise ModelError(
            f"The target reference has {ref.shape[1]} columns for {len(names)} observables."
        )
    mu, sd = y.mean(axis=0), y.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    kde = gaussian_kde(((y - mu) / sd).T, bw_method=bandwidth)
    log_plaus = kde.logpdf(((y - mu) / sd).T) - np.sum(np.log(sd))
    log_ratio = np.asarray(target.logpdf(y), dtype=np.float64) - log_plaus
    log_max = float(np.max(log_ratio))
    log_ratio = log_ratio - log_max  # ratio / max(ratio)
    u = rng.uniform(size=len(population))  # common random numbers over sf
    grid = np.logspace(0.0, 3.0, 31) if scales is None else np.asarray(scales, dtype=np.float64)
    best = None
    for c in grid:
        prob = np.minimum(1.0, c * np.exp(log_ratio))
        sel = u < prob
        if sel.sum() < max(min_selected, 2):
            continue
        stat, p = _ks(y[sel], ref)
        score = float(stat.mean())
        if best is None or score < best[0]:
            best = (score, float(c), sel, prob, stat, p)
    if best is None:
        raise ModelError(
            f"select_arm(): no scale factor selects >= {min_selected} patients from "
            f"{len(population)} plausible ones. Simulate a larger plausible population, widen "
            "its parameter ranges towards the target, or lower min_selected."
        )
    _, c, sel, prob, stat, p = best
    return ArmSelection(
        population=population.subset(sel),
        selected=sel,
        probability=prob,
        scale=c * float(np.exp(-log_max)),
        ks=stat,
        ks_pvalue=p,
        observables=names,
    )
