"""Replacing the master key (``medtwin rekey``), and reading at open what earlier rekeys left.

:func:`rekey` runs in ONE transaction (all or nothing): every identifying field re-encrypted
under the new key; every lookup hash recomputed (``patients.source_key``, the keyed source ids
of observations and events: ``HMAC(new lookup key, old hash)``, see ``_crypto``); the lookup
keys of the replaced master keys stored, encrypted under the new key (``store_meta``
``lookup_carried``); the key check replaced, so the old key is refused from then on; and a
``store.rekey`` audit entry. The database is locked against other writers meanwhile; stop every
process using the store first (one still running with the old key would write with it).

The audit log: a rekey requires a separate audit key (``MEDTWIN_AUDIT_KEY_FILE``), because an
audit key derived from the new master key would again be held by every operator -- the very
weakness rotation is meant to close. Entries signed before with the legacy key (derived from
the old master key, ``key_id ""``) stay verifiable: that key is appended to the retired audit
keyring file (``MEDTWIN_AUDIT_KEYS_RETIRED``, or the path given) before the commit, and its id is
recorded (``store_meta`` ``audit_legacy_key_id``) so ``""`` entries are checked with it.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..errors import StoreError
from ._audit_keys import LEGACY, RETIRED_ENV, AuditKeys, add_retired_key, key_id, load_audit_keys
from ._crypto import SOURCE_KEY_PREFIX, FieldCipher
from ._engine import read_only
from ._records import _IDENTIFYING, _aad
from ._schema import AuditRow, EventRow, MetaRow, ObservationRow, PatientRow
from ._source_ids import HASHED, rewrite_source_ids

__all__ = ["CARRIED", "LEGACY_AUDIT", "RekeyResult", "open_keys", "rekey"]

CARRIED = "lookup_carried"  # store_meta: the replaced master keys' lookup keys, encrypted
LEGACY_AUDIT = "audit_legacy_key_id"  # store_meta: the id of the key that signed "" entries
_AAD = "store_meta.lookup_carried"
_CHUNK = 1000


@dataclass(frozen=True)
class RekeyResult:
    """What :func:`rekey` rewrote, and the id of the legacy audit key it retired (or None)."""

    patients: int
    observations: int
    events: int
    retired_audit_key: str | None


def open_keys(
    engine: Engine,
    master: bytes,
    cipher: FieldCipher,
    *,
    audit_key: bytes | None = None,
    retired: Any = None,
) -> tuple[FieldCipher, AuditKeys]:
    """The cipher with the lookup keys earlier rekeys carried over, and the audit keys."""
    with Session(read_only(engine)) as s, s.begin():
        carried, legacy = s.get(MetaRow, CARRIED), s.get(MetaRow, LEGACY_AUDIT)
        carried_text = carried.value if carried is not None else None
        legacy_id = legacy.value if legacy is not None else None
    if carried_text:
        cipher = cipher.with_carried(_unwrap(cipher, carried_text))
    keys = load_audit_keys(
        master, cipher.audit_key, audit_key=audit_key, retired=retired, legacy_id=legacy_id
    )
    return cipher, keys


def _wrap(cipher: FieldCipher, keys: tuple[bytes, ...]) -> str:
    plain = ",".join(base64.b64encode(k).decode() for k in keys)
    return base64.b64encode(cipher.encrypt(plain, aad=_AAD)).decode()


def _unwrap(cipher: FieldCipher, value: str) -> tuple[bytes, ...]:
    plain = cipher.decrypt(base64.b64decode(value), aad=_AAD) or ""
    return tuple(base64.b64decode(k) for k in plain.split(",") if k)


def _patients(s: Session, old: FieldCipher, new: FieldCipher) -> int:
    n, last = 0, ""
    cols = [getattr(PatientRow, f) for f in _IDENTIFYING]
    while True:
        q = select(PatientRow.pid, PatientRow.source_key, *cols).where(PatientRow.pid > last)
        rows = s.execute(q.order_by(PatientRow.pid).limit(_CHUNK)).all()
        if not rows:
            return n
        last = rows[-1][0]
        batch = []
        for pid, source_key, *blobs in rows:
            doc: dict[str, Any] = {"pid": pid, "source_key": new.relookup(source_key)}
            for f, blob in zip(_IDENTIFYING, blobs, strict=True):
                doc[f] = new.encrypt(old.decrypt(blob, aad=_aad(f, pid)), aad=_aad(f, pid))
            batch.append(doc)
        s.execute(update(PatientRow), batch)
        n += len(batch)


def _source_ids(s: Session, table: Any, new: FieldCipher) -> int:
    """Re-hash a table's source-id hashes under the new lookup key (a clear one left by an
    older medtwin is hashed)."""
    name, cut = table.__tablename__, len(SOURCE_KEY_PREFIX)

    def rehash(sid: str) -> str:
        if HASHED.fullmatch(sid):
            return SOURCE_KEY_PREFIX + new.relookup(sid[cut:])
        return new.source_key(name, sid)

    return rewrite_source_ids(s, table, rehash)


def _set(s: Session, name: str, value: str) -> None:
    row = s.get(MetaRow, name)
    if row is None:
        s.add(MetaRow(name=name, value=value))
    else:
        row.value = value


def rekey(store: Any, new_master: bytes, *, actor: str, keyring: str | None = None) -> RekeyResult:
    """Move ``store`` (opened with the current master key) to ``new_master`` in one transaction;
    ``keyring``: the retired audit keyring file (default ``$MEDTWIN_AUDIT_KEYS_RETIRED``)."""
    old: FieldCipher = store._cipher
    keys: AuditKeys = store._audit_keys
    new = FieldCipher(new_master, carried=old.lookup_keys)
    if new.key_check == old.key_check:
        raise StoreError("The new key is the key in use: generate a new one with `medtwin keygen`.")
    if keys.active_id == LEGACY:
        raise StoreError(
            "medtwin rekey needs a separate audit key first: the audit log is signed with the key "
            "derived from the master key, and after the rekey it would be derived from the new "
            "one, which every operator holds again. Create one (`medtwin keygen --out "
            "audit.key`), set MEDTWIN_AUDIT_KEY_FILE=audit.key and run the rekey again. "
            "Nothing was changed."
        )
    keyring = keyring or os.environ.get(RETIRED_ENV)
    with store._tx() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("LOCK TABLE patients, observations, events, store_meta, audit_head "
                           "IN EXCLUSIVE MODE"))  # fmt: skip
        legacy_entries = s.execute(select(exists().where(AuditRow.key_id == LEGACY))).scalar()
        retire = legacy_entries and s.get(MetaRow, LEGACY_AUDIT) is None
        if retire and not keyring:
            raise StoreError(
                "The audit log holds entries signed with the legacy audit key (derived from the "
                "current master key), which must stay verifiable after the rekey: name a "
                f"keyring file to keep it in with --audit-keyring PATH (or {RETIRED_ENV}) and "
                f"keep {RETIRED_ENV} pointing at it afterwards. Nothing was changed."
            )
        res = RekeyResult(
            _patients(s, old, new),
            _source_ids(s, ObservationRow, new),
            _source_ids(s, EventRow, new),
            key_id(old.audit_key) if retire else None,
        )
        _set(s, "key_check", new.key_check)
        _set(s, CARRIED, _wrap(new, new.carried))
        if s.get(MetaRow, LEGACY_AUDIT) is None:
            _set(s, LEGACY_AUDIT, key_id(old.audit_key))
        detail = {"patients": res.patients, "observations": res.observations,
                  "events": res.events, "retired_audit_key": res.retired_audit_key}  # fmt: skip
        store._log(s, actor, "store.rekey", None, "Store", detail)
        s.flush()
        if retire and keyring:  # on disk before the commit: never a committed rekey without it
            add_retired_key(keyring, old.audit_key, "legacy audit key of a replaced master key")
    store._cipher = new
    return res
