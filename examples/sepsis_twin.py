"""A sepsis twin: the Reynolds et al. (2006) acute inflammation model learns a patient's pathogen
load and growth rate from white-cell counts alone, and gives the probability of each outcome.

Run: ``python examples/sepsis_twin.py`` (about 20 s on 2 cores).

The "patient" is simulated: the published parameters with a fast-growing pathogen
(``k_pg = 0.6`` per hour, ``P0 = 1``), the paper's septic-death case. The twin does not know
them: its prior is a population with ``P0`` log-normal around 1 and ``k_pg`` log-normal around
0.4 /h. It sees a white-cell count every 2 h for 24 h (the model's own measurement noise). Times
are hours; outcomes are the final state after 500 h, classified as in the paper (health,
aseptic death, septic death).

Reference: Reynolds A, Rubin J, Clermont G, Day J, Vodovotz Y, Ermentrout GB. A reduced
mathematical model of the acute inflammatory response: I. Derivation of model and analysis of
anti-inflammation. J Theor Biol 2006;242:220-236.
"""

import jax
import numpy as np

import medtwin  # noqa: F401  (enables float64 in JAX)
from medtwin.assimilate import PopulationPrior, assimilate, observations
from medtwin.models import Reynolds2006
from medtwin.models.inflammation.reynolds2006 import outcome_class
from medtwin.simulate import simulate
from medtwin.twin import Twin

OUTCOMES = ("health", "aseptic death", "septic death")


def outcome_probabilities(twin):
    """P(outcome) under the twin's posterior: every particle simulated to 500 h, weighted."""
    ens = twin.ensemble
    end = simulate(twin.model, ens.params, t0=ens.time, t1=ens.time + 500.0, y0=ens.states,
                   saveat=[ens.time + 500.0])  # fmt: skip
    classes = outcome_class(np.asarray(end.states[:, -1]))
    w = np.asarray(ens.weights)
    return {o: float(np.sum(w[classes == o])) for o in OUTCOMES}


model = Reynolds2006()
rng = np.random.default_rng(5)

# The population the twin starts from: 400 patients differing in P0 and k_pg.
pop = np.tile(np.asarray(model.default_params()), (400, 1))
pop[:, model.param_index("P0")] = np.exp(rng.normal(0.0, 0.5, 400))
pop[:, model.param_index("k_pg")] = 0.4 * np.exp(rng.normal(0.0, 0.3, 400))

# The patient (unknown to the twin) and its white-cell counts every 2 h for a day.
truth = model.make_params(k_pg=0.6, P0=1.0)
times = np.arange(2.0, 26.0, 2.0)
wbc = np.asarray(simulate(model, truth, t1=24.0, saveat=times).observable("wbc"))
noise = model.observables[model.observable_index("wbc")].noise
wbc = wbc + np.asarray(noise.sd(wbc)) * rng.standard_normal(wbc.size)

twin = Twin.create(model, PopulationPrior(pop, ("P0", "k_pg")), key=jax.random.key(3), n=400)
before = outcome_probabilities(twin)
twin = assimilate(twin, observations(times, wbc, "wbc"))
after = outcome_probabilities(twin)

for o in OUTCOMES:
    print(f"P({o}): {before[o]:.2f} before the data, {after[o]:.2f} after 24 h of WBC counts")
lo, hi = twin.parameter_quantiles((0.05, 0.95))["k_pg"]
print(f"k_pg 90 % interval: {lo:.2f}-{hi:.2f} per h (truth 0.60)")
