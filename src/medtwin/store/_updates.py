"""Twin versions in the database: create, update on new data, restore, list.

``update`` runs inside the caller's transaction and holds the twin's row lock for its whole
length (PostgreSQL ``SELECT ... FOR UPDATE``; a SQLite transaction holds the write lock from
its start): it loads the latest version, takes the pending observations (by time) and events,
assimilates, forecasts, writes the new version and its forecast and marks what it took with
the new version's id. Either all of that commits or none of it does, so a process killed
mid-update leaves the observations pending for the next update: none lost, none applied twice,
versions numbered without gaps, each one's parent the one before.

Test hook: if the environment variable ``MEDTWIN_TEST_PAUSE_IN_UPDATE`` holds a number of
seconds, ``update`` writes ``medtwin: pausing in update_twin`` to stderr and sleeps that long
just before its transaction commits (everything is written, nothing committed), so a test can
kill the process at the worst moment.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import jax
from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from .. import __version__
from ..assimilate import assimilate_with_report
from ..errors import StoreError
from ..forecast import forecast
from ..simulate import Regimen
from ..twin import Twin
from ._schema import EventRow, ForecastRow, ObservationRow, TwinRow, TwinVersionRow
from ._twins import (
    TwinConfig,
    build_twin,
    from_model_time,
    new_twin,
    observable_for,
    observations_of,
    pack_ensemble,
    pack_forecast,
    regimen_event,
    snapped,
    to_model_time,
    unpack_ensemble,
    unpack_forecast,
)
from ._views import StoredForecast, TwinVersionView

__all__ = ["PAUSE_ENV", "create", "forecasts", "load", "update", "version_view", "versions"]

PAUSE_ENV = "MEDTWIN_TEST_PAUSE_IN_UPDATE"


def _twin_row(session: Session, pid: str, *, lock: bool = False) -> TwinRow:
    q = select(TwinRow).where(TwinRow.pid == pid)
    row = session.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if row is None:
        raise StoreError(f"Patient {pid!r} has no twin. Create one with create_twin() first.")
    return row


def _write_version(
    session: Session,
    twin_row: TwinRow,
    config: TwinConfig,
    twin: Twin,
    parent: TwinVersionRow | None,
    report: dict,
    applied: dict,
) -> TwinVersionRow:
    row = TwinVersionRow(
        pid=twin_row.pid,
        version=twin.version,
        parent_id=parent.id if parent else None,
        created_at=datetime.now(UTC),
        model=twin.model.name,
        model_version=__version__,
        seed=config.seed,
        model_time=twin.time,
        ensemble=pack_ensemble(twin.ensemble),
        report=json.dumps(report, sort_keys=True),
        applied=json.dumps(applied, sort_keys=True),
    )
    session.add(row)
    session.flush()
    fc = forecast(twin, config.horizon, every=config.every)
    session.add(
        ForecastRow(
            pid=twin_row.pid,
            version_id=row.id,
            version=twin.version,
            issued_at=from_model_time(fc.issued_at, config.epoch, twin.model.time_unit),
            horizon=config.horizon,
            observables=json.dumps(list(fc.observable_names)),
            levels=json.dumps(list(fc.levels)),
            data=pack_forecast(fc),
        )
    )
    twin_row.head_version = twin.version
    return row


def create(session: Session, pid: str, config: TwinConfig) -> TwinVersionRow:
    """Version 0 of ``pid``'s twin (the existing one if the same configuration was given)."""
    existing = session.get(TwinRow, pid)
    if existing is not None:
        if TwinConfig.from_json(existing.config) != config:
            raise StoreError(
                f"Patient {pid!r} already has a twin with another configuration "
                f"({existing.config}). A patient has one twin; keep its configuration."
            )
        return _version_row(session, pid, 0)
    twin = new_twin(config)
    row = TwinRow(pid=pid, config=config.to_json(), created_at=datetime.now(UTC), head_version=0)
    session.add(row)
    session.flush()
    report = {"created": True, "particles": config.n, "prior": config.prior}
    return _write_version(
        session, row, config, twin, None, report, {"observations": [], "events": []}
    )


def _version_row(session: Session, pid: str, version: int) -> TwinVersionRow:
    row = session.execute(
        select(TwinVersionRow).where(TwinVersionRow.pid == pid, TwinVersionRow.version == version)
    ).scalar_one_or_none()
    if row is None:
        raise StoreError(f"Patient {pid!r} has no twin version {version}.")
    return row


def _regimen(session: Session, model, config: TwinConfig, pid: str, up_to: int | None) -> Regimen:
    """The events that versions <= ``up_to`` took (all applied ones if None)."""
    q = (
        select(EventRow.kind, EventRow.time, EventRow.amount)
        .join(TwinVersionRow, EventRow.version_id == TwinVersionRow.id)
        .where(EventRow.pid == pid, EventRow.status == "applied")
        .order_by(EventRow.time, EventRow.id)
    )
    if up_to is not None:
        q = q.where(TwinVersionRow.version <= up_to)
    events = []
    for kind, t, amount in session.execute(q):
        ev = regimen_event(model, kind, to_model_time(t, config.epoch, model.time_unit), amount)
        if ev is not None:
            events.append(ev)
    return Regimen(tuple(events))


def load(session: Session, pid: str, version: int | None = None) -> Twin:
    """The twin of ``pid`` at ``version`` (latest if None), restored to continue exactly."""
    twin_row = _twin_row(session, pid)
    config = TwinConfig.from_json(twin_row.config)
    v = twin_row.head_version if version is None else version
    row = _version_row(session, pid, v)
    model, prior, method = build_twin(config)
    return Twin.restore(
        model,
        unpack_ensemble(row.ensemble),
        prior,
        key=jax.random.key(config.seed),
        t0=0.0,
        version=v,
        regimen=_regimen(session, model, config, pid, v),
        method=method,
    )


