"""One step of the twin loop: a twin, the new records of its patient -> the next twin, its
forecast, the assimilation report and the alerts.

:func:`update` takes what is pending for a twin in time order and assimilates as much as one
update may (``medtwin.limits``: at most ``UPDATE_TIMES`` observation times, ``UPDATE_EVENTS``
events and the model's declared update span of model time, ``UPDATE_SPAN`` unless it
declares another (``TwinDefaults.spans``); data at or after the first event left over waits for
it). Each record gets a mark -- ``applied``, ``late`` (at or before the twin's time),
``unobserved`` (a code the model does not observe), ``unused`` (an event kind it does not
take) -- and what is not marked stays pending for the next update. The step is pure: the same
twin and records give the same numbers (keys derive from the twin's root key and version), so
whoever persists it (the store) can recompute it after a crash or a lost race. Every report
carries ``applicability`` (:func:`applicability_of`): the twin's posterior and the inputs the
step applied against the model's validated domain (``medtwin.credibility``); a model that
declares no domain gets none.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import jax
import numpy as np

from .. import limits
from ..assimilate import Assimilation, Observations, assimilate_with_report
from ..credibility import applicability, validated_domain
from ..errors import DataError
from ..forecast import Forecast, forecast
from ..simulate import Regimen
from ..twin import Twin
from ._alerts import Alert, forecast_alerts
from ._codec import unpack_ensemble
from ._config import TwinConfig, build_twin, new_twin, time_bounds
from ._mapping import observations_of, regimen_event, snapped, to_model_time

__all__ = ["PendingEvent", "PendingObservation", "Step", "create", "redo", "restore", "update"]


class PendingObservation(NamedTuple):
    """A stored observation not yet taken by a twin version (``censored``: -1 below, +1 above
    a limit, 0 measured)."""

    id: int
    code: str
    time: datetime
    value: float
    censored: int


class PendingEvent(NamedTuple):
    """A stored event not yet taken by a twin version (``amount`` in the kind's unit)."""

    id: int
    kind: str
    time: datetime
    amount: float


@dataclass(frozen=True)
class Step:
    """What one step made: the next ``twin``, its ``forecast``, the assimilation ``report``
    (JSON-ready), the ``alerts`` of the forecast, and per record id its mark (``obs_marks``,
    ``ev_marks``); ``applied`` lists the ids this version took. ``twin`` is of the twin's
    kind (a :class:`~medtwin.twin.Twin`, a network twin); ``forecast`` None for a kind that
    issues none (``_kind``)."""

    twin: Any
    forecast: Any
    report: dict[str, Any]
    alerts: tuple[Alert, ...]
    obs_marks: dict[int, str]
    ev_marks: dict[int, str]
    applied: dict[str, list[int]]


def _forecast(twin: Twin, config: TwinConfig) -> tuple[Forecast, tuple[Alert, ...]]:
    fc = forecast(twin, config.horizon, every=config.every)
    return fc, forecast_alerts(fc, twin.model)


def applicability_of(twin: Twin, inputs: Sequence[tuple[str, float]]) -> dict[str, Any] | None:
    """The applicability of ``twin`` (its posterior) and the ``inputs`` a step applied against
    its model's validated domain (``medtwin.credibility.applicability``: a learnt parameter
    with at least 90 % of the posterior weight outside its range, an input amount outside its
    kind's),
    JSON-ready for the step's report; None for a model that declares no domain (no flag)."""
    domain = validated_domain(twin.model.name)
    if domain is None:
        return None
    medians = {k: q[1] for k, q in twin.parameter_quantiles().items()}
    weights = np.asarray(twin.ensemble.weights, dtype=np.float64)
    weights = weights / weights.sum()
    params = np.asarray(twin.ensemble.params)
    mass = {}
    for name in medians:
        r = domain.parameter(name)
        if r is not None:
            x = params[:, twin.model.param_index(name)]
            mass[name] = float(weights[(x < r.low) | (x > r.high)].sum())
    return applicability(domain, medians, mass, inputs)


def create(config: TwinConfig) -> Step:
    """Version 0 of a twin made from ``config``, and its prior forecast."""
    twin = new_twin(config)
    fc, alerts = _forecast(twin, config)
    report = {"created": True, "particles": config.n, "prior": config.prior,
              "alerts": [a.to_json(fc.times) for a in alerts]}  # fmt: skip
    flag = applicability_of(twin, ())
    if flag is not None:
        report["applicability"] = flag
    return Step(twin, fc, report, alerts, {}, {}, {"observations": [], "events": []})


def restore(
    config: TwinConfig,
    version: int,
    ensemble: bytes,
    history: Sequence[tuple[str, datetime, float]],
) -> Twin:
    """The twin of ``config`` at stored ``version``: its ensemble blob and the events it took
    (kind, time, amount), restored to continue exactly (same keys as if never stored)."""
    model, prior, method = build_twin(config)
    events = []
    for kind, t, amount in history:
        ev = regimen_event(model, kind, to_model_time(t, config.epoch, model.time_unit), amount)
        if ev is not None:
            events.append(ev)
    return Twin.restore(
        model,
        unpack_ensemble(ensemble),
        prior,
        key=jax.random.key(config.seed),
        t0=0.0,
        version=version,
        regimen=Regimen(tuple(events)),
        method=method,
    )


@dataclass(frozen=True)
class Planned:
    """What one update takes, decided on the host before any number is computed: the
    ``observations`` and ``regimen`` to assimilate, ``until`` (move on to it, or None), and
    the bookkeeping the report and the records' marks need (:func:`plan_update`)."""

    observations: Observations
    regimen: Regimen
    until: float | None
    obs_marks: dict[int, str]
    ev_marks: dict[int, str]
    late: int
    unobserved: dict[str, int]
    events_taken: int
    events_deferred: int
    observations_deferred: int
    applied: dict[str, list[int]]
    inputs: tuple[tuple[str, float], ...] = ()  # (kind, amount) of each event applied


def plan_update(
    config: TwinConfig,
    twin: Twin,
    observations: Sequence[PendingObservation],
    events: Sequence[PendingEvent],
) -> Planned:
    """The host's half of :func:`update`: which pending records this update takes, and how."""
    model, unit = twin.model, twin.model.time_unit
    span_end = twin.time + time_bounds(model).update.high
    # Events: at most UPDATE_EVENTS, by time; data at or after the first one left waits for it.
    most_evs = int(limits.UPDATE_EVENTS.high)
    take_evs, rest_evs = list(events[:most_evs]), list(events[most_evs:])
    ev_wall = to_model_time(rest_evs[0][2], config.epoch, unit) if rest_evs else math.inf
    obs_marks: dict[int, str] = {}
    unobserved: Counter = Counter()
    late, candidates = 0, []
    for oid, code, t_obs, value, censored in observations:
        name = model.observable_for_code(code)
        t = to_model_time(t_obs, config.epoch, unit)
        if name is None:
            obs_marks[oid], unobserved[code] = "unobserved", unobserved[code] + 1
        elif snapped(model, t) <= twin.time:
            obs_marks[oid], late = "late", late + 1
        else:
            candidates.append((snapped(model, t), oid, t, name, value, censored))
    times, most = sorted({c[0] for c in candidates}), int(limits.UPDATE_TIMES.high)
    cut = min(span_end, times[most - 1]) if len(times) > most else span_end
    taken = [c for c in candidates if c[0] <= cut and c[0] < ev_wall]
    left = [c[0] for c in candidates if not (c[0] <= cut and c[0] < ev_wall)]
    for c in taken:
        obs_marks[c[1]] = "applied"
    until = None
    if left and min(left) > span_end:
        # nothing within a span: move the twin on by one span (at most to the next event left)
        step = model.input_dt
        until = math.floor(min(span_end, ev_wall) / step + 1e-9) * step
        if until <= twin.time:
            until = None
    new_events, ev_marks, inputs = [], {}, []
    for eid, kind, t_ev, amount in take_evs:
        ev = regimen_event(model, kind, to_model_time(t_ev, config.epoch, unit), amount)
        ev_marks[eid] = "unused" if ev is None else "applied"
        if ev is not None:
            new_events.append(ev)
            inputs.append((kind, float(amount)))
    rows = [(c[2], c[3], c[4], c[5]) for c in taken]
    applied = {"observations": [o[0] for o in observations if o[0] in obs_marks],
               "events": [e[0] for e in take_evs]}  # fmt: skip
    return Planned(
        observations_of(rows), Regimen(tuple(new_events)), until, obs_marks, ev_marks, late,
        dict(unobserved), len(take_evs), len(rest_evs), len(left), applied, tuple(inputs),
    )  # fmt: skip


def finish_update(
    planned: Planned, out: Assimilation, fc: Forecast, alerts: tuple[Alert, ...]
) -> Step:
    """The :class:`Step` of ``planned`` once assimilated (``out``) and forecast (``fc``)."""
    rep = out.report
    n_events = len(planned.regimen.events)
    report = {
        "data": {"received": rep.data.received, "used": rep.data.used,
                 "dropped": rep.data.dropped, "reordered": rep.data.reordered,
                 "censored": rep.data.censored},
        "ess": list(rep.ess), "resampled": rep.resampled, "degenerate": rep.degenerate,
        "failed_particles": rep.failed_particles, "log_evidence": rep.log_evidence,
        "late": planned.late, "unobserved_codes": dict(planned.unobserved), "events": n_events,
        "unused_events": planned.events_taken - n_events,
        "observations_pending": len(planned.obs_marks),
        "deferred": {"observations": planned.observations_deferred,
                     "events": planned.events_deferred},
        "until": planned.until, "alerts": [a.to_json(fc.times) for a in alerts],
    }  # fmt: skip
    flag = applicability_of(out.twin, planned.inputs)
    if flag is not None:
        report["applicability"] = flag
    return Step(out.twin, fc, report, alerts, planned.obs_marks, planned.ev_marks,
                planned.applied)  # fmt: skip


def update(
    config: TwinConfig,
    twin: Twin,
    observations: Sequence[PendingObservation],
    events: Sequence[PendingEvent],
) -> Step:
    """The next version of ``twin``: the pending ``observations`` and ``events`` (each in time
    order) assimilated as far as one update goes, then forecast as ``config`` says."""
    planned = plan_update(config, twin, observations, events)
    out = assimilate_with_report(twin, planned.observations, planned.regimen, until=planned.until)
    fc, alerts = _forecast(out.twin, config)
    return finish_update(planned, out, fc, alerts)


def redo(
    config: TwinConfig,
    twin: Twin,
    observations: Sequence[PendingObservation],
    events: Sequence[PendingEvent],
    until: float | None,
) -> Twin:
    """The twin a stored step made, made again from its parent ``twin``: ``observations`` and
    ``events`` are the records that step applied (each in time order) and ``until`` the time
    its report says it moved on to. The same numbers, bit for bit, as :func:`update` gave
    (keys derive from the twin's root key and version); no forecast. A store that keeps the
    ensemble of some versions only (``medtwin.store``) restores the others this way."""
    planned = plan_update(config, twin, observations, events)
    not_applied = {i: m for i, m in planned.obs_marks.items() if m != "applied"}
    not_applied.update({i: m for i, m in planned.ev_marks.items() if m != "applied"})
    if not_applied or len(planned.obs_marks) != len(observations):
        raise DataError(
            f"Version {twin.version + 1} cannot be recomputed from version {twin.version}: "
            f"records it applied would now be marked {not_applied}. The stored records do not "
            "match the stored version; restore the store from a backup."
        )
    return assimilate_with_report(twin, planned.observations, planned.regimen, until=until).twin
