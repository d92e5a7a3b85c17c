"""`medtwin recommend PATIENT` and `trial t1d-control` refuse what they cannot run (the ranked
plans of a T1D twin and what is said around them: ``test_recommend_output.py``)."""

from __future__ import annotations

import base64

import pytest
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.store import open_store

KEY = bytes(range(32))


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
        (["--policies", "bb,magic"], "subset of bb,pid,aps,mpc"),
        (["--therapy-error", "-0.1"], "--therapy-error is the sd of the log"),
        (["--therapy-error", "2"], "between 0 (the true settings) and 1"),
        (["--therapy-error", "nan"], "finite number"),
        (["--patients", "adult#099"], "virtual"),
        (["--days", "0"], "--days must be > 0"),
        (["--out", "/nonexistent/folder/r.csv"], "existing folder"),
    ],
)
def test_t1d_control_refuses_bad_options_before_running(args, message):
    res = CliRunner().invoke(app, ["trial", "t1d-control", "--days", "1", *args])
    assert res.exit_code == 2
    assert message in res.output
