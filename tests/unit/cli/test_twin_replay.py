"""`medtwin twin replay` on a small recorded stream, run as a user runs it."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medtwin.data import read_cgm_csv, read_events_csv
from medtwin.errors import DataError


def write(path, text):
    path.write_text(text)
    return path


@pytest.fixture
def stream(tmp_path):
    rows = ["time,glucose_mg_dl"]
    for k in range(24):
        t, g = 5 * k, 140 + 20 * np.sin(k / 6)
        rows.append(f"{t}," + ("" if k == 4 else "LO" if k == 9 else f"{g:.1f}"))
    rows.append("60,151.0")  # a late, out-of-order reading at an earlier time
    cgm = write(tmp_path / "cgm.csv", "\n".join(rows) + "\n")
    events = write(tmp_path / "events.csv", "time,kind,amount\n30,meal,40\n30,bolus,4\n")
    return cgm, events


def test_csv_readers(stream):
    cgm, events = stream
    obs = read_cgm_csv(cgm)
    assert len(obs) == 25 and np.isnan(obs.values[4]) and obs.censored[9] == -1
    reg = read_events_csv(events)
    assert [(e.label, e.time, e.amount) for e in reg.events] == [
        ("meal", 30.0, 40.0),
        ("bolus", 30.0, 4.0),
    ]


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        # none of the CGM formats: the formats tried and the first line
        ("cgm.csv", "t,glucose\n1,2\n", "(header time,glucose_mg_dl); Dexcom Clarity"),
        ("cgm.csv", "t,glucose\n1,2\n", "Its first line reads 't,glucose'"),
        ("cgm.csv", "time,glucose\n1,2\n", "expected the header time,glucose_mg_dl. Got time,gl"),
        ("cgm.csv", "time,glucose_mg_dl\nnoon,100\n", "line 2: time must be minutes"),
        ("ev.csv", "time,kind,amount\n5,snack,10\n", "line 2: kind must be meal, bolus or basal"),
        ("ev.csv", "time,kind,amount\n5,meal,-10\n", "line 2: The amount of the meal must be >= 0"),
    ],
)
def test_csv_errors_name_the_line(tmp_path, name, text, fragment):
    path = write(tmp_path / name, text)
    reader = read_cgm_csv if name == "cgm.csv" else read_events_csv
    with pytest.raises(DataError) as info:
        reader(path)
    assert fragment in str(info.value)


@pytest.mark.slow
def test_replay_writes_every_forecast_and_prints_skill(stream, tmp_path):
    cgm, events = stream
    out = tmp_path / "forecasts.csv"
    res = subprocess.run(
        [sys.executable, "-m", "medtwin.cli", "twin", "replay", "--model", "t1d",
         "--data", str(cgm), "--events", str(events), "--horizon", "30",
         "--particles", "64", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "25 readings: 24 assimilated, dropped: 1 missing value (NaN)" in res.stdout
    assert "Forecast skill" in res.stdout and "Posterior" in res.stdout
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24 * 6  # one forecast per distinct reading time, 6 targets of 5 min
    first = rows[0]
    assert float(first["horizon_min"]) == 5.0
    assert float(first["lower95_mg_dl"]) <= float(first["median_mg_dl"])
    assert float(first["median_mg_dl"]) <= float(first["upper95_mg_dl"])


def test_replay_bad_options_exit_2(stream):
    cgm, _ = stream
    res = subprocess.run(
        [sys.executable, "-m", "medtwin.cli", "twin", "replay", "--data", str(cgm),
         "--horizon", "7"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 2 and "--horizon must be a positive multiple of 5" in res.stderr


def test_replay_reads_a_device_export_and_says_which_format(tmp_path):
    """A Nightscout entries file (tests/data/cgm): the format printed, its LOW censored."""
    data = Path(__file__).parents[2] / "data" / "cgm" / "nightscout_entries.json"
    res = subprocess.run(
        [sys.executable, "-m", "medtwin.cli", "twin", "replay", "--data", str(data),
         "--horizon", "30", "--particles", "64"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())  # rich wraps long lines
    assert "Read nightscout_entries.json as a Nightscout entries JSON: 12 glucose readings" in out
    assert "skipped 1 error codes (sgv below 39), 1 'mbg' entries, 1 'cal' entries" in out
    assert "12 readings: 12 assimilated, dropped: none; 1 of the assimilated censored" in out
    # a device's readings carry its autocorrelated error as every particle's state
    assert "Sensor error: the CGM's autocorrelated error as every particle's AR(1)" in out
