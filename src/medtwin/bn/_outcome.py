"""The 90-day modified Rankin Scale (mRS) by treatment and onset-to-treatment time.

The time-to-treatment outcome model of the SAMueL-2 stroke outcome work (A. Laws, M. Allen,
K. Pearn et al., https://samuel-book.github.io/stroke_outcome, packaged as ``stroke-outcome``,
MIT, https://github.com/stroke-modelling/stroke-outcome): for each mRS level ``k`` the log-odds
of ``mRS <= k`` falls linearly in time from its value when treated at onset (t = 0) to its value
at the *no-effect time* (IVT 378 min, from Emberson et al., Lancet 384:1929 (2014); MT 480 min,
from Fransen et al., JAMA Neurol 73:190 (2016)); at or after the no-effect time the no-effect
distribution (which includes the excess treatment deaths) applies. Untreated patients keep the
untreated distribution whatever the time. MT acts on large-vessel occlusions (LVO) only; for
LVO with both IVT and MT the better of the two distributions (the smaller mean mRS; MT on a
tie) is taken, as in the source (bridging IVT adds no benefit to MT: Yang et al., NEJM
382:1981 (2020)).

The distributions (cumulative, mRS <= 0..6) are the published ones of the source, read here as
data (``CUMULATIVE``); utilities per mRS level are those of Wang et al., Stroke 51:2411 (2020)
(pooled analysis of > 20 000 patients; 0 = dead, 1 = full health, < 0 worse than death).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

__all__ = [
    "CUMULATIVE",
    "NO_EFFECT_MIN",
    "UTILITY_WANG2020",
    "mrs_distribution",
    "utility",
]

# P(mRS <= k), k = 0..6 (stroke-outcome 0.1.8, data/mrs_dist_probs_cumsum.csv).
CUMULATIVE = {
    "no_treatment_nlvo": (0.198, 0.460, 0.580, 0.708, 0.856, 0.918, 1.0),
    "no_treatment_lvo": (0.050, 0.129, 0.265, 0.429, 0.676, 0.811, 1.0),
    "no_effect_nlvo_ivt_deaths": (0.196, 0.455, 0.574, 0.701, 0.847, 0.908, 1.0),
    "no_effect_lvo_ivt_deaths": (0.048, 0.124, 0.255, 0.414, 0.653, 0.783, 1.0),
    "no_effect_lvo_mt_deaths": (0.048, 0.124, 0.255, 0.412, 0.649, 0.779, 1.0),
    "t0_treatment_nlvo_ivt": (0.445, 0.642, 0.752, 0.862, 0.941, 0.967, 1.0),
    "t0_treatment_lvo_ivt": (0.140, 0.233, 0.361, 0.522, 0.730, 0.838, 1.0),
    "t0_treatment_lvo_mt": (0.306, 0.429, 0.548, 0.707, 0.851, 0.915, 1.0),
}
NO_EFFECT_MIN = {"ivt": 378.0, "mt": 480.0}  # minutes from onset
UTILITY_WANG2020 = (0.97, 0.88, 0.74, 0.55, 0.20, -0.19, 0.00)  # mRS 0..6
TREATMENTS = ("none", "ivt", "mt", "ivt+mt")


def utility(dist: np.ndarray, weights: tuple[float, ...] = UTILITY_WANG2020) -> float:
    """The expected utility of an mRS distribution (7 probabilities)."""
    return float(np.dot(np.asarray(dist, dtype=np.float64), weights))


def _pmf(cum: tuple[float, ...] | np.ndarray) -> np.ndarray:
    c = np.asarray(cum, dtype=np.float64)
    return np.diff(c, prepend=0.0)


def _at_time(t0: str, no_effect: str, minutes: float, t_no: float) -> np.ndarray:
    if minutes >= t_no:
        return _pmf(CUMULATIVE[no_effect])
    a = np.asarray(CUMULATIVE[t0][:-1])
    b = np.asarray(CUMULATIVE[no_effect][:-1])
    frac = minutes / t_no
    logodds = frac * np.log(b / (1 - b)) + (1 - frac) * np.log(a / (1 - a))
    cum = np.append(1.0 / (1.0 + np.exp(-logodds)), 1.0)
    return _pmf(cum)


def mrs_distribution(lvo: bool, treatment: str, minutes: float) -> np.ndarray:
    """P(mRS = 0..6 at 90 days) for an ischaemic stroke (``lvo``: large-vessel occlusion)
    treated with ``treatment`` (``none``, ``ivt``, ``mt``, ``ivt+mt``) ``minutes`` after onset."""
    if treatment not in TREATMENTS:
        raise DataError(f"treatment must be one of {', '.join(TREATMENTS)}. Got {treatment!r}.")
    if not (np.isfinite(minutes) and minutes >= 0):
        raise DataError(f"The onset-to-treatment time must be >= 0 min. Got {minutes!r}.")
    kind = "lvo" if lvo else "nlvo"
    untreated = _pmf(CUMULATIVE[f"no_treatment_{kind}"])
    if treatment == "none" or (treatment == "mt" and not lvo):
        return untreated
    ivt = _at_time(
        f"t0_treatment_{kind}_ivt", f"no_effect_{kind}_ivt_deaths", minutes, NO_EFFECT_MIN["ivt"]
    )
    if treatment == "ivt" or not lvo:
        return ivt
    mt = _at_time("t0_treatment_lvo_mt", "no_effect_lvo_mt_deaths", minutes, NO_EFFECT_MIN["mt"])
    if treatment == "mt":
        return mt
    levels = np.arange(7)
    return mt if levels @ mt <= levels @ ivt else ivt  # the smaller mean mRS; MT on a tie
