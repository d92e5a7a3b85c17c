"""`medtwin simulate ldl` (a person's LDL-C over years, as a summary or one CSV row per day)
and `medtwin recommend PATIENT --target-ldl` / `--risk` for an LDL twin.

The recommendation is driven here with an in-memory LDL twin in place of the stored one, every
particle the same, so the answer is the formula's: everything after ``store.twin()`` is the
command's own code. ``test_ldl_recommend_store.py`` runs it from a twin in a real store."""

from __future__ import annotations

import contextlib
import csv
from datetime import UTC, datetime
from types import SimpleNamespace

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from medtwin.assimilate import SpecPrior
from medtwin.cli import _recommend_info, _store_cmds
from medtwin.cli.main import app
from medtwin.models import get_model
from medtwin.twin import Twin

MODEL = get_model("ldl")


def formula(ldl_base: float, dose: float, ed50: float = 15.2) -> float:
    """Vargo et al. 2014 at the typical person: LDL-C under a statin dose (mg/d)."""
    x = (dose / ed50) ** 0.417
    return ldl_base * (1 - (0.758 + 0.14 * np.log(ldl_base / 180.0)) * x / (1 + x))


def test_simulate_ldl_prints_the_years():
    res = CliRunner().invoke(app, ["simulate", "ldl", "--ldl0", "180", "--slope", "0",
                                   "--drug", "atorvastatin=20@365", "--years", "3"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = {line.split()[0]: line for line in res.output.splitlines()[2:]}
    assert rows["0.0"].split()[1] == "180.0" and "none" in rows["0.0"]
    assert float(rows["3.0"].split()[1]) == pytest.approx(formula(180.0, 20.0), abs=0.05)
    assert "atorvastatin 20 mg" in rows["3.0"]


def test_simulate_ldl_writes_one_row_a_day(tmp_path):
    out = tmp_path / "ldl.csv"
    res = CliRunner().invoke(app, ["simulate", "ldl", "--ldl0", "160", "--slope", "0",
                                   "--drug", "rosuvastatin=10", "--drug", "rosuvastatin=0@400",
                                   "--years", "2", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 731  # days 0..730 (2 x 365.25 days, rounded)
    day300 = rows[300]
    assert float(day300["ldl_mg_dl"]) == pytest.approx(formula(160.0, 10.0, 4.96), abs=0.05)
    assert float(day300["ldl_mmol_l"]) == pytest.approx(float(day300["ldl_mg_dl"]) / 38.665)
    assert float(day300["rosuvastatin_mg_per_day"]) == 10.0
    assert float(rows[-1]["ldl_mg_dl"]) == pytest.approx(160.0, abs=0.01)  # stopped, washed out


@pytest.fixture
def stored_ldl_twin(monkeypatch):
    """`recommend` reads this LDL twin as if from the store (a person at untreated 160 mg/dL
    with no age slope: every particle the same, so the answer is the formula's)."""
    prior = SpecPrior(("resp",), base=tuple(np.asarray(MODEL.make_params(LDL0=160.0, slope=0.0))))
    twin = Twin.create(MODEL, prior, key=jax.random.key(0), n=16)
    i = MODEL.param_index("resp")
    twin = Twin.restore(MODEL, type(twin.ensemble)(twin.ensemble.params.at[:, i].set(1.0),
                                                   twin.ensemble.states, twin.ensemble.log_weights,
                                                   0.0),
                        prior, key=twin.key, t0=0.0, version=0)  # fmt: skip
    store = SimpleNamespace(lookup_patient=lambda ref: "p-0123456789abcdef",
                            twin=lambda pid, actor: twin)  # fmt: skip
    monkeypatch.setattr(_store_cmds, "_open", lambda db, create=True: contextlib.nullcontext(store))
    at = _recommend_info.TwinWhen(datetime(2026, 1, 1, tzinfo=UTC), None)
    monkeypatch.setattr(_recommend_info, "when", lambda *a, **k: at)
    return twin


@pytest.mark.parametrize("args", [["--target-ldl", "100"], ["--risk", "moderate"]])
def test_recommend_an_ldl_twin(stored_ldl_twin, args):
    """The ladder over all statins, ordered by typical reduction (at 180 mg/dL): ...,
    rosuvastatin 5 mg (38.0 %), simvastatin 40 mg (38.6 %), ... At 160 mg/dL (Emax 0.7415)
    rosuvastatin 5 mg gives 100.6 mg/dL, simvastatin 40 mg 160 (1 - 0.7415 x 0.509) = 99.6:
    the least therapy below 100."""
    res = CliRunner().invoke(app, ["recommend", "p-0123456789abcdef", *args])
    assert res.exit_code == 0, res.output
    assert "re-check every 12 months" in res.output
    first = next(line for line in res.output.splitlines() if line.strip().startswith("│ 1"))
    assert "simvastatin 40 mg" in first and "100 (100-100)" in first
    assert "P(>100)" in res.output.replace("\n", "")


def test_recommend_an_ldl_twin_needs_a_target(stored_ldl_twin):
    res = CliRunner().invoke(app, ["recommend", "p-0123456789abcdef"])
    assert res.exit_code == 2 and "--target-ldl" in res.output
