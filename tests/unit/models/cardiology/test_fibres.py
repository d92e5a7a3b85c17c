"""3D fibre fields in the tissue's conduction tensor (``_fibres.py``): every cross term, rotation
invariance against the in-plane angle, conservation on a ragged mask, the stability bound of
the full tensor, the pseudo-ECG's use of the same tensor and the refusals of bad vectors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.errors import ModelError
from medtwin.models.cardiology import (
    BORDER,
    HEALTHY,
    OUTSIDE,
    SCAR,
    AlievPanfilov,
    MitchellSchaeffer,
    activation_times,
    dipole_moment,
    stability_bound,
)
from medtwin.simulate import Infusion, Regimen, simulate

PULSE = Regimen([Infusion(0.0, "stimulus", 1.0, 2.0)])


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=0)


def _uniform(f, shape):
    return np.broadcast_to(_unit(f).reshape(3, 1, 1, 1), (3, *shape)).copy()


def _lat(m, site, t1=9.0):
    p = m.pacing_params([site], stim_r=0.25)[0]
    traj = simulate(m, p, PULSE, t1=t1)
    return np.asarray(activation_times(traj.ts, m.field(traj.states)[0], 0.5))


def _ragged(shape, seed):
    rng = np.random.default_rng(seed)
    lab = rng.choice([OUTSIDE, HEALTHY, BORDER, SCAR], size=shape, p=[0.08, 0.76, 0.08, 0.08])
    lab[:2, :2, :2] = HEALTHY  # the pacing corner
    return lab


@pytest.mark.slow
def test_fibres_along_z_match_the_angle_field_transposed():
    """Vectors along z on a slab long in z against the same problem transposed (z <-> x) with
    the angle 0 (fibres along x): the same discrete problem up to the order of the sums, so the
    activation times agree to round-off (1e-9 ms; measured 1e-15) on a ragged mask."""
    shape, h = (6, 8, 14), 0.1
    lab = _ragged(shape, 3)
    m = MitchellSchaeffer(shape, h, labels=lab, fibres=_uniform([0, 0, 1], shape), D_max=0.1)
    assert not m.cross
    mx = MitchellSchaeffer(shape[::-1], h, labels=lab.transpose(2, 1, 0), D_max=0.1)
    assert m.dt == mx.dt
    lat = _lat(m, [0.05, 0.05, 0.05])
    ref = _lat(mx, [0.05, 0.05, 0.05]).transpose(2, 1, 0)
    assert np.array_equal(np.isnan(lat), np.isnan(ref)) and np.isfinite(lat).sum() > 500
    assert np.nanmax(np.abs(lat - ref)) < 1e-9


@pytest.mark.slow
def test_fibres_tilted_out_of_plane_match_the_in_plane_angle_transposed():
    """Fibres in the x-z plane at 35 degrees (the x-z cross terms) against the y <-> z transpose
    with the in-plane angle 35 degrees (the x-y cross terms): activation times equal to
    round-off (1e-9 ms; measured 2e-15)."""
    shape, h, phi = (8, 6, 10), 0.1, math.radians(35.0)
    lab = _ragged(shape, 4)
    m = MitchellSchaeffer(shape, h, labels=lab, fibres=_uniform([1, 0, math.tan(phi)], shape))
    assert m.cross
    mt = MitchellSchaeffer((8, 10, 6), h, labels=lab.transpose(0, 2, 1), fibres=phi)
    lat = _lat(m, [0.05, 0.05, 0.05])
    ref = _lat(mt, [0.05, 0.05, 0.05]).transpose(0, 2, 1)
    assert np.array_equal(np.isnan(lat), np.isnan(ref)) and np.isfinite(lat).sum() > 300
    assert np.nanmax(np.abs(lat - ref)) < 1e-9


def test_a_general_3d_tensor_is_exact_on_a_quadratic():
    """For u = x^T A x, div(D grad u) = 2 tr(D A) in the interior with every cross term (x-y,
    x-z, y-z) non-zero: the centred differences are exact on quadratics (to 1e-11 of the
    field's scale)."""
    shape, h = (9, 10, 11), 0.5
    f = _unit([0.6, -0.5, 0.62])
    m = AlievPanfilov(shape, h, fibres=_uniform(f, shape))
    assert m.cross
    p = m.make_params(D=1.5, D_ratio=0.3)
    d_l, d_t = 1.5, 0.45
    D = d_t * np.eye(3) + (d_l - d_t) * np.outer(f, f)
    X = np.meshgrid(*m.centres(), indexing="ij")
    A = np.array([[0.7, 0.2, -0.3], [0.2, -0.4, 0.5], [-0.3, 0.5, 0.9]])
    u = sum(A[a, b] * X[a] * X[b] for a in range(3) for b in range(3))
    out = np.asarray(m.diffusion(jnp.asarray(u), m._operator(p)))
    assert np.allclose(out[2:-2, 2:-2, 2:-2], 2 * np.trace(D @ A), rtol=0, atol=1e-11)


def test_a_random_3d_field_on_a_ragged_mask_conserves_and_bounds_the_step():
    """Diffusion alone (no reaction) with a random unit vector per cell on a mask with
    outside, scar and border-zone cells: sum(u) unchanged over 300 substeps to 1e-12
    relative, non-conducting cells untouched; the tensor is sigma (D_t I + (D_l - D_t) f f^T)
    per cell and the substep bound uses its full absolute sum."""
    shape, h = (10, 9, 8), 0.25
    rng = np.random.default_rng(7)
    lab = _ragged(shape, 7)
    f = _unit(rng.normal(size=(3, *shape)))
    m = AlievPanfilov(shape, h, labels=lab, fibres=f, D_max=2.0)
    p = m.make_params(D=2.0, D_ratio=0.25, bz_D=0.5)
    # the tensor, per cell, against NumPy
    live = np.isin(lab, (HEALTHY, BORDER))
    sigma = np.where(lab == HEALTHY, 1.0, np.where(lab == BORDER, 0.5, 0.0))
    ff = np.einsum("a...,b...->ab...", f, f)
    eye = np.eye(3).reshape(3, 3, 1, 1, 1)
    want = sigma * (0.5 * eye + 1.5 * ff)
    got = np.array([[np.asarray(e) for e in row] for row in m.conduction(p)])
    assert np.allclose(got, want, rtol=1e-14, atol=1e-15)
    # the bound: the largest sum |D_ab| over cells at D_max, at the worst D_ratio bound
    worst = max(
        float(np.max(np.abs(2.0 * r * eye + 2.0 * (1 - r) * np.where(live, ff, 0.0)).sum((0, 1))))
        for r in (0.05, 1.0)
    )
    assert math.isclose(m.stability_dt(2.0), stability_bound(h, worst, m.rate_bound()))
    # conservation over many substeps of the explicit diffusion step
    ops = m._operator(p)
    u0 = jnp.asarray(rng.random(shape) * live)
    u = jax.jit(
        lambda v: jax.lax.fori_loop(0, 300, lambda _, w: w + m.dt * m.diffusion(w, ops), v)
    )(u0)
    u = np.asarray(u)
    assert abs(u.sum() - float(u0.sum())) <= 1e-12 * float(u0.sum())
    assert np.all(u[~live] == 0.0) and np.abs(u - np.asarray(u0)).max() > 0.1  # it diffused


def test_the_pseudo_ecg_dipole_uses_the_3d_tensor():
    """For V_m = x (a uniform gradient along x on a full box: the one-sided differences at the
    ends are exact too) the dipole is -D e_x times the volume, with D the 3D tensor."""
    shape, h = (6, 5, 4), 0.5
    f = _unit([0.3, 0.4, 0.85])
    m = AlievPanfilov(shape, h, fibres=_uniform(f, shape), D_max=2.0)
    p = m.make_params(D=1.2, D_ratio=0.4)
    D = 0.48 * np.eye(3) + 0.72 * np.outer(f, f)
    x = np.meshgrid(*m.centres(), indexing="ij")[0]
    got = np.asarray(dipole_moment(m, p, x))
    assert np.allclose(got, -D[:, 0] * math.prod(shape) * h**3, rtol=1e-12)


def test_bad_fibre_vectors_are_refused_and_ignored_off_tissue():
    shape = (4, 5, 3)
    lab = np.full(shape, HEALTHY)
    lab[0] = OUTSIDE
    lab[1, 0, 0] = SCAR
    f = _uniform([0.0, 1.0, 1.0], shape)
    f[:, 0] = np.nan  # outside: ignored
    f[:, 1, 0, 0] = 0.0  # scar: ignored
    m = AlievPanfilov(shape, 0.25, labels=lab, fibres=f)
    assert np.all(np.asarray(m.fibres)[:, 0] == 0.0) and np.all(
        np.asarray(m.fibres)[:, 1, 0, 0] == 0
    )
    bad = f.copy()
    bad[:, 2, 3, 1] *= 1.01
    with pytest.raises(ModelError, match=r"unit vectors .*\|f\| = 1.01 at cell \(2, 3, 1\)"):
        AlievPanfilov(shape, 0.25, labels=lab, fibres=bad)
    with pytest.raises(ModelError, match=r"shape \(dim, \*shape\) = \(3, 4, 5, 3\).*Got shape"):
        AlievPanfilov(shape, 0.25, fibres=np.ones((2, *shape)))
    with pytest.raises(ModelError, match=r"angles \(radians\) broadcasting to the grid's shape"):
        AlievPanfilov(shape, 0.25, fibres=np.zeros((3, 3)))
