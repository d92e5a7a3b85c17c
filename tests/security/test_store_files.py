"""Attacks on the store's files (issue 14, finding 11): reading the SQLite file as another local
user, reading an MRN out of a stored source id, and pointing the read-only CLI commands at a
mistyped database so that they create an empty store and report it as fine."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.store import open_store
from medtwin.store._engine import make_engine

from .conftest import KEY, collection, glucose, patient_resource

ENV = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}
MRN = "MRN-900001"
T = datetime(2026, 1, 1, tzinfo=UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- the SQLite file and its siblings are private -----------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000])
def test_a_new_store_file_is_not_readable_by_other_users(tmp_path, umask):
    old = os.umask(umask)
    try:
        with open_store(f"sqlite:///{tmp_path / 'm.db'}", key=KEY) as s:
            s.add_user("adm", "admin")
    finally:
        os.umask(old)
    assert mode(tmp_path / "m.db") == 0o600


def test_the_rollback_journal_is_private_while_a_write_is_open(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'm.db'}", key=KEY) as s, s._engine.begin() as conn:
        conn.execute(text("INSERT INTO store_meta (name, value) VALUES ('x', 'y')"))
        journal = tmp_path / "m.db-journal"
        assert journal.exists() and mode(journal) == 0o600


def test_wal_and_shm_files_are_private(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'm.db'}", key=KEY):
        pass
    conn = sqlite3.connect(tmp_path / "m.db")
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("INSERT INTO store_meta (name, value) VALUES ('x', 'y')")
        conn.commit()
        found = {p.name: mode(p) for p in tmp_path.iterdir()}
    finally:
        conn.close()
    assert found.get("m.db-wal") == 0o600 and found.get("m.db-shm") == 0o600, found


def test_an_old_world_readable_store_loses_its_world_access_when_opened(tmp_path):
    path = tmp_path / "m.db"
    with open_store(f"sqlite:///{path}", key=KEY):
        pass
    os.chmod(path, 0o644)  # as an older medtwin created it
    with open_store(f"sqlite:///{path}", key=KEY):
        pass
    assert mode(path) & 0o007 == 0


def test_a_store_created_by_the_cli_is_private(tmp_path):
    res = CliRunner().invoke(
        app, ["users", "add", "adm", "--role", "admin", "--db", f"sqlite:///{tmp_path / 'c.db'}"],
        env=ENV,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert mode(tmp_path / "c.db") == 0o600


# -- source ids are never stored in clear ------------------------------------------------------


def database_text(store) -> bytes:
    """Everything in the database as someone with file or SQL access reads it."""
    if store.dialect == "sqlite":
        db = Path(store._engine.url.database)
        siblings = [db.with_name(db.name + s) for s in ("", "-journal", "-wal")]
        return b"".join(p.read_bytes() for p in siblings if p.exists())
    out = []
    with store._engine.connect() as conn:
        names = conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )).scalars().all()  # fmt: skip
        for name in names:
            out += conn.execute(text(f'SELECT t::text FROM "{name}" t')).scalars().all()
    return "\n".join(out).encode()


def observation(**ident) -> dict:
    res = glucose("Patient/p1", "x")
    del res["identifier"]
    res.update(ident)
    return res


def dose(**ident) -> dict:
    return {
        "resourceType": "MedicationAdministration", "status": "completed",
        "medicationCodeableConcept": {"text": "insulin lispro"},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-01-01T00:20:00Z",
        "dosage": {"dose": {"value": 1.0, "unit": "U", "system": "http://unitsofmeasure.org",
                            "code": "U"}}, **ident,
    }  # fmt: skip


EMBEDDED = {
    "mrn-in-identifier-value": (None, observation(
        identifier=[{"system": "urn:hosp:mrn", "value": f"{MRN}|obs-7"}])),
    "mrn-in-identifier-system": (None, observation(
        identifier=[{"system": f"urn:hosp:{MRN}:cgm", "value": "obs-7"}])),
    "mrn-in-resource-id": (None, observation(id=f"{MRN}-obs-7")),
    "mrn-in-full-url": (f"http://hosp.example/fhir/Observation/{MRN}-obs-7", observation()),
    "mrn-in-dose-identifier": (None, dose(
        identifier=[{"system": "urn:hosp:mrn", "value": f"{MRN}|dose-3"}])),
    "mrn-in-dose-resource-id": (None, dose(id=f"{MRN}-dose-3")),
}  # fmt: skip


@pytest.mark.parametrize("case", list(EMBEDDED))
def test_an_mrn_embedded_in_a_source_id_cannot_be_read_from_the_database(world_any, case):
    url, res = EMBEDDED[case]
    bundle = collection(("Patient/p1", patient_resource(MRN, id="p1")), (url, res))
    r = world_any.post("adm", "/fhir", bundle)
    assert r.status_code == 200, r.text
    pid = world_any.store.patient_ids()[0]
    what = "regimen" if res["resourceType"] != "Observation" else "observations"
    got = world_any.get("adm", f"/patients/{pid}/{what}").json()
    assert len(got["events" if what == "regimen" else "observations"]) == 1  # it was stored
    assert MRN.encode() not in database_text(world_any.store)
    assert MRN not in str(got)  # nor in what the API hands back (the sender's echo aside)
    # the same bundle again is recognised as the same records, nothing stored twice
    again = world_any.post("adm", "/fhir", bundle)
    assert again.status_code == 200, again.text
    assert len(world_any.get("adm", f"/patients/{pid}/{what}").json()[
        "events" if what == "regimen" else "observations"]) == 1  # fmt: skip


def test_a_record_resent_under_its_source_id_with_another_value_does_not_overwrite(world_any):
    pid = world_any.new_patient("adm")
    obs = glucose(f"Patient/{pid}", f"{MRN}|obs-7", value=120.0)
    assert world_any.post("adm", f"/patients/{pid}/observations", obs).status_code == 200
    forged = glucose(f"Patient/{pid}", f"{MRN}|obs-7", value=40.0)
    r = world_any.post("adm", f"/patients/{pid}/observations", forged)
    assert r.status_code == 409, r.text
    values = [o["value"] for o in world_any.get("adm", f"/patients/{pid}/observations").json()[
        "observations"]]  # fmt: skip
    assert values == [120.0]


def test_the_same_source_id_in_two_tables_is_not_linkable(world):
    """A hash equal across tables would link an observation to a dose without the key."""
    s = world.store
    pid = s.add_patient(PatientRecord("urn:hosp:mrn|" + MRN), actor="t")
    s.add_observations(pid, [ObservationRecord("same-id", pid, "99504-3", T, 100.0, "mg/dL")],
                       actor="t", update=False)  # fmt: skip
    s.add_events(pid, [EventRecord("same-id", pid, "meal", T, 10.0)], actor="t", update=False)
    with s._engine.connect() as conn:
        o = conn.execute(text("SELECT source_id FROM observations")).scalar_one()
        e = conn.execute(text("SELECT source_id FROM events")).scalar_one()
    assert o != e and "same-id" not in o + e


def plant_clear_source_ids(url: str) -> None:
    """Make the database look as an older medtwin wrote it: source ids in clear, no mark."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE observations SET source_id = :s"),
                         {"s": f"urn:hosp:mrn|{MRN}|obs-7"})  # fmt: skip
            conn.execute(text("DELETE FROM store_meta WHERE name = 'source_ids'"))
    finally:
        engine.dispose()


