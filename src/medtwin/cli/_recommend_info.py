"""What ``medtwin recommend`` says around its table: when the twin stands (a clock time in the
local zone, named, and in UTC), how old the newest data are, the twin's current glucose, and
whether the twin (or the meal announced) is outside its model's validated domain
(:func:`outside_domain`; then the model's default context of use says whether to flag the
ranking, degrade to the patient's own basal-bolus rule or refuse).

The twin's model time becomes a clock time through its configuration's ``epoch``
(:func:`medtwin.loop.from_model_time`; the store returns the epoch with every stored forecast).
Options ranked on data older than :data:`STALE` rank them for then, not now: the command says
so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

__all__ = [
    "STALE",
    "Outside",
    "TwinWhen",
    "age_text",
    "clock_text",
    "glucose_now",
    "outside_domain",
    "stale_warning",
    "when",
]

STALE = timedelta(hours=1)  # data older than this: the ranking is for then, not now


@dataclass(frozen=True)
class TwinWhen:
    """The twin's time as a UTC datetime, and the time of the newest stored observation of its
    patient (None: none stored)."""

    time: datetime
    newest: datetime | None


def clock_text(t: datetime) -> str:
    """``t`` in the local time zone, the zone named, and in UTC: ``2025-03-01 09:20 CET
    (08:20 UTC)``; a local zone of UTC prints once (``2025-03-01 08:20 UTC``). The UTC part
    carries the date when it differs from the local date."""
    local = t.astimezone()
    utc = t.astimezone(UTC)
    zone = local.tzname() or local.strftime("%z")
    text = f"{local:%Y-%m-%d %H:%M} {zone}"
    if local.utcoffset() == timedelta(0):
        return text if zone == "UTC" else f"{text} (UTC)"
    u = f"{utc:%H:%M}" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M}"
    return f"{text} ({u} UTC)"


def age_text(age: timedelta) -> str:
    """A duration as people say it: ``75 min``, ``59 h``, ``4.5 days``."""
    minutes = age.total_seconds() / 60.0
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 72 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.1f} days"


def when(store: Any, pid: str, twin: Any, *, actor: str) -> TwinWhen:
    """The twin's model time as a datetime (the epoch of its configuration, which the store
    returns with its newest forecast) and the time of the newest observation the store holds
    for ``pid`` (read from a day before the twin's time on; all of them if none is that
    recent)."""
    stored = store.forecasts(pid, actor=actor, limit=1)
    if stored:
        from ..loop import from_model_time

        t = from_model_time(twin.time, stored[0].epoch, stored[0].time_unit)
    else:  # no stored forecast: the version's own time (epoch + model time)
        t = store.twin_versions(pid, actor=actor)[-1].time
    recent = store.observations(pid, actor=actor, since=t - timedelta(days=1))
    obs = recent or store.observations(pid, actor=actor)
    return TwinWhen(t, max((o.time for o in obs), default=None))


def stale_warning(w: TwinWhen, now: datetime) -> str | None:
    """The warning a ranking on old data needs, or None when the newest data are at most
    :data:`STALE` old."""
    if w.newest is None:
        return (
            "The twin holds no readings yet: these options rest on the population prior alone. "
            "Upload recent readings first."
        )
    age = now - w.newest
    if age <= STALE:
        return None
    return (
        f"The newest data are {age_text(age)} old: this ranks options for then, not now. "
        "Upload recent readings first."
    )


def glucose_now(ensemble: Any, predicted: Any) -> tuple[float, float, float]:
    """Weighted posterior mean and 95 % range (2.5 and 97.5 % weighted quantiles) of the
    particles' ``predicted`` values [n] (e.g. the CGM each particle predicts now, mg/dL)."""
    pred = np.asarray(predicted, dtype=np.float64)
    mean = float(np.asarray(ensemble.weights) @ pred)
    lo, hi = ensemble.quantiles(predicted, (0.025, 0.975))
    return mean, float(lo), float(hi)


@dataclass(frozen=True)
class Outside:
    """A twin outside its model's validated domain: what its default context of use says to
    do (``flag``, ``degrade`` or ``refuse``; ``flag`` for a model without one), and why."""

    action: str
    text: str


def outside_domain(twin: Any, carbs: float) -> Outside | None:
    """None when ``twin`` (its posterior) and the ``carbs`` announced (a meal input) are inside
    the model's validated domain, or the model declares none; else what to do
    (``medtwin.loop.applicability_of`` and the model's default context of use)."""
    from ..credibility import default_context, describe
    from ..loop import applicability_of

    flag = applicability_of(twin, [("meal", float(carbs))] if carbs > 0 else [])
    if flag is None or flag["inside"]:
        return None
    context = default_context(twin.model.name)
    return Outside(context.outside_domain if context is not None else "flag", describe(flag))
