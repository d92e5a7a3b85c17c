"""The audit log on SQLite and PostgreSQL: every read and write of patient data leaves an entry;
verify catches an edited, a deleted, a reordered and a truncated entry and forged checkpoints;
concurrent writers keep one valid chain; entries export as FHIR R4 AuditEvents."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from sqlalchemy import text

from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.errors import StoreError
from medtwin.store import Checkpoint, open_store

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def sql(store, stmt, **params):
    with store._engine.begin() as conn:
        res = conn.execute(text(stmt), params)
        return res.all() if res.returns_rows else None


def fill(store, n=10):
    """n audit entries: a patient created, then reads."""
    pid = store.add_patient(PatientRecord("Patient/a", name="Ann"), actor="alice")
    for _ in range(n - 1):
        store.patient(pid, actor="bob")
    return pid


def test_every_read_and_write_of_patient_data_is_logged(store):
    pid = store.add_patient(PatientRecord("Patient/a", name="Ann"), actor="alice")
    rec = ObservationRecord("o1", "Patient/a", "2339-0", T0, 101.0, "mg/dL")
    store.add_observations(pid, [rec], actor="alice")
    store.add_observations(pid, [rec], actor="alice")
    store.observations(pid, actor="bob")
    store.events(pid, actor="bob")
    store.patient(pid, actor="carol")
    store.audit(
        "mallory", "patient.read", patient=pid, outcome="denied", detail={"reason": "no grant"}
    )
    got = [(e.seq, e.actor, e.action, e.patient, e.outcome) for e in store.audit_entries()]
    assert got == [
        (1, "alice", "patient.create", pid, "success"),
        (2, "alice", "observation.create", pid, "success"),
        (3, "alice", "observation.create", pid, "success"),
        (4, "bob", "observation.search", pid, "success"),
        (5, "bob", "event.search", pid, "success"),
        (6, "carol", "patient.read", pid, "success"),
        (7, "mallory", "patient.read", pid, "denied"),
    ]
    entries = store.audit_entries()
    assert entries[1].detail == {"added": 1, "duplicates": 0}
    assert entries[2].detail == {"added": 0, "duplicates": 1}
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert [e.seq for e in store.audit_entries(actor="bob")] == [4, 5]
    assert [e.seq for e in store.audit_entries(action="observation.")] == [2, 3, 4]
    assert [e.seq for e in store.audit_entries(after_seq=5, limit=1)] == [6]
    assert store.verify_audit().ok
    with pytest.raises(StoreError, match="outcome"):
        store.audit("x", "y", outcome="maybe")


def test_verify_reports_an_edited_entry(store):
    fill(store)
    sql(store, "UPDATE audit_log SET actor='eve' WHERE seq=4")
    report = store.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 4)
    assert "altered" in report.reason


def test_a_chain_rewritten_without_the_key_does_not_verify(store):
    from medtwin.store._audit import entry_hash
    from medtwin.store._schema import AuditRow

    fill(store)
    sql(store, "UPDATE audit_log SET actor='eve' WHERE seq=6")

    def rewrite(key):  # recompute the chain from entry 6 on, consistently, with ``key``
        rows = sql(
            store,
            "SELECT seq, time, actor, action, patient, resource, outcome, detail "
            "FROM audit_log WHERE seq >= 6 ORDER BY seq",
        )
        prev = sql(store, "SELECT hash FROM audit_log WHERE seq=5")[0][0]
        for r in rows:
            t = datetime.fromisoformat(r[1]) if isinstance(r[1], str) else r[1]  # SQLite: text
            t = t if t.tzinfo else t.replace(tzinfo=UTC)
            row = AuditRow(
                seq=r[0],
                time=t,
                actor=r[2],
                action=r[3],
                patient=r[4],
                resource=r[5],
                outcome=r[6],
                detail=r[7],
                prev_hash=prev,
            )
            prev = entry_hash(key, row)
            sql(
                store,
                "UPDATE audit_log SET prev_hash=:p, hash=:h WHERE seq=:s",
                p=row.prev_hash,
                h=prev,
                s=r[0],
            )
        sql(store, "UPDATE audit_head SET hash=:h", h=prev)

    rewrite(b"guessed key")  # a plain hash chain rewritten like this would verify
    report = store.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 6)
    rewrite(store._cipher.audit_key)  # control: only the holder of the key can do it
    assert store.verify_audit().ok


def test_verify_reports_a_deleted_entry(store):
    fill(store)
    sql(store, "DELETE FROM audit_log WHERE seq=5")
    report = store.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert "missing" in report.reason and report.entries == 9


def test_verify_reports_reordered_entries(store):
    fill(store)
    sql(store, "UPDATE audit_log SET seq=-1 WHERE seq=3")
    sql(store, "UPDATE audit_log SET seq=3 WHERE seq=7")
    sql(store, "UPDATE audit_log SET seq=7 WHERE seq=-1")
    report = store.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_verify_reports_a_truncation_by_the_head_and_by_a_checkpoint(store):
    fill(store)
    cp = store.checkpoint()
    assert (cp.seq, cp.hash) == (10, store.audit_entries()[-1].hash)
    assert store.checkpoint() == cp  # the head has not moved: the same checkpoint
    sql(store, "DELETE FROM audit_log WHERE seq > 7")
    report = store.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 8)
    assert "truncated" in report.reason
    # Also rewriting the head to the new last entry still leaves the signed checkpoint.
    last = sql(store, "SELECT hash FROM audit_log WHERE seq=7")[0][0]
    sql(store, "UPDATE audit_head SET seq=7, hash=:h", h=last)
    report = store.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 8)
    assert "checkpoint records entry 10" in report.reason
    # And deleting the checkpoint too is caught by a copy kept outside the database.
    sql(store, "DELETE FROM audit_checkpoints")
    assert store.verify_audit().ok
    outside = Checkpoint.from_dict(cp.to_dict())
    report = store.verify_audit([outside])
    assert (report.ok, report.first_bad_seq) == (False, 8)


def test_forged_checkpoints_and_automatic_checkpoints(db_url, key):
    with open_store(db_url, key=key, checkpoint_every=4) as store:
        fill(store, 9)
        seqs = [r[0] for r in sql(store, "SELECT seq FROM audit_checkpoints ORDER BY seq")]
        assert seqs == [4, 8]
        assert store.verify_audit().checkpoints == 2
        cp = store.checkpoint()
        assert cp.seq == 9 and store.verify_audit().checkpoints == 3
        # A checkpoint not signed with this store's key is refused.
        forged = Checkpoint(cp.seq, cp.hash, cp.time, "0" * 64)
        report = store.verify_audit([forged])
        assert report.first_bad_seq == 9 and "invalid signature" in report.reason
        sql(store, "UPDATE audit_checkpoints SET signature=:s WHERE seq=8", s="ab" * 32)
        report = store.verify_audit()
        assert report.first_bad_seq == 8 and "invalid signature" in report.reason
        sql(store, "UPDATE audit_checkpoints SET signature=:s WHERE seq=9", s="ab" * 32)
        with pytest.raises(StoreError, match="tampered"):
            store.checkpoint()


def test_concurrent_writers_keep_one_chain(store):
    pid = store.add_patient(PatientRecord("Patient/a"), actor="a")
    errors = []

    def work(i):
        try:
            for _ in range(15):
                store.patient(pid, actor=f"user{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = store.audit_entries()
    assert [e.seq for e in entries] == list(range(1, 62))
    assert store.verify_audit().ok


def test_entries_export_as_fhir_audit_events(store):
    pid = fill(store, 2)
    store.audit(
        "mallory", "observation.read", patient=pid, outcome="denied", detail={"reason": "no grant"}
    )
    store.audit("alice", "user.login")
    store.export_deidentified(actor="rita")
    events = store.audit_events()
    for ev in events:
        AuditEvent.model_validate(ev)  # valid FHIR R4 AuditEvent
    create, read, denied, login = events[:4]
    assert (create["action"], create["subtype"][0]["code"], create["outcome"]) == (
        "C",
        "create",
        "0",
    )
    assert create["entity"][0]["what"]["reference"] == f"Patient/{pid}"
    assert create["agent"][0]["who"]["display"] == "alice"
    assert (read["action"], read["type"]["code"]) == ("R", "rest")
    assert (denied["outcome"], denied["outcomeDesc"]) == ("4", "no grant")
    assert login["type"]["code"] == "110114" and login["action"] == "E"
    assert events[-1]["type"]["code"] == "110106"  # the export
