"""The store's audit log and keys: the methods :class:`~medtwin.store.Store` gets from
:class:`AuditMethods` (append, paged reads, verification, checkpoints, rekey, patient
summaries read with one entry)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from . import _audit, _audit_verify, _fhir_audit, _records, _rekey, _summaries, _updates
from ._store_mixin import StoreMixin
from ._views import StoredForecast, StoredObservation

__all__ = ["AuditMethods"]


class AuditMethods(StoreMixin):
    """The audit log of a :class:`Store` (a mixin: uses ``_tx``, ``_read`` and ``_log``)."""

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
        """Entries by seq; filters: patient (also entries listing it among their detail's
        ``patients``), actor, action (prefix), since, until, after_seq, before_seq, limit,
        newest_first -- applied in the database, in a read-only transaction. The caller audits
        the read (:meth:`audit`: a separate short write)."""
        with self._read() as s:
            return _audit.entries(s, **filters)

    def audit_events(self, **filters: Any) -> list[dict[str, Any]]:
        """:meth:`audit_entries` as FHIR R4 AuditEvent resources."""
        return [_fhir_audit.to_fhir(e) for e in self.audit_entries(**filters)]

    def verify_audit(self, checkpoints: Iterable[_audit.Checkpoint] = ()) -> _audit.AuditReport:
        """Check the whole chain, the head and the checkpoints (stored ones and ``checkpoints``
        kept elsewhere)."""
        with self._read() as s:
            return _audit_verify.verify(s, self._audit_keys, checkpoints)

    def checkpoint(self) -> _audit.Checkpoint:
        """Sign and store the current head of the audit log (keep a copy outside the database
        to detect a truncation that also rewrote the head)."""
        with self._tx() as s:
            return _audit.checkpoint(s, self._audit_keys)

    @property
    def audit_key_id(self) -> str:
        """The id of the key that signs new audit entries ("" = the legacy key derived from
        the master key)."""
        return self._audit_keys.active_id

    def rekey(self, new_key: bytes, *, actor: str, keyring: str | None = None) -> Any:
        """Replace the master key by ``new_key`` in one transaction (see ``_rekey``); this
        store object goes on with the new key. Returns a ``RekeyResult``."""
        return _rekey.rekey(self, new_key, actor=actor, keyring=keyring)

    def patient_summaries(
        self, pids: Sequence[str], *, actor: str, detail: dict[str, Any] | None = None
    ) -> dict[str, _summaries.PatientSummary]:
        """For each of ``pids``: the time of its last observation and of its first applied one,
        and its latest twin version (model, number, time) -- read in one transaction with ONE
        audit entry, ``patient.list``, whose detail lists the pseudonyms (``patients``)."""
        pids = list(dict.fromkeys(pids))
        with self._tx() as s:
            out = _summaries.summaries(s, pids)
            doc = {**(detail or {}), "count": len(pids), _audit.PATIENTS: pids}
            self._log(s, actor, "patient.list", None, "Patient", doc)
            return out

    def skill_data(
        self, pid: str, *, actor: str
    ) -> tuple[list[StoredForecast], list[StoredObservation]]:
        """The stored forecasts (newest first) and the observations of ``pid``, which its skill
        ledger scores, in one transaction with one ``skill.read`` audit entry."""
        with self._tx() as s:
            _records.patient_row(s, pid)
            fcs = _updates.forecasts(s, pid, None)
            obs = _records.observation_views(s, pid)
            detail = {"forecasts": len(fcs), "observations": len(obs)}
            self._log(s, actor, "skill.read", pid, "Forecast", detail)
            return fcs, obs
