"""``medtwin simulate cardiac`` through the console script's ``main``: a paced sheet and a
paced LGE scan (written here, a short-axis ring with a scar), the five files it writes and
what they hold, and bad input refused in one line with nothing written."""

from __future__ import annotations

import csv
import re

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medtwin.data.images import write_nifti
from medtwin.models.cardiology.aliev_panfilov import front_speed

FILES = {"activation.png", "activation.gif", "ecg.csv", "ecg.png", "lat.nii.gz"}
RING = (0.75, (32, 32), (12.0, 12.0), 6.0, 10.0)  # spacing mm, shape, centre mm, radii mm


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _ring_scan(folder, *, pool=2, myo=1, all_scar=False):
    """A 2D LGE slice: blood pool (intensity 100) inside a myocardial ring, healthy at 90
    (IIR 0.9), a scar at 150 (IIR 1.5) on the right (|angle| < 0.5 rad) with a border zone at
    125 beside it (0.5 to 0.8 rad); 20 outside. Returns the paths and the ring's angle and
    label per voxel."""
    h, shape, c, r_in, r_out = RING
    x = (np.arange(shape[0]) + 0.5) * h - c[0]
    y = (np.arange(shape[1]) + 0.5) * h - c[1]
    X, Y = np.meshgrid(x, y, indexing="ij")
    r, ang = np.hypot(X, Y), np.arctan2(Y, X)
    seg = np.zeros(shape, np.uint8)
    img = np.full(shape, 20.0)
    seg[r < r_in] = pool
    img[r < r_in] = 100.0
    ring = (r >= r_in) & (r < r_out)
    seg[ring] = myo
    img[ring] = 90.0
    img[ring & (np.abs(ang) < 0.8)] = 125.0
    img[ring & ((np.abs(ang) < 0.5) | all_scar)] = 150.0
    write_nifti(folder / "lge.nii.gz", img, h)
    write_nifti(folder / "seg.nii.gz", seg, h)
    return folder / "lge.nii.gz", folder / "seg.nii.gz", ang, ring


def _number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in {text!r}"
    return float(m.group(1))


@pytest.mark.slow
def test_paced_sheet_writes_the_files_users_open(folder, run_main):
    """A homogeneous sheet paced near its left edge: the LAT rises away from the site, the
    conduction velocities are those of the Aliev-Panfilov front (point source: somewhat below
    the plane front, across the fibres at sqrt(D_ratio) = 1/2 of along), the ECG holds the four
    default leads every ms and its QRS-like duration spans the activation."""
    code, out, err = run_main(["simulate", "cardiac", "--phantom", "homogeneous",
                               "--phantom-size", "40,30", "--pace", "6,15", "--ms", "100",
                               "--out", "run"])  # fmt: skip
    assert code == 0, err
    run = folder / "run"
    assert {p.name for p in run.iterdir()} == FILES
    img = nib.load(run / "lat.nii.gz")
    assert img.shape == (80, 60)
    np.testing.assert_allclose(img.header.get_zooms(), (0.5, 0.5))
    lat = np.asarray(img.get_fdata())
    assert np.isfinite(lat).all()  # every cell activated within 100 ms
    assert lat[12, 30] < 1.0  # the stimulated cell at the site
    row, col = lat[12:, 30], lat[12, 30:]  # from the site along x, and along y
    assert (np.diff(row[10:]) > 0).all() and (np.diff(col[10:]) > 0).all()
    tat = _number(r"total activation time ([\d.]+) ms", out)
    assert tat == pytest.approx(np.nanmax(lat) - np.nanmin(lat), abs=0.06)  # printed to 0.1
    along = _number(r"along the fibres ([\d.]+) m/s", out)
    across = _number(r"across ([\d.]+) m/s", out)
    c = front_speed(2.0)  # 0.551 mm/ms, the plane front (measured along: 0.470)
    assert 0.8 * c < along < 1.02 * c
    assert 0.35 < across / along < 0.6  # measured 0.251 / 0.470 = 0.53
    qrs = _number(r"QRS-like duration (\d+) ms", out)
    assert abs(qrs - tat) < 0.15 * tat  # as long as the activation (measured 72, 72.5 ms)
    with open(run / "ecg.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time_ms", "e1", "e2", "e3", "e4"]
    t = np.array([float(r[0]) for r in rows[1:]])
    np.testing.assert_array_equal(t, np.arange(101.0))
    ecg = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert ecg[0] == pytest.approx(np.zeros(4), abs=1e-12)  # at rest: no current
    assert (np.abs(ecg).max(axis=0) > 0).all()
    # the lead ahead of the wave (e2, beyond the right edge) sees it approach: positive
    assert ecg[:, 1].max() > abs(ecg[:, 1].min())
    with Image.open(run / "activation.gif") as gif:
        assert gif.n_frames == 51  # every 2 ms from 0 to 100 ms
    for name in ("activation.png", "ecg.png"):
        with Image.open(run / name) as png:
            assert png.format == "PNG" and min(png.size) > 200


