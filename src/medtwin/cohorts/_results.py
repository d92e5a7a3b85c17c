"""Trial results: per-arm means and paired differences with bootstrap confidence intervals,
per-patient columns for export, and a subgroup report that flags under-represented groups.

Confidence intervals are percentile bootstrap intervals over patients (Efron & Tibshirani, An
Introduction to the Bootstrap, Chapman & Hall 1993, ch. 13); differences between arms are paired
(each patient's difference, resampled by patient), as every patient receives every arm.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ._populations import Population

__all__ = ["ArmSummary", "Difference", "SubgroupReport", "SubgroupRow", "TrialResult"]


def bootstrap_mean(
    x: np.ndarray, *, conf: float, n_boot: int, rng: np.random.Generator
) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of the finite values of ``x`` with a percentile bootstrap CI."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    block = max(1, min(n_boot, 4_000_000 // n))
    means = []
    for start in range(0, n_boot, block):
        k = min(block, n_boot - start)
        means.append(x[rng.integers(0, n, size=(k, n))].mean(axis=1))
    boot = np.concatenate(means)
    a = (1.0 - conf) / 2.0
    lo, hi = np.quantile(boot, [a, 1.0 - a])
    return float(x.mean()), float(lo), float(hi), n


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    endpoint: str
    unit: str
    n: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Difference:
    """Mean paired difference ``arm - reference`` over the patients with both values."""

    arm: str
    reference: str
    endpoint: str
    unit: str
    n: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class SubgroupRow:
    group: str
    n: int
    share: float
    target_share: float | None
    means: Mapping[str, float]  # arm -> mean endpoint in the group
    differences: Mapping[str, Difference]  # arm -> paired difference to the reference
    flagged: bool
    reason: str


@dataclass(frozen=True)
class SubgroupReport:
    """Each arm's effect on ``endpoint`` by group of ``by``; ``rows`` in group order."""

    by: str
    endpoint: str
    reference: str
    rows: tuple[SubgroupRow, ...]

    @property
    def flagged(self) -> tuple[str, ...]:
        return tuple(r.group for r in self.rows if r.flagged)


def _groups(values: np.ndarray, bins: Sequence[float] | None) -> tuple[np.ndarray, list[str]]:
    """Group label per patient and the labels in display order."""
    if bins is None:
        if values.dtype.kind == "f" and len(np.unique(values)) > 12:
            raise ModelError(
                "A numeric covariate with many values needs bins=(edge, edge, ...) to form "
                "subgroups."
            )
        labels = np.asarray([str(v) for v in values], dtype=object)
        return labels, sorted(set(labels.tolist()))
    edges = np.asarray(bins, dtype=np.float64)
    k = np.digitize(np.asarray(values, dtype=np.float64), edges)
    names = (
        [f"< {edges[0]:g}"]
        + [f"{a:g}-{b:g}" for a, b in itertools.pairwise(edges)]
        + [f">= {edges[-1]:g}"]
    )
    return np.asarray([names[i] for i in k], dtype=object), names


