"""ten Tusscher-Panfilov 2006 (epicardial cell): the single cell against the published action
potential and against a stiff integration of the same equations, and the tissue against the
Niederer et al. 2011 N-version benchmark.

* **Single cell, published AP.** From the model's published resting state, paced at 1 Hz
  with a 52 mV/ms (= -52 pA/pF), 1 ms stimulus: resting potential, peak and APD90 within
  the bands below.
* **Single cell, stiff reference.** The tissue's scheme on one cell (Rush-Larsen gates and
  R', forward-Euler V and concentrations, dt = 0.01 ms) against diffrax Kvaerno5 (rtol 1e-10)
  on the same 19 ODEs with the stimulus edges as jump times (first 500 ms of a beat): APD90
  within 0.1 % (measured 290.786 against 290.828 ms), the potential within 1 mV after the
  upstroke (measured 0.21 mV), each concentration's peak and final value within 1 %
  (measured at most 1.3e-3). ``slow``: the stiff reference takes minutes.
* **Niederer et al. 2011** (Phil Trans R Soc A 369:4331): slab 20 x 7 x 3 mm, fibres along x,
  monodomain conductivities 0.1334 / 0.0176 S/m (harmonic means of the intra- and
  extracellular 0.17 / 0.62 and 0.019 / 0.24 S/m), chi = 140 /mm, C_m = 0.01 uF/mm^2, a
  50 000 uA/cm^3 (35.7 mV/ms) stimulus for 2 ms in the 1.5 mm cube at the corner P1; the
  activation time is the first crossing of 0 mV. The grid here is cell-centred finite volumes
  covering the slab exactly (200 x 70 x 30 cells at dx = 0.1 mm); a corner's activation time
  is its corner cell's (the no-flux boundary makes the normal derivative of the activation
  time zero, so the half-cell offset is second order), the centre P9 is interpolated.
  ``slow``: at dx = 0.1 mm, P8 within the 11 codes' published range (``PUBLISHED_P8``).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.models.cardiology import TenTusscher, action_potential_duration
from medtwin.models.cardiology import ten_tusscher as tt
from medtwin.simulate import Infusion, Regimen, simulate

STIM = 50_000.0 / 1400.0  # uA/cm^3 over chi C_m = 1400 uF/cm^3: mV/ms
SLAB = (20.0, 7.0, 3.0)  # mm
CELL_APD_TOL = 1e-3  # relative APD90 against the stiff reference (measured 1.4e-4)
CELL_V_TOL = 1.0  # mV after the upstroke (measured 0.21)
CELL_C_TOL = 0.01  # concentrations: relative, peak and value at 500 ms (measured <= 1.3e-3)
COARSE_P8 = (125.0, 140.0)  # ms, dx 0.5 / dt 0.05: measured 131.5
# P8 across the 11 codes of Niederer et al. 2011 at their finest resolution (dx 0.1 mm,
# dt 0.005 ms): 37.8-48.7 ms, from the paper's section 6 (Discussion), as transcribed into
# benchmarks/niederer2011.json ("published_values") of github.com/svcHeidi/omniD, which cites
# the open-access text (PMC3263775); the paper itself was not readable here. The band is used
# as published, not widened: the slow test runs dt = 0.01 ms, and other codes move P8 by well
# under 1 ms between dt 0.01 and 0.005 (fenicsx-beat's niederer_benchmark demo: 38.21 -> 37.93
# ms), against a margin of 4.2 ms here (measured 44.5 ms).
PUBLISHED_P8 = (37.8, 48.7)  # ms
POINTS = {  # Niederer et al. 2011, Fig. 1
    "P1": (0.0, 0.0, 0.0), "P2": (0.0, 7.0, 0.0), "P3": (20.0, 0.0, 0.0),
    "P4": (20.0, 7.0, 0.0), "P5": (0.0, 0.0, 3.0), "P6": (0.0, 7.0, 3.0),
    "P7": (20.0, 0.0, 3.0), "P8": (20.0, 7.0, 3.0), "P9": (10.0, 3.5, 1.5),
}  # fmt: skip


def niederer(dx: float, dt: float, *, t_max: float = 150.0, input_dt: float = 0.1):
    """Activation times (ms) on the benchmark slab at spacing ``dx`` and substep ``dt``: the
    map over all cells (first 0 mV crossing, interpolated between ``input_dt`` samples) and
    the wall time. Stops when every cell has activated."""
    shape = tuple(round(s / dx) for s in SLAB)
    m = TenTusscher(shape, dx, dt=dt, input_dt=input_dt, stimulus="box", D_max=0.1)
    p = m.make_params(stim_x=0.0, stim_y=0.0, stim_z=0.0, stim_r=1.5)
    n = m.n_cells
    thr = m.activation_threshold
    n_stim = round(2.0 / input_dt)

    @jax.jit
    def run(y0):
        def cond(c):
            k, _y, lat = c
            return jnp.any(jnp.isnan(lat)) & (k * input_dt < t_max)

        def body(c):
            k, y, lat = c
            u_in = jnp.where(k < n_stim, STIM, 0.0)[None]
            y1 = m.step(k * input_dt, y, u_in, p, input_dt, None)
            a, b = y[:n], y1[:n]
            frac = (thr - a) / jnp.where(b != a, b - a, 1.0)
            hit = jnp.isnan(lat) & (a < thr) & (b >= thr)
            lat = jnp.where(hit, (k + frac) * input_dt, lat)
            return k + 1, y1, lat

        return jax.lax.while_loop(cond, body, (0, y0, jnp.full(n, jnp.nan)))

    y0 = m.initial_state(p)
    t = time.perf_counter()
    _k, _y, lat = run(y0)
    lat = np.asarray(lat).reshape(shape)
    return m, lat, time.perf_counter() - t


def at(m, lat: np.ndarray, point) -> float:
    """The activation time at a point: trilinear between cell centres, clamped to the corner
    cells' centres (see the module docstring)."""
    idx = []
    for c, x in zip(m.centres(), point, strict=True):
        f = np.clip((x - c[0]) / m.spacing, 0.0, len(c) - 1.0)
        i0 = min(int(f), len(c) - 2)
        idx.append((i0, f - i0))
    out = 0.0
    for corner in np.ndindex(2, 2, 2):
        w, ii = 1.0, []
        for (i0, fr), b in zip(idx, corner, strict=True):
            w *= fr if b else 1.0 - fr
            ii.append(i0 + b)
        out += w * lat[tuple(ii)]
    return float(out)


