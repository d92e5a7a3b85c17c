"""The store's tables (SQLAlchemy 2 typed declarative). The migrations in ``migrations/``
create exactly these; a test compares the two.

Times are timezone-aware UTC datetimes (stored as UTC; SQLite keeps them naive, PostgreSQL as
``timestamptz``). Floats are double precision. JSON documents are stored as text.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AuditCheckpointRow",
    "AuditHeadRow",
    "AuditRow",
    "Base",
    "DeidShiftRow",
    "EventRow",
    "ForecastRow",
    "GrantRow",
    "ImportedModelRow",
    "MetaRow",
    "ObservationRow",
    "PatientRow",
    "RecommendationRow",
    "TokenRow",
    "TwinEnsembleRow",
    "TwinRow",
    "TwinVersionRow",
    "UTCDateTime",
    "UserRow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (naive values are refused)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"The store needs timezone-aware datetimes. Got {value!r}.")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PID = String(24)  # "p-" + 16 hex digits
SHA = String(64)  # hex SHA-256 / HMAC-SHA256


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    """Store-wide facts (the key check value)."""

    __tablename__ = "store_meta"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class PatientRow(Base):
    """A patient under a random pseudonym; identifying fields AES-GCM encrypted."""

    __tablename__ = "patients"
    pid: Mapped[str] = mapped_column(PID, primary_key=True)
    source_key: Mapped[str] = mapped_column(SHA, unique=True)  # HMAC of the source id
    mrn: Mapped[bytes | None] = mapped_column(LargeBinary)
    name: Mapped[bytes | None] = mapped_column(LargeBinary)
    birth_date: Mapped[bytes | None] = mapped_column(LargeBinary)
    gender: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(128))  # the actor who created it


class ObservationRow(Base):
    """A measurement; ``status`` pending until a twin version takes it (``version_id``)."""

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("pid", "source_id", name="uq_observations_pid_source"),
        Index("ix_observations_pid_status", "pid", "status"),
        Index("ix_observations_pid_time", "pid", "time"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pid: Mapped[str] = mapped_column(PID, ForeignKey("patients.pid"))
    source_id: Mapped[str] = mapped_column(String(512))
    code: Mapped[str] = mapped_column(String(32))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[float] = mapped_column(Double)
    unit: Mapped[str] = mapped_column(String(32))
    censored: Mapped[int] = mapped_column(SmallInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("twin_versions.id"))


class EventRow(Base):
    """A regimen event (meal, dose, rate); ``version_id`` of the twin version that took it."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("pid", "source_id", name="uq_events_pid_source"),
        Index("ix_events_pid_status", "pid", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pid: Mapped[str] = mapped_column(PID, ForeignKey("patients.pid"))
    source_id: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(32))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    amount: Mapped[float] = mapped_column(Double)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("twin_versions.id"))


class TwinRow(Base):
    """A patient's twin: its configuration and latest version (the row update_twin locks)."""

    __tablename__ = "twins"
    pid: Mapped[str] = mapped_column(PID, ForeignKey("patients.pid"), primary_key=True)
    config: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    head_version: Mapped[int] = mapped_column(Integer)


class TwinVersionRow(Base):
    """One immutable twin version: assimilation report, what it applied (its ensemble, where
    kept, is a :class:`TwinEnsembleRow`)."""

    __tablename__ = "twin_versions"
    __table_args__ = (UniqueConstraint("pid", "version", name="uq_twin_versions_pid_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pid: Mapped[str] = mapped_column(PID, ForeignKey("twins.pid"))
    version: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("twin_versions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    model: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(BigInteger)
    model_time: Mapped[float] = mapped_column(Double)
    report: Mapped[str] = mapped_column(Text)
    applied: Mapped[str] = mapped_column(Text)


class TwinEnsembleRow(Base):
    """The ensemble of a twin version (a compressed npz blob), kept for the head and every
    ``CHECKPOINT_EVERY``-th version (``_updates``): the others are deleted once a child is
    written and restored by making their steps again (bit for bit)."""

    __tablename__ = "twin_ensembles"
    version_id: Mapped[int] = mapped_column(ForeignKey("twin_versions.id"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ForecastRow(Base):
    """The forecast issued with a twin version (the model that issued it, median, bands and
    quantiles with their levels as a compressed npz blob; the version row names the model too)."""

    __tablename__ = "forecasts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pid: Mapped[str] = mapped_column(PID, ForeignKey("twins.pid"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("twin_versions.id"), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    horizon: Mapped[float] = mapped_column(Double)
    observables: Mapped[str] = mapped_column(Text)
    levels: Mapped[str] = mapped_column(Text)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RecommendationRow(Base):
    __tablename__ = "recommendations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pid: Mapped[str] = mapped_column(PID, ForeignKey("patients.pid"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)


class UserRow(Base):
    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false())


class TokenRow(Base):
    """An API token, stored only as its SHA-256 hash."""

    __tablename__ = "tokens"
    hash: Mapped[str] = mapped_column(SHA, primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean)
    label: Mapped[str | None] = mapped_column(String(64))


class GrantRow(Base):
    __tablename__ = "grants"
    user: Mapped[str] = mapped_column(ForeignKey("users.name"), primary_key=True)
    pid: Mapped[str] = mapped_column(PID, ForeignKey("patients.pid"), primary_key=True)


class AuditRow(Base):
    """One audit entry; ``hash`` = HMAC-SHA256(audit key, canonical JSON + ``prev_hash``)."""

    __tablename__ = "audit_log"
    # the export rate limit counts one actor's recent export.deidentified entries
    __table_args__ = (Index("ix_audit_log_actor_action_time", "actor", "action", "time"),)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    patient: Mapped[str | None] = mapped_column(PID, index=True)
    resource: Mapped[str | None] = mapped_column(String(256))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(SHA)
    hash: Mapped[str] = mapped_column(SHA)
    key_id: Mapped[str] = mapped_column(String(32), server_default="")  # "" = master-derived


class AuditHeadRow(Base):
    """The one row that audit writers lock: the last entry's seq and hash."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(SHA)


class AuditCheckpointRow(Base):
    """A signed head: HMAC of (seq, hash, time) under the audit key."""

    __tablename__ = "audit_checkpoints"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(SHA)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    signature: Mapped[str] = mapped_column(SHA)
    key_id: Mapped[str] = mapped_column(String(32), server_default="")


class DeidShiftRow(Base):
    """What a recipient's de-identified exports apply to one patient: the date shift (days)
    and the study id, drawn once and kept, so repeated exports cannot be averaged to recover
    the true dates and a recipient's study ids stay the same from one export to the next."""

    __tablename__ = "deid_shifts"
    researcher: Mapped[str] = mapped_column(String(128), primary_key=True)
    pid: Mapped[str] = mapped_column(PID, ForeignKey("patients.pid"), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    study_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImportedModelRow(Base):
    """A model imported at this site (an SBML document and its mapping document), by name:
    the document's bytes and SHA-256, the mapping (JSON), who imported it and when. What the
    row means -- the model class -- is ``medtwin.data.model_mapping``'s; the store keeps it."""

    __tablename__ = "imported_models"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(SHA)
    document: Mapped[bytes] = mapped_column(LargeBinary)
    mapping: Mapped[str] = mapped_column(Text)
    imported_by: Mapped[str] = mapped_column(String(128))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
