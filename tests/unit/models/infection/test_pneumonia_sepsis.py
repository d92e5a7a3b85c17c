"""The composed pneumonia -> sepsis model (Smith 2011 seeding Reynolds 2006): the two outcomes
on either side of the lung's clearance threshold, the antibiotic on both pathogen pools and
its timing, and the twin verbs (simulate batched, Twin, assimilate, forecast, what_if) run on
it as on any model (``check_model`` runs it in ``tests/conformance``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.assimilate import SpecPrior, assimilate, observations
from medtwin.forecast import forecast, what_if
from medtwin.models import get_model
from medtwin.models.inflammation import outcome_class
from medtwin.simulate import Regimen, SetRate, simulate
from medtwin.twin import Twin

TWO_WEEKS = 336.0


@pytest.fixture(scope="module")
def model():
    return get_model("pneumonia-sepsis")


def test_small_inocula_resolve_and_large_ones_end_in_septic_death(model):
    # One batched run over the inoculum (the batch is one vmapped kernel). The dividing line is
    # the lung's own: Smith 2011's full-model clearance threshold, about 12,200 CFU/mL.
    inocula = (1.0e3, 1.2e4, 1.3e4, 1.0e5, 1.0e7)
    params = jnp.stack([model.make_params(**{"lung.P0": p}) for p in inocula])
    t = np.arange(0.0, TWO_WEEKS + 1.0, 6.0)
    traj = simulate(model, params, t1=TWO_WEEKS, saveat=t)
    assert bool(jnp.all(traj.ok))
    y = np.asarray(traj.states)
    lung_end, body_end = y[:, -1, 0], y[:, -1, 6:]
    assert list(outcome_class(body_end)) == ["health"] * 2 + ["septic death"] * 3
    np.testing.assert_array_less(lung_end[:2], 1.0)  # the lung cleared
    np.testing.assert_allclose(lung_end[2:], 3.39e8, rtol=0.01)  # at its carrying capacity
    # the septic state: P about 1.7 x 10^6 cells/cc held up by the lung's seeding, N* 0.79,
    # damage 17.4 (Reynolds' septic death; the aseptic one has N* 0.63)
    np.testing.assert_allclose(body_end[2:, :3], [[1.69, 0.789, 17.4]] * 3, rtol=0.02)
    # the larger the inoculum, the sooner the blood turns septic (P_sys >= 0.5)
    onset = [float(t[np.argmax(y[i, :, 6] >= 0.5)]) for i in (2, 3, 4)]
    assert onset[2] <= 12.0 < 24.0 <= onset[1] <= 48.0 < 72.0 <= onset[0]
    # a cleared course seeds the blood only briefly: it never nears the septic level
    assert float(y[1, :, 6].max()) < 0.05


def test_the_antibiotic_acts_on_both_pathogen_pools_and_its_timing_decides(model):
    p = model.make_params(**{"lung.P0": 1.0e5})
    y = model.initial_state(p).at[6].set(2.0)
    du = model.vector_field(0.0, y, jnp.asarray([1.5, 0.0]), p) - model.vector_field(
        0.0, y, jnp.zeros(2), p
    )
    np.testing.assert_allclose(du, np.eye(10)[0] * -1.5e5 + np.eye(10)[6] * -3.0, atol=1e-6)
    # 2/h for three days: from 24 h back to health, from 36 h the pathogen is cleared but the
    # damage stays (aseptic death); 0.5/h from 24 h does not clear the lung (septic death)
    courses = {(24.0, 2.0): "health", (36.0, 2.0): "aseptic death", (24.0, 0.5): "septic death"}
    regimens = [Regimen((SetRate(s, "antibiotic", r), SetRate(s + 72.0, "antibiotic", 0.0)))
                for s, r in courses]  # fmt: skip
    traj = simulate(model, jnp.stack([p] * 3), regimens, t1=TWO_WEEKS, saveat=[TWO_WEEKS])
    assert list(outcome_class(np.asarray(traj.states)[:, -1, 6:])) == list(courses.values())


@pytest.mark.slow  # 20 s on the shared 2 cores; tests/service/test_composed_model.py runs the
# twin's create, assimilate and forecast in the default run
def test_a_twin_of_it_assimilates_forecasts_and_compares_antibiotic_timing(model):
    # A truth patient with 10^5 CFU/mL in the lung: white cells (LOINC 6690-2) every 4 h and
    # the lung titre at 12 h and 24 h; the twin learns lung.P0, lung.r and link.k_dis.
    truth = model.make_params(**{"lung.P0": 1.0e5})
    t = np.arange(4.0, 25.0, 4.0)
    run = simulate(model, truth, t1=24.0, saveat=t)
    wbc = np.asarray(run.observable("sys.wbc"))
    titre = np.asarray(run.observable("lung.log10_pathogen"))
    twin = Twin.create(model, SpecPrior(model.twin_defaults.free), key=jax.random.key(2), n=64)
    obs = observations(np.concatenate([t, [12.0, 24.0]]),
                       np.concatenate([wbc, titre[[2, 5]]]),
                       ["sys.wbc"] * len(t) + ["lung.log10_pathogen"] * 2)  # fmt: skip
    twin = assimilate(twin, obs)
    assert twin.version == 1 and twin.time == 24.0
    fc = forecast(twin, 24.0, every=6.0)
    lo, hi = fc.band("lung.log10_pathogen", 0.95)
    future = np.asarray(simulate(model, truth, t1=48.0, saveat=np.asarray(fc.times))
                        .observable("lung.log10_pathogen"))  # fmt: skip
    assert np.all((lo <= future) & (future <= hi)), (lo, future, hi)
    now = Regimen((SetRate(24.0, "antibiotic", 2.0),))
    wi = what_if(twin, {"none": Regimen(), "antibiotic now": now}, 48.0, every=6.0)
    none, treated = (wi.metrics[k] for k in ("none", "antibiotic now"))
    assert treated["lung.log10_pathogen_mean"] < none["lung.log10_pathogen_mean"] - 2.0
    assert treated["sys.pathogen_mean"] < none["sys.pathogen_mean"]
