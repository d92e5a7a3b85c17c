"""The UVA/Padova model's floor at zero: a compartment below zero stops falling but may rise
again (simglucose freezes it there for good)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from medtwin.data import load_virtual_patients
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, simulate

FLOORED = ("Gp", "Gt", "Ip", "Il", "Isc1", "Isc2", "Gs")


def test_a_patient_driven_below_zero_recovers():
    # 40 U at once takes child#003 below 0 mg/dL within hours; under simglucose's rule its
    # glucose stays at about -0.1 mg/dL for the rest of the run, here it comes back.
    model = UVAPadova()
    p = np.asarray(load_virtual_patients(["child#003"]))[0]
    traj = simulate(model, p, Regimen((bolus(0.0, 40.0),)), t1=48 * 60.0, save_states=False)
    bg = np.asarray(traj.observable("bg"))
    assert int(traj.status) == 0
    assert bg.min() < 1.0
    assert bg[-1] > 70.0


def test_a_floored_compartment_below_zero_never_falls():
    model = UVAPadova()
    params = np.asarray(load_virtual_patients(["adult#001", "child#003"]))
    idx = np.array([model.state_names.index(n) for n in FLOORED])
    rng = np.random.default_rng(0)
    for p in params:
        y0 = np.asarray(model.initial_state(jnp.asarray(p)))
        # random states, the floored compartments some below zero, with and without insulin
        ys = np.abs(y0) * rng.uniform(0.0, 3.0, (200, y0.size))
        ys[:, idx] *= rng.choice([-1.0, 1.0], (200, idx.size))
        us = np.stack([rng.uniform(0.0, 5.0, 200), rng.choice([0.0, 0.02, 1.0], 200)], axis=1)
        f = jax.vmap(lambda y, u, p=p: model.vector_field(0.0, y, u, jnp.asarray(p)))
        dy = np.asarray(f(jnp.asarray(ys), jnp.asarray(us)))
        below = ys[:, idx] < 0
        assert below.any() and (~below).any()
        assert np.all(dy[:, idx][below] >= 0.0)
        assert np.any(dy[:, idx][below] > 0.0)  # not frozen: inflow lifts it
