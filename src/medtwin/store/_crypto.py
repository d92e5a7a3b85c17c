"""The store's keys: one 32-byte master key, never written to the database.

From the master key, HKDF-SHA256 (RFC 5869) derives one sub-key per purpose, each under its own
``info`` label, so no key serves two purposes:

* field encryption: AES-256-GCM (NIST SP 800-38D) of the identifying fields (name, birth date,
  MRN). A ciphertext is ``b"\\x01" + 12-byte random nonce + ciphertext + 16-byte tag``; the
  associated data binds it to its table, column and record id, so a ciphertext copied onto
  another patient or into another field does not decrypt.
* source-id lookup: HMAC-SHA256 of a record's source id (``Patient/123``, ``system|value``),
  stored instead of the source id, so the database can find a patient (or an observation or
  event, namespaced by table: :meth:`FieldCipher.source_key`) sent twice without holding the
  identifier.
* audit (legacy): the HMAC-SHA256 key of the hash-chained audit log and of its checkpoints
  when no separate audit key is configured (``_audit_keys``; configure one: whoever holds the
  master key could otherwise rewrite the log).
* file seal: an HMAC over files the store writes outside the database (a backup's manifest),
  so a restore can tell a file changed since (:meth:`FieldCipher.seal`).
* key check: an HMAC of a fixed text, stored once, so opening a store with the wrong key fails
  at once with a clear message instead of later with undecryptable records.

Where the key comes from, first found: the ``key=`` argument, the environment variable
``MEDTWIN_KEY`` (base64 of 32 bytes), the file named by ``MEDTWIN_KEY_FILE`` (base64 text, as
written by :func:`generate_key_file`).

Rotation (``medtwin rekey``, ``_rekey``): the fields are re-encrypted under the new key. The
lookup hashes are one-way and the store keeps no source id in clear, so they cannot be
recomputed from the texts; instead each rekey adds a layer: the new lookup key hashes the old
hash, ``lookup = HMAC(k_n, ... HMAC(k_1, HMAC(k_0, source id)))``, where ``k_n`` derives from
the current master key and ``k_0 .. k_{n-1}`` (from the replaced ones) are kept in the
database encrypted under the current key (``carried``). Every stored hash is recomputed as
``HMAC(k_n, old hash)``, so a replaced master key alone computes no current lookup hash.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import overload

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import StoreError

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "FieldCipher",
    "generate_key_file",
    "load_key",
    "read_key_file",
]

KEY_ENV = "MEDTWIN_KEY"
KEY_FILE_ENV = "MEDTWIN_KEY_FILE"
KEY_BYTES = 32
_FORMAT = b"\x01"  # ciphertext format version
SOURCE_KEY_PREFIX = "h1:"  # keyed source-id hash, format 1
_HOW = (
    'Create a key once with `python -c "from medtwin.store import generate_key_file; '
    "generate_key_file('medtwin.key')\"` (or `medtwin keygen --out medtwin.key`), keep it out "
    f"of the database and its backups, and set {KEY_FILE_ENV}=medtwin.key (or {KEY_ENV} to "
    "its base64 text)."
)


def generate_key_file(path: str | os.PathLike[str]) -> Path:
    """Write a new random 32-byte key as base64 text to ``path`` (mode 0600) and return the path.
    Refuses to overwrite an existing file: a lost key makes the encrypted fields unreadable."""
    path = Path(path)
    if path.exists():
        raise StoreError(
            f"generate_key_file() will not overwrite {str(path)!r}: replacing a key makes every "
            "field encrypted with it unreadable. Choose a new path or remove the file yourself."
        )
    if not path.parent.is_dir():
        raise StoreError(
            f"generate_key_file() needs an existing folder. Got {str(path)!r}; create "
            f"{str(path.parent)!r} first."
        )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
    return path


def decode_key(text: str, where: str, how: str = _HOW) -> bytes:
    """The 32 raw bytes of a base64 key read from ``where`` (for the message; ``how`` says how
    to make a good one)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise StoreError(f"{where} must be base64 text of {KEY_BYTES} bytes. {how}") from None
    if len(raw) != KEY_BYTES:
        raise StoreError(
            f"{where} must hold {KEY_BYTES} bytes (base64). Got {len(raw)} bytes. {how}"
        )
    return raw


