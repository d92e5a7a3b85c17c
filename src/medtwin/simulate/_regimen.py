"""Regimens: what is given to the patient and when.

A :class:`Regimen` is a validated, time-sorted tuple of events on a model's input channels:

* :class:`Dose` -- an amount given at a time, either within one input step (a bolus, an
  injection) or at a finite rate until it is all delivered (a meal eaten at 5 g/min). Doses with a
  rate on the same channel queue behind each other, as a patient finishes one plate before the
  next.
* :class:`Infusion` -- a rate added for a duration.
* :class:`SetRate` -- a new background rate from a time on (a basal rate); before the first one,
  the model's own baseline applies (e.g. the patient's steady-state basal).

Times are in the model's time unit, amounts in the channel's rate unit times that time unit.
``meal``, ``bolus`` and ``basal`` build the events of the glucose models (time in minutes).

:meth:`Regimen.compile` turns the events into two arrays on the input grid, done once on the
host: additive rates ``dose_rate`` and background ``override`` (NaN = the model's baseline).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ..errors import RegimenError

__all__ = [
    "CompiledRegimen",
    "Dose",
    "Event",
    "Infusion",
    "Regimen",
    "SetRate",
    "applied_inputs",
    "basal",
    "bolus",
    "meal",
]


def _number(
    value: object, what: str, *, minimum: float | None = 0.0, strict: bool = False
) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RegimenError(f"The {what} must be a number. Got {value!r} instead.") from None
    if not math.isfinite(x):
        raise RegimenError(f"The {what} must be a finite number. Got {value!r} instead.")
    if minimum is not None and (x <= minimum if strict else x < minimum):
        rel = ">" if strict else ">="
        raise RegimenError(
            f"The {what} must be {rel} {minimum:g}. Got {x:g} instead; remove the event or fix "
            "its value."
        )
    return x


@dataclass(frozen=True)
class Dose:
    """``amount`` into ``input`` at ``time``; within one input step if ``rate`` is None, else at
    ``rate`` (queued behind earlier rated doses on the same input)."""

    time: float
    input: str
    amount: float
    rate: float | None = None
    label: str = "dose"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "time", _number(self.time, f"time of the {self.label}", minimum=None)
        )
        object.__setattr__(self, "amount", _number(self.amount, f"amount of the {self.label}"))
        if self.rate is not None:
            rate = _number(self.rate, f"rate of the {self.label}", strict=True)
            object.__setattr__(self, "rate", rate)


@dataclass(frozen=True)
class Infusion:
    """``rate`` added to ``input`` from ``time`` for ``duration``."""

    time: float
    input: str
    rate: float
    duration: float
    label: str = "infusion"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "time", _number(self.time, f"time of the {self.label}", minimum=None)
        )
        object.__setattr__(self, "rate", _number(self.rate, f"rate of the {self.label}"))
        d = _number(self.duration, f"duration of the {self.label}", strict=True)
        object.__setattr__(self, "duration", d)


@dataclass(frozen=True)
class SetRate:
    """Background rate of ``input`` from ``time`` on (replaces the model's baseline)."""

    time: float
    input: str
    rate: float
    label: str = "rate"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "time", _number(self.time, f"time of the {self.label}", minimum=None)
        )
        object.__setattr__(self, "rate", _number(self.rate, f"rate of the {self.label}"))


Event = Union[Dose, Infusion, SetRate]


def meal(time: float, grams: float, *, rate: float = 5.0) -> Dose:
    """A meal of ``grams`` carbohydrate starting at ``time`` (min), eaten at ``rate`` g/min
    (5 g/min as simglucose's patients eat)."""
    return Dose(time, "carbs", grams, rate=rate, label="meal")


def bolus(time: float, units: float) -> Dose:
    """An insulin bolus of ``units`` U delivered within the input step containing ``time`` (min)."""
    return Dose(time, "insulin", units, label="bolus")


def basal(time: float, units_per_hour: float) -> SetRate:
    """A basal insulin rate of ``units_per_hour`` U/h from ``time`` (min) on."""
    return SetRate(time, "insulin", _number(units_per_hour, "basal rate (U/h)") / 60.0, "basal")


@dataclass(frozen=True)
class CompiledRegimen:
    """A regimen on an input grid: ``dose_rate[k, i]`` is added to the background of input ``i``
    over step ``k``; ``override[k, i]`` is that background (NaN: the model's baseline)."""

    t0: float
    dt: float
    dose_rate: np.ndarray
    override: np.ndarray


def applied_inputs(override: ArrayLike, dose_rate: ArrayLike, baseline: ArrayLike) -> Array:
    """The input rates a model receives: the background (``override``, or the model's
    ``baseline`` where it is NaN) plus the doses. Works on one step or on a whole grid."""
    override = jnp.asarray(override)
    return jnp.where(jnp.isnan(override), baseline, override) + dose_rate


