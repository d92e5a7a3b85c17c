"""The T1D twin on synthetic truth: a virtual patient the twin does not know (excluded from its
population prior) is simulated with CGM noise drawn from the model's own sensor-noise model; the
twin assimilates every reading. Its 60-minute forecast cone must narrow as data accumulate, and
its forecasts must stay accurate.

Thresholds (seeded run; observed values in brackets): the mean width of the 95 % band of the
60-minute-ahead forecasts issued over hours 11-12 is below 0.6 x that issued over hours 1-2
[0.27 x]; the 30-minute-ahead MARD of those forecasts (early ones included) below 20 % [13.7 %].
"""

import jax
import numpy as np

from medtwin.assimilate import assimilate, observations
from medtwin.data import load_virtual_patient, t1d_population_prior
from medtwin.forecast import forecast, score_forecasts
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, meal, simulate
from medtwin.twin import Twin

PATIENT, HOURS, PARTICLES = "adult#004", 12, 300
NARROWING_MAX_RATIO = 0.6
MARD_30_MAX = 20.0


def test_cone_narrows_and_forecasts_track_a_hidden_patient():
    model = UVAPadova()
    reg = Regimen((meal(120, 50), bolus(120, 5.0), meal(480, 70), bolus(480, 7.0)))
    t_end = 60 * HOURS
    grid = np.arange(0.0, t_end + 61, 5.0)
    truth = simulate(model, load_virtual_patient(PATIENT), reg, t1=grid[-1], saveat=grid)
    sc = np.asarray(truth.observable("sc_glucose"))
    noise = model.observables[model.observable_index("sc_glucose")].noise
    cgm = sc + np.asarray(noise.sd(sc)) * np.random.default_rng(7).standard_normal(sc.size)
    stream = observations(grid, cgm, "sc_glucose")

    prior = t1d_population_prior(exclude=(PATIENT,))
    twin = Twin.create(model, prior, key=jax.random.key(11), n=PARTICLES, t0=-5.0)
    early, late, issued = [], [], []
    for k, t in enumerate(grid[grid <= t_end]):
        twin = assimilate(twin, observations([t], [cgm[k]], "sc_glucose"), reg)
        if k % 2 or not (60 <= t <= 120 or t >= t_end - 60):
            continue
        fc = forecast(twin, 60)
        issued.append(fc)
        lo, hi = fc.band("sc_glucose", 0.95)
        (early if t <= 120 else late).append(hi[-1] - lo[-1])
    ratio = np.mean(late) / np.mean(early)
    assert ratio < NARROWING_MAX_RATIO, ratio
    skill = score_forecasts(issued, stream, "sc_glucose")
    assert skill.at(30.0).mard < MARD_30_MAX, skill.at(30.0)
    assert twin.version == len(grid[grid <= t_end])
