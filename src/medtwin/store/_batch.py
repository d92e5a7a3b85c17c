"""Checks of one batch that look only at the batch itself.

A batch that is wrong in itself is refused before anything about stored patients (whether a
source id exists, whether the caller is granted it) is looked at, so the answer to an invalid
batch cannot tell whether a patient exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..data.records import EventRecord, ObservationRecord, PatientRecord
from . import _identity
from ._records import check_event, check_observation

__all__ = ["check_batch"]


def check_batch(
    patients: Sequence[PatientRecord],
    observations: Sequence[ObservationRecord],
    events: Sequence[EventRecord],
    refs: Mapping[str, str] | None = None,
) -> None:
    """Refuse a batch that is wrong in itself -- a malformed record, a patient in the pseudonym
    namespace, one source id sent twice with other content -- without looking at the database,
    so that the answer never depends on what is stored."""
    first: dict[str, dict[str, str | None]] = {}
    for rec in patients:
        _identity.check_patient(rec)
        fields = _identity.fields_of(rec)
        diff = _identity.differing(first.setdefault(rec.source_id, fields), fields)
        if diff:
            raise _identity.IngestRefused(
                f"This batch sends the Patient with source id {rec.source_id[:80]!r} twice, with "
                f"other {', '.join(diff)}. Send each patient once. Nothing of this batch was "
                "stored.",
                reason="batch-conflict", conflict=True, fields=tuple(diff),
            )  # fmt: skip
    _identity.check_names(refs, set(first))
    seen: dict[tuple, tuple] = {}
    for what, group, check in (("observation", observations, check_observation),
                               ("event", events, check_event)):  # fmt: skip
        for r in group:
            values = check(r)
            named = (refs or {}).get(r.patient_ref, r.patient_ref)
            target = _identity.pseudonym_of(r.patient_ref) or _identity.pseudonym_of(named) or named
            if seen.setdefault((what, target, r.source_id), values) != values:
                raise _identity.IngestRefused(
                    f"This batch sends the {what} {r.source_id[:80]!r} of one patient twice, "
                    "with other content. A source id names one record: send a correction "
                    "under a new source id. Nothing of this batch was stored.",
                    reason="batch-conflict", conflict=True,
                )  # fmt: skip