@dataclass(frozen=True)
class Regimen:
    """A validated, time-sorted tuple of events."""

    events: tuple[Event, ...] = ()

    def __post_init__(self) -> None:
        events = tuple(self.events)
        for e in events:
            if not isinstance(e, (Dose, Infusion, SetRate)):
                raise RegimenError(
                    f"A Regimen holds Dose, Infusion and SetRate events. Got {type(e).__name__}: "
                    f"{e!r}."
                )
        object.__setattr__(self, "events", tuple(sorted(events, key=lambda e: e.time)))

    def __add__(self, other: Regimen) -> Regimen:
        return Regimen(self.events + other.events)

    def __len__(self) -> int:
        return len(self.events)

    def shifted(self, offset: float) -> Regimen:
        """The same events, ``offset`` later."""
        return Regimen(tuple(_replace_time(e, e.time + offset) for e in self.events))

    def repeated(self, period: float, times: int) -> Regimen:
        """The events repeated ``times`` times, one ``period`` apart (e.g. daily meals)."""
        return Regimen(tuple(e for k in range(times) for e in self.shifted(k * period).events))

    def check_horizon(self, t0: float, t1: float, *, history: bool = False) -> None:
        """Raise :class:`RegimenError` if an event starts outside ``[t0, t1)``; with
        ``history=True`` events before ``t0`` are allowed (they may still be delivering)."""
        for e in self.events:
            if not (history or t0 <= e.time) or not e.time < t1:
                raise RegimenError(
                    f"A {e.label} at t={e.time:g} lies outside the simulated horizon "
                    f"[{t0:g}, {t1:g}). Move the event into the horizon or extend t1."
                )

    def compile(
        self,
        input_names: tuple[str, ...],
        t0: float,
        dt: float,
        n: int,
        *,
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> CompiledRegimen:
        """Rates on the grid ``t0 + k*dt``, k = 0..n-1. Events before ``t0`` count for what they
        still deliver after it; events after the grid are ignored. ``out`` = (dose_rate,
        override) arrays of shape (n, n_inputs) to fill in place (zeros and NaN)."""
        if out is None:
            dose = np.zeros((n, len(input_names)))
            override = np.full((n, len(input_names)), np.nan)
        else:
            dose, override = out
        compile_regimens((self,), input_names, t0, dt, n, dose=dose[None], override=override[None])
        return CompiledRegimen(t0=t0, dt=dt, dose_rate=dose, override=override)


def check_inputs(regimens: Sequence[Regimen], input_names: tuple[str, ...]) -> dict[str, int]:
    """Raise :class:`RegimenError` for the first event on an input the model lacks; returns
    the inputs' positions by name."""
    index = {name: i for i, name in enumerate(input_names)}
    for r in regimens:
        for e in r.events:
            if e.input not in index:
                raise RegimenError(
                    f"The {e.label} at t={e.time:g} targets input {e.input!r}, which this model "
                    f"does not have. Expected one of: {', '.join(input_names)}."
                )
    return index


def compile_regimens(
    regimens: Sequence[Regimen],
    input_names: tuple[str, ...],
    t0: float,
    dt: float,
    n: int,
    *,
    dose: np.ndarray,
    override: np.ndarray,
) -> None:
    """:meth:`Regimen.compile` of many regimens at once, into ``dose`` and ``override`` of
    shape (len(regimens), n, n_inputs), zeros and NaN on entry (views welcome: a cohort's
    kernel fills a time-major, members-last array through its transposed view). The events
    are read one by one (scalar arithmetic: the queue of rated doses is sequential); the
    arrays are written in a few vectorised passes, every cell summing its contributions in
    event order, so the numbers are those of one regimen compiled alone."""
    index = check_inputs(regimens, input_names)
    # one row per dose or infusion, in event order: (member, input, step or -1, start,
    # duration, rate); an instant dose's rate is its amount over the step
    rows: list[tuple[int, int, int, float, float, float]] = []
    for b, r in enumerate(regimens):
        queue_end: dict[str, float] = {}
        for e in r.events:
            i = index[e.input]
            if isinstance(e, Dose):
                if e.rate is None:
                    k = math.floor((e.time - t0) / dt + 1e-9)
                    if 0 <= k < n:
                        rows.append((b, i, k, 0.0, 0.0, e.amount / dt))
                else:
                    start = max(e.time, queue_end.get(e.input, -math.inf))
                    queue_end[e.input] = start + e.amount / e.rate
                    rows.append((b, i, -1, start, e.amount / e.rate, e.rate))
            elif isinstance(e, Infusion):
                rows.append((b, i, -1, e.time, e.duration, e.rate))
            else:  # SetRate: from the first step starting at or after its time
                k = max(math.ceil((e.time - t0) / dt - 1e-9), 0)
                override[b, k:, i] = e.rate
    if not rows:
        return
    table = np.array(rows, dtype=np.float64)
    member, inp, step = (table[:, j].astype(np.int64) for j in range(3))
    begin, length, rate = table[:, 3], table[:, 4], table[:, 5]
    instant = step >= 0
    # a spread: rate over [begin, begin + length), as averages over the steps it touches
    k0 = np.maximum(np.floor((begin - t0) / dt), 0).astype(np.int64)
    k1 = np.minimum(np.ceil((begin + length - t0) / dt), n).astype(np.int64)
    count = np.where(instant, 1, np.maximum(k1 - k0, 0))
    row = np.repeat(np.arange(len(rows)), count)
    first = np.cumsum(count) - count
    cell = np.where(instant[row], step[row], k0[row] + np.arange(row.size) - first[row])
    edge = cell.astype(np.float64)
    lo = np.clip(t0 + dt * edge - begin[row], 0.0, length[row])
    hi = np.clip(t0 + dt * (edge + 1.0) - begin[row], 0.0, length[row])
    value = np.where(instant[row], rate[row], (hi - lo) * rate[row] / dt)
    np.add.at(dose, (member[row], cell, inp[row]), value)  # in row order: event order


def _replace_time(e: Event, time: float) -> Event:
    from dataclasses import replace

    return replace(e, time=time)
