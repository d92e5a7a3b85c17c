"""Patients, observations and events on SQLite and PostgreSQL: pseudonyms, encryption at rest,
idempotent and all-or-nothing writes, queries, and the migrated schema."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.errors import StoreError
from medtwin.store import AddResult, open_store

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
ANN = PatientRecord(
    "http://hosp.example/mrn|MRN-4711",
    mrn="MRN-4711",
    name="Ann Example",
    birth_date=date(1961, 7, 14),
    gender="female",
)


def obs(i, value=100.0, *, ref="Patient/1", code="99504-3", censored=0):
    return ObservationRecord(
        f"obs-{i}", ref, code, T0 + timedelta(minutes=5 * i), value, "mg/dL", censored
    )


def sql(store, stmt, **params):
    """Raw SQL on the store's database, as someone with database access would run it."""
    with store._engine.begin() as conn:
        res = conn.execute(text(stmt), params)
        return res.all() if res.returns_rows else None


def test_pseudonym_is_random_and_fields_are_encrypted_at_rest(store):
    pid = store.add_patient(ANN, actor="alice")
    assert re.fullmatch(r"p-[0-9a-f]{16}", pid)
    assert store.add_patient(ANN, actor="alice") == pid  # idempotent on the source id
    assert store.resolve_patient(ANN.source_id) == pid
    assert store.resolve_patient("http://hosp.example/mrn|other") is None
    view = store.patient(pid, actor="alice")
    assert (view.mrn, view.name, view.birth_date, view.gender) == (
        "MRN-4711",
        "Ann Example",
        date(1961, 7, 14),
        "female",
    )
    # Nothing identifying in any column of the patients table, as bytes or text.
    rows = sql(store, "SELECT * FROM patients")
    dump = repr(rows).encode() + b"".join(v for r in rows for v in r if isinstance(v, bytes))
    for secret in (b"MRN-4711", b"Ann Example", b"1961-07-14", b"4711", b"hosp.example"):
        assert secret not in dump
    # A second store with the same source id gives another pseudonym: it is not derived.
    assert store.patient_ids() == [pid]


def test_pseudonyms_differ_between_databases(tmp_path, key):
    pids = []
    for i in range(2):
        with open_store(f"sqlite:///{tmp_path / f'{i}.db'}", key=key) as s:
            pids.append(s.add_patient(ANN, actor="a"))
    assert pids[0] != pids[1]


def test_ciphertext_moved_to_another_patient_does_not_decrypt(store):
    a = store.add_patient(ANN, actor="a")
    b = store.add_patient(PatientRecord("other", name="Bob"), actor="a")
    blob = sql(store, "SELECT name FROM patients WHERE pid=:p", p=a)[0][0]
    sql(store, "UPDATE patients SET name=:n WHERE pid=:p", n=blob, p=b)
    assert store.patient(a, actor="a").name == "Ann Example"
    with pytest.raises(StoreError, match="does not decrypt"):
        store.patient(b, actor="a")


def test_observations_are_idempotent_and_all_or_nothing(store):
    pid = store.add_patient(ANN, actor="a")
    assert store.add_observations(pid, [obs(1), obs(2, 110.0)], actor="a") == AddResult(2, 0)
    assert store.add_observations(pid, [obs(2, 110.0), obs(3, 120.0)], actor="a") == AddResult(1, 1)
    # Same source id, other value: an error, and nothing of that batch is stored.
    with pytest.raises(StoreError, match=r"obs-3.*other content"):
        store.add_observations(pid, [obs(4, 130.0), obs(3, 999.0)], actor="a")
    with pytest.raises(StoreError, match="finite"):
        store.add_observations(pid, [obs(5, 1.0), obs(6, float("nan"))], actor="a")
    with pytest.raises(StoreError, match="timezone-aware"):
        store.add_observations(
            pid, [ObservationRecord("n", "p", "1", datetime(2025, 1, 1), 1.0, "x")], actor="a"
        )
    stored = store.observations(pid, actor="a")
    # The store keeps the keyed hash of each source id (it can embed an MRN), not the text.
    keyed = [store._cipher.source_key("observations", f"obs-{i}") for i in (1, 2, 3)]
    assert [o.source_id for o in stored] == keyed
    assert all(k.startswith("h1:") and len(k) == 67 for k in keyed)
    assert [o.value for o in stored] == [100.0, 110.0, 120.0]
    assert all(o.status == "pending" and o.version is None for o in stored)
    assert stored[0].time == T0 + timedelta(minutes=5) and stored[0].time.tzinfo is not None


def test_observation_queries_by_code_and_time(store):
    pid = store.add_patient(ANN, actor="a")
    recs = [obs(i, 100.0 + i) for i in range(1, 7)] + [obs(7, 9.5, code="6690-2")]
    store.add_observations(pid, recs, actor="a")
    got = store.observations(
        pid,
        actor="a",
        code="99504-3",
        since=T0 + timedelta(minutes=10),
        until=T0 + timedelta(minutes=20),
    )
    assert [o.value for o in got] == [102.0, 103.0, 104.0]
    assert [o.code for o in store.observations(pid, actor="a", code="6690-2")] == ["6690-2"]
    # Times given in another timezone mean the same instants.
    other = T0.astimezone(timezone(timedelta(hours=5)))
    later = store.observations(pid, actor="a", since=other + timedelta(minutes=30))
    assert [o.value for o in later] == [106.0, 9.5]


