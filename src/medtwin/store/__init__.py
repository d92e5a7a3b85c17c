"""Edge: the persistent store -- patients, observations, regimen events, twin versions,
forecasts, recommendations, users and the audit log -- in SQLite (a file, the default) or
PostgreSQL (by URL), through SQLAlchemy 2 with Alembic migrations run by :func:`open_store`.

Tables
------
``patients``
    pseudonym ``pid`` (``p-`` + 16 random hex digits, never derived from an identifier), keyed
    hash of the source id, AES-GCM ciphertexts of MRN, name and birth date (record id and
    field bound as associated data), gender.
``observations`` / ``events``
    one row per source record (unique per patient and source id), with ``status`` pending,
    applied, late, unobserved (or unused) and the ``version_id`` of the twin version that took it.
``twins`` / ``twin_versions`` / ``forecasts``
    a patient's twin (configuration, head version; the row updates lock), its immutable
    versions (parent, model, medtwin version, seed, ensemble blob, assimilation report, ids
    applied) and the forecast issued with each (its model, median, bands, 1..99 % quantiles).
    The store keeps these as rows and opaque blobs; what they mean -- configuration, model,
    filter, the update step -- is ``medtwin.loop``'s.
``recommendations``, ``users``, ``tokens`` (SHA-256 hashes only), ``grants``
``imported_models``
    the site's imported models (an SBML document's bytes and SHA-256, its mapping document,
    who imported it and when), registered in the process's model registry on open and on a
    registry miss (``_store_models``).
``audit_log`` / ``audit_head`` / ``audit_checkpoints``
    the HMAC-keyed hash chain, its head and signed checkpoints (see ``_audit``).
``store_meta``
    a key check value (never the key); after a rekey, the replaced lookup keys (encrypted
    under the current key) and the id of the retired legacy audit key.

Guarantees
----------
* Keys never reach the database: the master key comes from ``key=``, ``MEDTWIN_KEY`` or
  ``MEDTWIN_KEY_FILE``; the field and lookup keys are derived from it (HKDF). The audit key is
  separate (``audit_key=``, ``MEDTWIN_AUDIT_KEY`` / ``MEDTWIN_AUDIT_KEY_FILE``; else the legacy
  key derived from the master key). Both rotate: ``_audit_keys``, ``_rekey``.
* Every read or write of patient data appends an audit entry in the same transaction.
* Writes are all-or-nothing, including :meth:`Store.ingest` of a batch for many patients.
* Storing the same record again (same source id and content) changes nothing.
* A twin update is one transaction: a process killed mid-update loses no observation and
  applies none twice; versions are numbered 0, 1, ... without gaps, each the child of the one
  before; a restored twin continues with the same numbers as an uninterrupted run.
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

if _TYPE_CHECKING:
    from ..loop import TwinConfig as TwinConfig
    from ._audit import AuditEntry as AuditEntry
    from ._audit import AuditReport as AuditReport
    from ._audit import Checkpoint as Checkpoint
    from ._backup import backup_store as backup_store
    from ._backup import restore_store as restore_store
    from ._batcher import Batching as Batching
    from ._checkpoint_file import append_checkpoint as append_checkpoint
    from ._checkpoint_file import read_checkpoints as read_checkpoints
    from ._crypto import generate_key_file as generate_key_file
    from ._crypto import read_key_file as read_key_file
    from ._deid import EXPORT_LIMIT_PER_HOUR as EXPORT_LIMIT_PER_HOUR
    from ._deid import ExportLimitReached as ExportLimitReached
    from ._engine import refuse_missing as refuse_missing
    from ._fhir_audit import to_fhir as audit_event_to_fhir
    from ._identity import IngestRefused as IngestRefused
    from ._identity import PatientConflict as PatientConflict
    from ._identity import pseudonym_of as pseudonym_of
    from ._store import Store as Store
    from ._store import open_store as open_store
    from ._store_models import ImportedModel as ImportedModel
    from ._summaries import PatientSummary as PatientSummary
    from ._users import MAX_TOKEN_TTL_DAYS as MAX_TOKEN_TTL_DAYS
    from ._users import token_id as token_id
    from ._views import ROLES as ROLES
    from ._views import AddResult as AddResult
    from ._views import IngestResult as IngestResult
    from ._views import PatientView as PatientView
    from ._views import StoredEvent as StoredEvent
    from ._views import StoredForecast as StoredForecast
    from ._views import StoredObservation as StoredObservation
    from ._views import StoredRecommendation as StoredRecommendation
    from ._views import TokenView as TokenView
    from ._views import TwinVersionView as TwinVersionView
    from ._views import User as User

# The names above load on first use (PEP 562): `medtwin audit verify --db MISSING` and the
# like are refused (refuse_missing) before the store, the loop and JAX are imported.
_WHERE = {
    "TwinConfig": ("..loop", "TwinConfig"),
    "AuditEntry": ("._audit", "AuditEntry"),
    "AuditReport": ("._audit", "AuditReport"),
    "Checkpoint": ("._audit", "Checkpoint"),
    "backup_store": ("._backup", "backup_store"),
    "restore_store": ("._backup", "restore_store"),
    "Batching": ("._batcher", "Batching"),
    "append_checkpoint": ("._checkpoint_file", "append_checkpoint"),
    "read_checkpoints": ("._checkpoint_file", "read_checkpoints"),
    "generate_key_file": ("._crypto", "generate_key_file"),
    "read_key_file": ("._crypto", "read_key_file"),
    "EXPORT_LIMIT_PER_HOUR": ("._deid", "EXPORT_LIMIT_PER_HOUR"),
    "ExportLimitReached": ("._deid", "ExportLimitReached"),
    "audit_event_to_fhir": ("._fhir_audit", "to_fhir"),
    "IngestRefused": ("._identity", "IngestRefused"),
    "PatientConflict": ("._identity", "PatientConflict"),
    "pseudonym_of": ("._identity", "pseudonym_of"),
    "Store": ("._store", "Store"),
    "open_store": ("._store", "open_store"),
    "ImportedModel": ("._store_models", "ImportedModel"),
    "PatientSummary": ("._summaries", "PatientSummary"),
    "MAX_TOKEN_TTL_DAYS": ("._users", "MAX_TOKEN_TTL_DAYS"),
    "token_id": ("._users", "token_id"),
    "ROLES": ("._views", "ROLES"),
    "AddResult": ("._views", "AddResult"),
    "IngestResult": ("._views", "IngestResult"),
    "PatientView": ("._views", "PatientView"),
    "StoredEvent": ("._views", "StoredEvent"),
    "StoredForecast": ("._views", "StoredForecast"),
    "StoredObservation": ("._views", "StoredObservation"),
    "StoredRecommendation": ("._views", "StoredRecommendation"),
    "TokenView": ("._views", "TokenView"),
    "TwinVersionView": ("._views", "TwinVersionView"),
    "User": ("._views", "User"),
    "refuse_missing": ("._engine", "refuse_missing"),
}

__all__ = [
    "EXPORT_LIMIT_PER_HOUR",
    "MAX_TOKEN_TTL_DAYS",
    "ROLES",
    "AddResult",
    "AuditEntry",
    "AuditReport",
    "Batching",
    "Checkpoint",
    "ExportLimitReached",
    "ImportedModel",
    "IngestRefused",
    "IngestResult",
    "PatientConflict",
    "PatientSummary",
    "PatientView",
    "Store",
    "StoredEvent",
    "StoredForecast",
    "StoredObservation",
    "StoredRecommendation",
    "TokenView",
    "TwinConfig",
    "TwinVersionView",
    "User",
    "append_checkpoint",
    "audit_event_to_fhir",
    "backup_store",
    "generate_key_file",
    "open_store",
    "pseudonym_of",
    "read_checkpoints",
    "read_key_file",
    "refuse_missing",
    "restore_store",
    "token_id",
]


def __getattr__(name: str) -> object:
    """The re-exported names, each loaded from its module on first use."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = where
    return getattr(_importlib.import_module(module, __name__), attr)
