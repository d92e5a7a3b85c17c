"""The voxelised LV-like shell: its wall, transmural depth and rule-based fibres."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.errors import ModelError
from medtwin.models.cardiology import (
    HEALTHY,
    OUTSIDE,
    AlievPanfilov,
    MitchellSchaeffer,
    activation_times,
    lv_shell,
)
from medtwin.simulate import Infusion, Regimen, simulate


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


@pytest.mark.slow
def test_a_paced_shell_with_3d_fibres_activates_the_whole_wall_and_conserves():
    """The shell's tissue takes its 3D fibre vectors (longitudinal component and the x-z, y-z
    cross terms): a wave from the lateral wall activates every wall voxel, and differs from the
    run with the in-plane angle ``theta`` alone (measured: mean |dLAT| 1.9 ms, max 6.6 ms of a
    42 ms activation). Diffusion alone on the shell keeps sum(u) to 1e-12 relative."""
    sh = lv_shell(1.0, a_endo=6.0, c_endo=12.0, thickness=3.0, base=4.0)
    ox, oy, oz = sh.offset
    site = [ox + 7.5, oy, oz - 4.0]  # mid-wall, lateral, below the equator
    vec = sh.model(AlievPanfilov, D_max=2.0)
    assert vec.cross and np.array_equal(np.asarray(vec.fibres), sh.fibres)
    flat = AlievPanfilov(sh.shape, sh.spacing, labels=sh.labels, fibres=sh.theta, D_max=2.0)
    lats = []
    for m in (vec, flat):
        p = m.pacing_params([site], D=2.0, D_ratio=0.25, stim_r=5.0)[0]
        traj = simulate(m, p, Regimen([Infusion(0.0, "stimulus", 1.0, 2.0)]), t1=50.0)
        lats.append(np.asarray(activation_times(traj.ts, m.field(traj.states)[0], 0.5)))
    wall = sh.mask
    for lat in lats:
        assert np.isfinite(lat[wall]).all() and np.isnan(lat[~wall]).all()
    diff = np.abs(lats[0] - lats[1])[wall]
    assert diff.mean() > 0.5 and diff.max() > 2.0, (diff.mean(), diff.max())
    # conservation of the diffusion step with the shell's fibres
    p = vec.make_params(D=2.0, D_ratio=0.25)
    ops = vec._operator(p)
    u0 = jnp.asarray(np.random.default_rng(2).random(sh.shape) * wall)
    u = jax.jit(
        lambda v: jax.lax.fori_loop(0, 100, lambda _, w: w + vec.dt * vec.diffusion(w, ops), v)
    )(u0)
    total = float(u0.sum())
    assert abs(float(u.sum()) - total) <= 1e-12 * total and np.all(np.asarray(u)[~wall] == 0)


def test_the_shell_builds_a_tissue_or_says_what_it_needs():
    sh = lv_shell(1.0, a_endo=6.0, c_endo=12.0, thickness=3.0, base=4.0)
    labels = sh.labels.copy()
    labels[sh.mask & (sh.depth > 0.5)] = 3  # scar in the outer half
    m = sh.model(MitchellSchaeffer, labels=labels, D_max=0.1)
    assert np.array_equal(np.asarray(m.labels), labels) and m.shape == sh.shape
    with pytest.raises(ModelError, match="tissue model class"):
        sh.model(lv_shell)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="passes the shell's own 3D fibres"):
        sh.model(AlievPanfilov, fibres=0.0)
