"""Twin versions in the database: read a stored version (and restore it), list versions and
forecasts. Creating and updating a twin (read, compute with no lock held, write) is
``_twin_update``."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import loop
from ..data.records import ObservationRecord
from ..errors import DataError, StoreError
from ..loop import StoredForecast, TwinConfig
from ._schema import (
    EventRow,
    ForecastRow,
    ObservationRow,
    TwinEnsembleRow,
    TwinRow,
    TwinVersionRow,
)
from ._views import TwinVersionView

__all__ = [
    "CHECKPOINT_EVERY",
    "Redo",
    "Stored",
    "admit",
    "forecasts",
    "load",
    "read_stored",
    "restore",
    "twin_row",
    "unit_of",
    "version_row",
    "version_view",
    "versions",
]


def twin_row(session: Session, pid: str, *, lock: bool = False) -> TwinRow:
    """The twin row of ``pid`` (``lock``: ``SELECT ... FOR UPDATE`` on PostgreSQL)."""
    q = select(TwinRow).where(TwinRow.pid == pid)
    row = session.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if row is None:
        raise StoreError(
            f"Patient {pid!r} has no twin. Create one first: `medtwin twin create {pid}`, or "
            f"POST /patients/{pid}/twin."
        )
    return row


def version_row(session: Session, pid: str, version: int) -> TwinVersionRow:
    row = session.execute(
        select(TwinVersionRow).where(TwinVersionRow.pid == pid, TwinVersionRow.version == version)
    ).scalar_one_or_none()
    if row is None:
        raise StoreError(f"Patient {pid!r} has no twin version {version}.")
    return row


# A twin keeps the ensemble of its head and of every 32nd version (160 min of CGM): a power of
# two, so the versions the dashboard's posterior panel picks (a power-of-two grid, see
# service/_dashboard_cache.version_grid) are kept ones once a twin has some 500 versions.
CHECKPOINT_EVERY = 32


@dataclass(frozen=True)
class Redo:
    """One stored step whose ensemble is no longer kept: the records it applied (observations:
    id, code, time, value, censored; events: id, kind, time, amount; each in time order) and
    the time its report says it moved on to."""

    obs: tuple[tuple[int, str, datetime, float, int], ...]
    evs: tuple[tuple[int, str, datetime, float], ...]
    until: float | None


@dataclass(frozen=True)
class Stored:
    """A stored twin version as plain values: enough to restore it with no session open.

    ``ensemble`` is that of version ``base`` (the version itself, or the nearest earlier one
    whose ensemble is kept), ``history`` the events taken up to ``base``, and ``redo`` the
    steps from ``base`` to ``version`` (empty when ``base == version``)."""

    config: TwinConfig
    version: int
    version_id: int
    ensemble: bytes
    history: tuple[tuple[str, datetime, float], ...]  # applied events: kind, time, amount
    base: int
    redo: tuple[Redo, ...] = ()


def _redo_steps(session: Session, pid: str, base: int, version: int) -> tuple[Redo, ...]:
    """The steps from version ``base`` to ``version`` of ``pid``'s twin, read back from the
    records each applied and the ``until`` of its report."""
    rows = session.execute(
        select(TwinVersionRow.id, TwinVersionRow.version, TwinVersionRow.report)
        .where(TwinVersionRow.pid == pid, TwinVersionRow.version > base,
               TwinVersionRow.version <= version)
        .order_by(TwinVersionRow.version)
    ).all()  # fmt: skip
    if [r[1] for r in rows] != list(range(base + 1, version + 1)):
        raise StoreError(f"Patient {pid!r}'s twin lacks some of versions {base + 1}..{version}.")
    ids = [r[0] for r in rows]
    obs: dict[int, list] = defaultdict(list)
    evs: dict[int, list] = defaultdict(list)
    for table, cols, into in (
        (ObservationRow, ("code", "time", "value", "censored"), obs),
        (EventRow, ("kind", "time", "amount"), evs),
    ):
        for k in range(0, len(ids), 500):
            found = session.execute(
                select(table.version_id, table.id, *(getattr(table, c) for c in cols))
                .where(table.version_id.in_(ids[k : k + 500]), table.status == "applied")
                .order_by(table.time, table.id)
            ).all()  # fmt: skip
            for r in found:
                into[r[0]].append(tuple(r[1:]))
    return tuple(
        Redo(tuple(obs[i]), tuple(evs[i]), json.loads(report).get("until")) for i, _, report in rows
    )


def read_stored(session: Session, pid: str, version: int | None = None) -> Stored:
    """Version ``version`` (the head if None) of ``pid``'s twin and the events it took; if its
    ensemble is not kept, the nearest earlier kept one and the steps from there."""
    row = twin_row(session, pid)
    config = TwinConfig.from_json(row.config)
    v = row.head_version if version is None else version
    vrow = version_row(session, pid, v)
    kept = session.execute(
        select(TwinVersionRow.version, TwinEnsembleRow.data)
        .join(TwinEnsembleRow, TwinEnsembleRow.version_id == TwinVersionRow.id)
        .where(TwinVersionRow.pid == pid, TwinVersionRow.version <= v)
        .order_by(TwinVersionRow.version.desc()).limit(1)
    ).first()  # fmt: skip
    if kept is None:
        raise StoreError(f"Patient {pid!r}'s twin keeps no ensemble at or before version {v}.")
    base, ensemble = int(kept[0]), bytes(kept[1])
    redo = _redo_steps(session, pid, base, v) if base < v else ()
    q = (
        select(EventRow.kind, EventRow.time, EventRow.amount)
        .join(TwinVersionRow, EventRow.version_id == TwinVersionRow.id)
        .where(EventRow.pid == pid, EventRow.status == "applied", TwinVersionRow.version <= base)
        .order_by(EventRow.time, EventRow.id)
    )
    history = tuple((k, t, a) for k, t, a in session.execute(q))
    return Stored(config, v, vrow.id, ensemble, history, base, redo)


def restore(stored: Stored) -> Any:
    """The twin of ``stored``, restored to continue exactly (same keys as if never stored):
    from its kept ensemble, then each step not kept made again (``medtwin.loop.redo``)."""
    twin = loop.restore(stored.config, stored.base, stored.ensemble, stored.history)
    for step in stored.redo:
        obs = [loop.PendingObservation(*o) for o in step.obs]
        evs = [loop.PendingEvent(*e) for e in step.evs]
        twin = loop.redo(stored.config, twin, obs, evs, step.until)
    return twin


def admit(session: Session, pid: str, recs: Sequence[ObservationRecord]) -> None:
    """Refuse, before they are stored, observations ``pid``'s twin could never take (a value
    that is no state of a network's node, findings of probability zero): ``loop.admit`` asks
    the twin's kind; a :class:`StoreError` naming the item, nothing stored. No twin: nothing
    to check."""
    row = session.get(TwinRow, pid)
    if row is None or not recs:
        return
    config = TwinConfig.from_json(row.config)
    try:
        loop.admit(config, lambda: restore(read_stored(session, pid)),
                   [(r.code, r.time, r.value, r.censored) for r in recs])  # fmt: skip
    except DataError as exc:
        raise StoreError(f"Patient {pid!r}: {exc}") from None


def load(session: Session, pid: str, version: int | None = None) -> Any:
    """The twin of ``pid`` at ``version`` (latest if None), restored to continue exactly."""
    return restore(read_stored(session, pid, version))


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
        time=loop.from_model_time(row.model_time, epoch, unit),
        report=json.loads(row.report),
        observations=tuple(applied["observations"]),
        events=tuple(applied["events"]),
    )


def unit_of(config: TwinConfig) -> str:
    """The time unit of ``config``'s model."""
    return config.time_unit


