"""Creating and updating a stored twin in three phases, so that no lock is held while the
numbers are computed.

1. *read* (a short transaction): the twin's configuration, head version, ensemble and event
   history, and the records pending for it -- plain values, no ORM rows carried out.
2. *compute* (no transaction open): restore the twin, assimilate what this update takes,
   forecast, pack the blobs. Seconds at most (``medtwin.limits``), and other requests -- reads,
   writes, other twins' updates -- go on meanwhile.
3. *write* (a short transaction holding the twin's row lock): if the head version is still the
   one read and the records taken are still pending, write the next version, its forecast and
   the records' marks; else write nothing (the caller reads and computes again).

Either all of phase 3 commits or none of it does, so a process killed at any point leaves the
records pending for the next update: none lost, none applied twice, versions numbered without
gaps, each one's parent the one before. Keys derive from the root seed and the version number,
so a recomputed update gives the same numbers.

One update takes at most ``limits.UPDATE_TIMES`` observation times, ``limits.UPDATE_EVENTS``
events and ``limits.UPDATE_SPAN`` of model time; the rest stays pending for the next update
(the next data posted, or the service's start-up recovery), which continues in time order.

Test hook: if the environment variable ``MEDTWIN_TEST_PAUSE_IN_UPDATE`` holds a number of
seconds, :func:`pause_before_commit` writes ``medtwin: pausing in update_twin`` to stderr and
sleeps that long; the store calls it just before phase 3 commits (everything written, nothing
committed), so a test can kill the process at the worst moment.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from .. import __version__, limits
from ..assimilate import assimilate_with_report
from ..forecast import forecast
from ..simulate import Regimen
from ._schema import EventRow, ForecastRow, ObservationRow, TwinRow, TwinVersionRow
from ._twins import (
    TwinConfig,
    from_model_time,
    new_twin,
    observable_for,
    observations_of,
    pack_ensemble,
    pack_forecast,
    regimen_event,
    snapped,
    to_model_time,
)
from ._updates import Stored, read_stored, restore, twin_row, unit_of, version_row

__all__ = [
    "PAUSE_ENV",
    "TRIES",
    "Computed",
    "Plan",
    "compute_create",
    "compute_update",
    "existing_twin",
    "pause_before_commit",
    "read_update",
    "twin_guard",
    "write_create",
    "write_update",
]

PAUSE_ENV = "MEDTWIN_TEST_PAUSE_IN_UPDATE"
TRIES = 3  # read-compute-write rounds before an update gives way to the writers that moved it
_READ_OBS = 4 * limits.UPDATE_TIMES.high  # pending observations read per update (by time)


@dataclass(frozen=True)
class Plan:
    """What phase 1 read: the head version and the pending records (id, time, ...), by time."""

    pid: str
    stored: Stored
    obs: tuple[tuple[int, str, datetime, float, int], ...]  # id, code, time, value, censored
    evs: tuple[tuple[int, str, datetime, float], ...]  # id, kind, time, amount


@dataclass(frozen=True)
class Computed:
    """What phase 2 made, ready to write: the version, its forecast and the records' marks."""

    version: int
    model: str
    model_time: float
    ensemble: bytes
    report: dict
    applied: dict
    obs_marks: dict[int, str]
    ev_marks: dict[int, str]
    issued_at: float
    observables: tuple[str, ...]
    levels: tuple[float, ...]
    forecast: bytes


_guards: dict[tuple[str, str], threading.Lock] = {}
_guards_lock = threading.Lock()


@contextmanager
def twin_guard(database: str, pid: str) -> Iterator[None]:
    """Hold the in-process lock of one twin, so that two threads of this process do not compute
    the same update twice (the second then finds nothing pending). Other processes are kept
    apart by phase 3's head-version check."""
    with _guards_lock:
        lock = _guards.setdefault((database, pid), threading.Lock())
    with lock:
        yield


# -- phase 1 -----------------------------------------------------------------------------------


