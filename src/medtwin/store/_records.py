"""Patients, observations and events in the database: validation at the boundary, idempotent
inserts (a record sent again under the same source id is counted, not stored twice) and the
views handed back."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..data.records import EVENT_KINDS, EventRecord, ObservationRecord, PatientRecord
from ..errors import StoreError
from . import _identity, _updates
from ._crypto import FieldCipher
from ._schema import EventRow, ObservationRow, PatientRow, TwinVersionRow
from ._views import PatientView, StoredEvent, StoredObservation

__all__ = [
    "add_events",
    "add_observations",
    "add_patient",
    "check_event",
    "check_observation",
    "event_views",
    "find_patient",
    "lookup_patient",
    "new_pid",
    "observation_views",
    "patient_row",
    "patient_view",
]

_IDENTIFYING = ("mrn", "name", "birth_date")  # encrypted; gender is stored in clear
_CHUNK = 500


def new_pid() -> str:
    """A random pseudonym: ``p-`` + 16 hex digits (64 random bits), unrelated to any identifier."""
    return "p-" + secrets.token_hex(8)


def _aad(field: str, pid: str) -> str:
    return f"patients.{field}:{pid}"


def patient_row(session: Session, pid: str) -> PatientRow:
    row = session.get(PatientRow, pid) if isinstance(pid, str) else None
    if row is None:
        raise StoreError(
            f"No patient with pseudonym {pid!r}. Use a pseudonym returned by add_patient() or "
            "listed by patient_ids()."
        )
    return row


def find_patient(session: Session, cipher: FieldCipher, source_id: str) -> str | None:
    """The patient stored under ``source_id`` (only ever by source id: see lookup_patient)."""
    return session.execute(
        select(PatientRow.pid).where(PatientRow.source_key == cipher.lookup(source_id))
    ).scalar_one_or_none()


def lookup_patient(session: Session, cipher: FieldCipher, ref: Any) -> str | None:
    """The stored patient ``ref`` names, or None. A reference in pseudonym form (``p-…``,
    ``Patient/p-…``, ``…/Patient/p-…``) names only the patient with that pseudonym; any other
    is a source id. The one place a reference becomes a patient."""
    if not isinstance(ref, str) or not ref:
        return None
    pid = _identity.pseudonym_of(ref)
    if pid is not None:
        return pid if session.get(PatientRow, pid) is not None else None
    return find_patient(session, cipher, ref)


def add_patient(
    session: Session,
    cipher: FieldCipher,
    rec: PatientRecord,
    *,
    actor: str,
    confirm: bool = False,
) -> tuple[str, bool]:
    """(pseudonym, created). A source id stored before returns its patient unchanged if it is
    the same patient and ``actor`` may claim it (see ``_identity``), else PatientConflict."""
    _identity.check_patient(rec)
    existing = find_patient(session, cipher, rec.source_id)
    if existing is not None:
        row = patient_row(session, existing)
        stored = _identity.fields_of(patient_view(cipher, row))
        _identity.check_existing(session, row, stored, rec, actor=actor, confirm=confirm)
        return existing, False
    pid = new_pid()
    while session.get(PatientRow, pid) is not None:  # pragma: no cover - 2**-64 per draw
        pid = new_pid()
    values = {
        "mrn": rec.mrn,
        "name": rec.name,
        "birth_date": rec.birth_date.isoformat() if rec.birth_date else None,
    }
    enc = {f: cipher.encrypt(values[f], aad=_aad(f, pid)) for f in _IDENTIFYING}
    session.add(
        PatientRow(
            pid=pid,
            source_key=cipher.lookup(rec.source_id),
            gender=rec.gender,
            created_at=datetime.now(UTC),
            created_by=actor,
            **enc,
        )
    )
    session.flush()
    return pid, True


def patient_view(cipher: FieldCipher, row: PatientRow) -> PatientView:
    dec = {f: cipher.decrypt(getattr(row, f), aad=_aad(f, row.pid)) for f in _IDENTIFYING}
    birth = date.fromisoformat(dec["birth_date"]) if dec["birth_date"] else None
    return PatientView(row.pid, dec["mrn"], dec["name"], birth, row.gender, row.created_at)


def _aware(t: Any, what: str) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None:
        raise StoreError(f"The time of {what} must be a timezone-aware datetime. Got {t!r}.")
    return t.astimezone(UTC)


def check_observation(r: Any) -> tuple:
    if not isinstance(r, ObservationRecord):
        raise StoreError(f"add_observations() takes ObservationRecords. Got {r!r}.")
    what = f"observation {r.source_id!r}"
    if not r.source_id or not r.code or not isinstance(r.code, str):
        raise StoreError(f"The {what} needs a source_id and a LOINC code. Got {r!r}.")
    value = float(r.value)
    if not math.isfinite(value):
        raise StoreError(
            f"The value of {what} must be a finite number. Got {r.value!r}; leave gaps out."
        )
    if r.censored not in (-1, 0, 1):
        raise StoreError(f"The censored flag of {what} must be -1, 0 or 1. Got {r.censored!r}.")
    return (r.code, _aware(r.time, what), value, r.unit, int(r.censored))


def check_event(r: Any) -> tuple:
    if not isinstance(r, EventRecord):
        raise StoreError(f"add_events() takes EventRecords. Got {r!r}.")
    what = f"event {r.source_id!r}"
    if r.kind not in EVENT_KINDS:
        raise StoreError(
            f"The kind of {what} must be one of {', '.join(EVENT_KINDS)}. Got {r.kind!r}."
        )
    amount = float(r.amount)
    if not (math.isfinite(amount) and amount >= 0):
        raise StoreError(
            f"The amount of {what} must be a finite number >= 0 "
            f"({EVENT_KINDS[r.kind]}). Got {r.amount!r}."
        )
    if not r.source_id:
        raise StoreError(f"The {what} needs a source_id. Got {r!r}.")
    return (r.kind, _aware(r.time, what), amount)


def _existing(session: Session, table: Any, pid: str, keys: list[str]) -> dict[str, Any]:
    """The rows of ``pid`` stored under these keyed source-id hashes, by hash."""
    out: dict[str, Any] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        q = select(table).where(table.pid == pid, table.source_id.in_(chunk))
        out.update({r.source_id: r for r in session.execute(q).scalars()})
    return out


def _add(session, cipher, table, pid, recs, check, content, make) -> tuple[int, int]:
    """Store ``recs`` under the keyed hash of their source ids (never the source id itself,
    which can embed an MRN): the same hash with the same content is a duplicate, with other
    content an error."""
    checked = [(r.source_id, check(r)) for r in recs]
    keyed = [(sid, cipher.source_key(table.__tablename__, sid), v) for sid, v in checked]
    found = _existing(session, table, pid, [k for _, k, _ in keyed])
    stored = {k: content(row) for k, row in found.items()}
    added = dups = 0
    now = datetime.now(UTC)
    for source_id, key, values in keyed:
        if key in stored:
            if stored[key] != values:
                raise StoreError(
                    f"Record {source_id!r} of patient {pid} was stored before with other content "
                    f"({stored[key]}); got {values}. A source id names one record: send a "
                    "correction under a new source id. Nothing of this batch was stored."
                )
            dups += 1
            continue
        session.add(make(pid, key, values, now))
        stored[key] = values
        added += 1
    session.flush()
    return added, dups


def add_observations(
    session: Session, cipher: FieldCipher, pid: str, recs: Sequence[ObservationRecord]
) -> tuple[int, int]:
    """(added, duplicates) for ``pid``; raises before storing anything if a record is invalid.
    The source id is kept only as ``cipher.source_key("observations", source_id)``; values the
    patient's twin could never take are refused first (``_updates.admit``)."""
    patient_row(session, pid)
    _updates.admit(session, pid, recs)
    return _add(
        session,
        cipher,
        ObservationRow,
        pid,
        recs,
        check_observation,
        lambda r: (r.code, r.time, r.value, r.unit, r.censored),
        lambda pid, sid, v, now: ObservationRow(
            pid=pid,
            source_id=sid,
            code=v[0],
            time=v[1],
            value=v[2],
            unit=v[3],
            censored=v[4],
            received_at=now,
            status="pending",
        ),
    )


