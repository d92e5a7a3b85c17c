"""Users, tokens and grants on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import time

import pytest
from sqlalchemy import text

from medtwin.data.records import PatientRecord
from medtwin.errors import StoreError
from medtwin.store import User


def test_tokens_authenticate_and_are_stored_hashed(store):
    store.add_user("alice", "clinician", actor="admin")
    store.add_user("rita", "researcher", actor="admin")
    token = store.issue_token("alice", actor="admin")
    assert token.startswith("mt_") and len(token) > 40
    assert store.authenticate(token) == User("alice", "clinician")
    assert store.authenticate(token + "x") is None
    assert store.authenticate("") is None
    with store._engine.begin() as conn:
        stored = conn.execute(text('SELECT hash, "user" FROM tokens')).all()
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(), "alice")]
    assert store.users() == [User("alice", "clinician"), User("rita", "researcher")]
    # Revoked and expired tokens no longer authenticate.
    assert store.revoke_tokens("alice", actor="admin") == 1
    assert store.authenticate(token) is None
    short = store.issue_token("rita", ttl_days=0.2 / 86400)  # 0.2 s
    assert store.authenticate(short) == User("rita", "researcher")
    time.sleep(0.3)
    assert store.authenticate(short) is None
    actions = [e.action for e in store.audit_entries()]
    assert actions == ["user.create", "user.create", "token.create", "token.delete", "token.create"]


def test_users_are_validated(store):
    store.add_user("bob", "admin")
    with pytest.raises(StoreError, match="exists already"):
        store.add_user("bob", "admin")
    with pytest.raises(StoreError, match="clinician, researcher, admin"):
        store.add_user("carl", "nurse")
    with pytest.raises(StoreError, match="No user 'nobody'"):
        store.issue_token("nobody")
    with pytest.raises(StoreError, match="> 0 days"):
        store.issue_token("bob", ttl_days=0)


def test_grants(store):
    a = store.add_patient(PatientRecord("Patient/a"), actor="x")
    b = store.add_patient(PatientRecord("Patient/b"), actor="x")
    store.add_user("alice", "clinician")
    store.grant("alice", a, actor="admin")
    store.grant("alice", b, actor="admin")
    store.grant("alice", a, actor="admin")  # again: no change
    assert store.granted("alice") == {a, b}
    store.revoke("alice", a, actor="admin")
    assert store.granted("alice") == {b}
    assert store.granted("nobody") == set()
    with pytest.raises(StoreError, match="No patient"):
        store.grant("alice", "p-ffffffffffffffff")
    with pytest.raises(StoreError, match="No user"):
        store.grant("eve", a)
    grants = [(e.action, e.patient, e.detail) for e in store.audit_entries(action="grant.")]
    assert grants == [
        ("grant.create", a, {"new": True}),
        ("grant.create", b, {"new": True}),
        ("grant.create", a, {"new": False}),
        ("grant.delete", a, {"existed": True}),
    ]
