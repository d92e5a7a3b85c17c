"""What the store hands back: plain frozen records, detached from the database (a stored
forecast is the loop's :class:`~medtwin.loop.StoredForecast`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..loop import StoredForecast

__all__ = [
    "ROLES",
    "AddResult",
    "IngestResult",
    "PatientView",
    "StoredEvent",
    "StoredForecast",
    "StoredObservation",
    "StoredRecommendation",
    "TokenView",
    "TwinVersionView",
    "User",
]

ROLES = ("clinician", "researcher", "admin")


@dataclass(frozen=True)
class PatientView:
    """A stored patient: pseudonym, decrypted identifying fields, gender, when it was stored."""

    pid: str
    mrn: str | None
    name: str | None
    birth_date: date | None
    gender: str | None
    created_at: datetime


@dataclass(frozen=True)
class StoredObservation:
    """A stored observation. ``status``: ``pending`` (no twin version has taken it yet),
    ``applied`` (assimilated by twin ``version``), ``late`` (older than the twin's time when it
    arrived: kept, not assimilated) or ``unobserved`` (a code the twin's model does not
    observe: kept, not assimilated). ``source_id`` is what the store keeps of the record's
    source id: its keyed hash (``h1:`` + hex, see ``FieldCipher.source_key``), never the text,
    which can embed an MRN."""

    id: int
    pid: str
    source_id: str
    code: str
    time: datetime
    value: float
    unit: str
    censored: int
    received_at: datetime
    status: str
    version: int | None


@dataclass(frozen=True)
class StoredEvent:
    """A stored regimen event; ``status`` as for observations (``unused``: the twin's model has
    no input for this kind). ``source_id``: the keyed hash, as for observations."""

    id: int
    pid: str
    source_id: str
    kind: str
    time: datetime
    amount: float
    received_at: datetime
    status: str
    version: int | None


@dataclass(frozen=True)
class AddResult:
    """Records stored by one call, records that were already stored (same source id and same
    content), and the twin version that the call's update produced (None: no update ran)."""

    added: int
    duplicates: int
    twin_version: int | None = None


@dataclass(frozen=True)
class IngestResult:
    """One batch (e.g. a FHIR transaction bundle): source id -> pseudonym of every patient in it,
    how many patients were new, the observations and events stored, and the twin version each
    updated patient reached."""

    patients: dict[str, str]
    created: int
    observations: AddResult
    events: AddResult
    updated: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TwinVersionView:
    """One stored twin version. ``time`` is the ensemble's time (``epoch`` + ``model_time`` in
    the model's time unit); ``report`` is the assimilation report as JSON; ``observations`` and
    ``events`` are the ids of the records this version took."""

    id: int
    pid: str
    version: int
    parent_id: int | None
    parent_version: int | None
    created_at: datetime
    model: str
    model_version: str
    seed: int
    model_time: float
    time: datetime
    report: dict[str, Any]
    observations: tuple[int, ...]
    events: tuple[int, ...]


@dataclass(frozen=True)
class StoredRecommendation:
    id: int
    pid: str
    created_at: datetime
    actor: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class User:
    """A user of the service: ``role`` is one of ``clinician``, ``researcher``, ``admin``; a
    ``disabled`` user's tokens do not authenticate and none can be issued to them."""

    name: str
    role: str
    disabled: bool = False


@dataclass(frozen=True)
class TokenView:
    """An API token as listed: ``id`` is the first 12 hex digits of its stored SHA-256 hash
    (never the token itself); ``state`` is ``live``, ``expired`` or ``revoked``."""

    id: str
    user: str
    label: str | None
    created: datetime
    expires: datetime
    state: str
