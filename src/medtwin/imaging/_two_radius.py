"""The classic two-radius estimate of D and rho from T1Gd and T2/FLAIR radii over time.

Two facts of the Fisher-KPP travelling wave of the proliferation-invasion model give D and rho
from imaging alone (Harpold et al. 2007; Swanson et al. 2008):

* the front moves at ``v = 2 sqrt(D rho)``: the slope of the radii against time;
* the wave's profile has a fixed shape in units of ``sqrt(D / rho)``, so the gap between the
  T1Gd edge (c = 0.8 K) and the T2 edge (c = 0.16 K) is ``g = kappa sqrt(D / rho)``, where
  ``kappa`` is the distance between the two levels on the minimal-speed wave
  ``u'' + 2 u' + u (1 - u) = 0`` (computed here by integrating that ODE; kappa = 6.11 for 0.8
  and 0.16).

Then ``sqrt(D rho) = v / 2`` and ``sqrt(D / rho) = g / kappa``. A spherical front of radius R
moves more slowly than a planar one, ``v = 2 sqrt(D rho) - 2 D / R`` (the curvature correction
of a Fisher front in three dimensions), which this estimate corrects for with R the mean front
radius (``curvature=False`` ignores it). The radii are fitted by least squares with a common
slope, so two scans suffice and more average the noise.

References
----------
Harpold HLP, Alvord EC Jr, Swanson KR. J Neuropathol Exp Neurol 66(1):1-9, 2007.
Swanson KR, Rostomily RC, Alvord EC Jr. Br J Cancer 98(1):113-119, 2008.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from ..errors import DataError
from ._scans import ScanSeries

__all__ = ["TwoRadiusEstimate", "two_radius_estimate", "wave_gap_factor"]


@dataclass(frozen=True)
class TwoRadiusEstimate:
    """D (mm^2/day) and rho (1/day) with the speed (mm/day) and gap (mm) they come from."""

    D: float
    rho: float
    speed: float
    gap: float
    kappa: float

    @property
    def invasion_ratio(self) -> float:
        """D / rho in mm^2."""
        return self.D / self.rho


@dataclass(frozen=True)
class _Level:
    """A ``solve_ivp`` event: ``y[0]`` crosses ``value``; a ``terminal`` one ends the run."""

    value: float
    terminal: bool = False

    def __call__(self, _z: float, y: np.ndarray) -> float:
        return y[0] - self.value


@functools.lru_cache(maxsize=32)
def wave_gap_factor(thr_t1: float = 0.8, thr_t2: float = 0.16) -> float:
    """Distance between the levels ``thr_t1`` and ``thr_t2`` of the minimal-speed wave, in units
    of ``sqrt(D / rho)``."""
    if not 0 < thr_t2 < thr_t1 < 1:
        raise DataError(
            f"wave_gap_factor needs 0 < thr_t2 < thr_t1 < 1. Got thr_t1={thr_t1}, thr_t2={thr_t2}."
        )
    mu = math.sqrt(2.0) - 1.0  # growth of 1 - u away from the u = 1 saddle
    eps = 1e-8

    def rhs(_z, y):
        u, du = y
        return [du, -2.0 * du - u * (1.0 - u)]

    sol = solve_ivp(
        rhs, (0.0, 400.0), [1.0 - eps, -eps * mu], rtol=1e-11, atol=1e-14,
        events=[_Level(thr_t1), _Level(thr_t2), _Level(0.5 * thr_t2, terminal=True)],
    )  # fmt: skip
    z1, z2 = sol.t_events[0], sol.t_events[1]
    if len(z1) == 0 or len(z2) == 0:  # pragma: no cover - the ODE always crosses both
        raise DataError("wave_gap_factor: the wave did not cross both thresholds.")
    return float(z2[0] - z1[0])


def two_radius_estimate(
    series: ScanSeries,
    *,
    thr_t1: float = 0.8,
    thr_t2: float = 0.16,
    curvature: bool = True,
) -> TwoRadiusEstimate:
    """Estimate D and rho from the T1Gd and T2 radii of ``series`` (at least two scans)."""
    ok = np.isfinite(series.radius_t1gd) & np.isfinite(series.radius_t2)
    if np.count_nonzero(ok) < 2:
        raise DataError(
            f"The two-radius estimate needs both radii at two or more scans. Got "
            f"{int(np.count_nonzero(ok))} complete scan(s)."
        )
    t = series.days[ok]
    r1, r2 = series.radius_t1gd[ok], series.radius_t2[ok]
    # r1 = a1 + v t, r2 = a2 + v t: one slope, two intercepts.
    n = len(t)
    A = np.zeros((2 * n, 3))
    A[:n, 0] = 1.0
    A[n:, 1] = 1.0
    A[:, 2] = np.concatenate([t, t])
    (a1, a2, v), *_ = np.linalg.lstsq(A, np.concatenate([r1, r2]), rcond=None)
    gap = a2 - a1
    if not (v > 0 and gap > 0):
        raise DataError(
            f"The two-radius estimate needs a growing tumour whose T2 edge lies outside its "
            f"T1Gd edge. Got speed {v:.3g} mm/day and gap {gap:.3g} mm; after treatment or "
            "with a shrinking lesion use the twin's assimilation instead."
        )
    kappa = wave_gap_factor(thr_t1, thr_t2)
    b = gap / kappa  # sqrt(D / rho)
    if curvature:
        R = float(np.mean(0.5 * (r1 + r2)))
        denom = 2.0 - 2.0 * b / R
        if denom <= 0:
            raise DataError(
                f"The front (mean radius {R:.3g} mm) is too small for its width ({b:.3g} mm) to "
                "use the curvature correction; pass curvature=False."
            )
        a = v / denom
    else:
        a = v / 2.0  # sqrt(D rho)
    return TwoRadiusEstimate(D=a * b, rho=a / b, speed=float(v), gap=float(gap), kappa=kappa)
