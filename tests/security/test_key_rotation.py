"""Attacks on the store's keys (issue 14, finding 8) and their rotation, through the CLI on
SQLite and PostgreSQL: the audit key is separate from the master (encryption) key; rotating
either keeps the audit chain verifiable; a wrong, missing or foreign audit key is refused or
reported; after ``medtwin rekey`` the old master key opens, decrypts and finds nothing; and a
rekey that fails half-way changes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.errors import StoreError
from medtwin.store import open_store
from medtwin.store._audit import entry_hash
from medtwin.store._audit_keys import key_id
from medtwin.store._crypto import FieldCipher
from medtwin.store._schema import AuditRow

from .conftest import KEY, sql

A1 = hashlib.sha256(b"auditor key 1").digest()
A2 = hashlib.sha256(b"auditor key 2").digest()
NEW = hashlib.sha256(b"the new master key").digest()
T = datetime(2026, 1, 1, 8, tzinfo=UTC)
SRC = "urn:hosp:mrn|MRN-900001"


def b64(k: bytes) -> str:
    return base64.b64encode(k).decode()


def cli(*args: str, master: bytes = KEY, audit: bytes | None = None, ring: str = "", **env):
    e = {"MEDTWIN_KEY": b64(master), "MEDTWIN_KEY_FILE": "", "MEDTWIN_AUDIT_KEY_FILE": "",
         "MEDTWIN_AUDIT_KEY": b64(audit) if audit else "", "MEDTWIN_AUDIT_KEYS_RETIRED": ring,
         **env}  # fmt: skip
    return CliRunner().invoke(app, list(args), env=e)


def populate(url: str, **open_kw) -> str:
    """A patient with identifying fields, an observation, an event and a legacy-signed log."""
    with open_store(url, key=KEY, **open_kw) as s:
        pid = s.add_patient(PatientRecord(SRC, mrn="MRN-900001", name="Jo Doe",
                                          birth_date=date(1970, 5, 4)), actor="adm")  # fmt: skip
        s.add_observations(
            pid,
            [ObservationRecord("urn:cgm|o-1", pid, "2339-0", T, 101.0, "mg/dL")],
            actor="adm",
            update=False,
        )
        s.add_events(pid, [EventRecord("urn:pump|e-1", pid, "meal", T, 40.0)], actor="adm",
                     update=False)  # fmt: skip
    return pid


def snapshot(url: str) -> list:
    """Everything a rekey may touch, byte for byte."""
    return [
        sql(url, "SELECT pid, source_key, mrn, name, birth_date FROM patients ORDER BY pid"),
        sql(url, "SELECT id, source_id FROM observations ORDER BY id"),
        sql(url, "SELECT id, source_id FROM events ORDER BY id"),
        sql(url, "SELECT name, value FROM store_meta ORDER BY name"),
        sql(url, "SELECT seq, hash FROM audit_head"),
        sql(url, "SELECT count(*) FROM audit_log"),
    ]


def new_key_file(tmp_path, key: bytes = NEW):
    path = tmp_path / "new.key"
    path.write_text(b64(key) + "\n")
    return str(path)


def rekey(url, tmp_path, *, audit=A1, master=KEY):
    """``medtwin rekey`` to NEW, keeping the legacy audit key in ``retired.keys``."""
    ring = str(tmp_path / "retired.keys")
    return cli("rekey", "--new-key-file", new_key_file(tmp_path), "--db", url,
               "--audit-keyring", ring, master=master, audit=audit)  # fmt: skip


# -- the audit key: separate, rotated with a signed hand-over ------------------------------------


def test_rotating_the_audit_key_keeps_one_verifiable_chain(db_url, tmp_path):
    populate(db_url)  # legacy era: signed with the key derived from the master key
    ring = tmp_path / "retired.keys"
    assert cli("users", "add", "u1", "--role", "clinician", "--db", db_url, audit=A1).exit_code == 0
    ring.write_text(f"# audit key 1, retired\n{b64(A1)}\n")
    res = cli("users", "add", "u2", "--role", "clinician", "--db", db_url, audit=A2, ring=str(ring))
    assert res.exit_code == 0, res.output
    with open_store(db_url, key=KEY, audit_key=A2, retired_audit_keys=[A1]) as s:
        rot = [(e.key_id, e.detail) for e in s.audit_entries(action="audit.key_rotate")]
        assert rot == [("", {"from": "", "to": key_id(A1)}),
                       (key_id(A1), {"from": key_id(A1), "to": key_id(A2)})]  # fmt: skip
        assert s.audit_entries(newest_first=True, limit=1)[0].key_id == key_id(A2)
    ok = cli("audit", "verify", "--db", db_url, audit=A2, ring=str(ring))
    assert ok.exit_code == 0 and "audit log OK" in ok.stdout
    bad = cli("audit", "verify", "--db", db_url, audit=A2)  # the retired key withheld
    assert bad.exit_code == 1 and f"audit key '{key_id(A1)}'" in bad.stdout


@pytest.mark.parametrize("who", ["another key", "no key", "own keys in the keyring"])
def test_a_process_without_the_audit_key_cannot_continue_the_chain(db_url, tmp_path, who):
    """An operator who does not hold the auditor's key configures another one (or none, or
    lists their own keys as retired ones): the hand-over would need the auditor's key, so
    nothing is written; verify names the key."""
    populate(db_url, audit_key=A1)
    before = snapshot(db_url)
    ring = tmp_path / "ring"
    ring.write_text(f"{b64(A2)}\n{b64(FieldCipher(KEY).audit_key)}\n")
    audit = {"another key": A2, "no key": None, "own keys in the keyring": A2}[who]
    env = {"ring": str(ring)} if who == "own keys in the keyring" else {}
    res = cli("users", "add", "mallory", "--role", "admin", "--db", db_url, audit=audit, **env)
    assert res.exit_code == 2 and f"audit key '{key_id(A1)}'" in res.output
    assert snapshot(db_url) == before and "Traceback" not in res.output
    assert sql(db_url, "SELECT count(*) FROM users WHERE name='mallory'")[0][0] == 0
    rep = cli("audit", "verify", "--db", db_url, audit=audit, **env)
    assert rep.exit_code == 1 and "not configured" in rep.stdout


@pytest.mark.parametrize(
    "env, message",
    [
        ({"MEDTWIN_AUDIT_KEY": b64(KEY)}, "the audit key is the master key"),
        ({"MEDTWIN_AUDIT_KEY": "not base64!"}, "must be base64 text of 32 bytes"),
        ({"MEDTWIN_AUDIT_KEY": b64(b"short")}, "must hold 32 bytes"),
        ({"MEDTWIN_AUDIT_KEY_FILE": "/nonexistent/audit.key"}, "which is not a file"),
        ({"MEDTWIN_AUDIT_KEYS_RETIRED": "/nonexistent/ring"}, "which is not a file"),
    ],
)
def test_a_bad_audit_key_setting_is_refused_before_anything_is_written(
    sqlite_url, tmp_path, env, message
):
    populate(sqlite_url)
    before = snapshot(sqlite_url)
    res = cli("users", "add", "u", "--role", "clinician", "--db", sqlite_url, **env)
    assert res.exit_code == 2 and message.lower() in res.output.lower(), res.output
    assert snapshot(sqlite_url) == before


def test_a_malformed_keyring_line_is_named(sqlite_url, tmp_path):
    populate(sqlite_url)
    ring = tmp_path / "ring"
    ring.write_text(f"{b64(A1)}\n# fine\nnot-a-key\n")
    res = cli("audit", "verify", "--db", sqlite_url, ring=str(ring))
    assert res.exit_code == 2 and "Line 3 of the audit keyring" in res.output


def _append_forged(url: str, key: bytes, kid: str, action: str = "user.create", detail="{}"):
    """Someone with database access and ``key`` appends an entry, consistently with the head."""
    seq, prev = sql(url, "SELECT seq, hash FROM audit_head")[0]
    row = AuditRow(seq=seq + 1, time=T, actor="mallory", action=action, patient=None,
                   resource="User/mallory", outcome="success", detail=detail,
                   prev_hash=prev, key_id=kid)  # fmt: skip
    h = entry_hash(key, row)
    sql(url, "INSERT INTO audit_log (seq, time, actor, action, patient, resource, outcome, "
             "detail, prev_hash, hash, key_id) VALUES (:s, :t, 'mallory', :a, NULL, "
             "'User/mallory', 'success', :d, :p, :h, :k)",
        s=seq + 1, t=T, a=action, d=detail, p=prev, h=h, k=kid)  # fmt: skip
    sql(url, "UPDATE audit_head SET seq=:s, hash=:h", s=seq + 1, h=h)


@pytest.mark.parametrize(
    "forgery", ["master-derived key", "own key, no rotation", "own key, forged rotation",
                "auditor's id, own key"],
)  # fmt: skip
def test_entries_forged_with_a_key_the_operator_holds_fail(db_url, forgery):
    populate(db_url, audit_key=A1)
    legacy, kid2 = FieldCipher(KEY).audit_key, key_id(A2)
    if forgery == "master-derived key":
        _append_forged(db_url, legacy, "")
    elif forgery == "own key, no rotation":
        _append_forged(db_url, A2, kid2)
    elif forgery == "own key, forged rotation":
        rot = json.dumps({"from": key_id(A1), "to": kid2}, separators=(",", ":"))
        _append_forged(db_url, A2, kid2, action="audit.key_rotate", detail=rot)
        _append_forged(db_url, A2, kid2)
    else:
        _append_forged(db_url, A2, key_id(A1))
    ring = {"MEDTWIN_AUDIT_KEYS_RETIRED": ""}
    res = cli("audit", "verify", "--db", db_url, audit=A1, **ring)
    assert res.exit_code == 1 and "FAILED" in res.stdout, res.output


# -- the master key: medtwin rekey ----------------------------------------------------------------


def test_after_a_rekey_the_new_key_reads_everything_and_the_log_verifies(db_url, tmp_path):
    pid = populate(db_url)
    res = rekey(db_url, tmp_path)
    assert res.exit_code == 0, res.output
    ring = str(tmp_path / "retired.keys")
    with open_store(db_url, key=NEW, audit_key=A1, retired_audit_keys=[]) as s:
        p = s.patient(pid, actor="adm")
        assert (p.mrn, p.name, p.birth_date) == ("MRN-900001", "Jo Doe", date(1970, 5, 4))
        assert s.resolve_patient(SRC) == pid
        again = s.add_observations(pid, [ObservationRecord("urn:cgm|o-1", pid, "2339-0", T,
                                                           101.0, "mg/dL")], actor="adm",
                                   update=False)  # fmt: skip
        assert (again.added, again.duplicates) == (0, 1)  # its re-hashed source id still matches
        rekeyed = s.audit_entries(action="store.rekey")
        assert [e.detail["patients"] for e in rekeyed] == [1] and rekeyed[0].key_id == key_id(A1)
    ok = cli("audit", "verify", "--db", db_url, master=NEW, audit=A1, ring=ring)
    assert ok.exit_code == 0 and "audit log OK" in ok.stdout, ok.output
    lost = cli("audit", "verify", "--db", db_url, master=NEW, audit=A1)
    assert lost.exit_code == 1 and "legacy audit key of a replaced master key" in lost.stdout


@pytest.mark.parametrize(
    "attack", ["open the store", "decrypt a field", "find a patient by its MRN",
               "find an observation by its source id", "CLI ingest", "second rekey back"],
)  # fmt: skip
def test_the_old_master_key_gets_nothing_after_a_rekey(db_url, tmp_path, attack):
    populate(db_url)
    assert rekey(db_url, tmp_path).exit_code == 0
    old = FieldCipher(KEY)
    if attack == "open the store":
        with pytest.raises(StoreError, match="another key"):
            open_store(db_url, key=KEY, audit_key=A1)
    elif attack == "decrypt a field":
        blob = sql(db_url, "SELECT name FROM patients")[0][0]
        with pytest.raises(StoreError, match="does not decrypt"):
            old.decrypt(blob, aad=f"patients.name:{sql(db_url, 'SELECT pid FROM patients')[0][0]}")
    elif attack == "find a patient by its MRN":
        stored = {r[0] for r in sql(db_url, "SELECT source_key FROM patients")}
        assert old.lookup(SRC) not in stored and len(stored) == 1
    elif attack == "find an observation by its source id":
        stored = {r[0] for r in sql(db_url, "SELECT source_id FROM observations")}
        assert old.source_key("observations", "urn:cgm|o-1") not in stored and len(stored) == 1
    elif attack == "CLI ingest":
        res = cli("users", "add", "eve", "--role", "admin", "--db", db_url, audit=A1)
        assert res.exit_code == 2 and "another key" in res.output
    else:  # rekeying back with the old key requires the current key
        res = rekey(db_url, tmp_path, master=KEY)
        assert res.exit_code == 2 and "another key" in res.output


REFUSALS = {  # case -> how the rekey is run (defaults: new key NEW, audit key A1, keyring)
    "no audit key": ({"audit": None}, "needs a separate audit key"),
    "no keyring": ({"ring": None}, "name a keyring file"),
    "same key": ({"new": KEY}, "is the key in use"),
    "missing new key file": ({"new": None}, "No key file"),
    "short new key": ({"new": b"short"}, "must hold 32 bytes"),
    "wrong current key": ({"master": hashlib.sha256(b"a guess").digest()}, "another key"),
    "keyring folder missing": ({"ring": "no-such-dir/ring"}, "existing folder"),
    "undecryptable field": ({}, "does not decrypt"),
    "crash after the rows": ({}, ""),
    "keyring write fails": ({}, ""),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_or_interrupted_rekey_changes_nothing(db_url, tmp_path, monkeypatch, case):
    from medtwin.store import _rekey

    pid = populate(db_url)
    with open_store(db_url, key=KEY, audit_key=A1) as s:  # the hand-over to the audit key
        s.patient(pid, actor="adm")
    if case == "undecryptable field":  # a damaged ciphertext met half-way through
        blob = bytearray(sql(db_url, "SELECT mrn FROM patients")[0][0])
        blob[-1] ^= 1
        sql(db_url, "UPDATE patients SET mrn=:b", b=bytes(blob))
    elif case == "crash after the rows":  # every row rewritten, the key check not yet

        def crash(*a):
            raise RuntimeError("power cut")

        monkeypatch.setattr(_rekey, "_set", crash)
    elif case == "keyring write fails":  # the very last step, before the commit

        def full(*a):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(_rekey, "add_retired_key", full)
    before = snapshot(db_url)
    change, message = REFUSALS[case]
    how = {"new": NEW, "audit": A1, "master": KEY, "ring": "retired.keys", **change}
    key_file = tmp_path / "new.key"
    if how["new"] is not None:
        key_file.write_text(b64(how["new"]) + "\n")
    args = ["rekey", "--new-key-file", str(key_file), "--db", db_url]
    if how["ring"]:
        args += ["--audit-keyring", str(tmp_path / how["ring"])]
    res = cli(*args, master=how["master"], audit=how["audit"])
    assert res.exit_code != 0 and message in res.output, res.output
    assert "Traceback" not in res.output
    assert snapshot(db_url) == before
    assert not (tmp_path / "retired.keys").exists()
    with open_store(db_url, key=KEY, audit_key=A1) as s:  # the old key still opens it
        if case != "undecryptable field":
            assert s.patient(pid, actor="adm").mrn == "MRN-900001"


def test_two_rekeys_in_a_row_keep_lookups_and_the_legacy_entries(sqlite_url, tmp_path):
    pid = populate(sqlite_url)
    assert rekey(sqlite_url, tmp_path).exit_code == 0
    third = hashlib.sha256(b"third").digest()
    ring = str(tmp_path / "retired.keys")
    (tmp_path / "new.key").unlink()
    res = cli("rekey", "--new-key-file", new_key_file(tmp_path, third), "--db", sqlite_url,
              master=NEW, audit=A1, ring=ring)  # fmt: skip
    assert res.exit_code == 0, res.output
    with open_store(sqlite_url, key=third, audit_key=A1) as s:
        assert s.resolve_patient(SRC) == pid
    for stale in (KEY, NEW):
        assert cli("audit", "verify", "--db", sqlite_url, master=stale, audit=A1,
                   ring=ring).exit_code == 2  # fmt: skip
    ok = cli("audit", "verify", "--db", sqlite_url, master=third, audit=A1, ring=ring)
    assert ok.exit_code == 0 and "audit log OK" in ok.stdout, ok.output
