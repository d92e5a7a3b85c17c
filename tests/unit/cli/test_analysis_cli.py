"""``medtwin sensitivity`` and ``medtwin identifiability``, run in-process through typer's runner
(the same app the console script runs; in-process so the compiled kernels are shared)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.models import BergmanMinimal
from medtwin.simulate import Regimen, bolus, meal, simulate

pytest.importorskip("SALib")
T = np.arange(0.0, 361.0, 5.0)


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Plasma glucose of Bergman's defaults after a 60 g lunch with 5 U (model noise, seeded)."""
    folder = tmp_path_factory.mktemp("analysis")
    m = BergmanMinimal()
    reg = Regimen((meal(30.0, 60.0), bolus(30.0, 5.0)))
    bg = np.asarray(simulate(m, m.default_params(), reg, t1=360.0, saveat=T).observable("bg"))
    bg = bg + np.asarray(m.observables[0].noise.sd(bg)) * np.random.default_rng(1).normal(
        size=bg.size
    )
    data = folder / "data.csv"
    data.write_text(
        "time,observable,value\n"
        + "".join(f"{t:g},bg,{v:.6f}\n" for t, v in zip(T, bg, strict=True))
    )
    events = folder / "events.csv"
    events.write_text("time,kind,amount\n30,meal,60\n30,bolus,5\n")
    cgm = folder / "cgm.csv"
    cgm.write_text(
        "time,glucose_mg_dl\n" + "".join(f"{t:g},{v:.6f}\n" for t, v in zip(T, bg, strict=True))
    )
    return folder, data, events, cgm


@pytest.mark.slow  # profile likelihood through the CLI (~40 s); the library is tested by default
def test_identifiability_prints_rank_and_verdicts(files):
    _, data, events, cgm = files
    res = invoke("identifiability", "bergman", "--data", data, "--events", events,
                 "--free", "Ag,VG,tau_m")  # fmt: skip
    assert res.exit_code == 0, res.output
    out = res.output
    assert "73 received, 73 used" in out
    assert "rank 2 of 3" in out
    # |loadings| tie (Ag/VG): printed in the parameters' order on every CPU, not round-off's
    assert "poorly determined: 0.71*log Ag +0.71*log VG" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert "structurally non-identifiable" in rows["Ag"]
    assert "structurally non-identifiable" in rows["VG"]
    assert rows["tau_m"].rstrip(" │").endswith("identifiable")
    assert "non-identifiable" not in rows["tau_m"]
    # the CGM format gives the same readings (as bg on this model), and --point moves the point
    res = invoke("identifiability", "bergman", "--data", cgm, "--events", events,
                 "--free", "tau_m", "--point", "tau_m=35")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "rank 1 of 1" in res.output and "│ tau_m     │    35 │" in res.output


def test_identifiability_errors_are_one_line(files):
    folder, data, _, _ = files
    bad = folder / "bad.csv"
    bad.write_text("t,v\n1,2\n")
    res = invoke("identifiability", "bergman", "--data", bad, "--free", "Ag")
    assert res.exit_code == 2 and "expected the header time,observable,value" in res.output
    res = invoke("identifiability", "bergman", "--data", data, "--free", "Ag", "--point", "Ag=x")
    assert res.exit_code == 2 and "NAME=NUMBER" in res.output
    res = invoke("identifiability", "bergman", "--data", data, "--free", "nope")
    assert res.exit_code == 2 and "no parameter named 'nope'" in res.output


def test_sensitivity_morris_prints_and_writes_the_indices(files):
    folder, _, events, _ = files
    out = folder / "morris.csv"
    res = invoke("sensitivity", "bergman", "--output", "mean:bg", "--method", "morris",
                 "-n", 6, "--params", "p3,tau_m,Ag", "--events", events, "--seed", 3,
                 "--out", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Morris indices of mean(bg) of bergman, 24 runs" in res.output
    with out.open() as fh:
        rows = {r["parameter"]: r for r in csv.DictReader(fh)}
    assert list(rows) == ["p3", "tau_m", "Ag"]
    mu = {k: float(r["mu"]) for k, r in rows.items()}
    # more insulin action lowers mean glucose, more absorbed carbohydrate raises it
    assert mu["p3"] < 0 < mu["Ag"]
    assert all(float(r["mu_star"]) >= abs(float(r["mu"])) - 1e-9 for r in rows.values())


def test_sensitivity_sobol_table_and_errors(files):
    _, _, events, _ = files
    res = invoke("sensitivity", "bergman", "--output", "tar:bg", "-n", 8, "--params",
                 "p3,Ag", "--events", events)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Sobol indices of tar(bg) of bergman, 32 runs" in res.output
    assert res.output.count("[") >= 4  # S1 and ST intervals per parameter
    res = invoke("sensitivity", "bergman", "--output", "median:bg")
    assert res.exit_code == 2 and "--output STAT must be one of" in res.output
    res = invoke("sensitivity", "bergman", "--output", "bg", "--executor", "gpu", "-n", 4)
    assert res.exit_code == 2 and "serial, process or dask" in res.output
    res = invoke("sensitivity", "bergman", "--output", "tir:insulin")
    assert res.exit_code == 2 and "glucose observable in mg/dL" in res.output


def test_identifiability_takes_a_device_export_as_cgm_data():
    from pathlib import Path

    from medtwin.cli._analysis import _data_header
    from medtwin.errors import DataError

    cgm = Path(__file__).parents[2] / "data" / "cgm"
    assert _data_header(cgm / "clarity_mg_dl.csv") is True
    assert _data_header(cgm / "nightscout_entries.json") is True
    with pytest.raises(DataError, match="or a Dexcom Clarity, LibreView or Nightscout CGM"):
        _data_header(cgm / "not_a_cgm.csv")
