"""The audit log: append-only, HMAC-keyed and hash-chained, with signed checkpoints.

Entry ``seq`` (1, 2, ...) holds the time, actor (user name), action (``<resource>.<verb>``,
e.g. ``observation.create``, ``patient.read``, ``export.deidentified``), patient pseudonym,
resource, outcome, a JSON detail and the id of the key that signed it, and::

    hash = HMAC-SHA256(audit key, canonical JSON of the entry || prev_hash)

with ``prev_hash`` the previous entry's hash (64 zeros for the first). The audit key is never
stored, so whoever edits the database cannot recompute the chain (``_audit_keys``: a separate
audit key, or the legacy one derived from the master key). Writers are serialised on the
one-row ``audit_head`` table (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions hold
the write lock from their start), which also records the last entry's seq and hash. An entry
about several patients (a list, a batch read) names them in its detail's ``"patients"`` list;
:func:`entries` filtered by a patient finds those too.

A checkpoint is a signed head: ``HMAC(audit key, seq | hash | time | key id)``.
:func:`checkpoint` writes one (the store also writes one every ``checkpoint_every`` entries);
one kept outside the database (``Checkpoint.to_dict``, ``_checkpoint_file``) can be handed to
``_audit_verify.verify`` later, which recomputes the chain.

Key rotation: when the signing key differs from the key of the last entry, :func:`append`
first writes an ``audit.key_rotate`` entry signed with the previous key, naming the new key's
id, so the chain continues across keys and a key change without it does not verify.

``_fhir_audit.to_fhir`` exports an entry as a FHIR R4 AuditEvent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ..errors import StoreError
from ._audit_keys import AuditKeys
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
    "entry_hash",
]

GENESIS = "0" * 64
# Outcome -> FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious, 12 major failure.
OUTCOMES = {"success": "0", "denied": "4", "invalid": "4", "failure": "8", "error": "12"}
ROTATE = "audit.key_rotate"  # the entry that hands the chain from one key to the next
PATIENTS = "patients"  # detail key: the pseudonyms an entry about several patients read


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
    key_id: str = ""


@dataclass(frozen=True)
class Checkpoint:
    """A signed head of the audit log: entry ``seq`` had ``hash`` at ``time``, signed with the
    audit key ``key_id`` ("" = the legacy key derived from the master key)."""

    seq: int
    hash: str
    time: datetime
    signature: str
    key_id: str = ""

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
                str(data.get("key_id") or ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(
                "A checkpoint needs seq, hash, time (ISO 8601), signature (and key_id), as "
                f"written by Checkpoint.to_dict(). Got {data!r:.200} ({exc})."
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
    """HMAC-SHA256 of the canonical JSON of ``row`` followed by its ``prev_hash`` (the key id
    is part of the JSON unless it is the legacy "", so legacy entries keep their hashes)."""
    doc: dict[str, Any] = {
        "seq": row.seq,
        "time": _iso(row.time),
        "actor": row.actor,
        "action": row.action,
        "patient": row.patient,
        "resource": row.resource,
        "outcome": row.outcome,
        "detail": row.detail,
    }
    if row.key_id:
        doc["key_id"] = row.key_id
    msg = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hmac.new(key, msg + row.prev_hash.encode(), hashlib.sha256).hexdigest()


def signature(key: bytes, seq: int, hash_: str, time: datetime, key_id: str = "") -> str:
    """The signature of a checkpoint (the key id is signed too unless it is the legacy "")."""
    msg = f"medtwin-audit-checkpoint|{seq}|{hash_}|{_iso(time)}"
    msg += f"|{key_id}" if key_id else ""
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


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
    keys: AuditKeys,
    *,
    actor: str,
    action: str,
    patient: str | None = None,
    resource: str | None = None,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
    checkpoint_every: int = 0,
) -> AuditEntry:
    """Append one entry within ``session``'s transaction (it commits with the data it records),
    signed with ``keys.active``; first an ``audit.key_rotate`` entry if the last entry was
    signed with another key."""
    if outcome not in OUTCOMES:
        raise StoreError(f"Audit outcome must be one of {', '.join(OUTCOMES)}. Got {outcome!r}.")
    if not actor or not action:
        raise StoreError(f"An audit entry needs an actor and an action. Got {actor!r}, {action!r}.")
    text = canonical_detail(detail)
    head = _head(session)
    _hand_over(session, keys, head, checkpoint_every)
    row = _add(session, keys, head, (keys.active, keys.active_id), actor, action, patient,
               resource, outcome, text, checkpoint_every)  # fmt: skip
    session.flush()
    return _entry(row)


def _hand_over(session: Session, keys: AuditKeys, head: AuditHeadRow, every: int) -> None:
    """If the last entry was signed with another key than ``keys.active``, append the
    ``audit.key_rotate`` entry, signed with that key, naming the active key."""
    if head.seq == 0:
        return
    last = session.execute(
        select(AuditRow.key_id).where(AuditRow.seq == head.seq)
    ).scalar_one_or_none()
    if last is None or last == keys.active_id:
        return
    old = keys.require(last, "Rotating the audit key (signing the hand-over)")
    detail = canonical_detail({"from": last, "to": keys.active_id})
    _add(session, keys, head, (old, last), "system", ROTATE, None, "AuditKey", "success",
         detail, every)  # fmt: skip


def _add(session, keys, head, signer, actor, action, patient, resource, outcome, detail, every):
    key, kid = signer
    row = AuditRow(
        seq=head.seq + 1,
        time=datetime.now(UTC),
        actor=actor,
        action=action,
        patient=patient,
        resource=resource,
        outcome=outcome,
        detail=detail,
        prev_hash=head.hash,
        hash="",
        key_id=kid,
    )
    row.hash = entry_hash(key, row)
    session.add(row)
    head.seq, head.hash = row.seq, row.hash
    if every and row.seq % every == 0:
        _write_checkpoint(session, keys, row.seq, row.hash)
    return row


def _write_checkpoint(session: Session, keys: AuditKeys, seq: int, hash_: str):
    existing = session.get(AuditCheckpointRow, seq)
    if existing is not None:
        kid = existing.key_id or ""
        key = keys.get(kid)
        sig = None if key is None else signature(key, seq, hash_, existing.time, kid)
        if (
            existing.hash != hash_
            or sig is None
            or not hmac.compare_digest(sig.encode(), str(existing.signature).encode())
        ):
            raise StoreError(
                f"The stored checkpoint at audit entry {seq} does not match the log or its "
                "signature (or was signed with a key not configured): the audit log was "
                "tampered with. Run `medtwin audit verify`."
            )
        return existing
    now, kid = datetime.now(UTC), keys.active_id
    row = AuditCheckpointRow(
        seq=seq, hash=hash_, time=now, signature=signature(keys.active, seq, hash_, now, kid),
        key_id=kid,
    )  # fmt: skip
    session.add(row)
    return row


def checkpoint(session: Session, keys: AuditKeys) -> Checkpoint:
    """Sign and store the current head (the same checkpoint again if the head has not moved).
    A checkpoint is signed with the key that signed its entry (or that entry hands over to), so
    a pending key rotation is written first."""
    head = _head(session)
    _hand_over(session, keys, head, 0)
    row = _write_checkpoint(session, keys, head.seq, head.hash)
    session.flush()
    return Checkpoint(row.seq, row.hash, row.time, row.signature, row.key_id or "")


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
        row.key_id or "",
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
    before_seq: int | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[AuditEntry]:
    """Entries in seq order (``newest_first``: descending), filtered by patient (its own
    entries and those whose detail lists it among ``"patients"``), actor, action prefix, time
    and seq (``after_seq < seq < before_seq``); at most ``limit``. Filter, order and limit run
    in the database: only the page is read."""
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise StoreError(f"limit must be an integer >= 0. Got {limit!r}.")
    q = select(AuditRow).order_by(AuditRow.seq.desc() if newest_first else AuditRow.seq)
    if patient is not None:
        listed = and_(
            AuditRow.detail.contains(f'"{PATIENTS}":[', autoescape=True),
            AuditRow.detail.contains(json.dumps(patient, ensure_ascii=False), autoescape=True),
        )
        q = q.where(or_(AuditRow.patient == patient, listed))
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
    if before_seq is not None:
        q = q.where(AuditRow.seq < before_seq)
    if limit is not None:
        q = q.limit(limit)
    return [_entry(r) for r in session.execute(q).scalars()]