@dataclass(frozen=True, eq=False)
class TrialResult:
    """``values[a, e, i]``: endpoint ``e`` of patient ``i`` in arm ``a`` (NaN where the arm's
    simulation failed, ``status[a, i] != 0``)."""

    population: Population
    arms: tuple[str, ...]
    endpoints: tuple[str, ...]
    units: tuple[str, ...]
    values: np.ndarray
    status: np.ndarray

    def _a(self, arm: str) -> int:
        if arm not in self.arms:
            raise ModelError(f"No arm {arm!r} in this trial. Arms: {', '.join(self.arms)}.")
        return self.arms.index(arm)

    def _e(self, endpoint: str) -> int:
        if endpoint not in self.endpoints:
            raise ModelError(
                f"No endpoint {endpoint!r} in this trial. Endpoints: {', '.join(self.endpoints)}."
            )
        return self.endpoints.index(endpoint)

    def value(self, arm: str, endpoint: str) -> np.ndarray:
        """Per-patient values ``[N]`` of ``endpoint`` in ``arm``."""
        return self.values[self._a(arm), self._e(endpoint)]

    def summary(self, *, conf: float = 0.95, n_boot: int = 2000, seed: int = 0) -> list[ArmSummary]:
        """Mean of every endpoint in every arm with its bootstrap CI."""
        rng = np.random.default_rng(seed)
        out = []
        for e, (name, unit) in enumerate(zip(self.endpoints, self.units, strict=True)):
            for a, arm in enumerate(self.arms):
                m, lo, hi, n = bootstrap_mean(self.values[a, e], conf=conf, n_boot=n_boot, rng=rng)
                out.append(ArmSummary(arm, name, unit, n, m, lo, hi))
        return out

    def differences(
        self,
        reference: str | None = None,
        *,
        conf: float = 0.95,
        n_boot: int = 2000,
        seed: int = 0,
        subset: np.ndarray | None = None,
    ) -> list[Difference]:
        """Paired differences ``arm - reference`` (default: the first arm) per endpoint."""
        ref = reference or self.arms[0]
        r = self._a(ref)
        rng = np.random.default_rng(seed)
        mask = slice(None) if subset is None else subset
        out = []
        for e, (name, unit) in enumerate(zip(self.endpoints, self.units, strict=True)):
            for a, arm in enumerate(self.arms):
                if a == r:
                    continue
                d = self.values[a, e][mask] - self.values[r, e][mask]
                m, lo, hi, n = bootstrap_mean(d, conf=conf, n_boot=n_boot, rng=rng)
                out.append(Difference(arm, ref, name, unit, n, m, lo, hi))
        return out

    def subgroups(
        self,
        by: str,
        endpoint: str,
        *,
        reference: str | None = None,
        bins: Sequence[float] | None = None,
        target_shares: Mapping[str, float] | None = None,
        min_n: int = 30,
        under_ratio: float = 0.8,
        conf: float = 0.95,
        n_boot: int = 2000,
        seed: int = 0,
    ) -> SubgroupReport:
        """Each arm's mean ``endpoint`` and paired difference to ``reference`` within each group
        of covariate ``by`` (numeric covariates cut at ``bins``).

        A group is flagged as under-represented when it has fewer than ``min_n`` patients (its
        CI is then wide and its estimate fragile) or when its share of the population is below
        ``under_ratio`` times its ``target_shares`` share (e.g. the share in the real patient
        population the trial should speak for); a target group absent from the population is
        reported with n = 0 and flagged.
        """
        e = self._e(endpoint)
        ref = reference or self.arms[0]
        r = self._a(ref)
        labels, names = _groups(np.asarray(self.population.covariate(by)), bins)
        present = set(labels.tolist())
        order = [g for g in names if g in present or g in (target_shares or {})]
        order += [g for g in (target_shares or {}) if g not in order]
        rng = np.random.default_rng(seed)
        n_all = len(labels)
        rows = []
        for g in order:
            mask = labels == g
            n = int(mask.sum())
            share = n / n_all if n_all else 0.0
            target = None if target_shares is None else target_shares.get(g)
            reasons = []
            if n < min_n:
                reasons.append(f"n = {n} < {min_n}")
            if target is not None and share < under_ratio * target:
                reasons.append(f"share {share:.0%} < {under_ratio:g} x target {target:.0%}")
            means = {
                arm: float(np.nanmean(self.values[a, e][mask])) if n else np.nan
                for a, arm in enumerate(self.arms)
            }
            diffs = {}
            for a, arm in enumerate(self.arms):
                if a == r:
                    continue
                d = self.values[a, e][mask] - self.values[r, e][mask]
                m, lo, hi, k = bootstrap_mean(d, conf=conf, n_boot=n_boot, rng=rng)
                diffs[arm] = Difference(arm, ref, endpoint, self.units[e], k, m, lo, hi)
            rows.append(
                SubgroupRow(g, n, share, target, means, diffs, bool(reasons), "; ".join(reasons))
            )
        return SubgroupReport(by, endpoint, ref, tuple(rows))

    def columns(self) -> dict[str, np.ndarray]:
        """Per-patient results in long form (one row per patient and arm): ``id``, the
        covariates, ``arm``, ``status`` and one column per endpoint -- ready for ``csv`` or
        ``pandas.DataFrame``."""
        n, a = len(self.population), len(self.arms)
        cols: dict[str, np.ndarray] = {"id": np.tile(self.population.ids, a)}
        for k, v in self.population.covariates.items():
            cols[k] = np.tile(v, a)
        cols["arm"] = np.repeat(np.asarray(self.arms, dtype=object), n)
        cols["status"] = self.status.reshape(-1)
        for e, name in enumerate(self.endpoints):
            cols[name] = self.values[:, e, :].reshape(-1)
        return cols