@pytest.mark.slow
def test_paced_lge_scan(folder, run_main):
    """A scan and its segmentation in NIfTI: LAT on the scan's grid, NaN off the myocardium
    and in the scar, later the farther round the ring from the pacing site; electrodes given
    in the scan's frame (one with a third coordinate) are the ECG's columns."""
    lge, seg, ang, ring = _ring_scan(folder)
    code, out, err = run_main(["simulate", "cardiac", "--lge", str(lge), "--segmentation",
                               str(seg), "--pace", "4,12", "--ms", "60", "--electrode", "0,0",
                               "--electrode", "24,24,5", "--out", "scan"])  # fmt: skip
    assert code == 0, err
    assert "LGE scan lge.nii.gz (2D)" in out and "Pacing at (4, 12) mm" in out
    img = nib.load(folder / "scan" / "lat.nii.gz")
    assert img.shape == RING[1]  # the scan's grid, not the crop the run used
    np.testing.assert_allclose(img.header.get_zooms(), (0.75, 0.75))
    lat = np.asarray(img.get_fdata())
    assert np.isnan(lat[~ring]).all()
    assert np.isnan(lat[ring & (np.abs(ang) < 0.5)]).all()  # scar
    healthy = ring & (np.abs(ang) >= 0.8)
    assert np.isfinite(lat[healthy]).all()
    # paced at angle pi: the farther round the ring, the later
    assert np.corrcoef(np.pi - np.abs(ang[healthy]), lat[healthy])[0, 1] > 0.9
    with open(folder / "scan" / "ecg.csv") as fh:
        header = next(csv.reader(fh))
    assert header == ["time_ms", "e1", "e2"]


BAD = {
    "unknown ionic model": (["--ionic", "fitzhugh-nagumo"], "--ionic must name a cardiac"),
    "unknown phantom": (["--phantom", "ring"], "--phantom must be one of"),
    "pace outside the sheet": (["--pace", "80,10"], "--pace: The site [80.0, 10.0] mm lies "
                               "outside the tissue's grid (0 to [50.0, 30.0] mm)"),
    "pace in scar": (["--pace", "25,11"], "--pace: The site [25.0, 11.0] mm lies scar (label 3)"),
    "pace malformed": (["--pace", "2;15"], "--pace expects X,Y or X,Y,Z in mm"),
    "pace 3D on a sheet": (["--pace", "2,15,1"], "--pace needs 2 coordinates"),
    "electrode on the tissue": (["--electrode", "5,5"], "lies on the tissue"),
    "ms before the last stimulus": (["--s1-count", "2", "--ms", "500"],
                                    "ends at or before the last stimulus at 600 ms"),
    "four extrastimuli": (["--s2", "300", "--s2", "300", "--s2", "300", "--s2", "300"],
                          "'--s2' of medtwin simulate cardiac must hold 0..3"),
    "phantom with a scan": (["--lge", "lge.nii.gz", "--segmentation", "seg.nii.gz",
                             "--phantom", "homogeneous"], "describes a phantom"),
    "scan without segmentation": (["--lge", "lge.nii.gz"], "needs --lge scan.nii.gz and "
                                  "--segmentation"),
    "scan without blood pool": (["--lge", "lge.nii.gz", "--segmentation", "seg.nii.gz",
                                 "--blood-pool-label", "7"], "no voxel of value 7 (the blood"),
    "mask without myocardium": (["--lge", "lge.nii.gz", "--segmentation", "seg.nii.gz",
                                 "--myocardium-label", "5"], "no voxel of value 5 (the myocard"),
    "plot": (["--plot", "p.png"], "simulate cardiac writes its images"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_writes_nothing(case, folder, run_main):
    _ring_scan(folder)
    before = sorted(p.name for p in folder.iterdir())
    argv, fragment = BAD[case]
    code, out, err = run_main(["simulate", "cardiac", *argv, "--out", "o"])
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], lines[0]
    assert out == ""
    assert sorted(p.name for p in folder.iterdir()) == before  # no folder, no temporary file


def test_a_scan_with_only_scar_is_refused(folder, run_main):
    _ring_scan(folder, all_scar=True)
    code, _, err = run_main(["simulate", "cardiac", "--lge", "lge.nii.gz", "--segmentation",
                             "seg.nii.gz", "--out", "o"])  # fmt: skip
    assert code == 2 and "labels no excitable tissue" in err
    assert not (folder / "o").exists()


@pytest.mark.parametrize(
    ("pace", "fragment"),
    [
        ("0.5,0.5", "The site [0.5, 0.5] mm lies outside the myocardium (label 0)"),  # off the crop
        ("12,12", "The site [12.0, 12.0] mm lies outside the myocardium (label 0)"),  # blood pool
        ("30,5", "The site [30.0, 5.0] mm lies outside the tissue's grid (0 to [24.0, 24.0] mm)"),
    ],
)
def test_a_scan_is_paced_on_its_own_grid(pace, fragment, folder, run_main):
    """--pace is mm in the scan's frame, checked on the whole scan (the run uses a crop)."""
    _ring_scan(folder)
    code, out, err = run_main(["simulate", "cardiac", "--lge", "lge.nii.gz", "--segmentation",
                               "seg.nii.gz", "--pace", pace, "--out", "o"])  # fmt: skip
    assert code == 2 and out == "" and f"--pace: {fragment}" in err, err
    assert not (folder / "o").exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["simulate", "cardiac"], "needs --out DIR"),
        (["simulate", "t1d", "--lge", "scan.nii.gz"], "--lge is an option of `medtwin simulate "
                                                      "cardiac`, not of t1d"),
        (["simulate", "glioma", "--ms", "100", "--out", "g"], "--ms is an option"),
    ],
)  # fmt: skip
def test_options_of_one_model_are_refused_with_another(argv, fragment, folder, run_main):
    code, out, err = run_main(argv)
    assert code == 2 and fragment in err and out == ""
    assert list(folder.iterdir()) == []
