"""Who a patient is: the pseudonym namespace and the rules for matching a stored patient.

Pseudonyms (``p-`` + 16 hex digits) are a reserved namespace. A reference in that form -- ``p-…``,
``Patient/p-…`` or a URL ending in ``/Patient/p-…`` (a ``/_history/…`` suffix, letter case and
surrounding spaces aside) -- only ever names the stored patient with that pseudonym, never a
source id or a bundle entry; and no patient may be named in that form (source id, id, fullUrl),
so no record can pose as another patient's pseudonym.

A patient sent again under a stored source id is the same patient (an idempotent resend) only
if its identifying fields agree with the stored ones and the sender may claim it: its creator,
a user granted it, or anyone but a clinician when no clinician created it. Otherwise the batch
is refused with :class:`PatientConflict`; an admin (or the CLI operator) who has checked that a
clinician's record is the same person confirms the match with ``confirm=True``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..data.records import PatientRecord
from ..errors import StoreError
from ._schema import GrantRow, PatientRow, UserRow

__all__ = [
    "IDENTIFYING",
    "IngestRefused",
    "PatientConflict",
    "check_existing",
    "check_names",
    "check_patient",
    "differing",
    "fields_of",
    "pseudonym_of",
]

IDENTIFYING = ("mrn", "name", "birth_date", "gender")
_PSEUDONYM = re.compile(
    r"(?:(?:\S*/)?Patient/)?(p-[0-9a-f]{16})(?:/_history/[^/\s]*)?", re.IGNORECASE
)
_FIX = "Nothing of this batch was stored."


class IngestRefused(StoreError):
    """A patient or batch the store refuses. ``reason`` (for the audit log, never a value):
    ``pseudonym-namespace``, ``batch-conflict``, ``identity-conflict`` or ``claimed``;
    ``conflict`` is True when the request clashes with what is stored or sent (HTTP 409)
    rather than being malformed (422); ``pid`` the stored patient concerned, if any."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        conflict: bool,
        pid: str | None = None,
        fields: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.reason, self.conflict, self.pid, self.fields = reason, conflict, pid, fields


class PatientConflict(IngestRefused):
    """A patient sent under a stored source id that is not (or may not be claimed as) the
    stored patient; ``fields`` names the identifying fields that differ (never their values)."""


def pseudonym_of(ref: Any) -> str | None:
    """The pseudonym (lower case) that ``ref`` names if it is in the pseudonym namespace, else
    None: ``p-…``, ``Patient/p-…``, ``https://…/Patient/p-…`` (``/_history/…`` allowed)."""
    if not isinstance(ref, str):
        return None
    m = _PSEUDONYM.fullmatch(ref.strip())
    return m[1].lower() if m else None


def _reserved(value: str) -> bool:
    return any(pseudonym_of(part) for part in (value, *value.split("|")))


def check_patient(rec: Any) -> None:
    """Refuse a PatientRecord that is malformed or named in the pseudonym namespace."""
    if not (isinstance(rec, PatientRecord) and isinstance(rec.source_id, str) and rec.source_id):
        raise StoreError(f"add_patient() needs a PatientRecord with a source_id. Got {rec!r}.")
    if rec.birth_date is not None and (
        not isinstance(rec.birth_date, date) or isinstance(rec.birth_date, datetime)
    ):
        raise StoreError(f"PatientRecord.birth_date must be a date. Got {rec.birth_date!r}.")
    if _reserved(rec.source_id):
        raise _namespace(f"source id (identifier, id or fullUrl) {rec.source_id[:80]!r}")


def check_names(refs: Mapping[str, str] | None, batch_ids: set[str]) -> None:
    """Refuse a Patient of the batch named (by fullUrl or ``Patient/<id>``) in the namespace."""
    for name, source in (refs or {}).items():
        if source in batch_ids and pseudonym_of(name) is not None:
            raise _namespace(f"fullUrl or id {name[:80]!r}")


def _namespace(what: str) -> IngestRefused:
    return IngestRefused(
        f"A Patient's {what} has the form of a medtwin pseudonym ('p-' and 16 hex digits, "
        "alone or as Patient/p-... or a URL ending in it). That form is reserved for the "
        "pseudonyms medtwin gives, so that no record can pose as another patient. Identify the "
        "patient by its hospital identifier (system|value) or another id; to add data to a "
        f"stored patient, refer to its pseudonym without sending a Patient. {_FIX}",
        reason="pseudonym-namespace",
        conflict=False,
    )


def fields_of(rec: PatientRecord | Any) -> dict[str, str | None]:
    """The identifying fields of a record or a stored view, as comparable strings."""
    birth = rec.birth_date.isoformat() if rec.birth_date is not None else None
    return {"mrn": rec.mrn, "name": rec.name, "birth_date": birth, "gender": rec.gender}


def differing(stored: Mapping[str, str | None], incoming: Mapping[str, str | None]) -> list[str]:
    """The identifying fields ``incoming`` gives otherwise than ``stored`` (a value where the
    stored one is empty counts; a field ``incoming`` leaves empty asserts nothing)."""
    return [f for f in IDENTIFYING if incoming[f] is not None and incoming[f] != stored[f]]


def _role(session: Session, name: str | None) -> str | None:
    row = session.get(UserRow, name) if name else None
    return row.role if row is not None else None


def check_existing(
    session: Session,
    row: PatientRow,
    stored: Mapping[str, str | None],
    rec: PatientRecord,
    *,
    actor: str,
    confirm: bool,
) -> None:
    """Refuse matching ``rec`` to the stored patient ``row`` unless it is the same patient and
    ``actor`` may claim it (see the module docstring)."""
    own = actor == row.created_by or session.get(GrantRow, (actor, row.pid)) is not None
    when = row.created_at.date().isoformat()
    who = f"The Patient with source id {rec.source_id[:80]!r} matches stored patient {row.pid}"
    if not own and _role(session, actor) == "clinician":
        raise PatientConflict(
            f"{who}, registered by another user on {when}, which you have no access to. Ask an "
            f"admin to grant it to you (`medtwin users grant {actor} {row.pid}`). {_FIX}",
            reason="claimed", conflict=True, pid=row.pid,
        )  # fmt: skip
    diff = differing(stored, fields_of(rec))
    if diff:
        raise PatientConflict(
            f"{who}, but its {', '.join(diff)} {'differs' if len(diff) == 1 else 'differ'} from "
            "the stored patient's (values are not shown). A source id names one person: if "
            f"this is that person, send the stored values (GET /patients/{row.pid}); if not, "
            "send the patient under its own identifier. Stored identifying fields are never "
            f"overwritten. {_FIX}",
            reason="identity-conflict", conflict=True, pid=row.pid, fields=tuple(diff),
        )  # fmt: skip
    if not own and not confirm and _role(session, row.created_by) == "clinician":
        raise PatientConflict(
            f"{who}, registered by another user on {when}. An admin who has checked that it is "
            "the same person confirms the merge with `medtwin ingest --confirm-existing` or "
            f"`?confirm=existing`; its data then go to {row.pid}, whose creator keeps access "
            f"(`medtwin users revoke` withdraws it). {_FIX}",
            reason="claimed", conflict=True, pid=row.pid,
        )  # fmt: skip