def stored_source_ids(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT source_id FROM observations")).scalars())
    finally:
        engine.dispose()


def test_clear_source_ids_left_by_an_older_version_are_hashed_when_the_store_opens(db_url):
    rec = ObservationRecord(f"urn:hosp:mrn|{MRN}|obs-7", "x", "99504-3", T, 100.0, "mg/dL")
    with open_store(db_url, key=KEY) as s:
        pid = s.add_patient(PatientRecord("urn:hosp:mrn|" + MRN), actor="t")
        s.add_observations(pid, [rec], actor="t", update=False)
    plant_clear_source_ids(db_url)
    assert stored_source_ids(db_url) == [f"urn:hosp:mrn|{MRN}|obs-7"]  # the planted text
    with open_store(db_url, key=KEY) as s:
        # the old record is recognised when it is sent again: hashed, not lost
        assert s.add_observations(pid, [rec], actor="t", update=False).duplicates == 1
        # not in any row, nor (SQLite) in the space the old row left in the file's pages
        assert MRN.encode() not in database_text(s)
    with open_store(db_url, key=KEY) as s:  # a second open does not hash the hashes again
        assert s.add_observations(pid, [rec], actor="t", update=False).duplicates == 1


def test_the_hashing_of_old_source_ids_happens_only_with_the_right_key(db_url):
    with open_store(db_url, key=KEY) as s:
        pid = s.add_patient(PatientRecord("urn:hosp:mrn|" + MRN), actor="t")
        s.add_observations(pid, [ObservationRecord("o", pid, "99504-3", T, 1.0, "mg/dL")],
                           actor="t", update=False)  # fmt: skip
    plant_clear_source_ids(db_url)
    with pytest.raises(Exception, match="another key"):
        open_store(db_url, key=bytes(32))
    assert stored_source_ids(db_url) == [f"urn:hosp:mrn|{MRN}|obs-7"]  # nothing hashed wrongly


# -- read-only commands never create a store ---------------------------------------------------


def read_only_commands(out: Path) -> dict[str, list[str]]:
    return {
        "audit-verify": ["audit", "verify"],
        "audit-checkpoint": ["audit", "checkpoint", "--out", str(out)],
        "audit-export": ["audit", "export", "--out", str(out)],
        "export": ["export", "--deidentified", "--dates", "year", "--out", str(out)],
        "backup": ["backup", "--out", str(out)],
        "users-list": ["users", "list"],
        "users-tokens": ["users", "tokens", "adm"],
        "users-token": ["users", "token", "adm"],
        "users-grant": ["users", "grant", "cli1", "p-0123456789abcdef"],
        "users-revoke": ["users", "revoke", "cli1", "p-0123456789abcdef"],
        "users-revoke-token": ["users", "revoke-token", "adm", "--all"],
        "users-disable": ["users", "disable", "cli1"],
        "users-enable": ["users", "enable", "cli1"],
        "recommend": ["recommend", "p-0123456789abcdef"],
    }


def _sqlite_target(kind: str, tmp_path: Path) -> tuple[str, Path]:
    path = {
        "typo": tmp_path / "medtwn.db",
        "missing-folder": tmp_path / "no-such-dir" / "medtwin.db",
        "folder": tmp_path / "somedir",
        "empty-file": tmp_path / "empty.db",
        "other-app": tmp_path / "other.db",
        "not-a-database": tmp_path / "notes.txt",
        "relative-typo": Path("medtwn-relative.db"),
    }[kind]
    if kind == "folder":
        path.mkdir()
    elif kind == "empty-file":
        path.write_bytes(b"")
    elif kind == "other-app":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE contacts (name TEXT)")
        conn.commit()
        conn.close()
    elif kind == "not-a-database":
        path.write_text("these are not the patients you are looking for\n" * 200)
    return f"sqlite:///{path}", path


def _snapshot(path: Path):
    if path.is_dir():
        return sorted(p.name for p in path.iterdir())
    return path.read_bytes() if path.exists() else None


SQLITE_KINDS = ["typo", "missing-folder", "folder", "empty-file", "other-app", "not-a-database",
                "relative-typo"]  # fmt: skip
COMMANDS = ["audit-verify", "audit-checkpoint", "audit-export", "export", "backup", "users-list",
            "users-tokens", "users-token", "users-grant", "users-revoke", "users-revoke-token",
            "users-disable", "users-enable", "recommend"]  # fmt: skip


@pytest.mark.parametrize("kind", SQLITE_KINDS)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_command_on_a_mistyped_sqlite_url_creates_nothing(
    tmp_path, monkeypatch, command, kind
):
    monkeypatch.chdir(tmp_path)
    url, path = _sqlite_target(kind, tmp_path)
    before, listing = _snapshot(path), sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out.json"
    res = CliRunner().invoke(app, [*read_only_commands(out)[command], "--db", url], env=ENV)
    assert res.exit_code == 2, res.output
    assert "OK" not in res.stdout
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith("error: ")
    assert "No medtwin store" in line or "Cannot open the database" in line, line
    assert _snapshot(path) == before  # no store created, nothing written into the file
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # and no other file either
    assert not out.exists()


@pytest.mark.parametrize("kind", ["empty-database", "missing-database"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_command_on_a_mistyped_postgresql_url_creates_nothing(
    tmp_path, postgres_server, command, kind
):
    name = postgres_server.create_database()
    try:
        target = name if kind == "empty-database" else name + "_typo"
        url = postgres_server.url(target)
        out = tmp_path / "out.json"
        res = CliRunner().invoke(app, [*read_only_commands(out)[command], "--db", url], env=ENV)
        assert res.exit_code == 2, res.output
        line = res.stderr.strip()
        assert "\n" not in line and ("No medtwin store" in line or "does not exist" in line)
        assert not out.exists()
        if kind == "empty-database":
            engine = make_engine(url)
            with engine.connect() as conn:
                assert conn.execute(text(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'"
                )).scalar() == 0  # fmt: skip
            engine.dispose()
    finally:
        postgres_server.drop_database(name)