# ---- the tissue base with 19 states per cell ------------------------------------------------


def test_registered_with_its_states_stimulus_box_and_inert_scar():
    from medtwin.errors import ModelError
    from medtwin.models import get_model
    from medtwin.models.cardiology import SCAR

    assert isinstance(get_model("tp06"), TenTusscher)
    labels = np.ones((12, 10), np.int32)
    labels[6:, 5:] = SCAR
    m = TenTusscher((12, 10), 0.2, labels=labels, stimulus="box", D_max=0.1)
    assert m.n_states == 19 * 120 and m.state_names[:2] == ("V_0", "V_1")
    assert m.state_names[120] == "m_0" and m.state_names[-1] == "Ca_ss_119"
    # the box: the cube of half-side 0.5 mm at the corner covers 0.5 x 0.5 mm = 2.5 x 2.5 cells
    p = m.make_params(stim_x=0.0, stim_y=0.0, stim_r=0.5)
    region = np.asarray(m.stimulus_region(p))
    assert region.sum() == pytest.approx(2.5 * 2.5) and region[2, 2] == pytest.approx(0.25)
    y0 = m.initial_state(p)
    grids = m.field(y0)
    assert len(grids) == 19 and np.all(np.asarray(grids[0]) == tt.REST["V"])
    traj = simulate(m, p, Regimen([Infusion(0.0, "stimulus", STIM, 2.0)]), t1=10.0)
    y = np.asarray(traj.states)
    assert np.isfinite(y).all()
    V = np.asarray(m.field(y)[0])
    assert np.all(V[:, labels == SCAR] == tt.REST["V"])  # scar never changes
    assert V[-1][labels == 1].max() > 0.0  # the front is on its way
    frac = np.asarray(traj.observables)[:, 0]
    assert frac[0] == 0.0 and 0.0 < frac[-1] < 1.0  # excited: V > 0 mV
    with pytest.raises(ModelError, match="stimulus must be 'ball'"):
        TenTusscher((4, 4), 0.2, stimulus="cube")


