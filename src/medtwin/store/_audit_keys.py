"""The audit log's keys: one that signs new entries and checkpoints, and retired ones that only
verify what they signed before a rotation.

Each entry and checkpoint records the id of the key that signed it (``key_id``): ``""`` is the
legacy key, derived from the master key (HKDF, label ``medtwin/v1/audit-hmac``); any other id is
the fingerprint of a separate audit key (:func:`key_id`: 16 hex digits of an HMAC of a fixed
text under the key, which tells nothing about the key). The legacy key is the default, so a
store opened as before keeps working, but whoever holds the master key (every operator) can
then recompute the chain: configure a separate audit key, held by whoever audits.

Where the signing key comes from, first found: ``audit_key=``, ``MEDTWIN_AUDIT_KEY`` (base64 of
32 bytes), the file named by ``MEDTWIN_AUDIT_KEY_FILE``, else the legacy key. Retired keys:
``retired_audit_keys=``, else the keyring file named by ``MEDTWIN_AUDIT_KEYS_RETIRED`` (one
base64 key per line; ``#`` starts a comment). After ``medtwin rekey`` replaced the master key,
the old master's legacy key is such a retired key (the store records its id, so entries with
``key_id ""`` are checked with it).

Rotation: configure the new key as the signing key and move the previous one to the keyring;
the next write appends an ``audit.key_rotate`` entry signed with the previous key that names the
new key's id, then signs with the new key (see ``_audit.append``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from ..errors import StoreError
from ._crypto import decode_key

__all__ = [
    "AUDIT_KEY_ENV",
    "AUDIT_KEY_FILE_ENV",
    "LEGACY",
    "RETIRED_ENV",
    "AuditKeys",
    "add_retired_key",
    "key_id",
    "load_audit_keys",
    "read_keyring",
]

AUDIT_KEY_ENV = "MEDTWIN_AUDIT_KEY"
AUDIT_KEY_FILE_ENV = "MEDTWIN_AUDIT_KEY_FILE"
RETIRED_ENV = "MEDTWIN_AUDIT_KEYS_RETIRED"
LEGACY = ""  # the key_id of the audit key derived from the master key
KEY_BYTES = 32
_HOW = (
    "Create one with `medtwin keygen --out audit.key` (keep it away from the master key and "
    f"the database) and set {AUDIT_KEY_FILE_ENV}=audit.key."
)


def key_id(key: bytes) -> str:
    """The public fingerprint of an audit key: 16 hex digits."""
    return hmac.new(key, b"medtwin/v1/audit-key-id", hashlib.sha256).hexdigest()[:16]


class AuditKeys:
    """The signing key (``active_id``) and every key known by id, retired ones included.
    Holds keys only; does no I/O."""

    def __init__(
        self,
        active: bytes,
        known: Mapping[str, bytes],
        active_id: str,
        legacy_id: str | None = None,
    ) -> None:
        self._active, self._known, self.active_id = active, dict(known), active_id
        self._known[active_id] = active
        self.legacy_id = legacy_id  # set once a rekey retired the legacy key: its id

    def describe(self, kid: str) -> str:
        if kid != LEGACY:
            return f"audit key {kid!r}"
        if self.legacy_id is None:
            return "the legacy audit key (derived from the master key)"
        return (
            f"the legacy audit key of a replaced master key (id {self.legacy_id!r}; `medtwin "
            "rekey` wrote it to the keyring it named)"
        )

    @property
    def active(self) -> bytes:
        return self._active

    def get(self, kid: str) -> bytes | None:
        """The key of id ``kid``, or None if this process does not hold it."""
        return self._known.get(kid)

    def require(self, kid: str, why: str) -> bytes:
        key = self._known.get(kid)
        if key is None:
            raise StoreError(
                f"{why} needs {self.describe(kid)}, which is not configured. Keep every previous "
                f"audit key as a retired key: one base64 key per line in the file named by "
                f"{RETIRED_ENV}. Nothing was written."
            )
        return key

    def missing(self, kid: str) -> str:
        """Why an entry or checkpoint signed with ``kid`` cannot be checked."""
        return (
            f"it was signed with {self.describe(kid)}, which is not configured: add that key "
            f"to the retired audit keys ({RETIRED_ENV})"
        )


def _decode(text: str, where: str) -> bytes:
    return decode_key(text, where, _HOW)


def _file(path_text: str, env: str) -> Path:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise StoreError(f"{env} names {str(path)!r}, which is not a file. {_HOW}")
    return path


def _signing_key(audit_key: bytes | None) -> bytes | None:
    if audit_key is not None:
        if not isinstance(audit_key, bytes) or len(audit_key) != KEY_BYTES:
            raise StoreError(
                f"audit_key must be {KEY_BYTES} raw bytes. Got {type(audit_key).__name__}."
            )
        return audit_key
    if os.environ.get(AUDIT_KEY_ENV):
        return _decode(os.environ[AUDIT_KEY_ENV], f"The environment variable {AUDIT_KEY_ENV}")
    if os.environ.get(AUDIT_KEY_FILE_ENV):
        path = _file(os.environ[AUDIT_KEY_FILE_ENV], AUDIT_KEY_FILE_ENV)
        return _decode(path.read_text(), f"The audit key file {str(path)!r}")
    return None


def read_keyring(path: str | os.PathLike[str]) -> list[bytes]:
    """The keys of a keyring file: one base64 key per line, ``#`` comments, blank lines."""
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if text:
            out.append(_decode(text, f"Line {n} of the audit keyring {str(path)!r}"))
    return out


