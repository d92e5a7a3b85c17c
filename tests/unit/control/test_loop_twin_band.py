"""The closed-loop twin's one-step 95 % band on censored CGM readings (LO/HI).

A LO reading says only that the reading lies at or below the sensor's lower limit: it is in the
band when the band reaches below that limit (the predictive probability below it >= 2.5 %), and
outside when the twin is sure the reading would be above. The same for HI at the upper limit.
Before, every censored reading counted as outside, so a patient whose glucose stayed below the
sensor's range (child#008 of the trial) showed a band of 9 % and a drifting twin."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.control import ClosedLoop, SafetyLimits
from medtwin.control._loop_state import LoopObservation
from medtwin.control._loop_twin import twin_assimilate, twin_glucose, twin_init
from medtwin.data import T1D_CGM_FILTER, T1D_LOOP_FREE, t1d_population_prior
from medtwin.models import UVAPadova

MODEL = UVAPadova()
N = 32


def _inside(glucose: float, reading: float, censored: int) -> float:
    """Whether ``reading`` (censored -1/0/1) falls in the band of a twin whose particles all
    hold subcutaneous glucose ``glucose`` mg/dL."""
    prior = t1d_population_prior(T1D_LOOP_FREE)
    loop = ClosedLoop(MODEL, prior, method=T1D_CGM_FILTER, particles=N)
    spec = loop.spec()
    twin = twin_init(MODEL, prior, N, 1, jax.random.key(0))
    vg = twin.params[..., MODEL.param_index("Vg")]
    gs = MODEL.state_index("Gs")
    twin = twin.__class__(
        twin.keys, twin.params, twin.states.at[..., gs].set(glucose * vg), twin.log_weights,
        twin.coverage, twin.sensor,
    )  # fmt: skip
    obs = LoopObservation(
        t=jnp.float64(5.0), k=jnp.int32(1), cgm=jnp.array([reading]),
        censored=jnp.array([censored]), g_hist=jnp.full((1, 2), reading),
        valid=jnp.ones((1, 2), bool), iob=jnp.zeros(1), carbs=jnp.zeros(1),
    )  # fmt: skip
    _, _, inside, _ = twin_assimilate(spec, SafetyLimits(), twin, obs)
    return float(inside[0])


@pytest.mark.parametrize(
    ("glucose", "reading", "censored", "expected"),
    [
        (38.0, 39.0, -1, 1.0),  # the twin expects a LO reading: in the band
        (150.0, 39.0, -1, 0.0),  # the twin is sure of 150 mg/dL: a LO reading is outside
        (420.0, 400.0, 1, 1.0),  # the twin expects a HI reading: in the band
        (150.0, 400.0, 1, 0.0),
        (150.0, 150.0, 0, 1.0),  # an exact reading as before
        (150.0, 300.0, 0, 0.0),
    ],
)
def test_a_censored_reading_is_in_the_band_when_the_band_reaches_beyond_the_limit(
    glucose, reading, censored, expected
):
    assert _inside(glucose, reading, censored) == expected


def test_the_twins_glucose_is_its_posterior_mean_of_what_the_sensor_reads():
    # half the particles at 80 mg/dL of subcutaneous glucose, half at 200; weights 3:1
    prior = t1d_population_prior(T1D_LOOP_FREE)
    twin = twin_init(MODEL, prior, N, 2, jax.random.key(1))
    vg = twin.params[..., MODEL.param_index("Vg")]
    level = jnp.where(jnp.arange(N) < N // 2, 80.0, 200.0)
    lw = jnp.log(jnp.where(jnp.arange(N) < N // 2, 3.0, 1.0) / (2.0 * N))
    twin = twin.__class__(
        twin.keys, twin.params,
        twin.states.at[..., MODEL.state_index("Gs")].set(level * vg),
        jnp.broadcast_to(lw, (2, N)), twin.coverage, twin.sensor,
    )  # fmt: skip
    g = twin_glucose(MODEL, "sc_glucose", jnp.float64(5.0), twin)
    np.testing.assert_allclose(np.asarray(g), 0.75 * 80.0 + 0.25 * 200.0, rtol=1e-12)


def test_the_loop_twin_learns_all_of_the_t1d_twins_parameters_but_kabs():
    from medtwin.data import T1D_FREE

    assert set(T1D_FREE) - set(T1D_LOOP_FREE) == {"kabs"}
    assert np.all([f in T1D_FREE for f in T1D_LOOP_FREE])
