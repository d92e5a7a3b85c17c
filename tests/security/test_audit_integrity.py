"""Attacks on the audit log's integrity (issue 14, finding 8), through the CLI on SQLite and
PostgreSQL: cutting the log's tail consistently (rows, head row and stored checkpoints), editing,
reordering, deleting or forging entries, and forging the checkpoints kept outside the database.

The cut is invisible to ``audit verify`` without an outside checkpoint (the documented
limitation, asserted here so that the test notices if it changes) and caught with the file
``medtwin serve --checkpoint-file`` appends to."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.service._checkpoints import CheckpointWriter
from medtwin.store import Checkpoint, open_store
from medtwin.store._audit import signature
from medtwin.store._audit_keys import key_id
from medtwin.store._crypto import FieldCipher

from .conftest import KEY, sql

AUDIT_KEY = hashlib.sha256(b"the auditor's key").digest()
NO_AUDIT_ENV = {"MEDTWIN_AUDIT_KEY": "", "MEDTWIN_AUDIT_KEY_FILE": "",
                "MEDTWIN_AUDIT_KEYS_RETIRED": ""}  # fmt: skip


def cli(*args: str, env: dict | None = None):
    base = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": "", **NO_AUDIT_ENV}
    return CliRunner().invoke(app, list(args), env={**base, **(env or {})})


def fill(store, n: int) -> None:
    for i in range(n):
        store.audit("cli1", "patient.read", patient="p-00000000000000aa", detail={"i": i})


def cut_tail(url: str, keep: int) -> None:
    """What someone with database access does: delete the entries after ``keep``, point the
    head at entry ``keep`` and delete the stored checkpoints after it -- consistently."""
    sql(url, "DELETE FROM audit_log WHERE seq > :k", k=keep)
    h = sql(url, "SELECT hash FROM audit_log WHERE seq = :k", k=keep)[0][0]
    sql(url, "UPDATE audit_head SET seq = :k, hash = :h", k=keep, h=h)
    sql(url, "DELETE FROM audit_checkpoints WHERE seq > :k", k=keep)


def verify(url: str, *files, env: dict | None = None):
    args = ["audit", "verify", "--db", url]
    for f in files:
        args += ["--checkpoint", str(f)]
    return cli(*args, env=env)


# -- cutting the tail: invisible inside the database, caught by the outside file ----------------


@pytest.mark.parametrize("cut", [1, 4, 15])
def test_a_consistent_tail_cut_is_caught_by_the_checkpoint_file(db_url, tmp_path, cut):
    path = tmp_path / "checkpoints.jsonl"
    with open_store(db_url, key=KEY, checkpoint_every=5) as store:
        fill(store, 28)
        with CheckpointWriter(store, path, every_s=3600):  # the first checkpoint at start
            fill(store, 7)  # ... and the last at stop: entry 35 (28 + 7)
        head = store.audit_entries(newest_first=True, limit=1)[0].seq
    lines = path.read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [28, head] and head == 35
    cut_tail(db_url, head - cut)
    blind = verify(db_url)
    assert blind.exit_code == 0 and "audit log OK" in blind.stdout  # the documented limitation
    res = verify(db_url, path)
    assert res.exit_code == 1, res.output
    assert "FAILED" in res.stdout and "truncated" in res.stdout
    assert f"entries {head - cut + 1}..{head}" in res.stdout


@pytest.mark.parametrize("existing", [False, True])
def test_serve_appends_checkpoints_while_serving_and_at_shutdown(
    sqlite_url, tmp_path, monkeypatch, existing
):
    import uvicorn

    path = tmp_path / "cp.jsonl"
    if existing:  # an earlier run's lines stay: the file is appended to, never rewritten
        path.write_text('{"seq": 0}\n')
        os.chmod(path, 0o600)
    served = {}

    def fake_run(api, **kw):  # a running service: requests write entries, time passes
        store = api.state.store
        fill(store, 3)
        deadline = time.monotonic() + 30
        while len(path.read_text().splitlines()) < 2 + existing and time.monotonic() < deadline:
            time.sleep(0.02)
        fill(store, 4)
        served["head"] = store.audit_entries(newest_first=True, limit=1)[0].seq

    monkeypatch.setattr(uvicorn, "run", fake_run)
    res = cli("serve", "--db", sqlite_url, "--checkpoint-file", str(path),
              "--checkpoint-every-s", "0.05")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) >= 3 + existing and lines[-1]["seq"] == served["head"]  # at shutdown
    cut_tail(sqlite_url, served["head"] - 2)
    copy = tmp_path / "valid.jsonl"  # the earlier run's line is no checkpoint
    copy.write_text("".join(json.dumps(x) + "\n" for x in lines[existing:]))
    res = verify(sqlite_url, copy)
    assert res.exit_code == 1 and "truncated" in res.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--checkpoint-every-s", "0"], "must be > 0"),
        (["--checkpoint-every-s", "-5"], "must be > 0"),
        (["--checkpoint-every-s", "inf"], "must be > 0"),
        (["--checkpoint-every-s", "nan"], "must be > 0"),
        (["--checkpoint-file", "/nonexistent-dir/cp.jsonl"], "existing folder"),
    ],
)
def test_serve_refuses_checkpoint_settings_that_would_write_none(
    sqlite_url, tmp_path, monkeypatch, args, message
):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("served without checkpoints"))
    if "--checkpoint-file" not in args:
        args = ["--checkpoint-file", str(tmp_path / "cp.jsonl"), *args]
    res = cli("serve", "--db", sqlite_url, *args)
    assert res.exit_code == 2 and message in res.output
    assert "Traceback" not in res.output


# -- editing, reordering, deleting and forging entries ------------------------------------------

# fmt: off
TAMPER = {  # name -> (SQL statements, the first entry reported)
    "edit actor": (["UPDATE audit_log SET actor='eve' WHERE seq=6"], 6),
    "edit detail": (["UPDATE audit_log SET detail=replace(detail, '6', '9') WHERE seq=7"], 7),
    "edit patient": (["UPDATE audit_log SET patient='p-00000000000000bb' WHERE seq=5"], 5),
    "edit outcome": (["UPDATE audit_log SET outcome='denied' WHERE seq=8"], 8),
    "edit action": (["UPDATE audit_log SET action='patient.list' WHERE seq=3"], 3),
    "edit key id": (["UPDATE audit_log SET key_id='0123456789abcdef' WHERE seq=4"], 4),
    "swap two": (["UPDATE audit_log SET seq=-1 WHERE seq=3",
                  "UPDATE audit_log SET seq=3 WHERE seq=9",
                  "UPDATE audit_log SET seq=9 WHERE seq=-1"], 3),
    "delete one": (["DELETE FROM audit_log WHERE seq=6"], 6),
    "renumber": (["DELETE FROM audit_log WHERE seq=2",
                  "UPDATE audit_log SET seq=seq-1 WHERE seq>2"], 2),
    "forge last": (["UPDATE audit_log SET hash='" + "ab" * 32 + "' WHERE seq=12"], 12),
    "head row deleted": (["DELETE FROM audit_head"], 13),
    "head rewound": (["UPDATE audit_head SET seq=10"], 10),
}
# fmt: on


@pytest.mark.parametrize("kind", list(TAMPER))
def test_edited_reordered_deleted_or_forged_entries_are_named(db_url, kind):
    with open_store(db_url, key=KEY, checkpoint_every=0) as store:
        fill(store, 12)
    statements, first = TAMPER[kind]
    for stmt in statements:
        sql(db_url, stmt)
    res = verify(db_url)
    assert res.exit_code == 1, res.output
    assert f"FAILED at entry {first}:" in res.stdout


def test_a_chain_recomputed_with_the_master_key_fails_once_an_audit_key_signs(db_url, tmp_path):
    """The finding: the audit key derived from the master key every operator holds. With a
    separate audit key, an operator who re-signs the log with the derived key is caught."""
    from medtwin.store._audit import entry_hash
    from medtwin.store._schema import AuditRow

    with open_store(db_url, key=KEY, audit_key=AUDIT_KEY) as store:
        fill(store, 6)
    legacy = FieldCipher(KEY).audit_key
    rows = sql(db_url, "SELECT seq, time, actor, action, patient, resource, outcome, detail "
                       "FROM audit_log ORDER BY seq")  # fmt: skip
    prev = "0" * 64
    for r in rows:  # every entry re-signed with the derived key, marked as legacy
        t = datetime.fromisoformat(r[1]) if isinstance(r[1], str) else r[1]  # SQLite: text
        t = t if t.tzinfo else t.replace(tzinfo=UTC)
        row = AuditRow(
            seq=r[0],
            time=t,
            actor="eve",
            action=r[3],
            patient=r[4],
            resource=r[5],
            outcome=r[6],
            detail=r[7],
            prev_hash=prev,
            key_id="",
        )
        prev = entry_hash(legacy, row)
        sql(db_url, "UPDATE audit_log SET actor='eve', key_id='', prev_hash=:p, hash=:h "
                    "WHERE seq=:s", p=row.prev_hash, h=prev, s=r[0])  # fmt: skip
    sql(db_url, "UPDATE audit_head SET hash=:h", h=prev)
    sql(db_url, "DELETE FROM audit_checkpoints")
    env = {"MEDTWIN_AUDIT_KEY": base64.b64encode(AUDIT_KEY).decode()}
    res = verify(db_url, env=env)
    assert res.exit_code == 1 and "re-signed by a holder of the master key" in res.stdout


# -- forging the checkpoints kept outside the database ------------------------------------------


def _forge(cp: dict, kind: str, cut_hash: str, keep: int) -> str:
    """The checkpoint file after the attacker's edit."""
    forged = dict(cp)
    if kind == "zero signature":
        forged["signature"] = "0" * 64
    elif kind == "claims the cut head":
        forged.update(seq=keep, hash=cut_hash)
    elif kind == "moved in time":
        t = Checkpoint.from_dict(cp).time + timedelta(seconds=1)
        forged["time"] = t.isoformat()
    elif kind in ("guessed key", "master-derived key", "unknown key id"):
        key = {"guessed key": b"x" * 32, "unknown key id": b"y" * 32,
               "master-derived key": FieldCipher(KEY).audit_key}[kind]  # fmt: skip
        kid = key_id(key) if kind == "unknown key id" else ""
        t = Checkpoint.from_dict(cp).time
        forged.update(seq=keep, hash=cut_hash, key_id=kid,
                      signature=signature(key, keep, cut_hash, t, kid))  # fmt: skip
    elif kind == "appended beside the real one":
        forged.update(seq=keep, hash=cut_hash, signature="1" * 64)
        return json.dumps(cp) + "\n" + json.dumps(forged) + "\n"
    elif kind == "non-ascii signature":
        forged["signature"] = "é" * 64
    return json.dumps(forged) + "\n"


