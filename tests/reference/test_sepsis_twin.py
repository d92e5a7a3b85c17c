"""The sepsis twin through the same loop: the Reynolds 2006 model learns a patient's pathogen
load and growth rate from white-cell counts alone and predicts the outcome class.

Truth: the published parameters with k_pg = 0.6 /h and P0 = 1 (the paper's septic-death case).
Prior: a population with P0 log-normal around 1 and k_pg log-normal around 0.4 /h, so before any
data the twin gives septic death a minority probability. After 24 h of 2-hourly WBC
measurements (the model's own noise), the posterior probability of the true outcome, from
500-h simulations of every particle, must exceed PROB_MIN and the prior's, and the 90 % interval
of k_pg must cover the truth [seeded run: prior 0.25, posterior 0.92; k_pg 0.64 (0.49, 0.83)].
"""

import jax
import numpy as np

from medtwin.assimilate import PopulationPrior, assimilate, observations
from medtwin.models.inflammation import Reynolds2006
from medtwin.models.inflammation.reynolds2006 import outcome_class
from medtwin.simulate import simulate
from medtwin.twin import Twin

PROB_MIN = 0.8


def outcome_probability(twin, outcome):
    ens = twin.ensemble
    end = simulate(twin.model, ens.params, t0=ens.time, t1=ens.time + 500.0, y0=ens.states,
                   saveat=[ens.time + 500.0])  # fmt: skip
    classes = outcome_class(np.asarray(end.states[:, -1]))
    return float(np.sum(np.asarray(ens.weights)[classes == outcome]))


def test_sepsis_twin_learns_the_outcome_from_white_cell_counts():
    model = Reynolds2006()
    rng = np.random.default_rng(5)
    base = np.asarray(model.default_params())
    pop = np.tile(base, (400, 1))
    pop[:, model.param_index("P0")] = np.exp(rng.normal(0.0, 0.5, 400))
    pop[:, model.param_index("k_pg")] = 0.4 * np.exp(rng.normal(0.0, 0.3, 400))
    truth = model.make_params(k_pg=0.6, P0=1.0)
    times = np.arange(2.0, 26.0, 2.0)
    traj = simulate(model, truth, t1=24.0, saveat=times)
    wbc = np.asarray(traj.observable("wbc"))
    noise = model.observables[model.observable_index("wbc")].noise
    wbc = wbc + np.asarray(noise.sd(wbc)) * rng.standard_normal(wbc.size)

    prior = PopulationPrior(pop, ("P0", "k_pg"))
    twin = Twin.create(model, prior, key=jax.random.key(3), n=400)
    end = simulate(model, truth, t1=500.0, saveat=[500.0])
    true_class = str(outcome_class(np.asarray(end.states[-1])))
    assert true_class == "septic death"
    before = outcome_probability(twin, true_class)
    twin = assimilate(twin, observations(times, wbc, "wbc"))
    after = outcome_probability(twin, true_class)
    assert after > PROB_MIN and after > before, (before, after)
    q = twin.parameter_quantiles((0.05, 0.95))["k_pg"]
    assert q[0] < 0.6 < q[1], q
