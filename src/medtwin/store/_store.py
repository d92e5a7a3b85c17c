"""The store: one object over one database, opened with :func:`open_store`.

Every method that reads or writes patient data takes ``actor`` (the user name) and appends an
audit entry in the same transaction as the read or write, so no patient data moves without its
entry. Writes are all-or-nothing. See the package docstring for the tables and guarantees.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ..errors import StoreError
from . import (
    _audit,
    _deid,
    _rekey,
)
from ._audit_keys import LEGACY, AuditKeys
from ._batcher import batching_from_env
from ._crypto import FieldCipher, load_key
from ._engine import database_url, lost_race, make_engine, migrate, read_only, require_store
from ._schema import MetaRow, PatientRow
from ._source_ids import hash_clear_source_ids
from ._store_audit import AuditMethods
from ._store_models import ModelMethods
from ._store_records import RecordMethods
from ._store_twin_batch import TwinBatchMethods
from ._store_twins import TwinMethods
from ._store_users import UserMethods

__all__ = ["Store", "open_store"]


def open_store(
    url: str | None = None,
    *,
    key: bytes | None = None,
    checkpoint_every: int = 1000,
    create: bool = True,
    audit_key: bytes | None = None,
    retired_audit_keys: Iterable[bytes] | None = None,
) -> Store:
    """Open (and create or migrate) the store at ``url`` -- default ``$MEDTWIN_DB``, else
    ``sqlite:///./medtwin.db``. ``key``: the 32-byte master key (default from
    ``MEDTWIN_KEY`` / ``MEDTWIN_KEY_FILE``). A checkpoint of the audit log is signed every
    ``checkpoint_every`` entries (0: only when :meth:`Store.checkpoint` is called).
    ``create=False``: refuse (StoreError) a SQLite file that does not exist or a database
    without medtwin's schema, instead of creating an empty store there.
    ``audit_key``: the key that signs the audit log (default ``MEDTWIN_AUDIT_KEY`` /
    ``MEDTWIN_AUDIT_KEY_FILE``, else the legacy key derived from the master key);
    ``retired_audit_keys``: earlier audit keys, to verify what they signed (default: the
    keyring file named by ``MEDTWIN_AUDIT_KEYS_RETIRED``). See ``_audit_keys``."""
    master = load_key(key)
    cipher = FieldCipher(master)
    if not (isinstance(checkpoint_every, int) and checkpoint_every >= 0):
        raise StoreError(f"checkpoint_every must be an integer >= 0. Got {checkpoint_every!r}.")
    engine = make_engine(database_url(url), create=create)
    try:
        if not create:
            require_store(engine)
        migrate(engine)
        _check_key(engine, cipher)
        cipher, keys = _rekey.open_keys(
            engine, master, cipher, audit_key=audit_key, retired=retired_audit_keys
        )
        hash_clear_source_ids(engine, cipher)  # once per database: source ids kept as hashes
    except BaseException:
        engine.dispose()
        raise
    store = Store(engine, cipher, checkpoint_every=checkpoint_every, audit_keys=keys)
    store._watch_models()  # the site's imported models, registered in this process
    return store


def _check_key(engine: Engine, cipher: FieldCipher) -> None:
    for _ in range(2):  # a second try reads the value a concurrent first opener wrote
        try:
            with Session(engine) as s, s.begin():
                row = s.get(MetaRow, "key_check")
                if row is None:
                    s.add(MetaRow(name="key_check", value=cipher.key_check))
                elif row.value != cipher.key_check:
                    raise StoreError(
                        "This database was created with another key: the key given (or in "
                        "MEDTWIN_KEY / MEDTWIN_KEY_FILE) does not match. Use the key the store "
                        "was created with."
                    )
            return
        except IntegrityError:
            continue


class Store(RecordMethods, TwinMethods, TwinBatchMethods, UserMethods, AuditMethods, ModelMethods):
    """Patients, observations, events, twins, forecasts, users and the audit log in one
    database. Use :func:`open_store`; close with :meth:`close` or a ``with`` block.

    The methods live in focused mixins, each over the transactions, cipher and audit log
    defined here: records (``_store_records``), twins (``_store_twins``), batched twin
    updates (``_store_twin_batch``), users (``_store_users``), the audit log
    (``_store_audit``), imported models (``_store_models``); this class keeps the connection,
    the transactions and the export."""

    def __init__(
        self,
        engine: Engine,
        cipher: FieldCipher,
        *,
        checkpoint_every: int = 1000,
        audit_keys: AuditKeys | None = None,
    ):
        self._engine = engine
        self._reader = read_only(engine)  # transactions that write nothing: no write lock
        self._cipher = cipher
        self._every = checkpoint_every
        self._audit_keys = audit_keys or AuditKeys(cipher.audit_key, {}, LEGACY)
        self.set_update_batching(batching_from_env())  # concurrent writers' updates: _batcher

    @property
    def url(self) -> str:
        """The database URL (password hidden)."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def close(self) -> None:
        self._unwatch_models()
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as s, s.begin():
            yield s

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A read-only transaction: SQLite ``BEGIN DEFERRED`` (no write lock), PostgreSQL
        ``READ ONLY`` at ``REPEATABLE READ``. For reads that append no audit entry in the same
        transaction (the audit log itself)."""
        with Session(self._reader, expire_on_commit=False) as s, s.begin():
            yield s

    def _retry(self, fn: Any) -> Any:
        """Run ``fn(session)`` in a transaction; once more if a concurrent writer inserted the
        same record first (PostgreSQL unique violation), which the retry then sees, or if
        PostgreSQL aborted it to break a deadlock with one (two processes inserting the same
        records in opposite orders). A deadlock's victim may retry before the other commits
        and then collide with its rows (a unique violation): hence a third try, which sees
        them stored."""
        for _ in range(2):
            try:
                with self._tx() as s:
                    return fn(s)
            except IntegrityError:
                pass
            except OperationalError as exc:
                if not lost_race(exc):
                    raise
        try:
            with self._tx() as s:
                return fn(s)
        except IntegrityError as exc:
            raise StoreError(
                f"The database refused the write ({str(exc.orig).strip()}); nothing was stored."
            ) from None

    def _log(
        self,
        s: Session,
        actor: str,
        action: str,
        patient: str | None = None,
        resource: str | None = None,
        detail: dict[str, Any] | None = None,
        outcome: str = "success",
    ) -> None:
        """Append an audit entry in transaction ``s``."""
        key, every = self._audit_keys, self._every
        _audit.append(s, key, actor=actor, action=action, patient=patient, resource=resource,
                      outcome=outcome, detail=detail, checkpoint_every=every)  # fmt: skip

    # -- research export ------------------------------------------------------------------

    def export_deidentified(
        self,
        *,
        actor: str,
        recipient: str | None = None,
        dates: str = "year",
        max_per_hour: int | None = None,
        seed: int | None = None,
        as_of: date | None = None,
    ) -> dict[str, Any]:
        """The de-identified data set of every patient for ``recipient`` (see ``_deid``):
        ``dates="year"`` is HIPAA Safe Harbor; ``"shift"`` keeps one stored date shift per
        patient and recipient and needs ``recipient``. With ``max_per_hour``, refused with
        :class:`~medtwin.store._deid.ExportLimitReached` (and a denied audit entry) once
        ``actor`` has had that many exports in the last hour."""

        def run(s: Session) -> dict[str, Any]:
            if max_per_hour is not None:
                _deid.check_rate(s, actor, max_per_hour)  # refuse before doing the work
            out = _deid.export(s, self._cipher, recipient=recipient, dates=dates, seed=seed,
                               as_of=as_of)  # fmt: skip
            for pid in s.execute(select(PatientRow.pid).order_by(PatientRow.pid)).scalars():
                self._log(s, actor, "patient.export", pid, "Patient")
            detail = {"patients": len(out["patients"]), "dates": dates, "recipient": recipient}
            self._log(s, actor, "export.deidentified", None, "Export", detail)
            if max_per_hour is not None:  # again under the audit head lock: concurrent exports
                _deid.check_rate(s, actor, max_per_hour, including=1)
            return out

        try:
            return self._retry(run)  # retried if a concurrent export stored the same shift
        except _deid.ExportLimitReached as exc:
            self.audit(actor, "export.deidentified", resource="Export", outcome="denied",
                       detail={"reason": "rate limit", "limit": max_per_hour,
                               "retry_after_s": exc.retry_after_s})  # fmt: skip
            raise
