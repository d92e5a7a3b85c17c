"""A twin's calibration as the dashboard shows it: two-sided, and steady between refreshes.

The skill ledger flags a twin ``drifting`` when the coverage of its last 50 scored targets is,
at some band level, incompatible with the level's nominal coverage: the nominal lies outside
the 99 % Wilson interval of the observed coverage (``medtwin.forecast.score_forecasts``). That
one word covers two opposite failures:

* **over-confident** -- coverage *below* nominal: the bands are too narrow, readings fall
  outside them more often than promised, and an alert read off them under-warns;
* **under-confident** -- coverage *above* nominal: the bands are wider than they need to be
  (the twin is right, but vaguer than the data allow).

:func:`calibration_of` says which, per observable (over-confident wins when bands disagree: it
is the unsafe one), and keeps the status steady. A status flipped at every refresh when the
recent coverage sat near the 99 % bound; now it has hysteresis: it becomes over- or
under-confident when a band's nominal coverage leaves the 99 % Wilson interval of the recent
coverage (the ledger's own test, so it agrees with the ledger's flag when that flag is raised),
and returns to ``calibrated`` only when every band's nominal lies inside the narrower 90 %
interval. The status is a pure function of the stored forecasts and observations -- the state
machine is run over every scored target from the first, in target-time order -- so every
refresh, worker process and restart computes the same status for the same data.

Reference: Wilson, E. B. (1927), Probable inference..., JASA 22:209-212.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import loop
from ..forecast import coverage_interval, scored_targets
from ..loop import StoredForecast
from ..store import StoredObservation
from ._views import _iso

__all__ = ["ENTER_CONF", "LEAVE_CONF", "RECENT", "Walk", "calibration_of", "calibration_walk"]

RECENT = 50
"""Scored targets in the recent window (as the skill ledger's drift flag)."""
ENTER_CONF = 0.99
"""Confidence of the Wilson interval whose leaving makes a band over- or under-confident."""
LEAVE_CONF = 0.90
"""Confidence of the Wilson interval every band must be back inside to count as calibrated."""


def _intervals(k: np.ndarray, n: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson intervals of ``k`` of ``n`` (targets, levels), computed on a power-of-two padding
    of the targets axis so that a growing ledger compiles ``coverage_interval`` rarely."""
    t = k.shape[0]
    size = max(64, 1 << (t - 1).bit_length())
    kp, np_ = np.zeros((size, k.shape[1])), np.zeros((size, k.shape[1]))
    kp[:t], np_[:t] = k, n
    low, high = coverage_interval(kp, np_, conf)
    return np.asarray(low)[:t], np.asarray(high)[:t]


@dataclass(frozen=True)
class Walk:
    """The status after the last scored target: ``status``; ``since``, the index of the target
    at which it was entered (None: calibrated throughout); the recent ``coverage`` per level
    over ``n`` targets; ``flagged``: the recent window itself is outside the 99 % interval."""

    status: str
    since: int | None
    coverage: np.ndarray
    n: int
    flagged: bool


def calibration_walk(inside: np.ndarray, levels: Sequence[float]) -> Walk:
    """The status machine run over every scored target of ``inside`` ((targets, levels)
    bools, in target-time order; at least one target)."""
    t, n_levels = inside.shape
    counts = np.vstack([np.zeros((1, n_levels)), np.cumsum(inside, axis=0)])
    end = np.arange(1, t + 1)
    start = np.maximum(end - RECENT, 0)
    k = counts[end] - counts[start]
    n = np.broadcast_to((end - start)[:, None], k.shape).astype(float)
    nominal = np.asarray(levels, dtype=float)
    lo_enter, hi_enter = _intervals(k, n, ENTER_CONF)
    lo_leave, hi_leave = _intervals(k, n, LEAVE_CONF)
    below = np.any(nominal > hi_enter, axis=1)
    above = np.any(nominal < lo_enter, axis=1)
    settled = np.all((lo_leave <= nominal) & (nominal <= hi_leave), axis=1)
    state, since = "calibrated", None
    for i in range(t):
        new = "over-confident" if below[i] else "under-confident" if above[i] else None
        if new is not None and new != state:
            state, since = new, i
        elif new is None and state != "calibrated" and settled[i]:
            state, since = "calibrated", i
    return Walk(state, since, k[-1] / n[-1], int(n[-1, 0]), bool(below[-1] or above[-1]))


def _text(w: Walk, levels: Sequence[float]) -> str:
    status, n = w.status, w.n
    got = "/".join(f"{100 * c:.0f}" for c in w.coverage)
    nominal = "/".join(f"{100 * lv:g}" for lv in levels)
    if status == "calibrated":
        return f"within calibration: recent coverage {got} % (nominal {nominal} %, {n} targets)"
    if status == "over-confident":
        what = (f"over-confident: the bands are too narrow; recent coverage {got} % is below "
                f"the nominal {nominal} % ({n} targets), so readings fall outside them more "
                "often than they should and alerts may under-warn")  # fmt: skip
    else:
        what = (f"under-confident: the bands are wider than they need to be; recent coverage "
                f"{got} % is above the nominal {nominal} % ({n} targets)")  # fmt: skip
    if not w.flagged:
        what += (f"; it stays so until every band's coverage is back inside its "
                 f"{100 * LEAVE_CONF:g} % interval")  # fmt: skip
    return what


def calibration_of(
    fcs: Sequence[StoredForecast], obs: Sequence[StoredObservation]
) -> dict[str, dict[str, Any]]:
    """Per observable scored: ``status`` (``calibrated``, ``over-confident`` or
    ``under-confident``), ``drifting`` (the status is not ``calibrated``), ``since`` (UTC ISO
    time of the target at which the status was entered, None if calibrated throughout), the
    recent ``coverage`` per level and its ``n``, ``censored`` (readings above or below the
    device's range, which are not scored: they have no exact value) and a sentence ``text``.
    ``fcs`` newest first, as the store reads them; the readings are matched to the targets by
    :func:`medtwin.loop.stored_observations`, as :func:`medtwin.loop.stored_skill` matches
    them."""
    stream = loop.stored_observations(fcs, [(o.time, o.code, o.value, o.censored) for o in obs])
    if stream is None:
        return {}
    f0 = fcs[0]
    forecasts = [f.forecast for f in reversed(fcs)]
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(stream.observable)):
        censored = sum(1 for n, c in zip(stream.observable, stream.censored, strict=True)
                       if n == name and c != 0)  # fmt: skip
        scored = scored_targets(forecasts, stream, name, draws=False)
        if scored is None:
            continue
        levels = forecasts[0].levels
        inside = (scored.lower <= scored.observed[:, None]) & (
            scored.observed[:, None] <= scored.upper
        )
        w = calibration_walk(inside, levels)
        since = None
        if w.since is not None:
            when = scored.issued_at[w.since] + scored.horizon[w.since]
            since = _iso(loop.from_model_time(when, f0.epoch, f0.time_unit))
        out[name] = {
            "status": w.status, "drifting": w.status != "calibrated", "since": since,
            "coverage": {str(lv): float(c) for lv, c in zip(levels, w.coverage, strict=True)},
            "n": w.n, "censored": censored, "text": _text(w, levels),
        }  # fmt: skip
    return out
