"""The ICU infection twins on the command line, run through the console script's ``main``:
``medtwin simulate pneumonia`` (Smith 2011 from an inoculum, under an antibiotic) and ``medtwin
twin replay --model influenza`` on the real nasal-wash titres of Baccam et al. 2006, Table 1,
with the titres below the assay's detection limit as censored readings."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from medtwin.models.infection import TITRE_LOD

BACCAM = Path(__file__).parents[2] / "data" / "baccam2006" / "nasal_wash_titres.csv"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def read_csv(path: Path) -> dict[str, np.ndarray]:
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_simulate_pneumonia_both_outcomes_of_the_paper(folder, run_main):
    """Below the macrophages' closed-form clearance threshold (9,945 CFU/mL) the lung clears;
    above it the infection grows towards the carrying capacity (Smith 2011)."""
    code, out, err = run_main(["simulate", "pneumonia", "--inoculum", "5000", "--out", "low.csv"])
    assert code == 0, err
    assert "below the alveolar macrophages' clearance threshold 9945 CFU/mL" in out
    low = read_csv(folder / "low.csv")
    assert list(low) == ["time_h", "log10_pathogen_log10_cfu_ml", "neutrophils_cells_ml",
                         "debris_cells_ml", "antibiotic_per_h"]  # fmt: skip
    assert len(low["time_h"]) == 721 and low["time_h"][-1] == pytest.approx(72.0)
    assert low["log10_pathogen_log10_cfu_ml"][0] == pytest.approx(np.log10(5000.0))
    assert low["log10_pathogen_log10_cfu_ml"][-1] < 0.0  # < 1 CFU/mL: cleared
    code, out, err = run_main(["simulate", "pneumonia", "--inoculum", "1e5", "--out", "high.csv"])
    assert code == 0, err
    assert "above the alveolar macrophages' clearance threshold" in out
    high = read_csv(folder / "high.csv")["log10_pathogen_log10_cfu_ml"]
    assert high[-1] > 8.0  # sustained: K_P is 3.4e8 CFU/mL
    np.testing.assert_array_equal(read_csv(folder / "high.csv")["antibiotic_per_h"], 0.0)


def test_simulate_pneumonia_antibiotic_from_the_command_line(folder, run_main):
    """An antibiotic at 0.5/h from hour 12 to hour 48 turns the sustained course (1e5 CFU/mL)
    into clearance; the CSV holds the rate in force and the PNG is written."""
    code, out, err = run_main([
        "simulate", "pneumonia", "--inoculum", "1e5", "--antibiotic", "12=0.5",
        "--antibiotic", "48=0", "--out", "ab.csv", "--plot", "ab.png",
    ])  # fmt: skip
    assert code == 0, err
    assert "antibiotic: 0.5/h from 12 h, 0/h from 48 h" in out
    cols = read_csv(folder / "ab.csv")
    t, rate = cols["time_h"], cols["antibiotic_per_h"]
    np.testing.assert_array_equal(rate, np.where((t >= 12.0 - 1e-9) & (t < 48.0 - 1e-9), 0.5, 0))
    lp = cols["log10_pathogen_log10_cfu_ml"]
    assert lp[np.searchsorted(t, 12.0)] > 6.5  # grew untreated
    assert lp[-1] < 0.0  # cleared under the antibiotic
    assert (folder / "ab.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_composed_model_takes_the_same_options(folder, run_main):
    code, out, err = run_main(["simulate", "pneumonia-sepsis", "--hours", "24", "--out", "c.csv"])
    assert code == 0, err
    assert "inoculum lung.P0 = 1e+05 CFU/mL" in out
    cols = read_csv(folder / "c.csv")
    assert "sys_wbc_1e3_ul" in cols and len(cols["time_h"]) == 241


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--inoculum", "-5"], "--inoculum must lie in [1, 1e+09] CFU/mL"),
        (["--antibiotic", "12"], "--antibiotic expects HOUR=RATE"),
        (["--antibiotic", "noon=0.5"], "--antibiotic expects two numbers"),
        (["--antibiotic", "12=-1"], "the kill rate must be a finite number >= 0"),
        (["--antibiotic", "80=0.5"], "--antibiotic at hour 80 lies at or after the end"),
        (["--hours", "0"], "--hours must lie in (0, 672] h"),
    ],
)
def test_simulate_pneumonia_refuses_bad_options(folder, run_main, args, message):
    code, _, err = run_main(["simulate", "pneumonia", *args])
    assert code == 2 and message in err


def _volunteer(k: int) -> list[str]:
    """Volunteer ``k``'s titres (days 1-7) as a replay stream; a 0 of Table 1 (at or below
    the detection limit) written as ``<0.5``, a censored reading."""
    with open(BACCAM) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    row = next(r for r in rows if r["volunteer"] == str(k))
    cells = [row[f"day{d}"] for d in range(1, 8)]
    return [f"<{TITRE_LOD:g}" if float(v) == 0.0 else v for v in cells]


@pytest.mark.slow
def test_replay_influenza_on_a_volunteers_titres(folder, run_main):
    cells = _volunteer(1)
    assert cells[-2:] == ["<0.5", "<0.5"]
    lines = ["time,log10_titre", *(f"{d},{v}" for d, v in enumerate(cells, start=1))]
    (folder / "titres.csv").write_text("\n".join(lines) + "\n")
    code, out, err = run_main([
        "twin", "replay", "--model", "influenza", "--data", "titres.csv", "--horizon", "1",
        "--particles", "500", "--out", "f.csv",
    ])  # fmt: skip
    assert code == 0, err
    # the two titres below detection are assimilated as censored and never scored as values
    assert "7 readings: 7 assimilated, dropped: none; 2 of the assimilated censored" in out
    assert "Forecast skill (4 scored targets)" in out
    f = read_csv(folder / "f.csv")
    assert "median_log10_tcid50_ml" in f
    day7 = (f["issued_at_d"] == 6.0) & (f["target_d"] == 7.0)
    # after the censored day-6 titre the twin expects day 7 below the detection limit
    assert f["median_log10_tcid50_ml"][day7][0] < TITRE_LOD


def test_replay_refuses_a_cgm_limit_on_a_titre(folder, run_main):
    (folder / "t.csv").write_text("time,log10_titre\n1,2.0\n2,LO\n")
    code, _, err = run_main(["twin", "replay", "--model", "influenza", "--data", "t.csv",
                             "--horizon", "1"])  # fmt: skip
    assert code == 2
    assert "names a CGM's limit (40 or 400 mg/dL)" in err and "'<0.5'" in err
