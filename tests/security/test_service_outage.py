"""Attacks through a database outage (issue 14, finding 9): while the database is gone, locked,
full or read-only, every route must answer 503 with ``Retry-After`` and a message saying so --
never a 500, a stack trace, the driver's text or a file path, which tell an attacker what runs
and where -- ``/ready`` must say not ready while ``/health`` stays up, and once the database is
back nothing was half-stored and the audit chain verifies.

The outages are real: a PostgreSQL server (this module's own, see ``tests/_pg.py``) stopped,
or its database turned read-only with the live connections cut (as in a failover to a
standby); the SQLite file replaced by a directory or removed, its lock held by another
process, and (as root) the file on a tmpfs filled up or remounted read-only."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from _pg import start_postgres

from .conftest import KEY, USERS, collection, glucose, patient_resource

KINDS = ["pg-stopped", "pg-readonly", "sqlite-directory", "sqlite-removed", "sqlite-locked",
         "sqlite-full", "sqlite-readonly"]  # fmt: skip
LEAKS = ("Traceback", 'File "', "sqlalchemy", "sqlite3", "psycopg", "OperationalError",
         "SELECT ", "INSERT ", "BEGIN")  # fmt: skip


@pytest.fixture(scope="module")
def pg():
    server = start_postgres()
    yield server
    server.stop()


def _pg_ctl(server, *args: str) -> None:
    opts = (f"-p {server.port} -k {server.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=60")  # fmt: skip
    res = server._run(str(server.bindir / "pg_ctl"), "-D", str(server.datadir), "-o", opts,
                      "-l", str(server.root / "server.log"), "-w", "-t", "60", *args)  # fmt: skip
    assert res.returncode == 0, res.stderr


def _mount(folder: Path, *opts: str) -> None:
    res = subprocess.run(["mount", *opts, str(folder)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"a full or read-only disk is simulated with a tmpfs, which needs root: "
                    f"{res.stderr.strip()}")  # fmt: skip


class Outage:
    """One way for the database to fail, with the fix that ends it."""

    def __init__(self, kind: str, tmp: Path, pg, monkeypatch) -> None:
        self.kind, self.tmp, self.pg, self.mounted = kind, tmp, pg, None
        if kind.startswith("pg-"):
            self.dbname = pg.create_database()
            self.url = pg.url(self.dbname)
            return
        folder = tmp / "db"
        folder.mkdir()
        if kind in ("sqlite-full", "sqlite-readonly"):
            _mount(folder, "-t", "tmpfs", "-o", "size=3M", "tmpfs")
            self.mounted = folder
        self.file = folder / "medtwin.db"
        self.url = f"sqlite:///{self.file}"
        if kind == "sqlite-locked":  # the store waits 0.3 s for the lock, not a minute
            monkeypatch.setattr("medtwin.store._engine.BUSY_TIMEOUT_S", 0.3)

    def start(self) -> None:
        k = self.kind
        if k == "pg-stopped":
            _pg_ctl(self.pg, "stop", "-m", "fast")
        elif k == "pg-readonly":  # as after a failover to a standby: connections cut
            self._failover("SET default_transaction_read_only = on")
        elif k == "sqlite-directory":
            self.file.rename(self.file.with_suffix(".moved"))
            self.file.mkdir()
        elif k == "sqlite-removed":
            self.file.rename(self.file.with_suffix(".moved"))
        elif k == "sqlite-locked":
            self.holder = sqlite3.connect(self.file, isolation_level=None)
            self.holder.execute("BEGIN EXCLUSIVE")
        elif k == "sqlite-full":
            with open(self.file.parent / "filler", "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
        elif k == "sqlite-readonly":
            _mount(self.mounted, "-o", "remount,ro")

    def end(self) -> None:
        k = self.kind
        if k == "pg-stopped":
            _pg_ctl(self.pg, "start")
        elif k == "pg-readonly":
            self._failover("RESET default_transaction_read_only")
        elif k in ("sqlite-directory", "sqlite-removed"):
            if self.file.is_dir():
                self.file.rmdir()
            for stale in self.file.parent.glob("medtwin.db*"):
                if stale.suffix != ".moved":
                    stale.unlink()  # the empty database a request's connection created
            self.file.with_suffix(".moved").rename(self.file)
        elif k == "sqlite-locked":
            self.holder.execute("ROLLBACK")
            self.holder.close()
        elif k == "sqlite-full":
            (self.file.parent / "filler").unlink()
        elif k == "sqlite-readonly":
            _mount(self.mounted, "-o", "remount,rw")

    def _failover(self, setting: str) -> None:
        self.pg._admin(f'ALTER DATABASE "{self.dbname}" {setting}')
        self.pg._admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                       f"datname = '{self.dbname}'")  # fmt: skip

    def close(self) -> None:
        if self.kind.startswith("pg-"):
            self.pg.drop_database(self.dbname)
        if self.mounted is not None:
            subprocess.run(["umount", "-l", str(self.mounted)], capture_output=True)


@pytest.fixture(params=KINDS)
def down(request, tmp_path, pg, monkeypatch):
    """A world (users, tokens, one patient of cli1's with one reading) over a database that
    ``down.outage.start()`` takes away and ``down.outage.end()`` gives back."""
    from medtwin.service import create_app
    from medtwin.store import open_store

    outage = Outage(request.param, tmp_path, pg, monkeypatch)
    store = open_store(outage.url, key=KEY)
    tokens = {}
    for name, role in USERS:
        store.add_user(name, role)
        tokens[name] = store.issue_token(name)
    client = TestClient(create_app(store, login_limit=1000), raise_server_exceptions=False)
    client.__enter__()
    ns = type("Down", (), {})()
    ns.outage, ns.client, ns.tokens, ns.store = outage, client, tokens, store

    def call(who, method, path, body=None):
        headers = {"authorization": f"Bearer {tokens[who]}"} if who in tokens else {}
        if method == "GET":
            return client.get(path.replace("{pid}", ns.pid), headers=headers)
        data = json.dumps(body).replace("{pid}", ns.pid).encode()
        headers["content-type"] = "application/fhir+json"
        return client.post(path.replace("{pid}", ns.pid), content=data, headers=headers)

    ns.call = call
    ns.pid = ""
    ns.pid = call("cli1", "POST", "/patients", patient_resource()).json()["id"]
    assert call("cli1", "POST", "/patients/{pid}/observations",
                glucose("Patient/{pid}", "g-1")).status_code == 200  # fmt: skip
    try:
        yield ns
    finally:
        try:
            client.__exit__(None, None, None)
            store.close()
        finally:
            outage.close()


def _assert_outage(r, down) -> None:
    assert r.status_code == 503, (r.status_code, r.text)
    assert 0 < int(r.headers["retry-after"]) <= 120
    doc = r.json()
    assert doc["resourceType"] == "OperationOutcome"
    issue = doc["issue"][0]
    assert issue["code"] in ("transient", "no-store", "lock-error")
    assert issue["diagnostics"].startswith("The database is ") and "try again in" in issue[
        "diagnostics"]  # fmt: skip
    for leak in (*LEAKS, str(down.outage.tmp), f":{down.outage.pg.port}"):
        assert leak not in r.text, leak
    assert r.headers["cache-control"] == "no-store"


ROUTES = [
    ("adm", "GET", "/patients", None),
    ("cli1", "GET", "/patients/{pid}", None),
    ("cli1", "GET", "/patients/{pid}/observations", None),
    ("cli1", "GET", "/fhir/Observation?patient={pid}", None),
    ("cli1", "POST", "/patients/{pid}/observations", glucose("Patient/{pid}", "g-9", 99.0)),
    ("cli1", "POST", "/fhir", collection((None, glucose("Patient/{pid}", "g-8")))),
    ("cli2", "POST", "/patients", patient_resource("MRN-5", name="Roe")),
    ("adm", "POST", "/grants", {"user": "cli2", "patient": "{pid}"}),
    ("res", "GET", "/research/export", None),
    ("cli1", "GET", "/ui/api/patients", None),
    ("nobody", "GET", "/patients", None),
]


@pytest.mark.parametrize(("who", "method", "path", "body"), ROUTES,
                         ids=[f"{r[0]}-{r[1]}-{r[2]}" for r in ROUTES])  # fmt: skip
def test_an_outage_answers_503_with_retry_after_and_no_internals(down, who, method, path, body):
    down.outage.start()
    try:
        _assert_outage(down.call(who, method, path, body), down)
    finally:
        down.outage.end()


def test_readiness_follows_the_database_and_liveness_does_not(down):
    assert down.client.get("/ready").status_code == 200
    down.outage.start()
    try:
        _assert_outage(down.client.get("/ready"), down)
        assert down.client.get("/health").json()["status"] == "ok"
    finally:
        down.outage.end()
    assert down.client.get("/ready").json() == {"status": "ready",
                                                "database": down.store.dialect}  # fmt: skip


def test_after_the_outage_nothing_was_half_stored_and_the_audit_chain_holds(down):
    reading = glucose("Patient/{pid}", "g-7", 111.0)
    down.outage.start()
    try:
        _assert_outage(down.call("cli1", "POST", "/patients/{pid}/observations", reading), down)
        _assert_outage(down.call("cli1", "POST", "/patients", patient_resource("MRN-6")), down)
    finally:
        down.outage.end()
    stored = down.call("cli1", "GET", "/patients/{pid}/observations").json()["observations"]
    assert [o["value"] for o in stored] == [120.0]
    assert down.call("adm", "GET", "/patients").json()["patients"] == [down.pid]
    again = down.call("cli1", "POST", "/patients/{pid}/observations", reading)
    assert again.status_code == 200 and again.json()["observations"]["added"] == 1
    verified = down.call("adm", "GET", "/audit/verify").json()
    assert verified["ok"] is True, verified


def test_a_database_bug_is_still_a_500_not_an_outage():
    """A constraint violation or bad SQL is a defect to fix, not a reason to retry."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    from medtwin.service._errors import database_outage

    assert database_outage(IntegrityError("INSERT", {}, Exception("UNIQUE failed"))) is None
    assert database_outage(ProgrammingError("SELEC", {}, Exception("syntax error"))) is None
    assert database_outage(ValueError("database is locked")) is None
    locked = database_outage(OperationalError("BEGIN", {}, Exception("database is locked")))
    assert locked is not None and locked.code == "lock-error" and locked.retry_after == 5


def test_the_outage_detail_goes_to_the_log_not_the_caller(down, caplog):
    down.outage.start()
    try:
        r = down.call("adm", "GET", "/patients")
    finally:
        down.outage.end()
    _assert_outage(r, down)
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "medtwin.service"]
    assert any("database unavailable" in m for m in logged), logged
