"""The skill ledger: every issued forecast scored against what was later observed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..assimilate._observations import Observations
from ._forecast import Forecast
from .scoring import coverage_drift, crps_ensemble

__all__ = ["HorizonSkill", "ScoredTargets", "SkillSummary", "score_forecasts", "scored_targets"]


@dataclass(frozen=True)
class ScoredTargets:
    """Every (forecast, target time) that met an observation, in target-time order (ties by
    lead time). ``lower``/``upper``: (targets, levels); ``draws``: (targets, draws)."""

    issued_at: np.ndarray
    horizon: np.ndarray
    observed: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    draws: np.ndarray


def scored_targets(
    forecasts: Sequence[Forecast],
    observations: Observations,
    observable: str,
    *,
    draws: bool = True,
) -> ScoredTargets | None:
    """Match ``forecasts`` of ``observable`` with the uncensored ``observations`` at the same
    times (targets not yet observed are skipped: scoring happens as data arrive). ``None`` when
    nothing matches; ``draws=False`` leaves ``draws`` empty."""
    seen = {
        float(t): float(v)
        for t, name, v, c in zip(
            observations.times,
            observations.observable,
            observations.values,
            observations.censored,
            strict=True,
        )
        if name == observable and c == 0 and np.isfinite(v)
    }
    rows = []  # (issued_at, horizon, observed, median, lower[L], upper[L], draws[N])
    for fc in forecasts:
        j = fc._j(observable)
        for k, t in enumerate(fc.times):
            if float(t) in seen:
                rows.append(
                    (fc.issued_at, float(t) - fc.issued_at, seen[float(t)], fc.median[j, k],
                     fc.lower[:, j, k], fc.upper[:, j, k], fc.draws[:, j, k] if draws else None)
                )  # fmt: skip
    if not rows:
        return None
    rows.sort(key=lambda r: (r[0] + r[1], r[1]))
    return ScoredTargets(
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows]),
        np.array([r[3] for r in rows]),
        np.stack([r[4] for r in rows]),
        np.stack([r[5] for r in rows]),
        np.stack([r[6] for r in rows if r[6] is not None]) if draws else np.zeros((len(rows), 0)),
    )


@dataclass(frozen=True)
class HorizonSkill:
    """Scores of all targets ``horizon`` ahead of their forecast's issue time."""

    horizon: float
    n: int
    coverage: dict[float, float]  # level -> fraction of observations inside the band
    crps: float
    mard: float  # %
    rmse: float


@dataclass(frozen=True)
class SkillSummary:
    """Skill of one observable's forecasts by horizon, and the drift flag: the coverage of the
    last ``recent`` scored targets is out of its binomial confidence bounds at some level."""

    observable: str
    by_horizon: tuple[HorizonSkill, ...]
    recent_coverage: dict[float, float]
    drifting: bool
    scored: int

    def at(self, horizon: float) -> HorizonSkill:
        for row in self.by_horizon:
            if abs(row.horizon - horizon) < 1e-9:
                return row
        raise KeyError(f"No forecasts scored at horizon {horizon:g}.")


def score_forecasts(
    forecasts: Sequence[Forecast],
    observations: Observations,
    observable: str,
    *,
    recent: int = 50,
    conf: float = 0.99,
) -> SkillSummary:
    """Score ``forecasts`` of ``observable`` against uncensored ``observations`` at the same
    times (targets not yet observed are skipped: scoring happens as data arrive)."""
    rows = scored_targets(forecasts, observations, observable)
    if rows is None:
        return SkillSummary(observable, (), {}, False, 0)
    levels = forecasts[0].levels
    horizon, y, med = rows.horizon, rows.observed, rows.median
    inside = (rows.lower <= y[:, None]) & (y[:, None] <= rows.upper)  # (targets, levels)
    crps = np.asarray(crps_ensemble(rows.draws, y))
    out = []
    for h in np.unique(horizon):
        m = horizon == h
        out.append(
            HorizonSkill(
                horizon=float(h),
                n=int(m.sum()),
                coverage={lv: float(inside[m, i].mean()) for i, lv in enumerate(levels)},
                crps=float(np.nanmean(crps[m])),
                mard=float(100 * np.mean(np.abs(med[m] - y[m]) / np.abs(y[m]))),
                rmse=float(np.sqrt(np.mean((med[m] - y[m]) ** 2))),
            )
        )
    last = inside[-recent:]
    recent_cov = {lv: float(last[:, i].mean()) for i, lv in enumerate(levels)}
    drift = any(
        bool(coverage_drift(int(last[:, i].sum()), len(last), lv, conf))
        for i, lv in enumerate(levels)
    )
    return SkillSummary(observable, tuple(out), recent_cov, drift, len(y))
