"""Attacks on the cost of the audit log (issue 14, finding 8): a request that makes the server
load a 20k-entry log to show a page of it (and hold the write lock meanwhile), hostile paging
parameters, and a patient-list poll that writes 1 + 2N rows per poll -- while per-patient audit
queries must still find every patient a list read."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, insert, text, update
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.data.records import PatientRecord
from medtwin.store._schema import AuditHeadRow, AuditRow

from .conftest import KEY

T = datetime(2026, 1, 1, tzinfo=UTC)


def bulk_log(store, n: int) -> int:
    """Append ``n`` entries fast (their chain is not valid: only the paging is under test)."""
    head = store.audit_entries(newest_first=True, limit=1)[0].seq
    rows = [{"seq": head + i, "time": T, "actor": "x", "action": "patient.read", "patient": None,
             "resource": None, "outcome": "success", "detail": json.dumps({"i": i}),
             "prev_hash": "0" * 64, "hash": "0" * 64, "key_id": ""}
            for i in range(1, n + 1)]  # fmt: skip
    with store._engine.begin() as conn:
        conn.execute(insert(AuditRow), rows)
        conn.execute(update(AuditHeadRow).values(seq=head + n, hash="0" * 64))
    return head + n


@pytest.fixture
def loads():
    """Counts the audit rows the ORM builds (every row a query fetched)."""
    seen = []

    def count(target, _ctx):
        seen.append(target.seq)

    event.listen(AuditRow, "load", count)
    yield seen
    event.remove(AuditRow, "load", count)


# -- a page of a long log reads the page, not the log -------------------------------------------


@pytest.mark.parametrize(
    "fmt, limit, before",
    [("json", 1, None), ("json", 100, None), ("fhir", 50, None), ("json", 25, 10_000),
     ("fhir", 10, 3), ("json", 10_000, None)],
)  # fmt: skip
def test_a_page_of_a_20k_entry_log_reads_only_the_page(world, loads, fmt, limit, before):
    head = bulk_log(world.store, 20_000)
    url = f"/audit?format={fmt}&limit={limit}" + (f"&before={before}" if before else "")
    loads.clear()
    r = world.get("adm", url)
    assert r.status_code == 200, r.text
    assert len(loads) <= limit + 1  # fetched in the database: the page (+1 to see if more)
    top = (before or head + 1) - 1
    if fmt == "json":
        seqs = [e["seq"] for e in r.json()["entries"]]
        nxt = r.json()["next"]
    else:
        seqs = [int(e["resource"]["id"].removeprefix("audit-")) for e in r.json()["entry"]]
        nxt = next((x["url"] for x in r.json()["link"] if x["relation"] == "next"), None)
    assert seqs == list(range(top, max(top - limit, 0), -1))  # newest first
    assert (nxt is None) == (top - limit <= 0)
    read = world.store.audit_entries(action="audit.read", newest_first=True, limit=1)[0]
    assert read.actor == "adm" and read.detail["entries"] == len(seqs)  # audited, after


def test_following_next_walks_the_log_once_newest_first(world):
    for i in range(40):
        world.store.audit("cli1", "patient.read", detail={"i": i})
    head = world.store.audit_entries(newest_first=True, limit=1)[0].seq
    seen, url = [], "/audit?limit=7"
    while url:
        doc = world.get("adm", url).json()
        seen += [e["seq"] for e in doc["entries"]]
        url = doc["next"]
    assert seen == list(range(head, 0, -1))  # each entry once; the reads' own entries after


@pytest.mark.parametrize(
    "query",
    ["before=0", "before=-5", f"before={2**31}", "before=abc", "before=1e3", "before=",
     "limit=0", "limit=10001", "limit=NaN", "limit=-1", "format=xml", "before=1&before=x"],
)  # fmt: skip
def test_hostile_paging_parameters_are_refused(world, loads, query):
    before = len(world.store.audit_entries(action="audit.read"))
    loads.clear()
    r = world.get("adm", f"/audit?{query}")
    assert r.status_code == 422, (query, r.status_code, r.text)
    assert loads == [] and len(world.store.audit_entries(action="audit.read")) == before


@pytest.mark.parametrize("who, status", [("cli1", 403), ("res", 403), ("nobody", 401)])
@pytest.mark.parametrize("fmt", ["json", "fhir"])
def test_only_an_admin_pages_the_log(world, loads, who, status, fmt):
    loads.clear()
    r = world.get(who, f"/audit?format={fmt}&limit=5&before=4")
    assert r.status_code == status and loads == []
    assert "entries" not in r.text and "AuditEvent" not in r.text


@pytest.mark.parametrize("read", ["page", "verify"])
def test_reading_the_log_takes_no_write_lock(world, read):
    """A long read of the log must not stall every writer (SQLite: BEGIN IMMEDIATE held the
    write lock for the whole read). Here a writer holds the lock; the read still completes."""
    path = world.url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")  # another process's write transaction, in progress
    out: list = []
    fn = {"page": lambda: world.store.audit_entries(limit=5, newest_first=True),
          "verify": world.store.verify_audit}[read]  # fmt: skip
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(timeout=30)  # with the write lock taken it would wait for the writer (60 s)
    writer.execute("ROLLBACK")
    writer.close()
    t.join(timeout=60)
    assert out and (len(out[0]) == 5 if read == "page" else out[0].ok)


def test_a_read_only_transaction_cannot_write(world):
    """The read path is read-only for real: a write slipped into it fails."""
    with pytest.raises(Exception, match=r"readonly|read-only|read only"):
        with world.store._read() as s:
            s.execute(text("DELETE FROM audit_log"))
    assert len(world.store.audit_entries()) > 0


@pytest.mark.parametrize("patient", [False, True])
def test_audit_export_reads_the_log_a_page_at_a_time(world, tmp_path, monkeypatch, patient):
    pid = world.new_patient("adm")
    bulk_log(world.store, 2_500)
    for _ in range(3):
        world.store.patient(pid, actor="adm")
    calls = []
    real = type(world.store).audit_entries

    def spy(self, **kw):
        calls.append(kw.get("limit"))
        return real(self, **kw)

    monkeypatch.setattr(type(world.store), "audit_entries", spy)
    out = tmp_path / "audit.json"
    env = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}
    args = ["audit", "export", "--out", str(out), "--db", world.url]
    res = CliRunner().invoke(app, args + (["--patient", pid] if patient else []), env=env)
    assert res.exit_code == 0, res.output
    assert calls and all(c is not None and c <= 1000 for c in calls)
    entries = json.loads(out.read_text())["entry"]
    seqs = [int(e["resource"]["id"].removeprefix("audit-")) for e in entries]
    assert seqs == sorted(set(seqs))
    if patient:
        assert len(seqs) == 4  # the patient's creation and three reads, not the 2,500 others
    else:
        assert len(seqs) == seqs[-1] and len(seqs) > 2_500


# -- a list poll writes one audit entry; per-patient queries still find it ----------------------


def _patients(world, n: int, grant: str | None = None) -> list[str]:
    pids = [world.store.add_patient(PatientRecord(f"urn:test|{i}"), actor="adm") for i in range(n)]
    for p in pids[:2] if grant else []:
        world.store.grant(grant, p, actor="adm")
    return pids


@pytest.mark.parametrize("route", ["/patients", "/ui/api/patients"])
@pytest.mark.parametrize("who, n", [("adm", 1), ("adm", 6), ("adm", 25), ("cli1", 6)])
def test_a_list_poll_writes_one_audit_entry(world, route, who, n):
    pids = _patients(world, n, grant="cli1" if who == "cli1" else None)
    before = world.store.audit_entries(newest_first=True, limit=1)[0].seq
    for _ in range(3):  # three polls
        r = world.get(who, route)
        assert r.status_code == 200
    new = world.store.audit_entries(after_seq=before)
    assert [e.action for e in new] == ["patient.list"] * 3  # not 1 + 2N per poll
    shown = sorted(pids if who == "adm" else pids[:2])
    assert all(sorted(e.detail["patients"]) == shown for e in new)


@pytest.mark.parametrize("query", ["entries", "fhir", "cli export", "not listed", "wildcard"])
def test_per_patient_audit_queries_find_the_list_that_read_the_patient(world, tmp_path, query):
    mine, other = _patients(world, 2, grant="cli1")[0], None
    other = world.store.add_patient(PatientRecord("urn:test|other"), actor="adm")
    assert world.get("cli1", "/ui/api/patients").status_code == 200
    if query == "entries":
        got = world.store.audit_entries(patient=mine, action="patient.list")
        assert [e.actor for e in got] == ["cli1"]
    elif query == "fhir":
        ev = world.store.audit_events(patient=mine, action="patient.list")
        assert len(ev) == 1
        refs = [x["what"].get("reference") for x in ev[0]["entity"]]
        assert f"Patient/{mine}" in refs and f"Patient/{other}" not in refs
    elif query == "cli export":
        out = tmp_path / "a.json"
        env = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}
        res = CliRunner().invoke(app, ["audit", "export", "--out", str(out), "--db", world.url,
                                       "--patient", mine], env=env)  # fmt: skip
        assert res.exit_code == 0, res.output
        actors = [(e["resource"]["agent"][0]["who"]["display"],
                   next(c["valueString"] for c in e["resource"]["entity"][-1]["detail"]
                        if c["type"] == "medtwin-action"))
                  for e in json.loads(out.read_text())["entry"]]  # fmt: skip
        assert ("cli1", "patient.list") in actors
    elif query == "not listed":  # cli1's list did not read the other patient
        assert world.store.audit_entries(patient=other, actor="cli1") == []
    else:  # a LIKE wildcard as the patient matches nothing, not every entry
        assert world.store.audit_entries(patient="%") == []
        assert world.store.audit_entries(patient='"patients":[') == []
