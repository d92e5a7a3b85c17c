"""The voxelised LV-like shell: its wall, transmural depth and rule-based fibres."""

import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.errors import ModelError
from medtwin.models.cardiology import HEALTHY, OUTSIDE, lv_shell


def test_wall_depth_and_fibres_follow_the_rule():
    sh = lv_shell(0.5, a_endo=6.0, c_endo=12.0, thickness=3.0, base=4.0)
    m = sh.mask
    assert set(np.unique(sh.labels).tolist()) == {OUTSIDE, HEALTHY}

    # the wall's volume against the two half-ellipsoids' difference (truncated at z = base)
    def vol(a, c):  # volume of the ellipsoid below z = base
        zb = 4.0
        return np.pi * a * a * (2 * c / 3 + zb - zb**3 / (3 * c * c))

    exact = vol(9.0, 15.0) - vol(6.0, 12.0)
    assert abs(m.sum() * 0.5**3 / exact - 1) < 0.05
    # the box holds the wall with a margin of empty voxels
    assert not m[0].any() and not m[-1].any() and not m[:, 0].any() and not m[..., -1].any()
    d = sh.depth[m]
    assert d.min() >= 0 and d.max() <= 1 and np.isnan(sh.depth[~m]).all()
    assert d.min() < 0.1 and d.max() > 0.9
    # helix angle: linear in depth, +60 at the endocardium to -60 at the epicardium
    assert np.allclose(np.rad2deg(sh.helix[m]), 60.0 - 120.0 * d)
    f = sh.fibres[:, m]
    assert np.allclose(np.linalg.norm(f, axis=0), 1.0)
    # fibres lie in the wall's tangent plane: orthogonal to the ellipsoid's normal
    ox, oy, oz = sh.offset
    c = [(np.arange(n) + 0.5) * 0.5 for n in sh.shape]
    x, y, z = np.meshgrid(c[0] - ox, c[1] - oy, c[2] - oz, indexing="ij")
    a_e, c_e = 6.0 + 3.0 * sh.depth, 12.0 + 3.0 * sh.depth
    nrm = np.stack([x / a_e**2, y / a_e**2, z / c_e**2])[:, m]
    nrm /= np.linalg.norm(nrm, axis=0)
    assert np.abs(np.sum(f * nrm, axis=0)).max() < 1e-9
    # at the equator (z ~ 0) on the endocardium the fibre is 60 degrees from circumferential
    eq = m & (np.abs(z) < 0.3) & (sh.depth < 0.1) & (np.hypot(x, y) > 0)
    circ = np.stack([-y, x, 0 * x])[:, eq] / np.hypot(x, y)[eq]
    cosang = np.sum(sh.fibres[:, eq] * circ, axis=0)
    assert np.allclose(cosang, np.cos(sh.helix[eq]))
    assert eq.sum() > 20 and np.all(np.rad2deg(sh.helix[eq]) >= 48.0 - 1e-9)
    # the in-plane angle the tissue takes is that of the fibre's x-y projection
    assert np.allclose(np.cos(sh.theta[m]) * f[1] - np.sin(sh.theta[m]) * f[0], 0.0, atol=1e-12)


def test_bad_geometry_is_refused():
    with pytest.raises(ModelError, match="spacing > 0"):
        lv_shell(0.0)
    with pytest.raises(ModelError, match="basal plane"):
        lv_shell(1.0, c_endo=10.0, base=12.0)
    with pytest.raises(ModelError, match="two voxels"):
        lv_shell(2.0, thickness=3.0)
