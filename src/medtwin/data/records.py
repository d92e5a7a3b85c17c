"""Plain records that cross the edge between data sources (FHIR, CSV) and the store.

Values are already in their canonical unit (converted once, at ingestion); times are
timezone-aware UTC datetimes. ``source_id`` is the record's identity at its source (FHIR
``identifier`` system|value, else the resource's id), so that the same record sent twice is
recognised and stored once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from ..models import list_models

__all__ = ["EVENT_KINDS", "EventRecord", "ObservationRecord", "PatientRecord"]


class _EventKinds(Mapping[str, str]):
    """Every event kind a registered model takes (its ``EventSpec``), with the unit of its
    amount: read from the model registry on use, so a model a user registers brings its own
    kinds. The published models take ``meal`` (g), ``bolus`` (U), ``basal`` (U/h),
    ``antibiotic`` (1/h) and ``anti_inflammatory`` (a.u./h)."""

    def _kinds(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for cls in list_models():
            for spec in getattr(cls, "events", ()):
                out.setdefault(spec.kind, spec.unit)
        return out

    def __getitem__(self, kind: str) -> str:
        return self._kinds()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds())

    def __len__(self) -> int:
        return len(self._kinds())

    def __repr__(self) -> str:
        return f"EVENT_KINDS({self._kinds()!r})"


# Regimen event kinds and their units: what the twins' regimens are built from.
EVENT_KINDS: Mapping[str, str] = _EventKinds()


@dataclass(frozen=True)
class PatientRecord:
    """A patient as a source describes them. The identifying fields (``mrn``, ``name``,
    ``birth_date``) are encrypted at rest; the store keys the patient by a random pseudonym."""

    source_id: str
    mrn: str | None = None
    name: str | None = None
    birth_date: date | None = None
    gender: str | None = None


@dataclass(frozen=True)
class ObservationRecord:
    """One measurement. ``code`` is the canonical LOINC code (e.g. 2339-0 for glucose in blood,
    whichever unit it came in), ``value`` is in the canonical ``unit``; ``censored`` is -1 for
    a reading below the device's range (``value`` is then the limit), +1 above it, 0 otherwise.
    ``patient_ref`` names the patient: a bundle-local reference (``Patient/123``, a fullUrl)
    until the store resolves it to a pseudonym."""

    source_id: str
    patient_ref: str
    code: str
    time: datetime
    value: float
    unit: str
    censored: int = 0


@dataclass(frozen=True)
class EventRecord:
    """A regimen event (dose, meal, infusion rate): ``kind`` is a key of :data:`EVENT_KINDS`
    and ``amount`` is in that kind's unit."""

    source_id: str
    patient_ref: str
    kind: str
    time: datetime
    amount: float
