"""Backup and restore of a store, with the audit chain verified on both sides.

:func:`backup_store` refuses a store whose audit log fails verification (unless ``force``),
appends a ``store.backup`` entry, signs a checkpoint of the log's head and copies the database
(SQLite: online backup API; PostgreSQL: ``pg_dump --format=custom``) to a private (0600) file,
written atomically. Beside it, ``FILE.checkpoint.json`` holds the checkpoint, the file's
SHA-256 and size, the key check value, and a seal (HMAC under a key derived from the master
key) over all of it. Keep a copy of that small file apart from the backups.

:func:`restore_store` refuses a target that holds a medtwin store (unless ``replace``) or
anything else, checks the key against the manifest before it writes anything, restores
(SQLite: backup API; PostgreSQL: ``pg_restore --no-owner --single-transaction`` into an empty
database), opens the restored store and verifies its audit log against the checkpoint: a
backup truncated, edited or swapped after it was written fails (``RestoreResult.ok`` False).
The restored copy is kept for inspection, and marked untrusted by the report.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import StoreError
from . import _backup_io
from ._audit import AuditReport, Checkpoint
from ._crypto import FieldCipher, load_key
from ._engine import database_url

__all__ = ["FORMAT", "BackupResult", "RestoreResult", "backup_store", "manifest_path",
           "restore_store"]  # fmt: skip

FORMAT = "medtwin-backup/1"
SUFFIX = ".checkpoint.json"
_SEAL = "backup-manifest"


def manifest_path(file: str | os.PathLike[str]) -> Path:
    """Where the manifest of backup ``file`` is written: ``FILE.checkpoint.json``."""
    return Path(str(file) + SUFFIX)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Path
    backend: str
    size: int
    checkpoint: Checkpoint | None
    audit: AuditReport


@dataclass(frozen=True)
class RestoreResult:
    """``problems``: what is wrong with the backup file or its manifest; ``report``: the
    audit log of the restored store verified against the backup's checkpoint."""

    backend: str
    created_at: str
    problems: tuple[str, ...]
    report: AuditReport

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.problems