def add_events(
    session: Session, cipher: FieldCipher, pid: str, recs: Sequence[EventRecord]
) -> tuple[int, int]:
    """As :func:`add_observations`; the source id is kept as its ``events`` keyed hash."""
    patient_row(session, pid)
    return _add(
        session,
        cipher,
        EventRow,
        pid,
        recs,
        check_event,
        lambda r: (r.kind, r.time, r.amount),
        lambda pid, sid, v, now: EventRow(
            pid=pid,
            source_id=sid,
            kind=v[0],
            time=v[1],
            amount=v[2],
            received_at=now,
            status="pending",
        ),
    )


def _versions(session: Session, ids: Iterable[int | None]) -> dict[int, int]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    q = select(TwinVersionRow.id, TwinVersionRow.version).where(TwinVersionRow.id.in_(wanted))
    return {int(i): int(v) for i, v in session.execute(q).all()}


def observation_views(
    session: Session,
    pid: str,
    code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[StoredObservation]:
    """Observations of ``pid`` by time (``since <= time <= until``), optionally of one code."""
    q = select(ObservationRow).where(ObservationRow.pid == pid)
    if code is not None:
        q = q.where(ObservationRow.code == code)
    if since is not None:
        q = q.where(ObservationRow.time >= _aware(since, "'since'"))
    if until is not None:
        q = q.where(ObservationRow.time <= _aware(until, "'until'"))
    rows = list(session.execute(q.order_by(ObservationRow.time, ObservationRow.id)).scalars())
    v = _versions(session, (r.version_id for r in rows))
    return [
        StoredObservation(
            r.id,
            r.pid,
            r.source_id,
            r.code,
            r.time,
            r.value,
            r.unit,
            r.censored,
            r.received_at,
            r.status,
            v.get(r.version_id) if r.version_id else None,
        )
        for r in rows
    ]


def event_views(session: Session, pid: str) -> list[StoredEvent]:
    q = select(EventRow).where(EventRow.pid == pid).order_by(EventRow.time, EventRow.id)
    rows = list(session.execute(q).scalars())
    v = _versions(session, (r.version_id for r in rows))
    return [
        StoredEvent(
            r.id,
            r.pid,
            r.source_id,
            r.kind,
            r.time,
            r.amount,
            r.received_at,
            r.status,
            v.get(r.version_id) if r.version_id else None,
        )
        for r in rows
    ]
