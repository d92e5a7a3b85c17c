"""Patients, observations and events: the methods :class:`~medtwin.store.Store` gets from
:class:`RecordMethods` (a mixin over the store's transactions, cipher and audit log).

Every read or write of patient data appends its audit entry in the same transaction; writes
are all-or-nothing; a refused write is audited in its own transaction (``_refused``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..data.records import EventRecord, ObservationRecord, PatientRecord
from ..errors import StoreError
from . import _batch, _identity, _records
from ._schema import PatientRow
from ._store_mixin import StoreMixin
from ._views import AddResult, IngestResult, PatientView, StoredEvent, StoredObservation

__all__ = ["RecordMethods"]


class RecordMethods(StoreMixin):
    """Patients, their observations and events, and batches of them (``ingest``)."""

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
