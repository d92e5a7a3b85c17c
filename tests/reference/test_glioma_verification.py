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

import math

import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.models.oncology import Glioma, synthetic_brain
from medtwin.simulate import simulate


def test_front_speed_is_two_sqrt_D_rho():
    D, rho = 0.05, 0.1
    m = Glioma(1, (1700,), 0.2)
    p = m.make_params(D=D, rho=rho, R0=5.0)
    traj = simulate(m, p, t1=2000.0, saveat=[1500.0, 2000.0], save_states=False)
    r = np.asarray(traj.observable("radius_t2"))
    speed = (r[1] - r[0]) / 500.0
    assert abs(speed / (2 * math.sqrt(D * rho)) - 1) < 0.01, speed


def _mass_change(m, y0, t1=30.0):
    p = m.make_params(rho=0.0)
    traj = simulate(m, p, y0=y0, t1=t1, saveat=[t1])
    m0, m1 = float(m.mass(y0)), float(m.mass(np.asarray(traj.states)[-1]))
    return abs(m1 - m0) / m0


def test_mass_is_conserved_without_proliferation():
    m1 = Glioma(1, (80,), 0.5)
    y1 = np.exp(-(((np.arange(80) + 0.5) * 0.5) ** 2) / 20.0)
    assert _mass_change(m1, y1) < 1e-10
    mask, white = synthetic_brain((20, 20, 20), 1.0, cortex=2.0)
    m3 = Glioma(3, (20, 20, 20), 1.0, mask=mask, white=white)
    y3 = np.exp(-((m3.distance() - 3.0) ** 2) / 8.0) * mask
    assert _mass_change(m3, y3.reshape(-1)) < 1e-10


def _heat_kernel(r, t, D):
    return np.exp(-(r**2) / (4 * D * t)) / (4 * math.pi * D * t) ** 1.5


def test_order_of_convergence_is_two():
    D, t0, t1 = 0.1, 10.0, 20.0
    errs = []
    for k, h in enumerate((0.4, 0.2, 0.1)):
        n = round(24.0 / h)
        m = Glioma(1, (n,), h, substeps=2 * 4**k)  # dt_s proportional to h^2
        r = (np.arange(n) + 0.5) * h
        y0 = _heat_kernel(r, t0, D) / _heat_kernel(0.0, t0, D)
        p = m.make_params(D=D, rho=0.0)
        end = np.asarray(simulate(m, p, y0=y0, t0=t0, t1=t1, saveat=[t1]).states)[-1]
        exact = _heat_kernel(r, t1, D) / _heat_kernel(0.0, t0, D)
        errs.append(math.sqrt(np.sum(m.cell_volumes() * (end - exact) ** 2)))
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(orders - 2.0) < 0.2), orders


def test_radial_2d_and_3d_agree_on_a_small_symmetric_tumour():
    # the default-run version: R0 = 7 mm, 15 days, 32^3 at 1 mm and 44^2 at 0.75 mm
    kw = {"D": 0.1, "rho": 0.05, "R0": 7.0}
    t1 = 15.0
    out = {}
    for name, m in (
        ("r3", Glioma(1, (80,), 0.25)),
        ("r2", Glioma(1, (80,), 0.25, radial_dim=2)),
        ("c3", Glioma(3, (32, 32, 32), 1.0)),
        ("c2", Glioma(2, (44, 44), 0.75)),
    ):
        traj = simulate(m, m.make_params(**kw), t1=t1, saveat=[t1], save_states=False)
        out[name] = np.asarray(traj.observables)[-1]
    np.testing.assert_allclose(out["c3"], out["r3"], rtol=0.02)
    np.testing.assert_allclose(out["c2"], out["r2"], rtol=0.02)


@pytest.mark.slow  # 48^3 and 64^2 grids: ~16 s on 2 cores
def test_radial_2d_and_3d_agree_on_a_symmetric_tumour():
    kw = {"D": 0.1, "rho": 0.05, "R0": 9.0}
    t1 = 30.0
    fine3 = Glioma(1, (160,), 0.25)
    fine2 = Glioma(1, (160,), 0.25, radial_dim=2)
    cart3 = Glioma(3, (48, 48, 48), 1.0)
    cart2 = Glioma(2, (64, 64), 0.75)
    out = {}
    for name, m in (("r3", fine3), ("r2", fine2), ("c3", cart3), ("c2", cart2)):
        traj = simulate(m, m.make_params(**kw), t1=t1, saveat=[t1], save_states=False)
        out[name] = np.asarray(traj.observables)[-1]
    # radii (T1Gd, T2) in mm: agreement within 2 % (3D at h = 1 mm, 2D at h = 0.75 mm)
    np.testing.assert_allclose(out["c3"], out["r3"], rtol=0.02)
    np.testing.assert_allclose(out["c2"], out["r2"], rtol=0.02)
