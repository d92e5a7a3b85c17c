"""Profile likelihood (Raue et al. 2009): each free parameter walked outwards from the MLE on
both sides, the others re-optimised, until the profile crosses ``chi2(level, 1) / 2``.

Part of :mod:`medtwin.analysis._identifiability` (the module, whose docstring gives the
method, the verdicts and the references); :func:`_profile` takes that module's compiled
likelihood and the :class:`~medtwin.analysis.FisherInformation` at the MLE. Steps are on the
estimation scale (log for positive parameters); ``values`` are reported in natural units.

References: Raue A, Kreutz C, Maiwald T, Bachmann J, Schilling M, Klingmueller U, Timmer J.
Structural and practical identifiability analysis of partially observed dynamical models by
exploiting the profile likelihood. Bioinformatics 25(15):1923-1929 (2009).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.stats

from ..assimilate._observations import DataReport

__all__ = ["Profile", "ProfileLikelihood", "Verdict"]

Verdict = Literal["identifiable", "practically non-identifiable", "structurally non-identifiable"]


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
