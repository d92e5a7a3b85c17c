"""``medtwin petab llh`` and ``medtwin petab fit`` on the tiny problem of ``petab_tiny`` (a
closed-form solution): the printed log-likelihood is the closed form's, and the fitted
parameter table is a PEtab table whose values reach the printed best negative log-likelihood
and do no worse than the nominal values."""

from __future__ import annotations

import csv
import re

import pytest
from petab_tiny import closed_form_nllh, write
from typer.testing import CliRunner

from medtwin.cli.main import app


@pytest.mark.slow
def test_llh_prints_the_closed_form(tmp_path):
    res = CliRunner().invoke(app, ["petab", "llh", str(write(tmp_path / "tiny"))])
    assert res.exit_code == 0, res.output
    assert "4 measurements in 2 experiments, 3 estimated parameters" in res.output
    llh = float(re.search(r"nominal parameters: (\S+)", res.output).group(1))
    assert llh == pytest.approx(-closed_form_nllh(), rel=1e-6)


def test_fit_writes_a_parameter_table_that_reaches_the_best_value(tmp_path):
    yaml = write(tmp_path / "tiny")
    out = tmp_path / "fitted.tsv"
    res = CliRunner().invoke(app, ["petab", "fit", str(yaml), "--starts", "3", "--seed", "1",
                                   "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    best = float(re.search(r"best negative log-likelihood (\S+);", res.output).group(1))
    with out.open() as fh:
        rows = {r["parameterId"]: r for r in csv.DictReader(fh, delimiter="\t")}
    assert list(rows) == ["k", "scale", "sd", "p_on"] and rows["p_on"]["nominalValue"] == "1.5"
    fitted = {k: float(rows[k]["nominalValue"]) for k in ("k", "scale", "sd")}
    assert closed_form_nllh(**fitted) == pytest.approx(best, rel=1e-6)
    assert best < closed_form_nllh() - 0.1  # the data are not the nominal model's
    assert all(float(rows[k]["lowerBound"]) <= v <= float(rows[k]["upperBound"])
               for k, v in fitted.items())  # fmt: skip


@pytest.mark.parametrize(("argv", "fragment"), [
    (["petab", "llh", "missing.yaml"], "No such file"),
    (["petab", "fit", "missing.yaml", "--starts", "0"], "--starts must be"),
])  # fmt: skip
def test_bad_input_is_one_line(argv, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 2 and fragment in res.output
    assert len(res.output.strip().splitlines()) == 1
