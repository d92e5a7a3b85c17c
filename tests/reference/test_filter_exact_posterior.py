"""External truth for the filters: the exact Bayesian posterior of one parameter, computed on a
fine grid from the analytic solution of the model.

Bergman minimal model with insulin action frozen (X = 0, I = Ib, no meal): plasma glucose
relaxes as G(t) = Gb + (G0 - Gb) exp(-p1 t). With p1 unknown (log-normal prior), G observed every
10 min with the model's Gaussian noise, the posterior of p1 is a 1-D integral we evaluate on a
grid. The particle filter (1,000 particles, Liu-West moves) and the ensemble Kalman filter must
match its mean and sd within the tolerances below.
"""

import dataclasses

import jax
import numpy as np
import pytest

from medtwin.assimilate import (
    EnsembleKalmanFilter,
    ParticleFilter,
    SpecPrior,
    assimilate_with_report,
    observations,
)
from medtwin.models import LogNormal
from medtwin.models.glucose import BergmanMinimal
from medtwin.twin import Twin

PRIOR = LogNormal(median=0.01, sigma=0.5)
P1_TRUE, G0, N_OBS, EVERY = 0.02, 260.0, 12, 10.0
# Tolerances: the mean within this many exact posterior sds, the sd within this relative error.
# Observed (seeded): PF mean off by 0.41 sd, sd 38 % too wide (the Liu-West moves with the
# default shrinkage 0.9 trade some accuracy here for robustness in high dimension); EnKF within
# both of its limits.
MEAN_TOL = {"pf": 0.5, "enkf": 0.5}
SD_REL_TOL = {"pf": 0.5, "enkf": 0.5}


class FrozenBergman(BergmanMinimal):
    parameters = tuple(
        dataclasses.replace(p, prior=PRIOR) if p.name == "p1" else p
        for p in BergmanMinimal.parameters
    )


def exact_posterior(model, times, ys, gb):
    grid = np.exp(np.linspace(np.log(1e-4), np.log(0.2), 20001))
    noise = model.observables[0].noise
    g = gb + (G0 - gb) * np.exp(-grid[:, None] * times[None, :])
    loglik = np.sum(np.asarray(noise.log_likelihood(ys[None, :], g)), axis=1)
    logp = loglik + np.asarray(PRIOR.log_prob(grid))
    w = np.exp(logp - logp.max()) * np.gradient(grid)
    w /= w.sum()
    mean = np.sum(w * grid)
    return mean, np.sqrt(np.sum(w * (grid - mean) ** 2))


@pytest.mark.parametrize("name", ["pf", "enkf"])
def test_filter_matches_exact_posterior(name):
    model = FrozenBergman()
    gb = float(model.default_params()[model.param_index("Gb")])
    rng = np.random.default_rng(3)
    times = EVERY * np.arange(1, N_OBS + 1)
    truth = gb + (G0 - gb) * np.exp(-P1_TRUE * times)
    sd = np.asarray(model.observables[0].noise.sd(truth))
    ys = truth + sd * rng.standard_normal(N_OBS)
    mean, sd_post = exact_posterior(model, times, ys, gb)

    twin = Twin.create(model, SpecPrior(("p1",)), key=jax.random.key(0), n=1000)
    y0 = np.array(twin.ensemble.states)
    y0[:, model.state_index("G")] = G0
    twin = dataclasses.replace(twin, ensemble=dataclasses.replace(twin.ensemble, states=y0))
    method = ParticleFilter() if name == "pf" else EnsembleKalmanFilter()
    result = assimilate_with_report(twin, observations(times, ys, "bg"), method=method)
    p1 = np.asarray(result.twin.ensemble.params[:, model.param_index("p1")])
    w = np.asarray(result.twin.ensemble.weights)
    m_f = np.sum(w * p1)
    s_f = np.sqrt(np.sum(w * (p1 - m_f) ** 2))
    assert result.report.data.used == N_OBS
    assert abs(m_f - mean) < MEAN_TOL[name] * sd_post, (m_f, mean, sd_post)
    assert abs(s_f / sd_post - 1) < SD_REL_TOL[name], (s_f, sd_post)
    assert abs(mean - P1_TRUE) < 3 * sd_post  # the exact posterior itself covers the truth