FORGERIES = ["zero signature", "claims the cut head", "moved in time", "guessed key",
             "master-derived key", "unknown key id", "appended beside the real one",
             "non-ascii signature"]  # fmt: skip


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_forged_checkpoint_file_does_not_cover_a_cut(sqlite_url, tmp_path, kind):
    path = tmp_path / "cp.jsonl"
    env = {"MEDTWIN_AUDIT_KEY": base64.b64encode(AUDIT_KEY).decode()}
    with open_store(sqlite_url, key=KEY, audit_key=AUDIT_KEY) as store:
        fill(store, 10)
        with CheckpointWriter(store, path, every_s=3600):
            pass
    real = json.loads(path.read_text().splitlines()[-1])
    keep = real["seq"] - 3
    cut_tail(sqlite_url, keep)
    cut_hash = sql(sqlite_url, "SELECT hash FROM audit_log WHERE seq=:k", k=keep)[0][0]
    path.write_text(_forge(real, kind, cut_hash, keep))
    res = verify(sqlite_url, path, env=env)
    assert res.exit_code == 1, res.output
    assert "FAILED" in res.stdout and "audit log OK" not in res.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"seq": 5, "hash": "ab"}\n', "needs seq, hash, time"),
        ("not json at all\nstill not\n", "is not JSON"),
        ("", "holds no checkpoint"),
        ("[1, 2]", "needs seq, hash, time"),
        ('{"seq": "x", "hash": "a", "time": "t", "signature": "s"}', "needs seq, hash, time"),
    ],
)
def test_a_mangled_checkpoint_file_is_an_error_not_a_pass(sqlite_url, tmp_path, content, message):
    with open_store(sqlite_url, key=KEY) as store:
        fill(store, 3)
    path = tmp_path / "cp.json"
    path.write_text(content)
    res = verify(sqlite_url, path)
    assert res.exit_code == 2 and message in res.output and "audit log OK" not in res.output


def test_the_stored_checkpoint_key_id_is_signed(sqlite_url):
    """Relabelling a stored checkpoint as signed by another key does not pass."""
    with open_store(sqlite_url, key=KEY, audit_key=AUDIT_KEY, checkpoint_every=4) as store:
        fill(store, 9)
    sql(sqlite_url, "UPDATE audit_checkpoints SET key_id='' WHERE seq=8")
    with open_store(sqlite_url, key=KEY, audit_key=AUDIT_KEY) as store:
        cp = next(c for c in [store.checkpoint()] if c.seq == 9)
    stored = sql(sqlite_url, "SELECT hash FROM audit_checkpoints WHERE seq=8")[0][0]
    t = cp.time  # the attacker signs with the master-derived key, which every operator holds
    sig = signature(FieldCipher(KEY).audit_key, 8, stored, t, "")
    sql(sqlite_url, "UPDATE audit_checkpoints SET signature=:s, time=:t WHERE seq=8", s=sig,
        t=t.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "))  # fmt: skip
    env = {"MEDTWIN_AUDIT_KEY": base64.b64encode(AUDIT_KEY).decode()}
    res = verify(sqlite_url, env=env)
    assert res.exit_code == 1 and "did not sign the log there" in res.stdout
