"""Creating and updating a stored twin in three phases, so that no lock is held while the
numbers are computed.

1. *read* (a short transaction): the twin's configuration, head version, ensemble and event
   history, and the records pending for it -- plain values, no ORM rows carried out.
2. *compute* (no transaction open): the twin loop (``medtwin.loop``) restores the twin,
   assimilates what this update takes, forecasts and evaluates the alerts; the store packs the
   blobs. Seconds at most (``medtwin.limits``), and other requests -- reads, writes, other
   twins' updates -- go on meanwhile. The store knows the model only by its name.
3. *write* (a short transaction holding the twin's row lock): if the head version is still the
   one read and the records taken are still pending, write the next version, its forecast and
   the records' marks; else write nothing (the caller reads and computes again).

The ensemble of a version is kept while it is the head and, after, for every
``CHECKPOINT_EVERY``-th version only: phase 3 deletes the parent's otherwise. A version whose
ensemble is not kept is restored from the nearest earlier kept one by making its steps again
(``_updates.restore``, ``medtwin.loop.redo``), bit for bit.

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
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from .. import __version__, limits, loop
from ..errors import StoreError
from ..loop import TwinConfig
from ._schema import (
    EventRow,
    ForecastRow,
    ObservationRow,
    TwinEnsembleRow,
    TwinRow,
    TwinVersionRow,
)
from ._updates import CHECKPOINT_EVERY, Stored, read_stored, restore, twin_row, version_row

__all__ = [
    "PAUSE_ENV",
    "TRIES",
    "Computed",
    "Plan",
    "compute_create",
    "compute_update",
    "compute_updates",
    "existing_twin",
    "free_twin_guards",
    "lock_twins",
    "pause_before_commit",
    "read_update",
    "twin_guard",
    "write_create",
    "write_update",
]

PAUSE_ENV = "MEDTWIN_TEST_PAUSE_IN_UPDATE"
TRIES = 3  # read-compute-write rounds before an update gives way to the writers that moved it
_READ_OBS = 4 * int(limits.UPDATE_TIMES.high)  # pending observations read per update (by time)


@dataclass(frozen=True)
class Plan:
    """What phase 1 read: the head version and the pending records (id, time, ...), by time."""

    pid: str
    stored: Stored
    obs: tuple[tuple[int, str, datetime, float, int], ...]  # id, code, time, value, censored
    evs: tuple[tuple[int, str, datetime, float], ...]  # id, kind, time, amount


@dataclass(frozen=True)
class Computed:
    """What phase 2 made, ready to write: the version, its state blob (``ensemble``: whatever
    the twin's kind packs), its forecast (None: the kind issues none) and the records' marks."""

    version: int
    model: str
    model_time: float
    ensemble: bytes
    report: dict
    applied: dict
    obs_marks: dict[int, str]
    ev_marks: dict[int, str]
    issued_at: float | None
    observables: tuple[str, ...]
    levels: tuple[float, ...]
    forecast: bytes | None


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


@contextmanager
def free_twin_guards(database: str, pids: Sequence[str]) -> Iterator[list[str]]:
    """Hold the in-process locks of those of ``pids`` no other thread holds (taken without
    waiting, in pid order); yields the pids held. A batch updates those and leaves the others to
    a later :func:`twin_guard` of their own."""
    held: list[threading.Lock] = []
    got: list[str] = []
    try:
        for pid in sorted(set(pids)):
            with _guards_lock:
                lock = _guards.setdefault((database, pid), threading.Lock())
            if lock.acquire(blocking=False):
                held.append(lock)
                got.append(pid)
        yield got
    finally:
        for lock in reversed(held):
            lock.release()


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
        .order_by(EventRow.time, EventRow.id).limit(int(limits.UPDATE_EVENTS.high) + 1)
    ).all()  # fmt: skip
    if not obs and not evs:
        return None
    return Plan(pid, read_stored(session, pid, row.head_version),
                tuple((r[0], r[1], r[2], r[3], r[4]) for r in obs),
                tuple((r[0], r[1], r[2], r[3]) for r in evs))  # fmt: skip


def existing_twin(session: Session, pid: str, config: TwinConfig) -> TwinVersionRow | None:
    """Version 0 of ``pid``'s twin if it has one with ``config`` (None if it has none; a
    :class:`StoreError` if it has one with another configuration)."""
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


def _computed(config: TwinConfig, step: loop.Step) -> Computed:
    """What the store keeps of ``step``: the blobs its kind packs (``loop.packed``), and in
    the report the hashes its provenance names (``loop.fingerprint``); the store knows no kind
    of twin, only ids and blobs."""
    p = loop.packed(config, step)
    fc = p.forecast
    return Computed(
        version=p.version, model=p.model, model_time=p.model_time, ensemble=p.state,
        report={**p.report, "provenance": loop.fingerprint(config)}, applied=p.applied,
        obs_marks=p.obs_marks, ev_marks=p.ev_marks,
        issued_at=None if fc is None else fc.issued_at,
        observables=() if fc is None else fc.observables, levels=() if fc is None else fc.levels,
        forecast=None if fc is None else fc.data,
    )  # fmt: skip


def compute_create(config: TwinConfig) -> Computed:
    """Version 0 of a twin made from ``config`` and its prior forecast (``medtwin.loop``)."""
    return _computed(config, loop.create(config))


def compute_update(plan: Plan) -> Computed:
    """The next version: what ``plan`` read, through one step of the twin loop."""
    twin = restore(plan.stored)
    obs = [loop.PendingObservation(*o) for o in plan.obs]
    evs = [loop.PendingEvent(*e) for e in plan.evs]
    return _computed(plan.stored.config, loop.update(plan.stored.config, twin, obs, evs))


def compute_updates(plans: Sequence[Plan]) -> list[Computed | Exception]:
    """Phase 2 for many twins at once (``store._batcher``): the plans' steps in one
    ``loop.update_many`` call -- the numbers of :func:`compute_update` one by one -- each plan's
    failure its own result. A single plan goes through :func:`compute_update` itself."""
    if len(plans) == 1:
        try:
            return [compute_update(plans[0])]
        except Exception as exc:  # the caller reports it for this twin alone
            return [exc]
    out: list[Computed | Exception | None] = [None] * len(plans)
    items, where = [], []
    for i, plan in enumerate(plans):
        try:
            twin = restore(plan.stored)
        except Exception as exc:
            out[i] = exc
            continue
        obs = [loop.PendingObservation(*o) for o in plan.obs]
        evs = [loop.PendingEvent(*e) for e in plan.evs]
        items.append(loop.UpdateItem(plan.stored.config, twin, obs, evs))
        where.append(i)
    steps = loop.update_many(items, errors="return")
    for i, item, step in zip(where, items, steps, strict=True):
        try:
            out[i] = step if isinstance(step, Exception) else _computed(item.config, step)
        except Exception as exc:
            out[i] = exc
    return out  # type: ignore[return-value]


# -- phase 3 -----------------------------------------------------------------------------------


def lock_twins(session: Session, pids: Sequence[str]) -> None:
    """Take the row locks of ``pids``' twins in pid order (PostgreSQL ``FOR UPDATE``; SQLite
    holds the write lock already). A batch takes all its twins' locks first, in one order,
    and the audit head's after them -- as a single update does -- so two batches never wait
    for each other in a cycle."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for k in range(0, len(pids), 500):
        chunk = sorted(pids)[k : k + 500]
        session.execute(
            select(TwinRow.pid).where(TwinRow.pid.in_(chunk)).order_by(TwinRow.pid)
            .with_for_update()
        ).all()  # fmt: skip


def _write_version(
    session: Session, row: TwinRow, config: TwinConfig, done: Computed, parent_id: int | None
) -> TwinVersionRow:
    version = TwinVersionRow(
        pid=row.pid, version=done.version, parent_id=parent_id, created_at=datetime.now(UTC),
        model=done.model, model_version=__version__, seed=config.seed,
        model_time=done.model_time,
        report=json.dumps(done.report, sort_keys=True, separators=(",", ":")),
        applied=json.dumps(done.applied, sort_keys=True),
    )  # fmt: skip
    session.add(version)
    session.flush()
    session.add(TwinEnsembleRow(version_id=version.id, data=done.ensemble))
    if done.forecast is None or done.issued_at is None:  # a kind that issues no forecast
        row.head_version = done.version
        return version
    session.add(
        ForecastRow(
            pid=row.pid, version_id=version.id, version=done.version,
            issued_at=loop.from_model_time(done.issued_at, config.epoch, config.time_unit),
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
    if plan.stored.version % CHECKPOINT_EVERY:  # the parent is no longer the head: thin it
        session.execute(
            delete(TwinEnsembleRow).where(TwinEnsembleRow.version_id == plan.stored.version_id)
        )
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
