"""``medtwin twin cardiac``: an LGE scan, its segmentation and a mapping-point CSV written in
tmp_path from a scar-channel phantom, the twin's posterior, forecast and ranked plans on the
command line, and the bad input it refuses (one line, exit 2, nothing written).

The phantom (models/cardiology/phantoms.py, scaled down to 20 x 12 mm at 0.5 mm: a 12 x 6 mm
scar crossed by a 1 mm border-zone channel) becomes the myocardium of a segmentation with a
2 mm blood-pool strip above it (label 2); the LGE intensities are 100 in the blood pool and
healthy tissue (IIR 1.0), 125 in border zone (1.25) and 150 in scar (1.5), so the default
intensity-ratio rule (1.20 / 1.32) gives back the phantom's labels. The activation times are
the eikonal's at cv = 0.49 mm/ms (border zone sqrt(0.1) of it) from the pacing site plus 2 ms
noise. The fuller run on the 50 x 30 mm phantom, where the border-zone channel is inducible,
is marked slow.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from medtwin.data.images import write_nifti
from medtwin.models.cardiology import (
    BORDER,
    HEALTHY,
    SCAR,
    mapping_times,
    pacing_source,
    scar_channel_sheet,
)

CV, BZ, H = 0.49, float(np.sqrt(0.1)), 0.5
QUICK = ["--draws", "2", "--sites", "2", "--s1-beats", "1", "--couplings", "300,200",
         "--vt-sustained", "600"]  # fmt: skip


def _write_case(folder: Path, phantom, pace, *, n_points=20, channel_points=0, seed=0):
    """scan.nii.gz, seg.nii.gz and points.csv for ``phantom`` (labels as the scan shows them),
    paced at ``pace`` (mm); returns the labels the scan gives."""
    lab = phantom.labels
    nx, ny = lab.shape
    img = np.full((nx, ny + 4), 100.0)
    img[:, :ny] = np.select([lab == HEALTHY, lab == BORDER, lab == SCAR], [100.0, 125.0, 150.0])
    seg = np.full((nx, ny + 4), 2, np.uint8)
    seg[:, :ny] = 1
    write_nifti(folder / "scan.nii.gz", img, H)
    write_nifti(folder / "seg.nii.gz", seg, H)
    full = np.zeros((nx, ny + 4), np.int32)
    full[:, :ny] = lab
    truth = mapping_times(full, H, pacing_source(full, H, pace), CV, bz=BZ)
    rng = np.random.default_rng(seed)
    chan = np.argwhere(np.pad(phantom.channel, ((0, 0), (0, 4))) & np.isfinite(truth))
    rest = np.argwhere((full == HEALTHY) & np.isfinite(truth) & (truth > 0))
    cells = np.concatenate([chan[rng.choice(len(chan), channel_points, replace=False)],
                            rest[rng.choice(len(rest), n_points - channel_points,
                                            replace=False)]])  # fmt: skip
    t = truth[tuple(cells.T)] + 2.0 * rng.standard_normal(len(cells))
    rows = [
        f"{(i + 0.5) * H:g},{(j + 0.5) * H:g},{v:.3f}" for (i, j), v in zip(cells, t, strict=True)
    ]
    (folder / "points.csv").write_text("x_mm,y_mm,lat_ms\n" + "\n".join(rows) + "\n")
    return full


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cardiac")
    sheet = scar_channel_sheet((20.0, 12.0), H, scar=(12.0, 6.0), channel_width=1.0)
    _write_case(folder, sheet, [1.0, 6.0])
    return folder


def _args(case: Path, *extra: str) -> list[str]:
    return ["twin", "cardiac", "--lge", str(case / "scan.nii.gz"), "--segmentation",
            str(case / "seg.nii.gz"), "--lat", str(case / "points.csv"), "--pace", "1,6",
            *extra]  # fmt: skip


def _row(out: str, name: str) -> list[float]:
    line = next(ln for ln in out.splitlines() if name in ln)
    return [float(x) for x in re.findall(r"\d+\.\d+|\d+", line.split(name, 1)[1])]


@pytest.mark.slow
def test_the_twin_learns_forecasts_and_writes_its_outputs(case, run_main, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run_main(_args(case, "--qrs", "62", *QUICK, "--out", str(out)))
    assert code == 0, err
    med, lo, hi = _row(stdout, "cv (mm/ms)")
    assert lo < CV < hi and abs(med / CV - 1) < 0.05, (med, lo, hi)
    assert "20 mapping points, 1 QRS duration" in stdout
    # a sheet this small holds no reentry: nothing inducible, no lesion proposed
    assert "P(inducible) 0.00 (95 % interval 0.00-0.84) over 2 posterior draws" in stdout
    assert "Recommended: no ablation." in stdout
    with (out / "posterior.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["draw"] for r in rows] == ["0", "1"]
    assert all(0.4 < float(r["cv_mm_per_ms"]) < 0.6 and r["inducible"] == "0" for r in rows)
    with (out / "plans.csv").open() as fh:
        plans = list(csv.DictReader(fh))
    assert [(p["rank"], p["plan"], float(p["p_inducible"])) for p in plans] == [
        ("1", "no ablation", 0.0)
    ]
    assert (out / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.iterdir()) == ["plan.png", "plans.csv", "posterior.csv"]


BAD = {
    "wrong header": ("x,y,t\n1,1,3\n", [], "expected the header x_mm,y_mm,lat_ms"),
    "non-numeric": ("x_mm,y_mm,lat_ms\n3,3,5\n4,4,early\n", [], "line 3: lat_ms must be a"),
    "outside the grid": ("x_mm,y_mm,lat_ms\n3,3,5\n30,4,9\n", [], "is not on conducting"),
    "on scar": ("x_mm,y_mm,lat_ms\n5,4,9\n", [], "Mapping point 0 at [5.0, 4.0] mm is not on"),
    "pace outside": (None, ["--pace", "1,50"], "--pace: The site [1.0, 50.0] mm lies outside"),
    "pace in blood pool": (None, ["--pace", "1,13"], "lies outside the myocardium (label 0)"),
    "pace on scar": (None, ["--pace", "10,4"], "--pace: The site [10.0, 4.0] mm lies scar"),
    "pace 1D": (None, ["--pace", "4"], "--pace expects 2 or 3 comma-separated numbers"),
    "site on scar": (None, ["--sites", "1,6;10,4"], "--sites: The site [10.0, 4.0] mm lies"),
    "no sites": (None, ["--sites", "0"], "--sites expects a number of sites"),
    "bad sd": (None, ["--lat-sd", "0"], "--lat-sd must be a number > 0"),
    "couplings up": (None, ["--couplings", "200,300"], "strictly decrementing"),
    "bz above 1": (None, ["--bz", "0.3,1.5"], "ConductionPrior.bz must be"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_line_and_exit_2(name, case, run_main, tmp_path):
    text, extra, fragment = BAD[name]
    args = _args(case, *extra, "--out", str(tmp_path / "out"))
    if text is not None:
        (tmp_path / "lat.csv").write_text(text)
        args[args.index("--lat") + 1] = str(tmp_path / "lat.csv")
    code, stdout, err = run_main(args)
    assert code == 2, (stdout, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_observations_are_required(case, run_main):
    args = _args(case)
    i = args.index("--lat")
    code, _, err = run_main(args[:i] + args[i + 2 :])
    assert code == 2 and "needs observations: --lat points.csv, --qrs MS or both" in err


@pytest.mark.slow
def test_the_border_zone_channel_is_inducible_and_the_proposed_lesion_ranks_first(
    tmp_path, run_main
):
    """The default 50 x 30 mm phantom with its border-zone channel, eight of the 20 points in
    the channel, the protocol of tests/reference/test_cardiac_risk.py from its two inducing
    sites: the posterior's border zone is slow, every draw inducible, and the lesion ablate()
    proposes makes every draw non-inducible and ranks first."""
    _write_case(tmp_path, scar_channel_sheet(), [2.0, 15.0], channel_points=8, seed=7)
    out = tmp_path / "out"
    code, stdout, err = run_main([
        "twin", "cardiac", "--lge", str(tmp_path / "scan.nii.gz"), "--segmentation",
        str(tmp_path / "seg.nii.gz"), "--lat", str(tmp_path / "points.csv"), "--pace", "2,15",
        "--lat-sd", "2", "--bz", f"0.2,{BZ},0.5,1", "--draws", "3", "--sites", "2,15;48,15",
        "--s1-beats", "2", "--couplings", "340,310,280;300,270,240", "--vt-sustained", "1500",
        "--out", str(out),
    ])  # fmt: skip
    assert code == 0, err
    _med, lo, hi = _row(stdout, "bz")
    assert lo == hi == pytest.approx(BZ, rel=1e-3)
    assert "P(inducible) 1.00" in stdout
    with (out / "plans.csv").open() as fh:
        plans = list(csv.DictReader(fh))
    assert [p["plan"] for p in plans] == ["proposed lesion", "no ablation"]
    assert float(plans[0]["p_inducible"]) == 0.0 and float(plans[1]["p_inducible"]) == 1.0
    assert "Recommended: proposed lesion." in stdout