def versions(session: Session, pid: str) -> list[TwinVersionView]:
    config = TwinConfig.from_json(twin_row(session, pid).config)
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
    config = TwinConfig.from_json(twin_row(session, pid).config)
    unit = unit_of(config)
    q = select(ForecastRow).where(ForecastRow.pid == pid).order_by(ForecastRow.version.desc())
    if limit is not None:
        q = q.limit(limit)
    rows = list(session.execute(q).scalars())
    flags = _applicability(session, pid, [r.version for r in rows])
    out = []
    for r in rows:
        names, levels = tuple(json.loads(r.observables)), tuple(json.loads(r.levels))
        fc = loop.unpack_forecast(r.data, r.version, names, levels)
        model = loop.forecast_model(r.data) or config.model  # older blobs: the twin's model
        out.append(StoredForecast(r.id, pid, r.version, r.issued_at, r.horizon, fc,
                                  config.epoch, unit, model, flags.get(r.version)))  # fmt: skip
    return out


def _applicability(session: Session, pid: str, versions: Sequence[int]) -> dict[int, Any]:
    """The applicability flag of each of ``versions`` (version -> the ``applicability`` of
    its stored report; versions whose report has none are left out)."""
    out: dict[int, Any] = {}
    for k in range(0, len(versions), 500):
        found = session.execute(
            select(TwinVersionRow.version, TwinVersionRow.report).where(
                TwinVersionRow.pid == pid, TwinVersionRow.version.in_(versions[k : k + 500])
            )
        ).all()
        for v, report in found:
            flag = json.loads(report).get("applicability")
            if flag is not None:
                out[int(v)] = flag
    return out
