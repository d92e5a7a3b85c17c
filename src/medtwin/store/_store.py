"""The store: one object over one database, opened with :func:`open_store`.

Every method that reads or writes patient data takes ``actor`` (the user name) and appends an
audit entry in the same transaction as the read or write, so no patient data moves without its
entry. Writes are all-or-nothing. See the package docstring for the tables and guarantees.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..data.records import EventRecord, ObservationRecord, PatientRecord
from ..errors import StoreError
from ..twin import Twin
from . import _audit, _deid, _fhir_audit, _records, _updates, _users
from ._crypto import FieldCipher, load_key
from ._engine import database_url, make_engine, migrate
from ._schema import MetaRow, PatientRow, RecommendationRow, TwinRow
from ._twins import TwinConfig
from ._views import (
    AddResult,
    IngestResult,
    PatientView,
    StoredEvent,
    StoredForecast,
    StoredObservation,
    StoredRecommendation,
    TwinVersionView,
    User,
)

__all__ = ["Store", "open_store"]


def open_store(
    url: str | None = None, *, key: bytes | None = None, checkpoint_every: int = 1000
) -> Store:
    """Open (and create or migrate) the store at ``url`` -- default ``$MEDTWIN_DB``, else
    ``sqlite:///./medtwin.db``. ``key``: the 32-byte master key (default from
    ``MEDTWIN_KEY`` / ``MEDTWIN_KEY_FILE``). A checkpoint of the audit log is signed every
    ``checkpoint_every`` entries (0: only when :meth:`Store.checkpoint` is called)."""
    cipher = FieldCipher(load_key(key))
    if not (isinstance(checkpoint_every, int) and checkpoint_every >= 0):
        raise StoreError(f"checkpoint_every must be an integer >= 0. Got {checkpoint_every!r}.")
    engine = make_engine(database_url(url))
    try:
        migrate(engine)
        _check_key(engine, cipher)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, cipher, checkpoint_every=checkpoint_every)


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


class Store:
    """Patients, observations, events, twins, forecasts, users and the audit log in one
    database. Use :func:`open_store`; close with :meth:`close` or a ``with`` block."""

    def __init__(self, engine: Engine, cipher: FieldCipher, *, checkpoint_every: int = 1000):
        self._engine = engine
        self._cipher = cipher
        self._every = checkpoint_every

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

    def _retry(self, fn: Any) -> Any:
        """Run ``fn(session)`` in a transaction; once more if a concurrent writer inserted the
        same record first (PostgreSQL unique violation), which the retry then sees."""
        try:
            with self._tx() as s:
                return fn(s)
        except IntegrityError:
            pass
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
        key, every = self._cipher.audit_key, self._every
        _audit.append(s, key, actor=actor, action=action, patient=patient, resource=resource,
                      outcome=outcome, detail=detail, checkpoint_every=every)  # fmt: skip

    # -- patients -------------------------------------------------------------------------

    def add_patient(self, rec: PatientRecord, *, actor: str) -> str:
        """Store a patient; returns its random pseudonym. Idempotent on ``rec.source_id``."""

        def run(s: Session) -> str:
            pid, created = _records.add_patient(s, self._cipher, rec)
            self._log(
                s,
                actor,
                "patient.create" if created else "patient.read",
                pid,
                "Patient",
                {"created": created},
            )
            return pid

        return self._retry(run)

    def resolve_patient(self, source_id: str) -> str | None:
        """The pseudonym of the patient stored under ``source_id``, or None."""
        with self._tx() as s:
            return _records.find_patient(s, self._cipher, source_id)

    def patient(self, pid: str, *, actor: str) -> PatientView:
        """The patient with decrypted identifying fields."""
        with self._tx() as s:
            view = _records.patient_view(self._cipher, _records.patient_row(s, pid))
            self._log(s, actor, "patient.read", pid, "Patient")
            return view

    def patient_ids(self) -> list[str]:
        with self._tx() as s:
            return list(s.execute(select(PatientRow.pid).order_by(PatientRow.pid)).scalars())

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
            added, dups = add(s, pid, list(recs))
            self._log(
                s,
                actor,
                f"{what}.create",
                pid,
                what.capitalize(),
                {"added": added, "duplicates": dups},
            )
            return added, dups

        added, dups = self._retry(run)
        # Also after duplicates only: a resend after a crash applies what the crash left pending.
        version = self._auto_update([pid], actor).get(pid) if update else None
        return AddResult(added, dups, version)

    def _auto_update(self, pids: Iterable[str], actor: str) -> dict[str, int]:
        out = {}
        for pid in pids:
            with self._tx() as s:
                if s.get(TwinRow, pid) is None:
                    continue
            view = self.update_twin(pid, actor=actor)
            if view is not None:
                out[pid] = view.version
        return out

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
    ) -> IngestResult:
        """Store a batch for several patients in one transaction (nothing if anything fails).

        A record's ``patient_ref`` is resolved, in order: through ``refs`` (bundle reference ->
        patient source id, e.g. a fullUrl to ``system|value``), to a patient of this batch by
        source id, to a stored patient by source id, or as a stored pseudonym (``p-...`` or
        ``Patient/p-...``). Afterwards the twins of the patients the batch had data for are
        updated (if ``update``), each in its own transaction."""

        def run(s: Session) -> tuple[IngestResult, list[str]]:
            pids: dict[str, str] = {}
            logs: list[tuple[str, str, str, dict | None]] = []  # written last: short lock
            for rec in patients:
                pid, new = _records.add_patient(s, self._cipher, rec)
                pids[rec.source_id] = pid
                if new:
                    logs.append(("patient.create", pid, "Patient", None))
            by_pid: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
            for i, group in enumerate((observations, events)):
                for rec in group:
                    by_pid[self._resolve(s, rec.patient_ref, pids, refs)][i].append(rec)
            counts = {"observation": [0, 0], "event": [0, 0]}
            changed = []
            adders = (("observation", _records.add_observations), ("event", _records.add_events))
            for pid, recs in by_pid.items():
                for (what, add), batch in zip(adders, recs, strict=True):
                    if batch:
                        added, dups = add(s, pid, batch)
                        counts[what][0] += added
                        counts[what][1] += dups
                        changed.append(pid)
                        detail = {"added": added, "duplicates": dups}
                        logs.append((f"{what}.create", pid, what.capitalize(), detail))
            for action, pid, resource, detail in logs:
                self._log(s, actor, action, pid, resource, detail)
            created = sum(1 for a, *_ in logs if a == "patient.create")
            res = IngestResult(
                pids, created, AddResult(*counts["observation"]), AddResult(*counts["event"])
            )
            return res, list(dict.fromkeys(changed))

        res, changed = self._retry(run)
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
        source = (refs or {}).get(ref, ref)
        if source in batch:
            return batch[source]
        pid = _records.find_patient(s, self._cipher, source)
        if pid is not None:
            return pid
        bare = source.removeprefix("Patient/")
        if bare.startswith("p-") and s.get(PatientRow, bare) is not None:
            return bare
        raise StoreError(
            f"A record refers to patient {ref!r}, which is neither in this batch nor stored. "
            "Send the Patient in the same batch, or refer to a stored patient. Nothing of this "
            "batch was stored."
        )

    # -- twins ----------------------------------------------------------------------------

    def create_twin(self, pid: str, config: TwinConfig, *, actor: str) -> TwinVersionView:
        """Version 0 of ``pid``'s twin (with its prior forecast). Pending observations are
        applied by the next :meth:`update_twin`. Calling again with the same ``config``
        returns version 0; another config is an error."""
        if not isinstance(config, TwinConfig):
            raise StoreError(f"create_twin() needs a TwinConfig. Got {type(config).__name__}.")
        with self._tx() as s:
            _records.patient_row(s, pid)
            row = _updates.create(s, pid, config)
            self._log(s, actor, "twin.create", pid, "Twin", {"model": config.model, "version": 0})
            return _updates.version_view(row, None, config.epoch, _updates.unit_of(config))

    def update_twin(self, pid: str, *, actor: str) -> TwinVersionView | None:
        """Apply the pending observations and events of ``pid`` as one new twin version (with
        its forecast), in one transaction holding the twin's lock. None if nothing is pending."""
        with self._tx() as s:
            row = _updates.update(s, pid)
            if row is None:
                return None
            config = TwinConfig.from_json(s.get(TwinRow, pid).config)
            report = json.loads(row.report)
            self._log(
                s,
                actor,
                "twin.update",
                pid,
                "Twin",
                {
                    "version": row.version,
                    "used": report["data"]["used"],
                    "late": report["late"],
                    "events": report["events"],
                },
            )
            return _updates.version_view(
                row, row.version - 1, config.epoch, _updates.unit_of(config)
            )

    def twin(self, pid: str, *, actor: str, version: int | None = None) -> Twin:
        """The twin of ``pid`` at ``version`` (latest if None), restored so that further
        assimilation gives the same numbers as an uninterrupted run."""
        with self._tx() as s:
            twin = _updates.load(s, pid, version)
            self._log(s, actor, "twin.read", pid, "Twin", {"version": twin.version})
            return twin

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

    # -- users ----------------------------------------------------------------------------

    def add_user(self, name: str, role: str, *, actor: str = "system") -> None:
        with self._tx() as s:
            _users.add_user(s, name, role)
            self._log(s, actor, "user.create", None, f"User/{name}", {"role": role})

    def users(self) -> list[User]:
        with self._tx() as s:
            return _users.users(s)

    def issue_token(self, name: str, *, ttl_days: float = 30, actor: str = "system") -> str:
        """A new API token for ``name`` (shown once; the store keeps its SHA-256 hash)."""
        with self._tx() as s:
            token = _users.issue_token(s, name, ttl_days)
            self._log(s, actor, "token.create", None, f"User/{name}", {"ttl_days": ttl_days})
            return token

    def revoke_tokens(self, name: str, *, actor: str = "system") -> int:
        with self._tx() as s:
            n = _users.revoke_tokens(s, name)
            self._log(s, actor, "token.delete", None, f"User/{name}", {"revoked": n})
            return n

    def authenticate(self, token: str) -> User | None:
        """The user of a valid token, or None (the caller audits logins and failures)."""
        with self._tx() as s:
            return _users.authenticate(s, token)

    def grant(self, user: str, pid: str, *, actor: str = "system") -> None:
        """Let ``user`` see patient ``pid``."""
        with self._tx() as s:
            new = _users.grant(s, user, pid)
            self._log(s, actor, "grant.create", pid, f"User/{user}", {"new": new})

    def revoke(self, user: str, pid: str, *, actor: str = "system") -> None:
        with self._tx() as s:
            existed = _users.revoke(s, user, pid)
            self._log(s, actor, "grant.delete", pid, f"User/{user}", {"existed": existed})

    def granted(self, user: str) -> set[str]:
        """The pseudonyms ``user`` was granted."""
        with self._tx() as s:
            return _users.granted(s, user)

    # -- audit ----------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        *,
        patient: str | None = None,
        resource: str | None = None,
        outcome: str = "success",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append an entry (logins, denials, API calls). ``outcome``: success, denied,
        invalid, failure or error."""
        with self._tx() as s:
            self._log(
                s, actor, action, patient=patient, resource=resource, outcome=outcome, detail=detail
            )

    def audit_entries(self, **filters: Any) -> list[_audit.AuditEntry]:
        """Entries by seq; filters: patient, actor, action (prefix), since, until, after_seq,
        limit."""
        with self._tx() as s:
            return _audit.entries(s, **filters)

    def audit_events(self, **filters: Any) -> list[dict[str, Any]]:
        """:meth:`audit_entries` as FHIR R4 AuditEvent resources."""
        return [_fhir_audit.to_fhir(e) for e in self.audit_entries(**filters)]

    def verify_audit(self, checkpoints: Iterable[_audit.Checkpoint] = ()) -> _audit.AuditReport:
        """Check the whole chain, the head and the checkpoints (stored ones and ``checkpoints``
        kept elsewhere)."""
        with self._tx() as s:
            return _audit.verify(s, self._cipher.audit_key, checkpoints)

    def checkpoint(self) -> _audit.Checkpoint:
        """Sign and store the current head of the audit log (keep a copy outside the database
        to detect a truncation that also rewrote the head)."""
        with self._tx() as s:
            return _audit.checkpoint(s, self._cipher.audit_key)

    # -- research export ------------------------------------------------------------------

    def export_deidentified(
        self,
        *,
        actor: str,
        dates: str = "shift",
        seed: int | None = None,
        as_of: date | None = None,
    ) -> dict[str, Any]:
        """The Safe Harbor de-identified data set of every patient (see ``_deid``)."""
        with self._tx() as s:
            out = _deid.export(s, self._cipher, dates=dates, seed=seed, as_of=as_of)
            for pid in s.execute(select(PatientRow.pid).order_by(PatientRow.pid)).scalars():
                self._log(s, actor, "patient.export", pid, "Patient")
            self._log(
                s,
                actor,
                "export.deidentified",
                None,
                "Export",
                {"patients": len(out["patients"]), "dates": dates},
            )
            return out