def load_key(key: bytes | None = None) -> bytes:
    """The master key: ``key`` if given, else ``MEDTWIN_KEY``, else the file named by
    ``MEDTWIN_KEY_FILE``. Raises :class:`StoreError` saying how to create one if none is set."""
    if key is not None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise StoreError(
                f"The store key must be {KEY_BYTES} raw bytes. Got "
                f"{type(key).__name__} of length {len(key) if hasattr(key, '__len__') else '?'}."
            )
        return key
    if os.environ.get(KEY_ENV):
        return decode_key(os.environ[KEY_ENV], f"The environment variable {KEY_ENV}")
    if os.environ.get(KEY_FILE_ENV):
        path = Path(os.environ[KEY_FILE_ENV]).expanduser()
        if not path.is_file():
            raise StoreError(f"{KEY_FILE_ENV} names {str(path)!r}, which is not a file. {_HOW}")
        return decode_key(path.read_text(), f"The key file {str(path)!r}")
    raise StoreError(f"The store needs an encryption key and none was given. {_HOW}")


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """The 32-byte key in the base64 key file ``path`` (as :func:`generate_key_file` writes)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise StoreError(f"No key file {str(path)!r}. {_HOW}")
    return decode_key(path.read_text(), f"The key file {str(path)!r}")


def _derive(master: bytes, label: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label.encode())
    return hkdf.derive(master)


class FieldCipher:
    """The per-purpose keys derived from one master key, and the lookup keys ``carried`` over
    from the master keys it replaced (oldest first). Holds keys only; does no I/O."""

    def __init__(self, master: bytes, *, carried: tuple[bytes, ...] = ()) -> None:
        self._aead = AESGCM(_derive(master, "medtwin/v1/field-encryption"))
        self._lookup = _derive(master, "medtwin/v1/source-id-lookup")
        self.carried = tuple(carried)
        self._seal = _derive(master, "medtwin/v1/file-seal")
        self.audit_key = _derive(master, "medtwin/v1/audit-hmac")
        self.key_check = hmac.new(
            _derive(master, "medtwin/v1/key-check"), b"medtwin key check", hashlib.sha256
        ).hexdigest()

    @overload
    def encrypt(self, value: str, *, aad: str) -> bytes: ...
    @overload
    def encrypt(self, value: None, *, aad: str) -> None: ...
    def encrypt(self, value: str | None, *, aad: str) -> bytes | None:
        """AES-GCM ciphertext of ``value`` bound to ``aad`` (e.g. ``patients.name:p-...``)."""
        if value is None:
            return None
        nonce = secrets.token_bytes(12)
        return _FORMAT + nonce + self._aead.encrypt(nonce, value.encode(), aad.encode())

    def decrypt(self, blob: bytes | None, *, aad: str) -> str | None:
        """The plaintext of ``blob``; :class:`StoreError` if the key or the binding is wrong."""
        if blob is None:
            return None
        blob = bytes(blob)
        if blob[:1] != _FORMAT or len(blob) < 1 + 12 + 16:
            raise StoreError(f"The encrypted field {aad} is not in a format this medtwin reads.")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], aad.encode()).decode()
        except InvalidTag:
            raise StoreError(
                f"The encrypted field {aad} does not decrypt: either the key is not the one it "
                "was written with, or the ciphertext was altered or moved from another record."
            ) from None

    def with_carried(self, carried: tuple[bytes, ...]) -> FieldCipher:
        """The same master key with these carried lookup keys (oldest first)."""
        new = copy.copy(self)
        new.carried = tuple(carried)
        return new

    @property
    def lookup_keys(self) -> tuple[bytes, ...]:
        """Every layer of the lookup hash, oldest first (the last derives from the master)."""
        return (*self.carried, self._lookup)

    def _fold(self, msg: bytes) -> str:
        keys = self.lookup_keys
        h = hmac.new(keys[0], msg, hashlib.sha256).hexdigest()
        for k in keys[1:]:
            h = hmac.new(k, h.encode(), hashlib.sha256).hexdigest()
        return h

    def relookup(self, old: str) -> str:
        """The lookup hash under this cipher of ``old``, a hash under the cipher this one's
        master key replaced (whose lookup keys are this one's ``carried``)."""
        return hmac.new(self._lookup, old.encode(), hashlib.sha256).hexdigest()

    def lookup(self, source_id: str) -> str:
        """Keyed hash (hex) of a source id: stable for lookups, not reversible without the key."""
        return self._fold(source_id.encode())

    def seal(self, purpose: str, data: bytes) -> str:
        """HMAC-SHA256 (hex) of ``data`` for ``purpose`` (e.g. ``backup-manifest``) under a key
        of its own, so a file written with this key can later be checked for changes."""
        return hmac.new(self._seal, purpose.encode() + b"\0" + data, hashlib.sha256).hexdigest()

    def source_key(self, table: str, source_id: str) -> str:
        """What the store keeps of the source id of a row of ``table`` (``observations``,
        ``events``): ``h1:`` + the HMAC (lookup key) of ``table|source_id``, so the same text
        in two tables gives two values and the value never gives the text back."""
        msg = f"{table}|{source_id}".encode("utf-8", "surrogatepass")
        return SOURCE_KEY_PREFIX + self._fold(msg)
