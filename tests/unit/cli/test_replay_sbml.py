"""`twin replay --sbml FILE.xml --mapping MAP.json`: a recorded stream through a twin of an
imported SBML model, with no code written for the model (issue 17).

The model: BIOMD0000000379 (Dalla Man, Rizza & Cobelli 2007, the meal glucose-insulin model of
a healthy subject; ``../shared/reference/biomodels/``, CC0) with the mapping of docs/sbml.md
(plasma glucose ``G``, LOINC 2339-0, mg/dL; the twin learns ``k_p2`` and ``k_abs``). The
readings are the model's own ``G`` at its default parameters every 10 min plus seeded noise
(sd 2 mg/dL): the twin's 30-min-ahead medians must follow that curve (root-mean-square error
under 6 mg/dL against the noise-free truth, where a twin that lost the mapping, the unit or the
time unit would be tens of mg/dL off over the meal's 60 mg/dL swing), and the learnt k_p2's
90 % interval must hold its published value.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from medtwin.models._registry import unregister_model

_SHARED = (Path(__file__).resolve().parents[3].parent / "shared", Path("/work/shared"))
BIOMD379 = next(
    (p for s in _SHARED if (p := s / "reference/biomodels/BIOMD0000000379.xml").is_file()), None
)
pytestmark = pytest.mark.skipif(BIOMD379 is None, reason="BIOMD0000000379.xml is not here")
NAME = "dallaman-replay"
MAPPING = {
    "name": NAME,
    "time_unit": "min",
    "outputs": [{"output": "G", "loinc": "2339-0", "unit": "mg/dL",
                 "noise": {"absolute": 4.0, "relative": 0.03}}],
    "free": [{"parameter": "k_p2", "median": 0.0021, "sigma": 0.3},
             {"parameter": "k_abs", "median": 0.057, "sigma": 0.3}],
}  # fmt: skip


@pytest.fixture
def folder(tmp_path, monkeypatch):
    from medtwin.sbml import load_sbml
    from medtwin.simulate import simulate

    model = load_sbml(BIOMD379, time_unit="min", observables=["G"])()
    truth = np.asarray(simulate(model, model.default_params(), t1=240.0).observable("G"))
    noise = np.random.default_rng(7).normal(0.0, 2.0, truth.shape)
    rows = "".join(f"{t},{truth[t] + noise[t]:.3f}\n" for t in range(0, 181, 10))
    (tmp_path / "g.csv").write_text("time,G\n" + rows)
    (tmp_path / "map.json").write_text(json.dumps(MAPPING))
    np.save(tmp_path / "truth.npy", truth)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDTWIN_JAX_CACHE", "off")
    yield tmp_path
    unregister_model(NAME)


@pytest.mark.slow
def test_an_imported_model_replays_and_forecasts_its_own_curve(folder, run_main):
    code, out, err = run_main(["twin", "replay", "--data", "g.csv", "--sbml", str(BIOMD379),
                               "--mapping", "map.json", "--horizon", "30", "--particles", "128",
                               "--out", "f.csv"])  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0] == "Read g.csv as a plain stream CSV (time,G)."
    assert out.splitlines()[1].startswith("19 readings: 19 assimilated")
    truth = np.load(folder / "truth.npy")
    with (folder / "f.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if float(r["horizon_min"]) == 30.0]
    assert len(rows) >= 15
    err30 = [float(r["median_mg_dl"]) - truth[round(float(r["target_min"]))] for r in rows]
    assert float(np.sqrt(np.mean(np.square(err30)))) < 6.0, err30
    posterior = out.split("Posterior (5 %, 50 %, 95 %):")[1]
    lo, hi = (float(x) for x in posterior.split("k_p2")[1].split("[")[1].split("]")[0].split(","))
    assert lo <= 0.0021 <= hi


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--sbml", "MODEL"], "--sbml and --mapping go together"),
        (["--mapping", "map.json"], "--sbml and --mapping go together"),
        (["--sbml", "MODEL", "--mapping", "map.json", "--model", "t1d"], "name two models"),
        (["--sbml", "MODEL", "--mapping", "t1d.json"], "the name of a built-in or registered"),
        (["--sbml", "MODEL", "--mapping", "stroke.json"], "registered model or network"),
        (["--sbml", "missing.xml", "--mapping", "map.json"], "missing.xml"),
    ],
)
def test_bad_sbml_replay_options_are_one_line_and_exit_2(folder, run_main, extra, says):
    (folder / "t1d.json").write_text(json.dumps({**MAPPING, "name": "t1d"}))
    (folder / "stroke.json").write_text(json.dumps({**MAPPING, "name": "stroke"}))  # a network
    argv = ["twin", "replay", "--data", "g.csv", *extra]
    code, out, err = run_main([str(BIOMD379) if a == "MODEL" else a for a in argv])
    assert code == 2 and out == ""
    assert err.startswith("error: ") and says in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["g.csv", "map.json", "stroke.json",
                                                        "t1d.json", "truth.npy"]  # fmt: skip
