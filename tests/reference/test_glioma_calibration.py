"""Calibration on synthetic phantom scans made from known D and rho with imaging noise.

Truth D = 0.12 mm^2/day, rho = 0.03 /day (D/rho = 4 mm^2, inside Harpold 2007's range); 3D
segmentations at 1 mm with a smooth noise field of sd 0.05 K, on days 0, 45, 90, 135. The
two-radius estimate must land within 10 % of both; the twin, assimilating the radii through
Twin/assimilate on a coarser radial grid, must hold the truth inside its 90 % intervals.
"""

import numpy as np

import medtwin  # noqa: F401
from medtwin.credibility.evidence import glioma as ev
from medtwin.data import read_scans, write_phantom
from medtwin.models.oncology import Glioma

D, RHO = 0.12, 0.03
assert (ev.D_TRUE, ev.RHO_TRUE) == (D, RHO)


def test_two_radius_and_twin_recover_D_and_rho(tmp_path):
    # the phantom and the estimates are the evidence item's (medtwin.credibility.evidence.glioma)
    ph = ev.phantom_series(shape=(72, 72, 72), days=(0, 45, 90, 135), R0=15.0, seed=3)
    series = read_scans(write_phantom(ph, tmp_path / "scans"))  # through NIfTI on disk
    np.testing.assert_allclose(series.radius_t2, ph.series().radius_t2)
    rec = ev.recover(Glioma, series, cells=140, h=0.5, particles=600)
    assert abs(rec.D_two_radius / D - 1) < 0.10, rec
    assert abs(rec.rho_two_radius / RHO - 1) < 0.10, rec

    q = rec.quantiles
    assert q["D"][0] < D < q["D"][2], q
    assert q["rho"][0] < RHO < q["rho"][2], q
    prior_width = np.log(0.08 * np.exp(1.645 * 0.8)) - np.log(0.08 * np.exp(-1.645 * 0.8))
    assert np.log(q["rho"][2] / q["rho"][0]) < 0.5 * prior_width  # contracted
    # (forecasts from such a twin: tests/unit/imaging/test_glioma_twin_outputs.py)