def update(session: Session, pid: str) -> TwinVersionRow | None:
    """Apply ``pid``'s pending observations and events as the next version (None: nothing to
    apply). Runs in the caller's transaction, holding the twin's lock."""
    twin_row = _twin_row(session, pid, lock=True)
    obs = list(
        session.execute(
            select(ObservationRow)
            .where(ObservationRow.pid == pid, ObservationRow.status == "pending")
            .order_by(ObservationRow.time, ObservationRow.id)
        ).scalars()
    )
    evs = list(
        session.execute(
            select(EventRow)
            .where(EventRow.pid == pid, EventRow.status == "pending")
            .order_by(EventRow.time, EventRow.id)
        ).scalars()
    )
    if not obs and not evs:
        return None
    config = TwinConfig.from_json(twin_row.config)
    parent = _version_row(session, pid, twin_row.head_version)
    twin = load(session, pid, twin_row.head_version)
    model, unit = twin.model, twin.model.time_unit

    status: dict[int, str] = {}
    rows, unobserved, late = [], Counter(), 0
    for o in obs:
        name = observable_for(model, o.code)
        t = to_model_time(o.time, config.epoch, unit)
        if name is None:
            status[o.id], unobserved[o.code] = "unobserved", unobserved[o.code] + 1
        elif snapped(model, t) <= twin.time:
            status[o.id], late = "late", late + 1
        else:
            status[o.id] = "applied"
            rows.append((t, name, o.value, o.censored))
    new_events, ev_status = [], {}
    for e in evs:
        ev = regimen_event(model, e.kind, to_model_time(e.time, config.epoch, unit), e.amount)
        ev_status[e.id] = "unused" if ev is None else "applied"
        if ev is not None:
            new_events.append(ev)
    out = assimilate_with_report(twin, observations_of(model, rows), Regimen(tuple(new_events)))
    rep = out.report
    report = {
        "data": {
            "received": rep.data.received,
            "used": rep.data.used,
            "dropped": rep.data.dropped,
            "reordered": rep.data.reordered,
            "censored": rep.data.censored,
        },
        "ess": list(rep.ess),
        "resampled": rep.resampled,
        "degenerate": rep.degenerate,
        "failed_particles": rep.failed_particles,
        "log_evidence": rep.log_evidence,
        "late": late,
        "unobserved_codes": dict(unobserved),
        "events": len(new_events),
        "unused_events": len(evs) - len(new_events),
        "observations_pending": len(obs),
    }
    applied = {"observations": [o.id for o in obs], "events": [e.id for e in evs]}
    row = _write_version(session, twin_row, config, out.twin, parent, report, applied)
    for table, marks in ((ObservationRow, status), (EventRow, ev_status)):
        for value in set(marks.values()):
            ids = [i for i, s in marks.items() if s == value]
            for k in range(0, len(ids), 500):
                chunk = table.id.in_(ids[k : k + 500])
                session.execute(
                    sql_update(table).where(chunk).values(status=value, version_id=row.id)
                )
    session.flush()
    pause = os.environ.get(PAUSE_ENV)
    if pause:
        print("medtwin: pausing in update_twin", file=sys.stderr, flush=True)
        time.sleep(float(pause))
    return row


def version_view(
    row: TwinVersionRow, parent_version: int | None, epoch: datetime, unit: str
) -> TwinVersionView:
    applied = json.loads(row.applied)
    return TwinVersionView(
        id=row.id,
        pid=row.pid,
        version=row.version,
        parent_id=row.parent_id,
        parent_version=parent_version,
        created_at=row.created_at,
        model=row.model,
        model_version=row.model_version,
        seed=row.seed,
        model_time=row.model_time,
        time=from_model_time(row.model_time, epoch, unit),
        report=json.loads(row.report),
        observations=tuple(applied["observations"]),
        events=tuple(applied["events"]),
    )


def unit_of(config: TwinConfig) -> str:
    """The time unit of ``config``'s model."""
    from ..models import get_model

    return get_model(config.model).time_unit


def versions(session: Session, pid: str) -> list[TwinVersionView]:
    config = TwinConfig.from_json(_twin_row(session, pid).config)
    unit = unit_of(config)
    rows = session.execute(
        select(TwinVersionRow).where(TwinVersionRow.pid == pid).order_by(TwinVersionRow.version)
    ).scalars()
    by_id: dict[int, int] = {}
    out = []
    for r in rows:
        by_id[r.id] = r.version
        parent = by_id.get(r.parent_id) if r.parent_id else None
        out.append(version_view(r, parent, config.epoch, unit))
    return out


def forecasts(session: Session, pid: str, limit: int | None = None) -> list[StoredForecast]:
    """Stored forecasts of ``pid``, newest first."""
    config = TwinConfig.from_json(_twin_row(session, pid).config)
    unit = unit_of(config)
    q = select(ForecastRow).where(ForecastRow.pid == pid).order_by(ForecastRow.version.desc())
    if limit is not None:
        q = q.limit(limit)
    out = []
    for r in session.execute(q).scalars():
        names, levels = tuple(json.loads(r.observables)), tuple(json.loads(r.levels))
        fc = unpack_forecast(r.data, r.version, names, levels)
        out.append(
            StoredForecast(r.id, pid, r.version, r.issued_at, r.horizon, fc, config.epoch, unit)
        )
    return out
