"""`medtwin recommend PATIENT`: ranked options for a twin in a real SQLite store."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.store import TwinConfig, open_store

KEY = bytes(range(32))
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDTWIN_KEY", base64.b64encode(KEY).decode())
    monkeypatch.delenv("MEDTWIN_KEY_FILE", raising=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url, key=KEY)
    pid = store.add_patient(PatientRecord("Patient/rec"), actor="t")
    store.create_twin(pid, TwinConfig("t1d", T0, n=64, seed=1, horizon=30.0), actor="t")
    at = [T0 + timedelta(minutes=m) for m in (5, 10, 15, 20)]
    store.add_events(pid, [EventRecord("b1", "Patient/rec", "basal", T0, 1.2)], actor="t",
                     update=False)  # fmt: skip
    store.add_observations(
        pid,
        [ObservationRecord(f"c{i}", "Patient/rec", "99504-3", t, v, "mg/dL")
         for i, (t, v) in enumerate(zip(at, (182.0, 188.0, 195.0, 199.0), strict=True))],
        actor="t",
    )  # fmt: skip
    store.close()
    return url


@pytest.mark.slow  # a store, a twin update and an MPC compile: about 40 s
def test_recommend_ranks_insulin_plans_for_a_t1d_twin(db):
    res = CliRunner().invoke(app, ["recommend", "Patient/rec", "--db", db, "--carbs", "40"])
    assert res.exit_code == 0, res.output
    assert "version" in res.output and "P(BG<70)" in res.output
    rows = [line for line in res.output.splitlines() if line.startswith("│ ")]
    assert len(rows) == 10
    # ranked: plans meeting the chance constraint first, by risk
    meets = [r.split("│")[-2].strip() for r in rows]
    assert meets == sorted(meets, key=lambda m: m != "yes")
    assert any("1.20" in r for r in rows)  # the told basal rate is the grid's x1 level


def test_recommend_refuses_an_unknown_patient(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDTWIN_KEY", base64.b64encode(KEY).decode())
    db = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(db, key=KEY).close()
    res = CliRunner().invoke(app, ["recommend", "Patient/nobody", "--db", db])
    assert res.exit_code == 2
    assert "error:" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policies", "bb,magic"], "subset of bb,pid,mpc"),
        (["--patients", "adult#099"], "virtual"),
        (["--days", "0"], "--days must be > 0"),
        (["--out", "/nonexistent/folder/r.csv"], "existing folder"),
    ],
)
def test_t1d_control_refuses_bad_options_before_running(args, message):
    res = CliRunner().invoke(app, ["trial", "t1d-control", "--days", "1", *args])
    assert res.exit_code == 2
    assert message in res.output
