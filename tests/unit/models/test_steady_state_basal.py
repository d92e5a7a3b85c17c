"""The steady-state basal of the glucose models: the rate that holds a patient at rest, the one
the model's own baseline uses, and the one the trials' regimens give."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.cohorts import T1DRegimen
from medtwin.cohorts._trials import subjects
from medtwin.data import load_virtual_patients, virtual_population
from medtwin.models import BergmanMinimal, UVAPadova
from medtwin.simulate import Regimen, basal, simulate

NAMES = ["adult#001", "child#003"]


def _patients(model):
    if isinstance(model, UVAPadova):
        return np.asarray(load_virtual_patients(NAMES))
    return np.asarray(model.default_params())[None]


@pytest.mark.parametrize("model", [UVAPadova(), BergmanMinimal()], ids=lambda m: m.name)
def test_the_steady_state_basal_holds_the_patient_at_rest(model):
    for p in _patients(model):
        rate = model.steady_state_basal(p)  # U/min
        # the rate the model runs at without a regimen basal, bit for bit, on the host and traced
        assert rate == float(model.baseline_inputs(jnp.asarray(p))[1]) > 0
        assert float(jax.jit(model.steady_state_basal)(jnp.asarray(p))) == rate
        # 24 h at that rate (given as a basal in U/h) and no meal: glucose does not move
        regimen = Regimen((basal(0.0, 60.0 * float(rate)),))
        traj = simulate(model, p, regimen, t1=1440.0, saveat=np.arange(0.0, 1441.0, 60.0))
        bg = np.asarray(traj.observable("bg"))
        np.testing.assert_allclose(bg, bg[0], rtol=1e-8)


def test_the_trial_regimen_gives_the_steady_state_basal():
    model = UVAPadova()
    pop = virtual_population(NAMES)
    for subject, p in zip(subjects(pop), pop.params, strict=True):
        u_per_h = T1DRegimen().basal_u_per_h(subject)
        np.testing.assert_allclose(u_per_h, 60.0 * model.steady_state_basal(p), rtol=1e-15)
    # simglucose's adult#001 runs at about 1.27 U/h (u2ss 1.2386 pmol/kg/min, BW 102.32 kg)
    assert abs(T1DRegimen().basal_u_per_h(subjects(pop)[0]) - 1.2674) < 1e-3
