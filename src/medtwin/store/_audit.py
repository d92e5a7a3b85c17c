"""The audit log: append-only, HMAC-keyed and hash-chained, with signed checkpoints.

Entry ``seq`` (1, 2, ...) holds the time, actor (user name), action (``<resource>.<verb>``,
e.g. ``observation.create``, ``patient.read``, ``export.deidentified``), patient pseudonym,
resource, outcome and a JSON detail, and::

    hash = HMAC-SHA256(audit key, canonical JSON of the entry || prev_hash)

with ``prev_hash`` the previous entry's hash (64 zeros for the first). The audit key is
derived from the master key (HKDF, its own label) and is never stored, so whoever edits the
database cannot recompute the chain. Writers are serialised on the one-row ``audit_head`` table
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions hold the write lock from their
start), which also records the last entry's seq and hash.

A checkpoint is a signed head: ``HMAC(audit key, seq | hash | time)``. :func:`checkpoint`
writes one (the store also writes one every ``checkpoint_every`` entries); one kept outside
the database (``Checkpoint.to_dict``) can be handed to :func:`verify` later.

:func:`verify` recomputes the chain and reports the first entry that was edited, reordered or
deleted, and a truncation: the log ending before the head row or before a checkpoint's entry.
What it cannot see: the last entries deleted together with the head row updated to match and
every checkpoint after them deleted -- keep recent checkpoints outside the database to catch
that too.

``_fhir_audit.to_fhir`` exports an entry as a FHIR R4 AuditEvent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import StoreError
from ._schema import AuditCheckpointRow, AuditHeadRow, AuditRow

__all__ = [
    "GENESIS",
    "OUTCOMES",
    "AuditEntry",
    "AuditReport",
    "Checkpoint",
    "append",
    "canonical_detail",
    "checkpoint",
    "entries",
    "verify",
]

GENESIS = "0" * 64
# Outcome -> FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious, 12 major failure.
OUTCOMES = {"success": "0", "denied": "4", "invalid": "4", "failure": "8", "error": "12"}


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log as stored."""

    seq: int
    time: datetime
    actor: str
    action: str
    patient: str | None
    resource: str | None
    outcome: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed head of the audit log: entry ``seq`` had ``hash`` at ``time``."""

    seq: int
    hash: str
    time: datetime
    signature: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "time": self.time.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        try:
            return cls(
                int(data["seq"]),
                str(data["hash"]),
                datetime.fromisoformat(str(data["time"])).astimezone(UTC),
                str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                "A checkpoint needs seq, hash, time (ISO 8601) and signature, as written by "
                f"Checkpoint.to_dict(). Got {data!r} ({exc})."
            ) from None


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`verify`: ``ok``, the number of entries read, and where the log
    first fails (``first_bad_seq``) and why."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None
    checkpoints: int = 0

    def __str__(self) -> str:
        if self.ok:
            return f"audit log OK: {self.entries} entries, {self.checkpoints} checkpoints verified"
        return f"audit log FAILED at entry {self.first_bad_seq}: {self.reason}"


def canonical_detail(detail: dict[str, Any] | None) -> str:
    try:
        return json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"An audit detail must be JSON (str, numbers, lists, dicts). Got {detail!r}: {exc}."
        ) from None


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(key: bytes, row: AuditRow) -> str:
    """HMAC-SHA256 of the canonical JSON of ``row`` followed by its ``prev_hash``."""
    doc = {
        "seq": row.seq,
        "time": _iso(row.time),
        "actor": row.actor,
        "action": row.action,
        "patient": row.patient,
        "resource": row.resource,
        "outcome": row.outcome,
        "detail": row.detail,
    }
    msg = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hmac.new(key, msg + row.prev_hash.encode(), hashlib.sha256).hexdigest()


def _signature(key: bytes, seq: int, hash_: str, time: datetime) -> str:
    msg = f"medtwin-audit-checkpoint|{seq}|{hash_}|{_iso(time)}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _head(session: Session) -> AuditHeadRow:
    head = session.execute(
        select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        raise StoreError(
            "The audit log has no head row: the database was not created by medtwin's "
            "migrations or the row was deleted. `medtwin audit verify` reports this store as "
            "tampered; restore it from a backup."
        )
    return head


def append(
    session: Session,
    key: bytes,
    *,
    actor: str,
    action: str,
    patient: str | None = None,
    resource: str | None = None,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
    checkpoint_every: int = 0,
) -> AuditEntry:
    """Append one entry within ``session``'s transaction (it commits with the data it records)."""
    if outcome not in OUTCOMES:
        raise StoreError(f"Audit outcome must be one of {', '.join(OUTCOMES)}. Got {outcome!r}.")
    if not actor or not action:
        raise StoreError(f"An audit entry needs an actor and an action. Got {actor!r}, {action!r}.")
    head = _head(session)
    row = AuditRow(
        seq=head.seq + 1,
        time=datetime.now(UTC),
        actor=actor,
        action=action,
        patient=patient,
        resource=resource,
        outcome=outcome,
        detail=canonical_detail(detail),
        prev_hash=head.hash,
        hash="",
    )
    row.hash = entry_hash(key, row)
    session.add(row)
    head.seq, head.hash = row.seq, row.hash
    if checkpoint_every and row.seq % checkpoint_every == 0:
        _write_checkpoint(session, key, row.seq, row.hash)
    session.flush()
    return _entry(row)