def test_events_are_stored_once_and_validated(store):
    pid = store.add_patient(ANN, actor="a")
    ev = [
        EventRecord("m1", "Patient/1", "meal", T0, 45.0),
        EventRecord("b1", "Patient/1", "bolus", T0, 4.5),
    ]
    assert store.add_events(pid, ev, actor="a") == AddResult(2, 0)
    assert store.add_events(pid, ev[:1], actor="a") == AddResult(0, 1)
    with pytest.raises(StoreError, match="kind"):
        store.add_events(pid, [EventRecord("x", "p", "dinner", T0, 1.0)], actor="a")
    with pytest.raises(StoreError, match=">= 0"):
        store.add_events(pid, [EventRecord("y", "p", "bolus", T0, -1.0)], actor="a")
    got = store.events(pid, actor="a")
    assert [(e.kind, e.amount) for e in got] == [("meal", 45.0), ("bolus", 4.5)]


def test_unknown_patient_is_a_clear_error(store):
    with pytest.raises(StoreError, match="No patient with pseudonym 'p-0000000000000000'"):
        store.add_observations("p-0000000000000000", [obs(1)], actor="a")
    with pytest.raises(StoreError, match="No patient"):
        store.patient("nope", actor="a")


def test_ingest_is_one_transaction_over_several_patients(store):
    bob = PatientRecord("Patient/b", name="Bob")
    cat = PatientRecord("Patient/c", name="Cat")
    res = store.ingest(
        [bob, cat],
        [obs(1, ref="Patient/b"), obs(2, ref="urn:uuid:c"), obs(3, ref="Patient/b")],
        [EventRecord("e1", "Patient/c", "meal", T0, 30.0)],
        actor="importer",
        refs={"urn:uuid:c": "Patient/c"},
    )
    assert res.created == 2 and set(res.patients) == {"Patient/b", "Patient/c"}
    assert res.observations == AddResult(3, 0) and res.events == AddResult(1, 0)
    b, c = res.patients["Patient/b"], res.patients["Patient/c"]
    assert len(store.observations(b, actor="a")) == 2
    assert len(store.observations(c, actor="a")) == 1
    # A batch with one bad reference stores nothing, not even its new patient.
    with pytest.raises(StoreError, match="Patient/zzz"):
        store.ingest(
            [PatientRecord("Patient/d")],
            [obs(9, ref="Patient/d"), obs(10, ref="Patient/zzz")],
            [],
            actor="importer",
        )
    assert store.resolve_patient("Patient/d") is None
    assert len(store.patient_ids()) == 2
    # Sending the same bundle again changes nothing; stored pseudonyms resolve too.
    again = store.ingest(
        [bob], [obs(1, ref="Patient/b"), obs(4, ref=f"Patient/{c}")], [], actor="importer"
    )
    assert again.created == 0 and again.observations == AddResult(1, 1)
    assert len(store.observations(c, actor="a")) == 2


def test_recommendations_round_trip(store):
    pid = store.add_patient(ANN, actor="a")
    rid = store.add_recommendation(pid, {"bolus_u": 2.5, "why": ["high"]}, actor="dr")
    recs = store.recommendations(pid, actor="dr")
    assert [(r.id, r.actor, r.payload) for r in recs] == [
        (rid, "dr", {"bolus_u": 2.5, "why": ["high"]})
    ]
    with pytest.raises(StoreError, match="JSON"):
        store.add_recommendation(pid, {"x": object()}, actor="dr")


def test_migrations_match_the_tables_and_reopen_keeps_data(db_url, key):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from medtwin.store._schema import Base

    with open_store(db_url, key=key) as s:
        pid = s.add_patient(ANN, actor="a")
    with open_store(db_url, key=key) as s:  # second open: already at head
        assert s.patient_ids() == [pid]
        with s._engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert diff == []
    assert rev == "0004"


def test_a_database_from_a_newer_medtwin_is_refused_and_left_as_it_is(db_url, key):
    from medtwin.store._engine import database_url, make_engine

    with open_store(db_url, key=key) as s:
        pid = s.add_patient(ANN, actor="a")
        with s._engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(StoreError, match=r"revision '0099', which this medtwin does not know "
                                         r"\(it knows up to 0004\)\. Upgrade medtwin"):  # fmt: skip
        open_store(db_url, key=key)
    engine = make_engine(database_url(db_url))
    try:
        with engine.connect() as conn:  # nothing was migrated down or written
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0099"
            assert conn.execute(text("SELECT pid FROM patients")).scalars().all() == [pid]
    finally:
        engine.dispose()


def test_wrong_key_is_refused(db_url, key):
    with open_store(db_url, key=key):
        pass
    with pytest.raises(StoreError, match="another key"):
        open_store(db_url, key=bytes(32))
