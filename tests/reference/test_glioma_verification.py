"""Verification of the glioma PI solver against analytic facts (no fitted numbers).

* Front speed: a Fisher-KPP front moves at 2 sqrt(D rho) (Fisher 1937; KPP 1937). A spherical
  front lags by the curvature and Bramson terms, (d + 2) / (4 rho t) relative = 0.7 % at
  t = 1750 days for rho = 0.1 /day, so the slope of the T2 radius over days 1500-2000 on a
  radial grid of h = 0.2 mm (lambda h = 0.28) must be within 1 % of 2 sqrt(D rho).
* rho = 0: the finite-volume scheme conserves mass to round-off (1e-10 relative asserted).
* Order: with rho = 0 the 3D heat kernel is exact; the radial grid with dt_s proportional to h^2
  converges at order 2 (asserted within 0.2).
* 1D radial, 2D and 3D agree on a radially symmetric tumour (T1Gd and T2 radii within 2 %; a
  small case in the default run, a larger one marked slow).
"""

import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.credibility.evidence import glioma as ev
from medtwin.models.oncology import Glioma

# The computations are the evidence items' (medtwin.credibility.evidence.glioma).


def test_front_speed_is_two_sqrt_D_rho():
    ratio = ev.front_speed(Glioma, D=0.05, rho=0.1, cells=1700, h=0.2, t_a=1500.0, t_b=2000.0)
    assert abs(ratio - 1) < 0.01, ratio


def test_mass_is_conserved_without_proliferation():
    change = ev.mass_cases(Glioma, n3=20)
    assert change["radial"] < 1e-10
    assert change["brain_3d"] < 1e-10


def test_order_of_convergence_is_two():
    _, orders = ev.convergence(Glioma, (0.4, 0.2, 0.1))
    assert np.all(np.abs(orders - 2.0) < 0.2), orders


def test_radial_2d_and_3d_agree_on_a_small_symmetric_tumour():
    # the default-run version: R0 = 7 mm, 15 days, 32^3 at 1 mm and 44^2 at 0.75 mm
    out = ev.dimension_radii(Glioma, R0=7.0, t1=15.0, radial=80, cube=32, square=44)
    np.testing.assert_allclose(out["c3"], out["r3"], rtol=0.02)
    np.testing.assert_allclose(out["c2"], out["r2"], rtol=0.02)


@pytest.mark.slow  # 48^3 and 64^2 grids: ~16 s on 2 cores
def test_radial_2d_and_3d_agree_on_a_symmetric_tumour():
    out = ev.dimension_radii(Glioma, R0=9.0, t1=30.0, radial=160, cube=48, square=64)
    # radii (T1Gd, T2) in mm: agreement within 2 % (3D at h = 1 mm, 2D at h = 0.75 mm)
    np.testing.assert_allclose(out["c3"], out["r3"], rtol=0.02)
    np.testing.assert_allclose(out["c2"], out["r2"], rtol=0.02)
