"""The store's commands (users, audit, export, keygen) on SQLite and PostgreSQL, through
typer's CliRunner."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.data.records import PatientRecord
from medtwin.store import open_store

from .conftest import KEY


@pytest.fixture
def cli(db_url):
    runner = CliRunner()
    env = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}

    def run(*args):
        return runner.invoke(
            app, [*args, "--db", db_url] if args[0] != "keygen" else list(args), env=env
        )

    return run


def one_line_error(res, text_):
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text_ in lines[0], lines


def test_users_tokens_and_grants(cli, db_url):
    with open_store(db_url, key=KEY) as s:
        pid = s.add_patient(PatientRecord("Patient/7"), actor="t")
    assert cli("users", "add", "alice", "--role", "clinician").exit_code == 0
    one_line_error(cli("users", "add", "alice", "--role", "clinician"), "exists already")
    one_line_error(cli("users", "add", "bob", "--role", "nurse"), "clinician, researcher, admin")
    res = cli("users", "token", "alice", "--ttl-days", "2")
    assert res.exit_code == 0
    token = res.stdout.strip()
    res = cli("users", "grant", "alice", "Patient/7")  # by source id
    assert res.exit_code == 0 and pid in res.stdout
    one_line_error(cli("users", "grant", "alice", "p-0000000000000000"), "No patient")
    one_line_error(cli("users", "token", "nobody"), "No user 'nobody'")
    with open_store(db_url, key=KEY) as s:
        assert s.authenticate(token).name == "alice"
        assert s.granted("alice") == {pid}
        assert [e.action for e in s.audit_entries()][-3:] == [
            "user.create",
            "token.create",
            "grant.create",
        ]
        assert s.audit_entries()[-1].actor.startswith("cli")
    assert cli("users", "revoke", "alice", pid).exit_code == 0
    with open_store(db_url, key=KEY) as s:
        assert s.granted("alice") == set()


def test_audit_verify_catches_tampering_and_truncation(cli, db_url, tmp_path):
    with open_store(db_url, key=KEY) as s:
        pid = s.add_patient(PatientRecord("Patient/7"), actor="t")
        for _ in range(5):
            s.patient(pid, actor="t")
    res = cli("audit", "verify")
    assert res.exit_code == 0 and "audit log OK: 6 entries" in res.stdout
    cp_file = tmp_path / "cp.json"
    res = cli("audit", "checkpoint", "--out", str(cp_file))
    assert res.exit_code == 0 and json.loads(cp_file.read_text())["seq"] == 6
    with open_store(db_url, key=KEY) as s, s._engine.begin() as conn:
        h4 = conn.execute(text("SELECT hash FROM audit_log WHERE seq=4")).scalar()
        conn.execute(text("DELETE FROM audit_log WHERE seq > 4"))
        conn.execute(text("UPDATE audit_head SET seq=4, hash=:h"), {"h": h4})
        conn.execute(text("DELETE FROM audit_checkpoints"))
    assert cli("audit", "verify").exit_code == 0  # nothing left inside the database shows it
    res = cli("audit", "verify", "--checkpoint", str(cp_file))
    assert res.exit_code == 1 and "FAILED at entry 5" in res.stdout and "truncated" in res.stdout
    with open_store(db_url, key=KEY) as s, s._engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET action='patient.delete' WHERE seq=2"))
    res = cli("audit", "verify")
    assert res.exit_code == 1 and "FAILED at entry 2" in res.stdout
    one_line_error(
        cli("audit", "verify", "--checkpoint", str(tmp_path / "nope.json")),
        "Cannot read the checkpoint file",
    )


def test_exports_and_keygen(cli, db_url, tmp_path):
    with open_store(db_url, key=KEY) as s:
        s.add_patient(PatientRecord("Patient/7", name="Ann Secret"), actor="t")
    out = tmp_path / "research.json"
    one_line_error(cli("export", "--out", str(out)), "--deidentified")
    res = cli("export", "--deidentified", "--dates", "year", "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["dates"] == "year only" and len(doc["patients"]) == 1
    assert "Ann Secret" not in out.read_text()
    one_line_error(
        cli("export", "--deidentified", "--out", str(tmp_path / "no" / "x.json")), "existing folder"
    )
    bundle = tmp_path / "audit.json"
    assert cli("audit", "export", "--out", str(bundle)).exit_code == 0
    events = [e["resource"] for e in json.loads(bundle.read_text())["entry"]]
    # patient.create, patient.export, export.deidentified (the refused exports read nothing)
    assert [e["action"] for e in events] == ["C", "E", "E"]
    key_file = tmp_path / "medtwin.key"
    assert cli("keygen", "--out", str(key_file)).exit_code == 0
    assert len(base64.b64decode(key_file.read_text())) == 32
    one_line_error(cli("keygen", "--out", str(key_file)), "will not overwrite")


def test_a_missing_key_is_one_line(db_url):
    res = CliRunner().invoke(
        app, ["audit", "verify", "--db", db_url], env={"MEDTWIN_KEY": "", "MEDTWIN_KEY_FILE": ""}
    )
    one_line_error(res, "needs an encryption key")
