"""The store: one object over one database, opened with :func:`open_store`.

Every method that reads or writes patient data takes ``actor`` (the user name) and appends an
audit entry in the same transaction as the read or write, so no patient data moves without its
entry. Writes are all-or-nothing. See the package docstring for the tables and guarantees.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ..data.records import EventRecord, ObservationRecord, PatientRecord
from ..errors import StoreError
from ..loop import Twin, TwinConfig
from . import (
    _audit,
    _batch,
    _deid,
    _identity,
    _records,
    _rekey,
    _twin_update,
    _updates,
)
from ._audit_keys import LEGACY, AuditKeys
from ._batcher import batching_from_env
from ._crypto import FieldCipher, load_key
from ._engine import database_url, lost_race, make_engine, migrate, read_only, require_store
from ._schema import MetaRow, PatientRow, RecommendationRow, TwinRow
from ._source_ids import hash_clear_source_ids
from ._store_audit import AuditMethods
from ._store_twin_batch import TwinBatchMethods
from ._store_users import UserMethods
from ._views import (
    AddResult,
    IngestResult,
    PatientView,
    StoredEvent,
    StoredForecast,
    StoredObservation,
    StoredRecommendation,
    TwinVersionView,
)

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
    return Store(engine, cipher, checkpoint_every=checkpoint_every, audit_keys=keys)


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


class Store(UserMethods, AuditMethods, TwinBatchMethods):
    """Patients, observations, events, twins, forecasts, users and the audit log in one
    database. Use :func:`open_store`; close with :meth:`close` or a ``with`` block."""

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

    # -- patients -------------------------------------------------------------------------

    def add_patient(self, rec: PatientRecord, *, actor: str, confirm: bool = False) -> str:
        """Store a patient; returns its random pseudonym. Idempotent on ``rec.source_id`` for
        the same patient; a stored source id with other identifying fields, or one a clinician
        registered (unless ``actor`` created it, is granted it, or an admin ``confirm``s), is
        refused with PatientConflict -- audited, nothing stored (see ``_identity``)."""

        def run(s: Session) -> str:
            pid, created = _records.add_patient(s, self._cipher, rec, actor=actor, confirm=confirm)
            self._log(
                s,
                actor,
                "patient.create" if created else "patient.read",
                pid,
                "Patient",
                {"created": created},
            )
            return pid

        try:
            return self._retry(run)
        except StoreError as exc:
            self._refused(actor, "patient.create", exc)
            raise

    def lookup_patient(self, ref: str) -> str | None:
        """The pseudonym of the stored patient ``ref`` names, or None: a reference in pseudonym
        form (``p-…``, ``Patient/p-…``, a URL ending in ``/Patient/p-…``) only ever as a stored
        pseudonym, any other as a stored source id (``system|value``, ``Patient/<id>``)."""
        with self._tx() as s:
            return _records.lookup_patient(s, self._cipher, ref)

    def resolve_patient(self, ref: str) -> str | None:
        """Alias of :meth:`lookup_patient`."""
        return self.lookup_patient(ref)

    def check_batch(
        self,
        patients: Sequence[PatientRecord],
        observations: Sequence[ObservationRecord],
        events: Sequence[EventRecord],
        *,
        actor: str,
        refs: Mapping[str, str] | None = None,
        action: str = "ingest",
    ) -> None:
        """Refuse (and audit, as ``action``) a batch that is wrong in itself, before anything
        stored is looked at: so the answer to an invalid batch does not depend on which
        patients exist."""
        try:
            _batch.check_batch(patients, observations, events, refs)
        except StoreError as exc:
            self._refused(actor, action, exc)
            raise

    def _refused(self, actor: str, action: str, exc: StoreError) -> None:
        """Audit a refused write in its own transaction (the write's own was rolled back)."""
        detail: dict[str, Any] = {"reason": getattr(exc, "reason", "invalid")}
        if getattr(exc, "fields", ()):
            detail["fields"] = list(exc.fields)  # type: ignore[attr-defined]
        self.audit(actor, action, patient=getattr(exc, "pid", None), outcome="invalid",
                   detail=detail)  # fmt: skip

    def patient(self, pid: str, *, actor: str) -> PatientView:
        """The patient with decrypted identifying fields."""
        with self._tx() as s:
            view = _records.patient_view(self._cipher, _records.patient_row(s, pid))
            self._log(s, actor, "patient.read", pid, "Patient")
            return view

    def patient_ids(self) -> list[str]:
        with self._tx() as s:
            return list(s.execute(select(PatientRow.pid).order_by(PatientRow.pid)).scalars())

    def twin_shapes(self) -> list[TwinConfig]:
        """One configuration per distinct shape of the stored twins (model, prior, free
        parameters, particles, forecast horizon and cadence, drift), epoch and seed cleared:
        what a starting service warms up (``medtwin.loop.warm_up``). No patient data."""
        with self._read() as s:
            texts = s.execute(select(TwinRow.config)).scalars().all()
        shapes: dict[tuple, TwinConfig] = {}
        for text in texts:
            c = TwinConfig.from_json(text)
            shapes.setdefault((c.model, c.prior, c.free, c.n, c.horizon, c.every, c.drift), c)
        return list(shapes.values())

    # -- observations and events ----------------------------------------------------------

    def add_observations(
        self, pid: str, recs: Sequence[ObservationRecord], *, actor: str, update: bool = True
    ) -> AddResult:
        """Store observations of ``pid`` (all or nothing; the same source id again with the same
        content is a duplicate, with other content an error). Then, if ``update`` and the
        patient has a twin, run :meth:`update_twin` (in its own transaction), which applies
        whatever is pending -- also what an interrupted earlier update left."""
        return self._add(pid, recs, actor, update, _records.add_observations, "observation")

    def add_events(
        self, pid: str, recs: Sequence[EventRecord], *, actor: str, update: bool = True
    ) -> AddResult:
        """Store regimen events of ``pid``, as :meth:`add_observations`."""
        return self._add(pid, recs, actor, update, _records.add_events, "event")

    def _add(self, pid, recs, actor, update, add, what) -> AddResult:
        def run(s: Session) -> tuple[int, int]:
            added, dups = add(s, self._cipher, pid, list(recs))
            self._log(
                s,
                actor,
                f"{what}.create",
                pid,
                what.capitalize(),
                {"added": added, "duplicates": dups},
            )
            return added, dups

        with self._arriving() if update else nullcontext():
            added, dups = self._retry(run)
            # Also after duplicates only: a resend after a crash applies what it left pending.
            version = self._auto_update([pid], actor).get(pid) if update else None
        return AddResult(added, dups, version)

    def observations(
        self,
        pid: str,
        *,
        actor: str,
        code: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StoredObservation]:
        """Observations of ``pid`` by time, optionally of one LOINC ``code`` and time range."""
        with self._tx() as s:
            _records.patient_row(s, pid)
            out = _records.observation_views(s, pid, code, since, until)
            self._log(
                s,
                actor,
                "observation.search",
                pid,
                "Observation",
                {"count": len(out), "code": code},
            )
            return out

    def events(self, pid: str, *, actor: str) -> list[StoredEvent]:
        with self._tx() as s:
            _records.patient_row(s, pid)
            out = _records.event_views(s, pid)
            self._log(s, actor, "event.search", pid, "Event", {"count": len(out)})
            return out

    def ingest(
        self,
        patients: Sequence[PatientRecord],
        observations: Sequence[ObservationRecord],
        events: Sequence[EventRecord],
        *,
        actor: str,
        refs: Mapping[str, str] | None = None,
        update: bool = True,
        confirm: bool = False,
    ) -> IngestResult:
        """Store a batch for several patients in one transaction (nothing if anything fails).

        The batch is first checked in itself (:meth:`check_batch`); each Patient then either is
        new or matches a stored patient under the rules of :meth:`add_patient` (``confirm``:
        an admin has checked that a clinician's record is the same person). A record's
        ``patient_ref`` in pseudonym form (``p-…``, ``Patient/p-…``, ``…/Patient/p-…``) names
        the stored patient with that pseudonym and nothing else; any other is resolved through
        ``refs`` (bundle reference -> patient source id, e.g. a fullUrl to ``system|value``), to
        a patient of this batch by source id, or to a stored patient by source id. A refusal is
        audited (outcome ``invalid``). Afterwards the twins of the patients the batch had data
        for are updated (if ``update``), each in its own transaction."""
        patients, observations, events = list(patients), list(observations), list(events)
        self.check_batch(patients, observations, events, actor=actor, refs=refs)

        def run(s: Session) -> tuple[IngestResult, list[str]]:
            pids: dict[str, str] = {}
            logs: list[tuple[str, str, str, dict | None]] = []  # written last: short lock
            for rec in patients:
                pid, new = _records.add_patient(s, self._cipher, rec, actor=actor, confirm=confirm)
                pids[rec.source_id] = pid
                if new:
                    logs.append(("patient.create", pid, "Patient", None))
            by_pid: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
            groups: tuple[list[Any], list[Any]] = (observations, events)
            for i, group in enumerate(groups):
                for rec in group:
                    by_pid[self._resolve(s, rec.patient_ref, pids, refs)][i].append(rec)
            counts = {"observation": [0, 0], "event": [0, 0]}
            changed = []
            adders: tuple[tuple[str, Any], ...] = (
                ("observation", _records.add_observations),
                ("event", _records.add_events),
            )
            for pid, recs in by_pid.items():
                for (what, add), batch in zip(adders, recs, strict=True):
                    if batch:
                        added, dups = add(s, self._cipher, pid, batch)
                        counts[what][0] += added
                        counts[what][1] += dups
                        changed.append(pid)
                        added_dups = {"added": added, "duplicates": dups}
                        logs.append((f"{what}.create", pid, what.capitalize(), added_dups))
            for action, pid, resource, detail in logs:
                self._log(s, actor, action, pid, resource, detail)
            created = sum(1 for a, *_ in logs if a == "patient.create")
            res = IngestResult(
                pids, created, AddResult(*counts["observation"]), AddResult(*counts["event"])
            )
            return res, list(dict.fromkeys(changed))

        with self._arriving() if update else nullcontext():
            try:
                res, changed = self._retry(run)
            except StoreError as exc:
                self._refused(actor, "ingest", exc)
                raise
            if update and changed:
                res = IngestResult(
                    res.patients,
                    res.created,
                    res.observations,
                    res.events,
                    self._auto_update(changed, actor),
                )
        return res

    def _resolve(
        self, s: Session, ref: str, batch: dict[str, str], refs: Mapping[str, str] | None
    ) -> str:
        # A reference in pseudonym form is never looked up in the bundle's references, and no
        # patient of a batch has a source id in that form: it names a stored pseudonym only.
        named = ref if _identity.pseudonym_of(ref) else (refs or {}).get(ref, ref)
        pid = batch.get(named) or _records.lookup_patient(s, self._cipher, named)
        if pid is not None:
            return pid
        raise StoreError(
            f"A record refers to patient {ref!r:.80}, which is neither in this batch nor stored. "
            "Send the Patient in the same batch, or refer to a stored patient. Nothing of this "
            "batch was stored."
        )

    # -- twins ----------------------------------------------------------------------------

    def create_twin(self, pid: str, config: TwinConfig, *, actor: str) -> TwinVersionView:
        """Version 0 of ``pid``'s twin (with its prior forecast). Pending observations are
        applied by the next :meth:`update_twin`. Calling again with the same ``config``
        returns version 0; another config is an error. The prior and its forecast are computed
        with no transaction open (see ``_twin_update``)."""
        if not isinstance(config, TwinConfig):
            raise StoreError(f"create_twin() needs a TwinConfig. Got {type(config).__name__}.")
        unit = _updates.unit_of(config)
        detail = {"model": config.model, "version": 0}
        with _twin_update.twin_guard(self.url, pid):
            with self._tx() as s:
                _records.patient_row(s, pid)
                row = _twin_update.existing_twin(s, pid, config)
                if row is not None:
                    self._log(s, actor, "twin.create", pid, "Twin", detail)
                    return _updates.version_view(row, None, config.epoch, unit)
            made = _twin_update.compute_create(config)

            def write(s: Session) -> TwinVersionView:
                # Another process may have created it meanwhile, or be inserting it now: then
                # the insert fails (unique violation) and _retry's second try finds its row.
                _records.patient_row(s, pid)
                row = _twin_update.existing_twin(s, pid, config)
                if row is None:
                    row = _twin_update.write_create(s, pid, config, made)
                self._log(s, actor, "twin.create", pid, "Twin", detail)
                return _updates.version_view(row, None, config.epoch, unit)

            return self._retry(write)

    def update_twin(self, pid: str, *, actor: str) -> TwinVersionView | None:
        """Apply the pending observations and events of ``pid`` as one new twin version (with
        its forecast); None if nothing is pending. Read, compute with no transaction open, then
        write in a short transaction holding the twin's lock if its head has not moved (else
        read and compute again, up to ``_twin_update.TRIES`` times). One update takes at most
        what ``medtwin.limits`` allows; the rest waits for the next update."""
        with _twin_update.twin_guard(self.url, pid):
            return self._update_alone(pid, actor, _twin_update.TRIES)

    def twin(self, pid: str, *, actor: str, version: int | None = None) -> Twin:
        """The twin of ``pid`` at ``version`` (latest if None), restored so that further
        assimilation gives the same numbers as an uninterrupted run."""
        with self._tx() as s:
            stored = _updates.read_stored(s, pid, version)
            self._log(s, actor, "twin.read", pid, "Twin", {"version": stored.version})
        return _updates.restore(stored)  # no transaction open: others go on meanwhile

    def twin_versions(self, pid: str, *, actor: str) -> list[TwinVersionView]:
        with self._tx() as s:
            out = _updates.versions(s, pid)
            self._log(s, actor, "twin.search", pid, "TwinVersion", {"count": len(out)})
            return out

    def forecasts(self, pid: str, *, actor: str, limit: int | None = None) -> list[StoredForecast]:
        """The stored forecasts of ``pid``, newest first."""
        with self._tx() as s:
            out = _updates.forecasts(s, pid, limit)
            self._log(s, actor, "forecast.search", pid, "Forecast", {"count": len(out)})
            return out

    def add_recommendation(self, pid: str, payload: dict[str, Any], *, actor: str) -> int:
        """Store a recommendation (a JSON document) for ``pid``; returns its id."""
        try:
            text = json.dumps(payload, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"A recommendation must be JSON. Got {payload!r}: {exc}.") from None
        with self._tx() as s:
            _records.patient_row(s, pid)
            row = RecommendationRow(
                pid=pid, created_at=datetime.now(UTC), actor=actor, payload=text
            )
            s.add(row)
            s.flush()
            self._log(s, actor, "recommendation.create", pid, f"Recommendation/{row.id}")
            return row.id

    def recommendations(self, pid: str, *, actor: str) -> list[StoredRecommendation]:
        with self._tx() as s:
            _records.patient_row(s, pid)
            rows = s.execute(
                select(RecommendationRow)
                .where(RecommendationRow.pid == pid)
                .order_by(RecommendationRow.id)
            ).scalars()
            out = [
                StoredRecommendation(r.id, r.pid, r.created_at, r.actor, json.loads(r.payload))
                for r in rows
            ]
            self._log(s, actor, "recommendation.search", pid, "Recommendation", {"count": len(out)})
            return out

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