def read_update(session: Session, pid: str) -> Plan | None:
    """The head version of ``pid``'s twin and its pending records; None if nothing is pending."""
    row = twin_row(session, pid)
    obs = session.execute(
        select(ObservationRow.id, ObservationRow.code, ObservationRow.time,
               ObservationRow.value, ObservationRow.censored)
        .where(ObservationRow.pid == pid, ObservationRow.status == "pending")
        .order_by(ObservationRow.time, ObservationRow.id).limit(_READ_OBS)
    ).all()  # fmt: skip
    evs = session.execute(
        select(EventRow.id, EventRow.kind, EventRow.time, EventRow.amount)
        .where(EventRow.pid == pid, EventRow.status == "pending")
        .order_by(EventRow.time, EventRow.id).limit(limits.UPDATE_EVENTS.high + 1)
    ).all()  # fmt: skip
    if not obs and not evs:
        return None
    return Plan(pid, read_stored(session, pid, row.head_version), tuple(map(tuple, obs)),
                tuple(map(tuple, evs)))  # fmt: skip


def existing_twin(session: Session, pid: str, config: TwinConfig) -> TwinVersionRow | None:
    """Version 0 of ``pid``'s twin if it has one with ``config`` (None if it has none; a
    :class:`StoreError` if it has one with another configuration)."""
    from ..errors import StoreError

    existing = session.get(TwinRow, pid)
    if existing is None:
        return None
    if TwinConfig.from_json(existing.config) != config:
        raise StoreError(
            f"Patient {pid!r} already has a twin with another configuration "
            f"({existing.config}). A patient has one twin; keep its configuration."
        )
    return version_row(session, pid, 0)


# -- phase 2 -----------------------------------------------------------------------------------


def _forecast_fields(twin, config: TwinConfig) -> dict:
    fc = forecast(twin, config.horizon, every=config.every)
    return {"issued_at": float(fc.issued_at), "observables": tuple(fc.observable_names),
            "levels": tuple(fc.levels), "forecast": pack_forecast(fc)}  # fmt: skip


def compute_create(config: TwinConfig) -> Computed:
    """Version 0 of a twin made from ``config`` and its prior forecast."""
    twin = new_twin(config)
    return Computed(
        version=0, model=twin.model.name, model_time=float(twin.time),
        ensemble=pack_ensemble(twin.ensemble),
        report={"created": True, "particles": config.n, "prior": config.prior},
        applied={"observations": [], "events": []}, obs_marks={}, ev_marks={},
        **_forecast_fields(twin, config),
    )  # fmt: skip


def compute_update(plan: Plan) -> Computed:
    """The next version: what ``plan`` read, assimilated as far as one update goes."""
    config = plan.stored.config
    twin = restore(plan.stored)
    model, unit = twin.model, twin.model.time_unit
    span_end = twin.time + limits.UPDATE_SPAN.in_unit(unit).high
    # Events: at most UPDATE_EVENTS, by time; data at or after the first one left waits for it.
    most_evs = limits.UPDATE_EVENTS.high
    take_evs, rest_evs = plan.evs[:most_evs], plan.evs[most_evs:]
    ev_wall = to_model_time(rest_evs[0][2], config.epoch, unit) if rest_evs else math.inf
    obs_marks: dict[int, str] = {}
    unobserved: Counter = Counter()
    late, candidates = 0, []
    for oid, code, t_obs, value, censored in plan.obs:
        name = observable_for(model, code)
        t = to_model_time(t_obs, config.epoch, unit)
        if name is None:
            obs_marks[oid], unobserved[code] = "unobserved", unobserved[code] + 1
        elif snapped(model, t) <= twin.time:
            obs_marks[oid], late = "late", late + 1
        else:
            candidates.append((snapped(model, t), oid, t, name, value, censored))
    times, most = sorted({c[0] for c in candidates}), limits.UPDATE_TIMES.high
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
    new_events, ev_marks = [], {}
    for eid, kind, t_ev, amount in take_evs:
        ev = regimen_event(model, kind, to_model_time(t_ev, config.epoch, unit), amount)
        ev_marks[eid] = "unused" if ev is None else "applied"
        if ev is not None:
            new_events.append(ev)
    rows = [(c[2], c[3], c[4], c[5]) for c in taken]
    out = assimilate_with_report(
        twin, observations_of(model, rows), Regimen(tuple(new_events)), until=until
    )
    rep = out.report
    report = {
        "data": {"received": rep.data.received, "used": rep.data.used,
                 "dropped": rep.data.dropped, "reordered": rep.data.reordered,
                 "censored": rep.data.censored},
        "ess": list(rep.ess), "resampled": rep.resampled, "degenerate": rep.degenerate,
        "failed_particles": rep.failed_particles, "log_evidence": rep.log_evidence,
        "late": late, "unobserved_codes": dict(unobserved), "events": len(new_events),
        "unused_events": len(take_evs) - len(new_events), "observations_pending": len(obs_marks),
        "deferred": {"observations": len(left), "events": len(rest_evs)}, "until": until,
    }  # fmt: skip
    applied = {"observations": [o[0] for o in plan.obs if o[0] in obs_marks],
               "events": [e[0] for e in take_evs]}  # fmt: skip
    return Computed(
        version=out.twin.version, model=model.name, model_time=float(out.twin.time),
        ensemble=pack_ensemble(out.twin.ensemble), report=report, applied=applied,
        obs_marks=obs_marks, ev_marks=ev_marks, **_forecast_fields(out.twin, config),
    )  # fmt: skip


