"""Every crossing, cycle length and S1-S2 restitution on traces whose answers are known."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.errors import ModelError
from medtwin.models.cardiology import crossing_times, cycle_length, restitution


def _beats(ts, starts, apds, rise=2.0, fall=20.0):
    """Trapezoid action potentials: 0 -> 1 over ``rise`` ms at each start, plateau, then
    1 -> 0 over ``fall`` ms ending at start + apd."""
    u = np.zeros_like(ts)
    for s, a in zip(starts, apds, strict=True):
        u = np.maximum(u, np.interp(ts, [s, s + rise, s + a - fall, s + a], [0, 1, 1, 0], 0, 0))
    return u


@pytest.mark.slow
def test_every_crossing_in_order_and_nan_padded():
    ts = np.arange(0.0, 1000.0, 0.5)
    u = _beats(ts, [10.0, 310.0, 610.0], [200.0, 180.0, 150.0])
    up = np.asarray(crossing_times(ts, u, 0.5, max_count=5))
    # up at start + rise / 2, down at start + apd - fall / 2
    assert np.allclose(up[:3], [11.0, 311.0, 611.0], atol=1e-12) and np.isnan(up[3:]).all()
    down = np.asarray(crossing_times(ts, u, 0.5, up=False, max_count=2))
    assert np.allclose(down, [200.0, 480.0], atol=1e-12)  # only the first two kept
    # several traces at once: (time, 2, 2) -> (2, 2, max_count)
    grid = np.stack([u, np.roll(u, 40)], -1)[:, :, None].repeat(2, -1)
    out = np.asarray(crossing_times(ts, grid, 0.5, max_count=4))
    assert out.shape == (2, 2, 4) and np.allclose(out[1, 0, :3], [31.0, 331.0, 631.0])


def test_cycle_length_is_the_median_interval_after_a_time():
    ts = np.arange(0.0, 3000.0, 1.0)
    starts = [0.0, 400.0, 700.0, 950.0, 1200.0, 1450.0, 1700.0]  # settles at 250 ms
    u = _beats(ts, [s + 5.0 for s in starts], [150.0] * len(starts))
    assert np.isclose(float(cycle_length(ts, u, 0.5, after=600.0)), 250.0, atol=1e-9)
    assert np.isclose(float(cycle_length(ts, u, 0.5)), 250.0, atol=1e-9)  # median
    assert np.isnan(float(cycle_length(ts, u, 0.5, after=1600.0)))  # one activation left


@pytest.mark.slow
def test_restitution_reads_di_and_apd_of_the_s2_beat():
    ts = np.arange(0.0, 1500.0, 0.25)
    # S1 at 0 and 500 (APD 300), S2 at 850 (APD 220); a second site 12 ms later; a third
    # site where S2 does not capture
    a = _beats(ts, [0.0, 500.0, 850.0], [300.0, 300.0, 220.0])
    b = _beats(ts, [12.0, 512.0, 862.0], [300.0, 300.0, 220.0])
    c = _beats(ts, [0.0, 500.0], [300.0, 300.0])
    r = restitution(ts, np.stack([a, b, c], -1), 850.0, threshold=0.1)
    # level 0.1: up at s + 0.2, down at s + apd - 2
    assert np.allclose(r.activation[:2], [850.2, 862.2], atol=1e-9)
    assert np.allclose(r.di[:2], 850.2 - 798.0, atol=1e-9)
    assert np.allclose(r.apd[:2], 220.0 - 2.2, atol=1e-9)
    assert np.allclose(r.previous_apd[:2], 300.0 - 2.2, atol=1e-9)
    assert np.isnan([r.activation[2], r.di[2], r.apd[2]]).all()
    # vmapped over a batch of S2 times (coupling intervals)
    rb = jax.vmap(lambda uu, s: restitution(ts, uu, s))(jnp.stack([a, a]), jnp.array([850.0, 0.0]))
    assert np.isclose(float(rb.activation[0]), 850.2) and np.isclose(float(rb.activation[1]), 0.2)


def test_bad_input_is_refused():
    with pytest.raises(ModelError, match="max_count"):
        crossing_times(np.arange(3.0), np.zeros(3), max_count=0)
    with pytest.raises(ModelError, match="time axis first"):
        crossing_times(np.arange(3.0), np.zeros((4, 2)))
