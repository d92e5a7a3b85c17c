"""Phase maps and phase singularities on fields whose charges are known analytically."""

import math

import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.errors import ModelError
from medtwin.models.cardiology import (
    hilbert_phase,
    singularities,
    state_phase,
    topological_charge,
)

H = 0.5


def _grid(n=40):
    x = (np.arange(n) + 0.5) * H
    return np.meshgrid(x, x, indexing="ij")


@pytest.mark.parametrize("sign", [1, -1])
def test_an_analytic_spiral_has_one_singularity_of_its_charge(sign):
    x, y = _grid()
    x0, y0 = 7.3, 12.1  # inside a plaquette, not on a site
    r = np.hypot(x - x0, y - y0)
    # an Archimedean spiral's phase: the angle plus a radial twist (continuous except at x0)
    phase = np.angle(np.exp(1j * (sign * np.arctan2(y - y0, x - x0) - 0.8 * r)))
    q = np.asarray(topological_charge(phase))
    assert q.shape == (39, 39) and int(np.abs(q).sum()) == 1
    pos, charge = singularities(q, H, (H / 2, H / 2))
    assert charge.tolist() == [sign]
    assert np.all(np.abs(pos[0] - [x0, y0]) <= H / 2)  # the plaquette holding the centre


def test_a_pair_and_a_mask():
    x, y = _grid()
    a = np.arctan2(y - 5.2, x - 5.1) - np.arctan2(y - 5.2, x - 14.9)  # +1 at 5.1, -1 at 14.9
    q = np.asarray(topological_charge(np.angle(np.exp(1j * a))))
    pos, charge = singularities(q, H, (H / 2, H / 2))
    assert sorted(charge.tolist()) == [-1, 1] and int(q.sum()) == 0
    assert np.isclose(pos[charge == 1][0, 0], 5.0, atol=H) and np.isclose(
        pos[charge == -1][0, 0], 15.0, atol=H
    )
    mask = x < 10.0  # the -1 lies outside the tissue
    qm = np.asarray(topological_charge(np.angle(np.exp(1j * a)), mask))
    assert qm.sum() == 1 and np.abs(qm).sum() == 1
    # batched over time: a plane wave has none
    plane = np.stack([np.angle(np.exp(1j * (x - t))) for t in range(3)])
    assert np.asarray(topological_charge(plane)).shape == (3, 39, 39)
    assert not np.asarray(topological_charge(plane)).any()


def test_state_phase_winds_once_around_an_action_potential_loop():
    # a loop around (0.5, 0.5): the angle increases through the beat
    s = np.linspace(0.0, 2 * math.pi, 200, endpoint=False)
    u, w = 0.5 + 0.4 * np.cos(s), 0.5 + 0.9 * np.sin(s)
    ph = np.asarray(state_phase(u, w, (0.5, 0.5), (0.4, 0.9)))
    assert np.allclose(np.angle(np.exp(1j * (ph - s))), 0.0, atol=1e-12)
    with pytest.raises(ModelError, match="positive scales"):
        state_phase(u, w, (0.5, 0.5), (0.0, 1.0))


def test_hilbert_phase_of_a_sinusoid_is_its_argument():
    ts = np.arange(0.0, 1000.0, 1.0)
    w = 2 * math.pi / 125.0  # an integer number of periods in the record: no end effect
    u = 3.0 + np.cos(w * ts)[:, None] * np.array([1.0, 2.0])
    ph = np.asarray(hilbert_phase(u))
    assert np.allclose(np.angle(np.exp(1j * (ph - w * ts[:, None]))), 0.0, atol=1e-9)


def test_bad_input_is_refused():
    with pytest.raises(ModelError, match="two spatial axes"):
        topological_charge(np.zeros(5))
    with pytest.raises(ModelError, match="spatial shape"):
        topological_charge(np.zeros((4, 4)), np.ones((3, 4), bool))
    with pytest.raises(ModelError, match="4 time samples"):
        hilbert_phase(np.zeros(3))