# -- phase 3 -----------------------------------------------------------------------------------


def _write_version(
    session: Session, row: TwinRow, config: TwinConfig, done: Computed, parent_id: int | None
) -> TwinVersionRow:
    version = TwinVersionRow(
        pid=row.pid, version=done.version, parent_id=parent_id, created_at=datetime.now(UTC),
        model=done.model, model_version=__version__, seed=config.seed,
        model_time=done.model_time, ensemble=done.ensemble,
        report=json.dumps(done.report, sort_keys=True),
        applied=json.dumps(done.applied, sort_keys=True),
    )  # fmt: skip
    session.add(version)
    session.flush()
    unit = unit_of(config)
    session.add(
        ForecastRow(
            pid=row.pid, version_id=version.id, version=done.version,
            issued_at=from_model_time(done.issued_at, config.epoch, unit),
            horizon=config.horizon, observables=json.dumps(list(done.observables)),
            levels=json.dumps(list(done.levels)), data=done.forecast,
        )
    )  # fmt: skip
    row.head_version = done.version
    return version


def write_create(session: Session, pid: str, config: TwinConfig, done: Computed) -> TwinVersionRow:
    """Insert the twin of ``pid`` with version 0 (the caller checked it has none, in this
    transaction)."""
    row = TwinRow(pid=pid, config=config.to_json(), created_at=datetime.now(UTC), head_version=0)
    session.add(row)
    session.flush()
    return _write_version(session, row, config, done, None)


def _still_pending(session: Session, table, ids: list[int]) -> bool:
    for k in range(0, len(ids), 500):
        chunk = ids[k : k + 500]
        n = session.scalar(
            select(func.count()).select_from(table)
            .where(table.id.in_(chunk), table.status == "pending")
        )  # fmt: skip
        if n != len(chunk):
            return False
    return True


def write_update(session: Session, plan: Plan, done: Computed) -> TwinVersionRow | None:
    """Write ``done`` as the next version of ``plan``'s twin, holding the twin's row lock; None
    (nothing written) if the head version moved or a record taken is no longer pending."""
    row = twin_row(session, plan.pid, lock=True)
    if row.head_version != plan.stored.version:
        return None
    for table, marks in ((ObservationRow, done.obs_marks), (EventRow, done.ev_marks)):
        if not _still_pending(session, table, sorted(marks)):
            return None
    version = _write_version(session, row, plan.stored.config, done, plan.stored.version_id)
    for table, marks in ((ObservationRow, done.obs_marks), (EventRow, done.ev_marks)):
        for value in sorted(set(marks.values())):
            ids = sorted(i for i, s in marks.items() if s == value)
            for k in range(0, len(ids), 500):
                session.execute(
                    sql_update(table).where(table.id.in_(ids[k : k + 500]))
                    .values(status=value, version_id=version.id)
                )  # fmt: skip
    session.flush()
    return version


def pause_before_commit() -> None:
    """The crash tests' hook (see the module docstring)."""
    pause = os.environ.get(PAUSE_ENV)
    if pause:
        print("medtwin: pausing in update_twin", file=sys.stderr, flush=True)
        time.sleep(float(pause))