def _write_checkpoint(session: Session, key: bytes, seq: int, hash_: str) -> AuditCheckpointRow:
    existing = session.get(AuditCheckpointRow, seq)
    if existing is not None:
        sig = _signature(key, seq, hash_, existing.time)
        if existing.hash != hash_ or not hmac.compare_digest(sig, existing.signature):
            raise StoreError(
                f"The stored checkpoint at audit entry {seq} does not match the log or its "
                "signature: the audit log was tampered with. Run `medtwin audit verify`."
            )
        return existing
    now = datetime.now(UTC)
    row = AuditCheckpointRow(
        seq=seq, hash=hash_, time=now, signature=_signature(key, seq, hash_, now)
    )
    session.add(row)
    return row


def checkpoint(session: Session, key: bytes) -> Checkpoint:
    """Sign and store the current head (the same checkpoint again if the head has not moved)."""
    head = _head(session)
    row = _write_checkpoint(session, key, head.seq, head.hash)
    session.flush()
    return Checkpoint(row.seq, row.hash, row.time, row.signature)


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        row.seq,
        row.time,
        row.actor,
        row.action,
        row.patient,
        row.resource,
        row.outcome,
        json.loads(row.detail),
        row.prev_hash,
        row.hash,
    )


def entries(
    session: Session,
    *,
    patient: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Entries in seq order, filtered by patient, actor, action prefix, time and seq."""
    q = select(AuditRow).order_by(AuditRow.seq)
    if patient is not None:
        q = q.where(AuditRow.patient == patient)
    if actor is not None:
        q = q.where(AuditRow.actor == actor)
    if action is not None:
        q = q.where(AuditRow.action.startswith(action, autoescape=True))
    if since is not None:
        q = q.where(AuditRow.time >= since)
    if until is not None:
        q = q.where(AuditRow.time <= until)
    if after_seq is not None:
        q = q.where(AuditRow.seq > after_seq)
    if limit is not None:
        q = q.limit(limit)
    return [_entry(r) for r in session.execute(q).scalars()]


def verify(session: Session, key: bytes, extra: Iterable[Checkpoint] = ()) -> AuditReport:
    """Recompute the chain; check the head row and every checkpoint (stored and ``extra``)."""
    cps = [
        Checkpoint(r.seq, r.hash, r.time, r.signature)
        for r in session.execute(select(AuditCheckpointRow)).scalars()
    ] + list(extra)
    want = {cp.seq for cp in cps}
    seen: dict[int, str] = {0: GENESIS}
    problems: list[tuple[int, str]] = []
    expected, prev, n = 1, GENESIS, 0
    rows = session.execute(select(AuditRow).order_by(AuditRow.seq).execution_options(yield_per=500))
    for row in rows.scalars():
        n += 1
        if not problems:
            if row.seq != expected:
                problems.append((expected, _missing(expected, row.seq)))
            elif not hmac.compare_digest(entry_hash(key, row), row.hash):
                problems.append(
                    (
                        row.seq,
                        f"entry {row.seq} was altered or moved: its HMAC does not match "
                        "its content",
                    )
                )
            elif row.prev_hash != prev:
                problems.append(
                    (
                        row.seq,
                        f"entry {row.seq} does not follow entry {row.seq - 1} (its "
                        "prev_hash differs): entries were reordered or replaced",
                    )
                )
        expected, prev = row.seq + 1, row.hash
        if row.seq in want:
            seen[row.seq] = row.hash
    last = expected - 1
    head = session.get(AuditHeadRow, 1)
    if head is None:
        problems.append((last + 1, "the audit head row is missing"))
    elif head.seq > last:
        problems.append(
            (
                last + 1,
                f"the log ends at entry {last} but its head records entry {head.seq}: "
                f"entries {last + 1}..{head.seq} were deleted (truncated)",
            )
        )
    elif (head.seq, head.hash) != (last, prev):
        problems.append((head.seq, f"the audit head (entry {head.seq}) does not match the log"))
    for cp in sorted(cps, key=lambda c: c.seq):
        if not hmac.compare_digest(_signature(key, cp.seq, cp.hash, cp.time), cp.signature):
            problems.append((cp.seq, f"the checkpoint at entry {cp.seq} has an invalid signature"))
        elif cp.seq > last:
            problems.append(
                (
                    last + 1,
                    f"the log ends at entry {last} but a signed checkpoint records entry "
                    f"{cp.seq}: entries {last + 1}..{cp.seq} were deleted (truncated)",
                )
            )
        elif seen.get(cp.seq) != cp.hash:
            problems.append(
                (cp.seq, f"entry {cp.seq} differs from the signed checkpoint of that entry")
            )
    if not problems:
        return AuditReport(True, n, checkpoints=len(cps))
    seq, reason = min(problems, key=lambda p: p[0])
    return AuditReport(False, n, seq, reason, len(cps))


def _missing(expected: int, got: int) -> str:
    if got > expected:
        gone = f"entry {expected}" if got == expected + 1 else f"entries {expected}..{got - 1}"
        return f"{gone} missing: deleted from the log"
    return f"entry {got} appears where entry {expected} belongs: entries were renumbered"
