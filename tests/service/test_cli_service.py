"""`medtwin ingest` and `medtwin serve` as a user runs them: a real subprocess serving HTTP
on a free loopback port, and the ingest command on a SQLite file."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.store import open_store

from .conftest import KEY

SYNTHEA = Path(__file__).parents[1] / "fixtures" / "fhir" / "synthea-Lupe_Little.json"
ENV = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}


def test_ingest_stores_a_bundle_once(tmp_path):
    db = f"sqlite:///{tmp_path / 'm.db'}"
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(SYNTHEA), "--db", db], env=ENV)
    assert first.exit_code == 0, first.output
    # 4 glucose/vital readings + 2 LDL-C and 2 total cholesterol (read since issue 22) + the
    # SOFA inputs among its labs (issue 20): 3 creatinine (38483-4, as 2160-0), 1 platelet count
    assert "Stored 1 new patient(s) (0 matched a stored patient), 12 observation(s)" in first.output
    again = runner.invoke(app, ["ingest", str(SYNTHEA), "--db", db], env=ENV)
    assert (
        "Stored 0 new patient(s) (1 matched a stored patient), 0 observation(s) (12 already stored)"
        in again.output
    )
    assert "(already stored)" in again.output.splitlines()[-1]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceType": "Bundle", "type": "searchset"}))
    res = runner.invoke(app, ["ingest", str(bad), "--db", db], env=ENV)
    assert res.exit_code == 2 and "OperationOutcome" in res.stderr
    with open_store(db, key=KEY) as s:
        assert len(s.patient_ids()) == 1


def test_serve_answers_over_http(tmp_path):
    db = f"sqlite:///{tmp_path / 'm.db'}"
    with open_store(db, key=KEY) as s:
        s.add_user("ann", "admin")
        token = s.issue_token("ann")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "medtwin.cli", "serve", "--db", db, "--port", str(port)],
        env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "medtwin"
        assert httpx.get(f"{base}/patients").status_code == 401
        r = httpx.get(f"{base}/patients", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json() == {"patients": []}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
