"""The medtwin command line, run as a user runs it (a real subprocess)."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from medtwin.data import load_virtual_patient
from medtwin.models import UVAPadova


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "medtwin.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def read_csv(path):
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


@pytest.mark.slow
def test_simulate_writes_one_row_per_minute(tmp_path):
    out = tmp_path / "day.csv"
    res = run(
        "simulate", "t1d", "--patient", "adult#001", "--meal", "07:00=45", "--meal",
        "12:30=70", "--bolus", "07:00=4.5", "--days", "2", "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    cols = read_csv(out)
    assert list(cols) == [
        "time_min", "bg_mg_dl", "sc_glucose_mg_dl", "insulin_u_per_min", "cho_g_per_min"
    ]  # fmt: skip
    np.testing.assert_array_equal(cols["time_min"], np.arange(2880))
    # meals repeat daily at 5 g/min: 45 g -> 9 minutes from 07:00 and from 07:00 next day
    for start in (420, 1860):
        np.testing.assert_allclose(cols["cho_g_per_min"][start : start + 9], 5.0)
        np.testing.assert_allclose(cols["cho_g_per_min"][start + 9], 0.0)
    assert cols["cho_g_per_min"].sum() == pytest.approx(2 * (45 + 70))
    p = load_virtual_patient("adult#001")
    m = UVAPadova()
    basal = float(p[m.param_index("u2ss")] * p[m.param_index("BW")] / 6000)
    assert cols["insulin_u_per_min"][0] == pytest.approx(basal, rel=1e-9)
    assert cols["insulin_u_per_min"][420] == pytest.approx(basal + 4.5, rel=1e-9)
    assert cols["insulin_u_per_min"][421] == pytest.approx(basal, rel=1e-9)
    assert cols["bg_mg_dl"][0] == pytest.approx(138.56, abs=1e-6)  # Gpb/Vg of adult#001
    assert cols["bg_mg_dl"].max() > 180


@pytest.mark.slow
def test_basal_option_sets_the_rate(tmp_path):
    out = tmp_path / "b.csv"
    res = run("simulate", "t1d", "--basal", "0.6", "--out", str(out))
    assert res.returncode == 0, res.stderr
    np.testing.assert_allclose(read_csv(out)["insulin_u_per_min"], 0.01)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patient", "adult#099"], "Unknown virtual patient 'adult#099'"),
        (["--meal", "7h=45"], "--meal expects a time of day HH:MM"),
        (["--meal", "07:00=-5"], "--meal expects a non-negative, finite amount of g. Got '-5'"),
        (["--meal", "07:00=lots"], "--meal expects a number of g after '='. Got 'lots'"),
        (["--bolus", "25:00=1"], "--bolus expects a time of day HH:MM between 00:00 and 23:59"),
        (["--days", "0"], "--days must be a whole number >= 1. Got 0"),
        (["--basal", "-1"], "--basal expects a rate in U/h >= 0. Got -1.0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    out = tmp_path / "x.csv"
    res = run("simulate", "t1d", *args, "--out", str(out))
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing half-written


def test_unknown_model_and_usage_errors_exit_2():
    res = run("simulate", "no-such-model")
    assert res.returncode == 2 and "Unknown model 'no-such-model'" in res.stderr
    res = run("simulate", "t1d", "--days", "x")
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_models_lists_parameters_units_and_references():
    res = run("models")
    assert res.returncode == 0, res.stderr
    for text in ("uva-padova", "bergman", "kp1", "mg/kg/min", "Dalla Man", "LOINC 2339-0"):
        assert text in res.stdout


def test_models_lists_the_network_twins_with_their_codes():
    res = run("models")
    assert res.returncode == 0, res.stderr
    assert "acute-ischaemic-stroke (alias: stroke, ais) -- a causal Bayesian network" in res.stdout
    one = run("models", "stroke", "--search", "rankin")
    assert one.returncode == 0, one.stderr
    assert "uva-padova" not in one.stdout and "75859-9" in one.stdout
    assert "lvo, ott, ivt, mt," in one.stdout and "stroke-lvo" not in one.stdout


def test_demo_prints_a_metrics_table():
    res = run("demo")
    assert res.returncode == 0, res.stderr
    assert "Time in range 70-180 mg/dL" in res.stdout and "adult#001" in res.stdout
