"""The monodomain tissue: labels, conduction tensor, no-flux boundaries, stimulus sites, batches
and the refusals of bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.errors import ModelError
from medtwin.models import get_model
from medtwin.models.cardiology import (
    BORDER,
    HEALTHY,
    SCAR,
    AlievPanfilov,
    MitchellSchaeffer,
    activation_times,
    rotating_fibres,
)
from medtwin.simulate import Infusion, Regimen, simulate

PULSE = Regimen([Infusion(0.0, "stimulus", 1.0, 2.0)])


def test_registered_with_their_declarations():
    assert get_model("aliev-panfilov").name == "aliev-panfilov"
    m = get_model("mitchell-schaeffer-2003")
    assert isinstance(m, MitchellSchaeffer) and m.time_unit == "ms"
    assert m.n_states == 2 * 32 * 32 and m.state_names[1024] == "h0"


def _operator(m, params, u):
    return m.diffusion(jnp.asarray(u), m._operator(params))


def test_oblique_tensor_is_exact_on_a_quadratic_and_conserves():
    """For u = x^T A x the divergence of D grad u is 2 tr(D A) in the interior (the centred
    differences are exact on quadratics); the flux form sums to zero over any mask."""
    shape, h, theta = (12, 14), 0.5, 0.4
    m = AlievPanfilov(shape, h, fibres=theta)
    assert m.cross
    p = m.make_params(D=1.5, D_ratio=0.3)
    x, y = np.meshgrid(*m.centres(), indexing="ij")
    A = np.array([[0.7, 0.2], [0.2, -0.4]])
    u = A[0, 0] * x**2 + 2 * A[0, 1] * x * y + A[1, 1] * y**2
    d_l, d_t = 1.5, 1.5 * 0.3
    f = np.array([math.cos(theta), math.sin(theta)])
    D = d_t * np.eye(2) + (d_l - d_t) * np.outer(f, f)
    out = np.asarray(_operator(m, p, u))
    assert np.allclose(out[2:-2, 2:-2], 2 * np.trace(D @ A), rtol=1e-12, atol=1e-12)
    # an irregular mask with scar and border zone: no flux through any boundary
    rng = np.random.default_rng(0)
    labels = rng.choice([0, HEALTHY, BORDER, SCAR], size=shape, p=[0.1, 0.6, 0.2, 0.1])
    m2 = AlievPanfilov(shape, h, labels=labels, fibres=rotating_fibres(shape, axis=0))
    v = rng.random(shape) * np.asarray(m2.excitable())
    out2 = np.asarray(_operator(m2, p, v))
    assert abs(out2.sum()) < 1e-12 * np.abs(out2).sum()
    assert np.all(out2[np.asarray(m2.excitable()) == 0] == 0.0)


def test_scar_blocks_and_a_channel_conducts_late():
    shape, h = (40, 24), 0.25
    wall = np.full(shape, HEALTHY)
    wall[20, :] = SCAR
    channel = wall.copy()
    channel[20, 10:14] = HEALTHY
    lats = []
    for labels in (wall, channel):
        m = AlievPanfilov(shape, h, labels=labels, D_max=2.0)
        # a plane-ish front from the whole x = 0 edge: Aliev-Panfilov at D = 2 mm^2/ms needs a
        # stimulated region wider than its critical radius (d - 1) D / c = 3.6 mm in 2D
        p = m.pacing_params([[0.0, 3.0]], stim_r=4.0)[0]
        traj = simulate(m, p, PULSE, t1=40.0)
        u = np.asarray(m.field(traj.states)[0])
        lats.append(np.asarray(activation_times(traj.ts, u, 0.5)))
    blocked, through = lats
    assert np.isfinite(blocked[:20]).all() and np.isnan(blocked[21:]).all()
    assert np.isfinite(through[21:]).all() and np.isnan(through[20, :10]).all()
    assert np.nanmax(through[39]) > np.nanmax(through[19]) + 5.0


def test_border_zone_conducts_slower_and_repolarises_later():
    n, h = 240, 0.25  # a 60 mm cable: each half is many front widths (2.5 mm) long
    lab = np.full((n,), HEALTHY)
    lab[n // 2 :] = BORDER
    m = AlievPanfilov((n,), h, labels=lab, D_max=2.0)
    p = m.pacing_params([[0.2]], bz_D=0.25, bz_apd=1.5)[0]
    traj = simulate(m, p, PULSE, t1=700.0)
    u = np.asarray(m.field(traj.states)[0])
    lat = np.asarray(activation_times(traj.ts, u, 0.5))
    x = (np.arange(n) + 0.5) * h
    healthy = np.polyfit(x[40:100], lat[40:100], 1)[0]
    border = np.polyfit(x[140:200], lat[140:200], 1)[0]
    # speed scales with sqrt(D): a quarter of the diffusivity is half the speed (within 4 %)
    assert abs(healthy / border - 0.5) < 0.02, (healthy, border)
    down = np.asarray(activation_times(traj.ts[::-1], u[::-1], 0.5))  # last downward crossing
    apd_h, apd_b = np.mean(down[40:100] - lat[40:100]), np.mean(down[140:200] - lat[140:200])
    assert apd_b > 1.3 * apd_h, (apd_h, apd_b)


def test_a_batch_of_pacing_sites_is_one_vmapped_run():
    m = MitchellSchaeffer((24, 24), 0.1, D_max=0.1)
    sites = [[0.2, 0.2], [2.3, 2.3], [0.2, 2.3]]
    params = m.pacing_params(sites, stim_r=0.5)
    traj = simulate(m, params, PULSE, t1=12.0)
    single = simulate(m, params[1], PULSE, t1=12.0)
    assert np.allclose(traj.states[1], single.states, rtol=1e-12, atol=1e-14)
    u = np.asarray(m.field(traj.states)[0])  # (batch, time, nx, ny)
    x, y = np.meshgrid(*m.centres(), indexing="ij")
    for b, site in enumerate(sites):
        lat = np.asarray(activation_times(traj.ts, u[b], 0.5))
        first = np.unravel_index(np.nanargmin(lat), lat.shape)
        assert math.hypot(x[first] - site[0], y[first] - site[1]) < 0.6


def test_a_slab_with_rotating_fibres_activates_fully():
    shape = (16, 16, 4)
    m = MitchellSchaeffer(shape, 0.1, fibres=rotating_fibres(shape), D_max=0.1)
    assert m.cross
    p = m.pacing_params([[0.05, 0.05, 0.05]], stim_r=0.5)[0]
    traj = simulate(m, p, PULSE, t1=15.0)
    lat = np.asarray(activation_times(traj.ts, m.field(traj.states)[0], 0.5))
    assert np.isfinite(lat).all() and lat.max() < 15.0


def test_bad_input_is_refused_with_what_to_do():
    with pytest.raises(ModelError, match=r"labels mark no excitable tissue.*Expected at least"):
        AlievPanfilov((8, 8), 0.25, labels=np.full((8, 8), SCAR))
    with pytest.raises(ModelError, match=r"labels must be an integer array .*shape \(8, 8\)"):
        AlievPanfilov((8, 8), 0.25, labels=np.full((8, 9), HEALTHY))
    m = AlievPanfilov((8, 8), 0.25, D_max=2.0)
    bound = m.stability_dt(2.0)
    with pytest.raises(ModelError, match=r"above the stability bound .*Expected dt <="):
        AlievPanfilov((8, 8), 0.25, D_max=2.0, dt=1.01 * bound)
    with pytest.raises(ModelError, match="must divide the 1 ms input step"):
        AlievPanfilov((8, 8), 0.25, D_max=2.0, dt=0.37 * bound)
    lab = np.full((8, 8), HEALTHY)
    lab[:, 4:] = SCAR
    m = AlievPanfilov((8, 8), 0.25, labels=lab)
    with pytest.raises(ModelError, match=r"Pacing site 1 at \(0.5, 1.8\) mm stimulates no tissue"):
        m.pacing_params([[0.5, 0.5], [0.5, 1.8]], stim_r=0.3)
    with pytest.raises(ModelError, match=r"needs sites as finite \(n, 2\)"):
        m.pacing_params([[0.5, 0.5, 0.5]])


def test_the_stability_bound_is_where_the_scheme_blows_up():
    """Just under the bound the explicit scheme stays bounded; well above it, it diverges."""
    shape, h = (16, 16), 0.25
    rng = np.random.default_rng(1)
    y0 = np.concatenate([rng.random(256) * 0.1, np.zeros(256)])
    m = AlievPanfilov(shape, h, D_max=2.0, fibres=0.6)
    p = m.make_params(D=2.0, D_ratio=1.0)
    ops = m._operator(p)
    u = jnp.asarray(y0[:256].reshape(shape))

    def run(dt, n=400):
        def body(u, _):
            return u + dt * m.diffusion(u, ops), None

        return float(jnp.max(jnp.abs(jax.lax.scan(body, u, None, length=n)[0])))

    bound = m.stability_dt(2.0)
    assert run(0.99 * bound) < 1.0 and not run(1.5 * bound) < 1.0


def test_public_names_resolve():
    import medtwin.models.cardiology as card

    assert card.__all__ == sorted(card.__all__)
    for name in card.__all__:
        assert getattr(card, name) is not None, name
