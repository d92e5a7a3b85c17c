"""``medtwin backup`` / ``medtwin restore`` on SQLite and PostgreSQL (issue 14, finding 11): a
round trip keeps the patients, their data and a verifiable audit chain; the attacks -- a backup
edited, truncated or swapped, a restore over a live store, the wrong key, a tampered store
backed up as if it were sound, a mistyped path -- do not get a silently trusted copy."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import stat
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.store import open_store
from medtwin.store._engine import make_engine

from .conftest import KEY

MRN = "MRN-900001"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ANN = PatientRecord(f"urn:hosp:mrn|{MRN}", mrn=MRN, name="Ann Example",
                    birth_date=date(1961, 7, 14), gender="female")  # fmt: skip


def cli(*args: str, key: bytes = KEY, env: dict | None = None):
    env = {"MEDTWIN_KEY": base64.b64encode(key).decode(), "MEDTWIN_KEY_FILE": "", **(env or {})}
    return CliRunner().invoke(app, list(args), env=env)


def fill(url: str) -> str:
    """A store with one patient, observations, an event, a user and some reads audited."""
    with open_store(url, key=KEY) as s:
        pid = s.add_patient(ANN, actor="adm")
        obs = [ObservationRecord(f"{MRN}|cgm-{i}", pid, "99504-3", T0 + timedelta(minutes=5 * i),
                                 100.0 + i, "mg/dL") for i in range(5)]  # fmt: skip
        s.add_observations(pid, obs, actor="adm", update=False)
        s.add_events(pid, [EventRecord("meal-1", pid, "meal", T0, 40.0)], actor="adm",
                     update=False)  # fmt: skip
        s.add_user("cli1", "clinician")
        s.grant("cli1", pid)
        s.patient(pid, actor="cli1")
    return pid


@pytest.fixture
def target(request, db_url, tmp_path):
    """Another empty database of the same backend as ``db_url``."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def pg_url(postgres_server):
    """A fresh database on the test PostgreSQL server (for the pg_dump-only attacks)."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


pg_target = pg_url  # a second, independent fresh database


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                q = "SELECT name FROM sqlite_master WHERE type = 'table'"
            else:
                q = "SELECT table_name FROM information_schema.tables WHERE table_schema='public'"
            return set(conn.execute(text(q)).scalars())
    finally:
        engine.dispose()


def backup(db_url: str, out: Path, *extra: str):
    return cli("backup", "--out", str(out), "--db", db_url, *extra)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- the round trip ---------------------------------------------------------------------------


def test_a_backup_restores_with_patients_data_and_a_verified_audit_chain(db_url, target, tmp_path):
    pid = fill(db_url)
    out = tmp_path / "store.backup"
    res = backup(db_url, out)
    assert res.exit_code == 0, res.output
    assert mode(out) == 0o600 and mode(Path(f"{out}.checkpoint.json")) == 0o600
    res = cli("restore", str(out), "--db", target)
    assert res.exit_code == 0, res.output
    assert "backup file OK" in res.stdout and "audit log OK" in res.stdout
    with open_store(target, key=KEY, create=False) as s, open_store(db_url, key=KEY) as src:
        view = s.patient(pid, actor="t")
        assert (view.mrn, view.name, view.birth_date) == (MRN, "Ann Example", date(1961, 7, 14))
        assert [o.value for o in s.observations(pid, actor="t")] == [100.0 + i for i in range(5)]
        assert [e.amount for e in s.events(pid, actor="t")] == [40.0]
        assert s.granted("cli1") == {pid}
        assert s.verify_audit().ok
        actions = [e.action for e in s.audit_entries()]
        assert actions.index("store.backup") < actions.index("store.restore")
        assert "store.backup" in [e.action for e in src.audit_entries()]
        # records sent again are recognised in the restored copy (the source-id hashes moved)
        again = ObservationRecord(f"{MRN}|cgm-0", pid, "99504-3", T0, 100.0, "mg/dL")
        assert s.add_observations(pid, [again], actor="t", update=False).duplicates == 1


def test_a_sqlite_backup_taken_while_the_service_writes_is_consistent(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    pid = fill(url)
    stop = threading.Event()

    def writer():
        with open_store(url, key=KEY) as s:
            while not stop.is_set():
                s.patient(pid, actor="cli1")

    th = threading.Thread(target=writer)
    th.start()
    try:
        res = backup(url, tmp_path / "b.db")
    finally:
        stop.set()
        th.join()
    assert res.exit_code == 0, res.output
    res = cli("restore", str(tmp_path / "b.db"), "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert res.exit_code == 0 and "audit log OK" in res.stdout, res.output


# -- restores that must not overwrite ---------------------------------------------------------


def test_a_restore_over_an_existing_store_is_refused(db_url, tmp_path):
    fill(db_url)
    out = tmp_path / "b"
    assert backup(db_url, out).exit_code == 0
    with open_store(db_url, key=KEY) as s:
        s.add_patient(PatientRecord("urn:hosp:mrn|MRN-2", name="Bob"), actor="adm")
        before = s.patient_ids()
    res = cli("restore", str(out), "--db", db_url)
    assert res.exit_code == 2 and "already holds a medtwin store" in res.stderr
    with open_store(db_url, key=KEY) as s:
        assert s.patient_ids() == before  # the patient added after the backup is still there


def test_replace_overwrites_a_store_only_when_asked(db_url, tmp_path):
    pid = fill(db_url)
    out = tmp_path / "b"
    assert backup(db_url, out).exit_code == 0
    with open_store(db_url, key=KEY) as s:
        s.add_patient(PatientRecord("urn:hosp:mrn|MRN-2", name="Bob"), actor="adm")
    res = cli("restore", str(out), "--db", db_url, "--replace")
    assert res.exit_code == 0, res.output
    with open_store(db_url, key=KEY) as s:
        assert s.patient_ids() == [pid] and s.verify_audit().ok


def test_a_restore_over_another_applications_tables_is_refused(db_url, target, tmp_path):
    fill(db_url)
    assert backup(db_url, tmp_path / "b").exit_code == 0
    engine = make_engine(target)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE billing (invoice TEXT)"))
        conn.execute(text("INSERT INTO billing VALUES ('INV-1')"))
    engine.dispose()
    for extra in ([], ["--replace"]):
        res = cli("restore", str(tmp_path / "b"), "--db", target, *extra)
        assert res.exit_code == 2 and "not a medtwin store" in res.stderr
    assert tables(target) == {"billing"}


# -- backups edited after they were written ---------------------------------------------------


def edit_sqlite_backup(path: Path, *sql: str) -> None:
    conn = sqlite3.connect(path)
    try:
        for stmt in sql:
            conn.execute(stmt)
        conn.commit()
    finally:
        conn.close()


TAMPER = {
    "audit-row-changed": ("UPDATE audit_log SET action = 'patient.delete' WHERE seq = 2",),
    "audit-row-deleted": ("DELETE FROM audit_log WHERE seq = 3",),
    "audit-actor-rewritten": ("UPDATE audit_log SET actor = 'nobody' WHERE actor = 'cli1'",),
    "audit-tail-cut-consistently": (
        "DELETE FROM audit_checkpoints",
        "DELETE FROM audit_log WHERE seq > 4",
        "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4)",
    ),
    "observation-value-changed": ("UPDATE observations SET value = 40.0",),
    "patient-deleted-with-its-rows": (
        "PRAGMA foreign_keys = OFF",
        "DELETE FROM observations", "DELETE FROM events", "DELETE FROM grants",
        "DELETE FROM patients",
    ),
    "grant-added": ("INSERT INTO users (name, role, created_at, disabled) "
                    "VALUES ('mallory', 'admin', '2026-01-01 00:00:00', 0)",),
}  # fmt: skip
AUDIT_SEEN = {"audit-row-changed", "audit-row-deleted", "audit-actor-rewritten",
              "audit-tail-cut-consistently"}  # fmt: skip


@pytest.mark.parametrize("case", list(TAMPER))
def test_an_edited_sqlite_backup_restores_as_failed(tmp_path, case):
    url = f"sqlite:///{tmp_path / 's.db'}"
    fill(url)
    out = tmp_path / "b.db"
    assert backup(url, out).exit_code == 0
    edit_sqlite_backup(out, *TAMPER[case])
    target = f"sqlite:///{tmp_path / 'r.db'}"
    res = cli("restore", str(out), "--db", target)
    assert res.exit_code == 1, res.output
    assert "backup FAILED" in res.stdout and "not to be trusted" in res.stderr
    if case in AUDIT_SEEN:  # the audit chain itself, checked against the checkpoint, fails too
        assert "audit log FAILED" in res.stdout
    with open_store(target, key=KEY, create=False) as s:  # the restore itself was recorded
        assert s.audit_entries()[-1].action == "store.restore"
        assert s.audit_entries()[-1].outcome == "failure"


def test_a_swapped_checkpoint_file_does_not_vouch_for_another_backup(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    fill(url)
    assert backup(url, tmp_path / "old.db").exit_code == 0
    with open_store(url, key=KEY) as s:
        s.add_patient(PatientRecord("urn:hosp:mrn|MRN-2", name="Bob"), actor="adm")
    assert backup(url, tmp_path / "new.db").exit_code == 0
    res = cli("restore", str(tmp_path / "new.db"), "--db", f"sqlite:///{tmp_path / 'r.db'}",
              "--checkpoint", str(tmp_path / "old.db.checkpoint.json"))  # fmt: skip
    assert res.exit_code == 1 and "backup FAILED" in res.stdout, res.output


@pytest.mark.parametrize("field", ["sha256", "checkpoint", "bytes", "created_at"])
def test_an_edited_checkpoint_file_is_detected(tmp_path, field):
    url = f"sqlite:///{tmp_path / 's.db'}"
    fill(url)
    out = tmp_path / "b.db"
    assert backup(url, out).exit_code == 0
    edit_sqlite_backup(out, "UPDATE observations SET value = 40.0")
    manifest = Path(f"{out}.checkpoint.json")
    doc = json.loads(manifest.read_text())
    doc[field] = {"sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
                  "checkpoint": None, "bytes": out.stat().st_size + 1,
                  "created_at": "2020-01-01T00:00:00+00:00"}[field]  # fmt: skip
    os.chmod(manifest, 0o600)
    manifest.write_text(json.dumps(doc))
    res = cli("restore", str(out), "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert res.exit_code == 1 and "seal does not match" in res.stdout, res.output


def test_a_truncated_postgresql_dump_restores_nothing(pg_url, pg_target, tmp_path):
    db_url, target = pg_url, pg_target
    fill(db_url)
    out = tmp_path / "b.dump"
    assert backup(db_url, out).exit_code == 0
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    res = cli("restore", str(out), "--db", target)
    assert res.exit_code == 2 and "pg_restore" in res.stderr, res.output
    assert tables(target) == set()  # one transaction: nothing half-restored


# -- keys and tampered sources ----------------------------------------------------------------


def test_a_restore_with_the_wrong_key_is_refused_before_writing(db_url, target, tmp_path):
    fill(db_url)
    assert backup(db_url, tmp_path / "b").exit_code == 0
    res = cli("restore", str(tmp_path / "b"), "--db", target, key=bytes(32))
    assert res.exit_code == 2 and "another key" in res.stderr, res.output
    if target.startswith("sqlite"):
        assert not Path(target.removeprefix("sqlite:///")).exists()
    else:
        assert tables(target) == set()


def test_a_backup_with_the_wrong_key_writes_nothing(db_url, tmp_path):
    fill(db_url)
    res = cli("backup", "--out", str(tmp_path / "b"), "--db", db_url, key=bytes(32))
    assert res.exit_code == 2 and "another key" in res.stderr
    assert list(tmp_path.glob("b*")) == []


def test_a_tampered_store_is_not_backed_up_as_sound(db_url, target, tmp_path):
    fill(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2"))
    engine.dispose()
    res = backup(db_url, tmp_path / "b")
    assert res.exit_code == 2 and "fails verification" in res.stderr
    assert list(tmp_path.glob("b*")) == []
    res = backup(db_url, tmp_path / "b", "--force")  # kept as evidence, marked failed
    assert res.exit_code == 0 and "--force" in res.stderr
    res = cli("restore", str(tmp_path / "b"), "--db", target)
    assert res.exit_code == 1 and "backed up with --force" in res.stdout, res.output


# -- mistyped paths ---------------------------------------------------------------------------


def test_a_backup_of_a_missing_store_is_refused(db_url, tmp_path):
    missing = (f"sqlite:///{tmp_path / 'medtwn.db'}" if db_url.startswith("sqlite")
               else db_url + "_typo")  # fmt: skip
    res = backup(missing, tmp_path / "b")
    assert res.exit_code == 2 and ("No medtwin store" in res.stderr or "does not exist"
                                   in res.stderr)  # fmt: skip
    assert list(tmp_path.glob("b*")) == [] and not (tmp_path / "medtwn.db").exists()


@pytest.mark.parametrize(
    "problem", ["missing-backup", "missing-checkpoint", "not-a-checkpoint", "backup-is-target",
                "missing-target-folder"]
)  # fmt: skip
def test_a_mistyped_restore_path_restores_nothing(tmp_path, problem):
    url = f"sqlite:///{tmp_path / 's.db'}"
    fill(url)
    out = tmp_path / "b.db"
    assert backup(url, out).exit_code == 0
    target = tmp_path / "r.db"
    args = ["restore", str(out), "--db", f"sqlite:///{target}"]
    if problem == "missing-backup":
        args[1] = str(tmp_path / "b.bd")
    elif problem == "missing-checkpoint":
        args += ["--checkpoint", str(tmp_path / "cp.json")]
    elif problem == "not-a-checkpoint":
        (tmp_path / "cp.json").write_text('{"seq": 1}')
        args += ["--checkpoint", str(tmp_path / "cp.json")]
    elif problem == "backup-is-target":
        args[3], target = f"sqlite:///{out}", out
    else:
        args[3], target = f"sqlite:///{tmp_path / 'nodir' / 'r.db'}", tmp_path / "nodir" / "r.db"
    before = out.read_bytes()
    res = cli(*args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert out.read_bytes() == before
    if problem != "backup-is-target":
        assert not target.exists()


@pytest.mark.parametrize("where", ["database-file", "journal", "missing-folder"])
def test_a_backup_never_overwrites_the_live_database(tmp_path, where):
    url = f"sqlite:///{tmp_path / 's.db'}"
    pid = fill(url)
    out = {"database-file": tmp_path / "s.db", "journal": tmp_path / "s.db-journal",
           "missing-folder": tmp_path / "nodir" / "b.db"}[where]  # fmt: skip
    res = backup(url, out)
    assert res.exit_code == 2, res.output
    with open_store(url, key=KEY) as s:
        assert s.patient_ids() == [pid] and s.verify_audit().ok


def test_a_missing_pg_dump_is_a_clear_error(pg_url, tmp_path):
    db_url = pg_url
    fill(db_url)
    (tmp_path / "pgbin").mkdir()
    res = cli("backup", "--out", str(tmp_path / "b"), "--db", db_url,
              env={"MEDTWIN_PG_BIN": str(tmp_path / "pgbin")})  # fmt: skip
    assert res.exit_code == 2 and "pg_dump" in res.stderr and "postgresql-client" in res.stderr
    assert list(tmp_path.glob("b*")) == []


def test_the_database_password_is_not_on_pg_dumps_command_line(pg_url, tmp_path, monkeypatch):
    import subprocess

    db_url = pg_url
    fill(db_url)
    seen = []
    real = subprocess.run

    def spy(args, **kw):
        seen.append((list(args), kw.get("env") or {}))
        return real(args, **kw)

    monkeypatch.setattr(subprocess, "run", spy)
    url = db_url.replace("postgres@", "postgres:s3cret-pw@")  # trust auth accepts any
    res = backup(url, tmp_path / "b")
    assert res.exit_code == 0, res.output
    ((args, env),) = seen
    assert not any("s3cret-pw" in a for a in args) and env.get("PGPASSWORD") == "s3cret-pw"
    assert "s3cret-pw" not in res.output and "s3cret-pw" not in Path(
        f"{tmp_path / 'b'}.checkpoint.json").read_text()  # fmt: skip
