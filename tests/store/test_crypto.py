"""Keys: where they come from, what a missing or wrong key says, and the field cipher."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from medtwin.errors import StoreError
from medtwin.store import generate_key_file, open_store
from medtwin.store._crypto import FieldCipher, load_key


def test_key_sources_in_order(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDTWIN_KEY", raising=False)
    monkeypatch.delenv("MEDTWIN_KEY_FILE", raising=False)
    with pytest.raises(StoreError, match="generate_key_file"):
        load_key()
    path = generate_key_file(tmp_path / "k")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    from_file = base64.b64decode(path.read_text())
    assert len(from_file) == 32
    monkeypatch.setenv("MEDTWIN_KEY_FILE", str(path))
    assert load_key() == from_file
    env_key = bytes(range(1, 33))
    monkeypatch.setenv("MEDTWIN_KEY", base64.b64encode(env_key).decode())
    assert load_key() == env_key
    assert load_key(bytes(32)) == bytes(32)
    with pytest.raises(StoreError, match="will not overwrite"):
        generate_key_file(path)
    monkeypatch.setenv("MEDTWIN_KEY", "not base64!")
    with pytest.raises(StoreError, match="MEDTWIN_KEY must be base64"):
        load_key()
    monkeypatch.setenv("MEDTWIN_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(StoreError, match="Got 5 bytes"):
        load_key()
    with pytest.raises(StoreError, match="32 raw bytes"):
        load_key(b"short")
    monkeypatch.delenv("MEDTWIN_KEY")
    monkeypatch.setenv("MEDTWIN_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(StoreError, match="not a file"):
        load_key()


def test_open_store_without_a_key_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDTWIN_KEY", raising=False)
    monkeypatch.delenv("MEDTWIN_KEY_FILE", raising=False)
    with pytest.raises(StoreError, match="MEDTWIN_KEY_FILE"):
        open_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert not (tmp_path / "x.db").exists()


def test_field_cipher_binds_ciphertexts_to_their_record():
    c = FieldCipher(bytes(32))
    blob = c.encrypt("Ann", aad="patients.name:p-1")
    assert b"Ann" not in blob and len(blob) == 1 + 12 + 3 + 16
    assert c.encrypt("Ann", aad="patients.name:p-1") != blob  # fresh nonce each time
    assert c.decrypt(blob, aad="patients.name:p-1") == "Ann"
    for wrong in ("patients.name:p-2", "patients.mrn:p-1"):
        with pytest.raises(StoreError, match="does not decrypt"):
            c.decrypt(blob, aad=wrong)
    with pytest.raises(StoreError, match="does not decrypt"):
        FieldCipher(bytes(range(32))).decrypt(blob, aad="patients.name:p-1")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(StoreError, match="does not decrypt"):
        c.decrypt(tampered, aad="patients.name:p-1")
    assert c.encrypt(None, aad="x") is None and c.decrypt(None, aad="x") is None
    # Sub-keys differ per purpose, and the lookup hash is keyed.
    assert c.audit_key != FieldCipher(bytes(range(32))).audit_key
    assert c.lookup("Patient/1") != FieldCipher(bytes(range(32))).lookup("Patient/1")


def test_bad_database_urls(tmp_path, key):
    with pytest.raises(StoreError, match="SQLite or PostgreSQL"):
        open_store("mysql://x@localhost/db", key=key)
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'no' / 'x.db'}", key=key)
    with pytest.raises(StoreError, match="in-memory"):
        open_store("sqlite://", key=key)
    with pytest.raises(StoreError, match="Cannot open the database"):
        open_store("postgresql://postgres@127.0.0.1:1/none", key=key)