def load_audit_keys(
    master: bytes,
    legacy: bytes,
    *,
    audit_key: bytes | None = None,
    retired: Iterable[bytes] | None = None,
    legacy_id: str | None = None,
) -> AuditKeys:
    """The audit keys of a store opened with ``master`` (whose derived audit key is
    ``legacy``). ``legacy_id``: the id of the retired key that signed the ``""`` entries, when
    ``medtwin rekey`` replaced the master key that derived it."""
    active = _signing_key(audit_key)
    if active is not None and hmac.compare_digest(active, master):
        raise StoreError(
            "The audit key is the master key: the audit key must be a separate key, so that "
            f"holding the master key is not enough to rewrite the audit log. {_HOW}"
        )
    if retired is None:
        env = os.environ.get(RETIRED_ENV)
        retired = read_keyring(_file(env, RETIRED_ENV)) if env else []
    known = {key_id(k): k for k in retired}
    if legacy_id is None:
        known[LEGACY] = legacy
    elif legacy_id in known:
        known[LEGACY] = known[legacy_id]
    if active is None:
        if legacy_id is not None:
            raise StoreError(
                "This store's master key was replaced (`medtwin rekey`), which requires a "
                f"separate audit key, and none is configured. Set {AUDIT_KEY_FILE_ENV} to the "
                "audit key the rekey ran with."
            )
        return AuditKeys(legacy, known, LEGACY, legacy_id)
    return AuditKeys(active, known, key_id(active), legacy_id)


def add_retired_key(path: str | os.PathLike[str], key: bytes, note: str) -> str:
    """Append ``key`` to the keyring file ``path`` (created with mode 0600), flushed to disk
    before returning; returns its id. A key already there is not added twice."""
    path = Path(path).expanduser()
    if not path.parent.is_dir():
        raise StoreError(
            f"The audit keyring {str(path)!r} must be in an existing folder; create "
            f"{str(path.parent)!r} first."
        )
    kid = key_id(key)
    if path.exists() and kid in {key_id(k) for k in read_keyring(path)}:
        return kid
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        when = datetime.now(UTC).isoformat(timespec="seconds")
        fh.write(f"# {kid}: {note} ({when})\n{base64.b64encode(key).decode()}\n")
        fh.flush()
        os.fsync(fh.fileno())
    return kid
