"""Observations: what was measured, when, and whether the reading was censored.

Real streams are messy. :func:`prepare` turns what arrived into what a filter can use and says
what happened to every value: NaN and non-finite values, unknown times, exact duplicates and
values older than the twin's time are dropped with a reason; out-of-order values are sorted;
censored readings ("LO" below 40, "HI" above 400 mg/dL on a CGM) are kept as censored
information, not as values; times are snapped to the model's input grid.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["HI", "LO", "DataReport", "Observations", "check_readings", "observations", "prepare"]

LO, HI = -1, 1  # censoring flags: the true value is below / above the reported limit


@dataclass(frozen=True)
class Observations:
    """Measurements of named observables: ``values[i]`` of ``observable[i]`` at ``times[i]``;
    ``censored[i]`` is 0, ``LO`` (true value below ``values[i]``) or ``HI`` (above)."""

    times: np.ndarray
    observable: tuple[str, ...]
    values: np.ndarray
    censored: np.ndarray

    def __len__(self) -> int:
        return len(self.times)

    def __add__(self, other: Observations) -> Observations:
        return Observations(
            np.concatenate([self.times, other.times]),
            self.observable + other.observable,
            np.concatenate([self.values, other.values]),
            np.concatenate([self.censored, other.censored]),
        )

    def window(self, t_from: float, t_to: float) -> Observations:
        """The observations with ``t_from < time <= t_to``."""
        keep = (self.times > t_from) & (self.times <= t_to)
        return self._take(np.flatnonzero(keep))

    def _take(self, idx: np.ndarray) -> Observations:
        return Observations(
            self.times[idx],
            tuple(self.observable[i] for i in idx),
            self.values[idx],
            self.censored[idx],
        )


def observations(
    times: object,
    values: object,
    observable: str | list[str] | tuple[str, ...],
    *,
    lo_limit: float = 40.0,
    hi_limit: float = 400.0,
) -> Observations:
    """Build :class:`Observations`. ``values`` may hold numbers, NaN/None for gaps, the
    strings "LO"/"HI" a CGM shows outside its range (censored at ``lo_limit``/``hi_limit``),
    and "<x"/">x" for a reading below/above a limit ``x`` the reading itself names (an
    assay's detection limit, as a lab reports it: "<0.5"; FHIR's ``Quantity.comparator``)."""
    t = np.atleast_1d(np.asarray(times, dtype=object))
    v = np.atleast_1d(np.asarray(values, dtype=object))
    if t.shape != v.shape or t.ndim != 1:
        raise DataError(
            f"observations() needs 1-D times and values of the same length. Got {t.shape} "
            f"times and {v.shape} values."
        )
    names = (observable,) * len(t) if isinstance(observable, str) else tuple(observable)
    if len(names) != len(t):
        raise DataError(
            f"observations() needs one observable name or one per value. Got {len(names)} names "
            f"for {len(t)} values."
        )
    tt = np.array([_to_float(x, "time", i) for i, x in enumerate(t)])
    vals = np.empty(len(v))
    cens = np.zeros(len(v), dtype=np.int8)
    for i, x in enumerate(v):
        if isinstance(x, str) and x.strip().upper() in ("LO", "LOW"):
            vals[i], cens[i] = lo_limit, LO
        elif isinstance(x, str) and x.strip().upper() in ("HI", "HIGH"):
            vals[i], cens[i] = hi_limit, HI
        elif isinstance(x, str) and x.strip()[:1] in ("<", ">"):
            text = x.strip().lstrip("<>=").strip()
            vals[i] = _to_float(text, "limit of a censored value ('<0.5', '>400')", i)
            cens[i] = LO if x.strip()[0] == "<" else HI
            if not math.isfinite(vals[i]):
                raise DataError(
                    f"Observation {i}: a censored value needs a finite limit ('<0.5' for "
                    f"below 0.5). Got {x!r}."
                )
        else:
            vals[i] = _to_float(x, "value", i)
    return Observations(tt, names, vals, cens)


def _to_float(x: object, what: str, i: int) -> float:
    if x is None:
        return math.nan
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(
            f"Observation {i}: the {what} must be a number (or NaN for a gap"
            f"{', or LO/HI for a censored reading' if what == 'value' else ''}). Got {x!r}."
        ) from None


@dataclass(frozen=True)
class DataReport:
    """What happened to the observations handed to a filter."""

    received: int
    used: int
    dropped: dict[str, int] = field(default_factory=dict)
    reordered: bool = False
    censored: int = 0

    def __str__(self) -> str:
        drops = ", ".join(f"{n} {why}" for why, n in self.dropped.items()) or "none"
        return (
            f"{self.received} received, {self.used} used ({self.censored} censored), dropped: "
            f"{drops}{'; reordered by time' if self.reordered else ''}"
        )


def prepare(
    obs: Observations, observable_names: tuple[str, ...], after: float, dt: float, t0: float
) -> tuple[Observations, DataReport]:
    """Clean ``obs`` for a filter whose state is at time ``after`` on the grid ``t0 + k*dt``."""
    unknown = sorted(set(obs.observable) - set(observable_names))
    if unknown:
        raise DataError(
            f"Observations of {unknown} cannot be assimilated: this model observes "
            f"{', '.join(observable_names)}. Rename them or drop them before assimilating."
        )
    drops: Counter[str] = Counter()
    keep = []
    seen: set[tuple[float, str, float, int]] = set()
    for i in range(len(obs)):
        t, v = obs.times[i], obs.values[i]
        if not math.isfinite(t):
            drops["without a valid time"] += 1
            continue
        if not math.isfinite(v):
            drops["missing value (NaN)"] += 1
            continue
        snapped = t0 + round((t - t0) / dt) * dt
        if snapped <= after:
            drops["at or before the twin's time (already assimilated or late)"] += 1
            continue
        sig = (snapped, obs.observable[i], float(v), int(obs.censored[i]))
        if sig in seen:
            drops["exact duplicate"] += 1
            continue
        seen.add(sig)
        keep.append((snapped, i))
    reordered = any(keep[j][0] < keep[j - 1][0] for j in range(1, len(keep)))
    keep.sort(key=lambda x: x[0])
    idx = np.array([i for _, i in keep], dtype=np.int64)
    clean = Observations(
        np.array([t for t, _ in keep], dtype=np.float64),
        tuple(obs.observable[i] for i in idx),
        obs.values[idx] if len(idx) else np.zeros(0),
        obs.censored[idx] if len(idx) else np.zeros(0, dtype=np.int8),
    )
    report = DataReport(
        received=len(obs),
        used=len(clean),
        dropped=dict(drops),
        reordered=reordered,
        censored=int(np.count_nonzero(clean.censored)),
    )
    return clean, report


def check_readings(model: Any, clean: Observations) -> None:
    """Refuse readings an observable's noise model cannot produce (a score that is no whole
    number of its range: ``NoiseModel.check``), before any particle moves."""
    for name in sorted(set(clean.observable)):
        noise = model.observables[model.observable_index(name)].noise
        if noise is not None:
            at = np.array([o == name for o in clean.observable])
            noise.check(clean.values[at], clean.censored[at], name)
