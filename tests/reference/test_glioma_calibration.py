"""Calibration on synthetic phantom scans made from known D and rho with imaging noise.

Truth D = 0.12 mm^2/day, rho = 0.03 /day (D/rho = 4 mm^2, inside Harpold 2007's range); 3D
segmentations at 1 mm with a smooth noise field of sd 0.05 K, on days 0, 45, 90, 135. The
two-radius estimate must land within 10 % of both; the twin, assimilating the radii through
Twin/assimilate on a coarser radial grid, must hold the truth inside its 90 % intervals.
"""

import jax
import numpy as np

import medtwin  # noqa: F401
from medtwin.assimilate import SpecPrior, assimilate
from medtwin.data import read_scans, write_phantom
from medtwin.imaging import synthetic_phantom, two_radius_estimate
from medtwin.models.oncology import Glioma
from medtwin.twin import Twin

D, RHO = 0.12, 0.03


def test_two_radius_and_twin_recover_D_and_rho(tmp_path):
    ph = synthetic_phantom(D, RHO, [0, 45, 90, 135], R0=15.0, shape=(72, 72, 72), seed=3,
                           radial_spacing=0.2)  # fmt: skip
    series = read_scans(write_phantom(ph, tmp_path / "scans"))  # through NIfTI on disk
    np.testing.assert_allclose(series.radius_t2, ph.series().radius_t2)
    est = two_radius_estimate(series)
    assert abs(est.D / D - 1) < 0.10, est
    assert abs(est.rho / RHO - 1) < 0.10, est

    model = Glioma(1, (140,), 0.5)
    twin = Twin.create(model, SpecPrior(("D", "rho", "R0")), key=jax.random.key(0), n=600)
    twin = assimilate(twin, series.observations())
    q = twin.parameter_quantiles((0.05, 0.5, 0.95))
    assert q["D"][0] < D < q["D"][2], q
    assert q["rho"][0] < RHO < q["rho"][2], q
    prior_width = np.log(0.08 * np.exp(1.645 * 0.8)) - np.log(0.08 * np.exp(-1.645 * 0.8))
    assert np.log(q["rho"][2] / q["rho"][0]) < 0.5 * prior_width  # contracted
    # (forecasts from such a twin: tests/unit/imaging/test_glioma_twin_outputs.py)