def _sha256(path: Path) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _canonical(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "seal"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _same(a: Path, b: Path | None) -> bool:
    return b is not None and os.path.realpath(a) == os.path.realpath(b)


def _check_out(out: Path, db_file: Path | None) -> Path:
    out = Path(out).expanduser()
    if not out.parent.is_dir():
        raise StoreError(
            f"The backup must go to a file in an existing folder. Got {str(out)!r}; create "
            f"{str(out.parent)!r} first."
        )
    if out.is_dir():
        raise StoreError(f"{str(out)!r} is a folder: name the backup file to write.")
    for name in (out, manifest_path(out)):
        if db_file is not None and any(
            _same(name, Path(str(db_file) + s)) for s in ("", "-journal", "-wal", "-shm")
        ):
            raise StoreError(
                f"{str(out)!r} would overwrite the store's own database file {str(db_file)!r}. "
                "Write the backup elsewhere."
            )
    return out


def _write_private(path: Path, fill) -> None:
    """Write ``path`` atomically with mode 0600: ``fill(tmp_path)``, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        fill(Path(tmp))
        os.chmod(tmp, 0o600)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def backup_store(
    out: str | os.PathLike[str],
    url: str | None = None,
    *,
    key: bytes | None = None,
    force: bool = False,
    actor: str = "system",
) -> BackupResult:
    """Back up the existing store at ``url`` to ``out`` and ``out.checkpoint.json``."""
    from ._store import open_store

    full = database_url(url)
    out = _check_out(Path(out), _backup_io.sqlite_file(full))
    cipher = FieldCipher(load_key(key))
    with open_store(full, key=key, create=False) as store:
        report = store.verify_audit()
        if not report.ok and not force:
            raise StoreError(
                f"Refusing to back up a store whose audit log fails verification ({report}). "
                "Investigate with `medtwin audit verify`; --force backs it up anyway, marked "
                "as failed (a restore of it then reports FAILED)."
            )
        cp = None
        try:
            store.audit(actor, "store.backup", resource="Backup",
                        detail={"file": out.name, "forced": not report.ok})  # fmt: skip
            cp = store.checkpoint()
        except StoreError:
            if report.ok:
                raise  # a forced backup of a broken log goes on without a checkpoint
        backend = store.dialect
        _write_private(out, lambda tmp: _backup_io.dump(full, tmp))
    digest, size = _sha256(out)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "backend": backend,
        "file": out.name,
        "sha256": digest,
        "bytes": size,
        "created_at": datetime.now(UTC).isoformat(),
        "key_check": cipher.key_check,
        "checkpoint": cp.to_dict() if cp else None,
        "audit": str(report),
        "audit_ok": report.ok,
    }
    doc["seal"] = cipher.seal(_SEAL, _canonical(doc))
    manifest = manifest_path(out)
    _write_private(manifest, lambda tmp: tmp.write_text(json.dumps(doc, indent=1) + "\n"))
    return BackupResult(out, manifest, backend, size, cp, report)


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise StoreError(
            f"No checkpoint file {str(path)!r}: `medtwin backup` writes one beside the backup. "
            "Name where you kept it with --checkpoint PATH. Nothing was restored."
        )
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"Cannot read the checkpoint file {str(path)!r}: {exc}.") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StoreError(
            f"{str(path)!r} is not a medtwin backup checkpoint file (format {FORMAT}). "
            "Nothing was restored."
        )
    return doc


def _check_manifest(doc: dict[str, Any], file: Path, cipher: FieldCipher) -> list[str]:
    """What is wrong with the backup file or its manifest (empty: nothing)."""
    problems = []
    if not hmac.compare_digest(str(doc.get("seal")), cipher.seal(_SEAL, _canonical(doc))):
        problems.append("the checkpoint file's seal does not match its content: it was edited")
    digest, size = _sha256(file)
    if digest != doc.get("sha256"):
        problems.append(
            f"the backup file is not the one written at {doc.get('created_at')} (SHA-256 "
            f"differs; {size} bytes, {doc.get('bytes')} written): altered, truncated or swapped"
        )
    if not doc.get("audit_ok", False):
        problems.append(f"the store was backed up with --force after: {doc.get('audit')}")
    return problems


def restore_store(
    file: str | os.PathLike[str],
    url: str | None = None,
    *,
    key: bytes | None = None,
    replace: bool = False,
    manifest: str | os.PathLike[str] | None = None,
    actor: str = "system",
) -> RestoreResult:
    """Restore backup ``file`` into ``url`` and verify the restored audit log."""
    from ._store import open_store

    file = Path(file).expanduser()
    if not file.is_file():
        raise StoreError(f"No backup file {str(file)!r}. Give the path `medtwin backup` wrote.")
    doc = _read_manifest(Path(manifest).expanduser() if manifest else manifest_path(file))
    cipher = FieldCipher(load_key(key))
    if doc.get("key_check") != cipher.key_check:
        raise StoreError(
            "This backup was written by a store with another key: restore it with the key that "
            "store used (MEDTWIN_KEY / MEDTWIN_KEY_FILE). Nothing was restored."
        )
    cp = Checkpoint.from_dict(doc["checkpoint"]) if doc.get("checkpoint") else None
    full = database_url(url)
    backend = "sqlite" if _backup_io.sqlite_file(full) is not None else "postgresql"
    if doc.get("backend") != backend:
        raise StoreError(
            f"This is a {doc.get('backend')} backup; restore it into a {doc.get('backend')} "
            f"database, not {backend}. Nothing was restored."
        )
    if _same(file, _backup_io.sqlite_file(full)):
        raise StoreError("The backup file and the restore target are the same file.")
    problems = _check_manifest(doc, file, cipher)
    state = _backup_io.target_state(full)
    if state == "other":
        raise StoreError(
            "The target database holds tables that are not a medtwin store: restore into a new "
            "file or an empty database. Nothing was restored."
        )
    if state == "store" and not replace:
        raise StoreError(
            "The target already holds a medtwin store: restore into a new file or an empty "
            "database, or add --replace to overwrite it (stop the service first). Nothing was "
            "restored."
        )
    _backup_io.load(full, file, replace=replace)
    with open_store(full, key=key, create=False) as store:
        report = store.verify_audit([cp] if cp else [])
        ok = report.ok and not problems
        try:
            store.audit(actor, "store.restore", resource="Backup",
                        outcome="success" if ok else "failure",
                        detail={"file": file.name, "verified": ok})  # fmt: skip
        except StoreError:
            problems.append("the restore could not be recorded in the audit log")
    return RestoreResult(backend, str(doc.get("created_at")), tuple(problems), report)