# ---- single cell ---------------------------------------------------------------------------
CELL_STIM, CELL_DUR = 52.0, 1.0  # mV/ms for 1 ms: the paper's -52 pA/pF pulse


def _cell(beats: int, *, dt: float = 0.01, input_dt: float = 0.1):
    m = TenTusscher((1,), 1.0, input_dt=input_dt, dt=dt, D_max=0.1)
    reg = Regimen([Infusion(1000.0 * k, "stimulus", CELL_STIM, CELL_DUR) for k in range(beats)])
    traj = simulate(m, m.default_params(), reg, t1=1000.0 * beats)
    return m, np.asarray(traj.ts), np.asarray(traj.states)


@pytest.mark.slow
def test_single_cell_action_potential_at_1_hz():
    """Resting potential, peak and APD90 of the epicardial cell paced at 1 Hz (beats 1 and 5)
    within physiological bands around the published human epicardial action potential."""
    _m, ts, y = _cell(5)
    V = y[:, 0]
    for k in (0, 4):
        sel = (ts >= 1000.0 * k) & (ts < 1000.0 * (k + 1))
        rest, peak = V[sel][0], V[sel].max()
        apd = float(action_potential_duration(ts[sel], V[sel], 0.9))
        assert -87.0 < rest < -84.5, (k, rest)
        assert 30.0 < peak < 45.0, (k, peak)
        assert 280.0 < apd < 320.0, (k, apd)
        # and back to rest before the next beat
        assert abs(V[sel][-1] - rest) < 1.0, (k, V[sel][-1], rest)


def _cell_reference(t1: float, p):
    """Kvaerno5 on the same 19 ODEs (gates relaxing with their tau, R' linear, V and the
    concentrations by the same right-hand side) with the stimulus edges as jump times."""
    import diffrax

    names = [s[0] for s in tt._STATES]

    def rhs(t, y, args):
        V = y[0]
        x = dict(zip(names[1:], y[1:], strict=True))
        stim = jnp.where((t >= 0.0) & (t < CELL_DUR), CELL_STIM, 0.0)
        dV, dc, (k_closed, k_open) = tt.derivatives(V, x, x, p, 0.0)
        dg = [(inf - x[n]) / tau for n, (inf, tau) in tt.rates(V, x["Ca_ss"]).items()]
        dr = k_open * (1.0 - x["Rp"]) - k_closed * x["Rp"]
        return jnp.stack([dV + stim, *dg, dr, *(dc[n] for n in names[14:])])

    y0 = jnp.array([v for *_n, v in tt._STATES])
    ts = jnp.arange(0.0, t1, 0.1)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), diffrax.Kvaerno5(), 0.0, t1, 0.001, y0,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(
            rtol=1e-10, atol=1e-12, jump_ts=jnp.array([0.0, CELL_DUR])
        ),
        max_steps=500_000,
    )  # fmt: skip
    return np.asarray(ts), np.asarray(sol.ys)


