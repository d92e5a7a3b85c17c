"""What `medtwin recommend` says for a T1D twin in a real SQLite store: the insulin plans
ranked, and around the table the twin's time as a clock time (local zone named, and UTC), its
current glucose, a legend of the columns, a warning when the data are old; and that it closes
its store."""

from __future__ import annotations

import base64
import re
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from medtwin.assimilate import Ensemble
from medtwin.cli._recommend_info import (
    TwinWhen,
    age_text,
    clock_text,
    glucose_now,
    stale_warning,
    when,
)
from medtwin.cli.main import app
from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.store import Store, TwinConfig, open_store

KEY = bytes(range(32))
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
BERLIN = "CET-1CEST,M3.5.0,M10.5.0/3"  # POSIX rule of Europe/Berlin: needs no tz database


@pytest.fixture
def zone(monkeypatch):
    """Run in a named local time zone; restored afterwards."""

    def use(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def test_clock_text_names_the_local_zone_and_utc(zone):
    zone(BERLIN)
    assert clock_text(T0 + timedelta(minutes=20)) == "2025-03-01 09:20 CET (08:20 UTC)"
    summer = datetime(2025, 7, 1, 23, 30, tzinfo=UTC)
    assert clock_text(summer) == "2025-07-02 01:30 CEST (2025-07-01 23:30 UTC)"
    zone("UTC0")
    assert clock_text(T0) == "2025-03-01 08:00 UTC"


@pytest.mark.parametrize(
    ("age", "text"),
    [(timedelta(minutes=75), "75 min"), (timedelta(hours=59), "59 h"),
     (timedelta(days=4, hours=12), "4.5 days")],
)  # fmt: skip
def test_age_text(age, text):
    assert age_text(age) == text


def test_stale_warning_after_an_hour():
    now = datetime(2025, 3, 3, 19, 20, tzinfo=UTC)
    w = TwinWhen(T0, now - timedelta(hours=59))
    assert stale_warning(w, now) == (
        "The newest data are 59 h old: this ranks options for then, not now. Upload recent "
        "readings first."
    )
    assert stale_warning(TwinWhen(T0, now - timedelta(minutes=59)), now) is None
    assert "no readings yet" in stale_warning(TwinWhen(T0, None), now)


def test_glucose_now_is_the_weighted_mean_and_95_range():
    pred = jnp.asarray(np.linspace(100.0, 199.0, 100))
    w = np.r_[np.full(50, 1.0), np.full(50, 3.0)]
    ens = Ensemble(jnp.zeros((100, 1)), jnp.zeros((100, 1)), jnp.log(w / w.sum()), 0.0)
    mean, lo, hi = glucose_now(ens, pred)
    assert mean == pytest.approx(float(np.asarray(pred) @ (w / w.sum())), rel=1e-12)
    cw = np.cumsum(w / w.sum())
    assert lo == float(pred[np.argmax(cw >= 0.025)]) and hi == float(pred[np.argmax(cw >= 0.975)])
    assert lo < mean < hi


def test_when_reads_the_epoch_and_the_newest_observation():
    epoch = datetime(2025, 3, 1, tzinfo=UTC)
    newest = epoch + timedelta(hours=9)
    calls = []

    def observations(pid, *, actor, since=None):
        calls.append(since)
        return [SimpleNamespace(time=epoch + timedelta(hours=2)), SimpleNamespace(time=newest)]

    store = SimpleNamespace(
        forecasts=lambda pid, *, actor, limit: [SimpleNamespace(epoch=epoch, time_unit="min")],
        observations=observations,
    )
    w = when(store, "p", SimpleNamespace(time=480.0), actor="t")
    assert w == TwinWhen(epoch + timedelta(hours=8), newest)
    assert calls == [epoch + timedelta(hours=8) - timedelta(days=1)]


@pytest.fixture
def closes(monkeypatch):
    """Count the stores closed."""
    closed = []
    original = Store.close

    def close(self):
        closed.append(self)
        original(self)

    monkeypatch.setattr(Store, "close", close)
    return closed


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDTWIN_KEY", base64.b64encode(KEY).decode())
    monkeypatch.delenv("MEDTWIN_KEY_FILE", raising=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with open_store(url, key=KEY) as store:
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
    return url


def test_recommend_closes_its_store_on_an_error(db, closes):
    res = CliRunner().invoke(app, ["recommend", "Patient/nobody", "--db", db])
    assert res.exit_code == 2 and "No patient" in res.output
    assert len(closes) == 1


@pytest.mark.slow  # a store, a twin update and an MPC compile: about 20-40 s
def test_recommend_says_when_what_now_and_warns_of_old_data(db, closes, zone):
    zone(BERLIN)
    res = CliRunner().invoke(app, ["recommend", "Patient/rec", "--db", db, "--carbs", "40"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == (
        "Twin of Patient/rec, version 1 (model uva-padova), at 2025-03-01 09:20 CET "
        "(08:20 UTC); model time 20 min"
    )
    age = (datetime.now(UTC) - (T0 + timedelta(minutes=20))).total_seconds() / 86400
    warn = re.fullmatch(
        r"Warning: The newest data are ([\d.]+) days old: this ranks options for then, not "
        r"now\. Upload recent readings first\.",
        lines[1],
    )
    assert warn and abs(float(warn.group(1)) - age) < 0.2
    now = re.fullmatch(
        r"Estimated glucose now: (\d+) mg/dL \(95 % range (\d+)-(\d+) mg/dL\), the CGM value "
        r"the twin's 64 particles predict, weighted\.",
        lines[2],
    )
    assert now
    mean, lo, hi = (int(g) for g in now.groups())
    assert 40 <= lo <= mean <= hi <= 400
    assert "version" in res.output and "P(BG<70)" in res.output
    rows = [line for line in lines if line.startswith("│ ")]
    assert len(rows) == 10
    # ranked: plans meeting the chance constraint first, by risk
    meets = [r.split("│")[-2].strip() for r in rows]
    assert meets == sorted(meets, key=lambda m: m != "yes")
    assert any("1.20" in r for r in rows)  # the told basal rate is the grid's x1 level
    for row in rows:  # BG in 120 min: median (95 % band) of the plan's what-if, in mg/dL
        bg = re.fullmatch(r"(\d+) \((\d+)-(\d+)\)", row.split("│")[5].strip())
        assert bg, row
        mid, low, high = (int(g) for g in bg.groups())
        assert 20 <= low <= mid <= high <= 600
    assert lines[-3].startswith("BG in 120 min: the plasma glucose the plan leads to")
    assert lines[-2].startswith("risk: the Kovatchev blood-glucose risk index")
    assert lines[-1].startswith("P(BG<70): the probability of plasma glucose below 70 mg/dL")
    assert len(closes) == 1