@pytest.mark.slow
def test_rush_larsen_cell_matches_a_stiff_reference():
    m, ts, y = _cell(1)
    ts, y = ts[:5000], y[:5000]  # the first 500 ms
    rts, ry = _cell_reference(500.0, m.named(m.default_params()))
    assert np.allclose(ts, rts)
    apd = float(action_potential_duration(ts, y[:, 0], 0.9))
    ref = float(action_potential_duration(rts, ry[:, 0], 0.9))
    assert abs(apd / ref - 1.0) < CELL_APD_TOL, (apd, ref)
    late = ts > 5.0  # away from the upstroke, where a 0.1 ms shift is tens of mV
    assert np.max(np.abs(y[late, 0] - ry[late, 0])) < CELL_V_TOL, np.max(
        np.abs(y[late, 0] - ry[late, 0])
    )
    # the concentrations: their peaks and where the beat leaves them (relative; pointwise on
    # the calcium spikes a sub-ms shift of the upstroke would dominate)
    for j in range(14, 19):
        name = tt._STATES[j][0]
        peak = abs(y[:, j].max() / ry[:, j].max() - 1.0)
        end = abs(y[-1, j] / ry[-1, j] - 1.0)
        print(f"{name}: peak {peak:.2e}, at 500 ms {end:.2e}")
        assert peak < CELL_C_TOL and end < CELL_C_TOL, (name, peak, end)
    print(f"APD90 {apd:.3f} vs {ref:.3f} ms; max |dV| after 5 ms "
          f"{np.max(np.abs(y[late, 0] - ry[late, 0])):.3f} mV")  # fmt: skip


# ---- Niederer et al. 2011 ------------------------------------------------------------------


def _diagonal(m, lat, k: int = 11) -> np.ndarray:
    """Activation times at ``k`` points evenly along the diagonal P1 -> P8."""
    return np.array([at(m, lat, [f * s for s in SLAB]) for f in np.linspace(0.0, 1.0, k)])


def test_niederer_slab_at_coarse_resolution():
    """dx = 0.5 mm, dt = 0.05 ms (the benchmark's coarsest pair): every cell activates, the
    activation times rise monotonically along the diagonal, the far corners P4 and P8 are
    last, and P8 lies in the band measured here (a regression band: at this resolution the
    front is under-resolved and slow, as for the benchmark's codes at 0.5 mm)."""
    m, lat, _wall = niederer(0.5, 0.05)
    assert np.isfinite(lat).all()
    diag = _diagonal(m, lat)
    assert np.all(np.diff(diag) > 0.0), diag
    t = {k: at(m, lat, v) for k, v in POINTS.items()}
    assert t["P1"] < 2.5  # inside the stimulated cube: during the 2 ms pulse
    assert t["P3"] < t["P4"] and t["P7"] < t["P8"] and t["P1"] < t["P9"] < t["P8"]
    # transverse conduction is slower: P2 (7 mm across) activates after P3 (20 mm along)
    assert t["P2"] > t["P3"]
    assert COARSE_P8[0] < t["P8"] < COARSE_P8[1], t


@pytest.mark.slow
def test_niederer_slab_converges_with_dx():
    """dx = 0.5, 0.2, 0.1 mm at the benchmark's dt = 0.01 ms: the far-corner activation time
    falls as dx shrinks (the under-resolved front is slow) and the change per refinement
    shrinks; at 0.1 mm P8 lies in the 11 published codes' range ``PUBLISHED_P8`` (theirs at
    dt = 0.005 ms, see its comment). Measured on 2 shared cores: P8 = 132.0, 53.9, 44.5 ms in
    50 s, 11 min, 22 min (420 000 nodes x 4450 substeps at 0.1 mm); the test passed in
    21 min."""
    p8 = {}
    for dx in (0.5, 0.2, 0.1):
        m, lat, _wall = niederer(dx, 0.01)
        assert np.isfinite(lat).all()
        assert np.all(np.diff(_diagonal(m, lat)) > 0.0)
        p8[dx] = at(m, lat, POINTS["P8"])
    assert p8[0.5] > p8[0.2] > p8[0.1], p8
    assert p8[0.5] - p8[0.2] > 2.0 * (p8[0.2] - p8[0.1]), p8
    assert PUBLISHED_P8[0] <= p8[0.1] <= PUBLISHED_P8[1], p8


if __name__ == "__main__":  # pragma: no cover - timing by hand
    import sys

    dx, dt = float(sys.argv[1]), float(sys.argv[2])
    m, lat, wall = niederer(dx, dt)
    print({k: round(at(m, lat, v), 3) for k, v in POINTS.items()}, f"wall {wall:.1f} s")
