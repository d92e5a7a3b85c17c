"""The LDL twin on synthetic persons: calibrated one-year-ahead bands, and a response scale
that the data of a therapy identify.

Persons are drawn from a stated population -- untreated LDL-C LogNormal(median 150 mg/dL,
sigma 0.25), age slope Normal(0.7, 1.0) mg/dL/yr, response scale LogNormal(1, 0.25), onset
rate LogNormal(0.15/d, 0.5), the model's declared priors -- with a seed of their own: the
twins start from that population, never from the person. Each person starts atorvastatin
(10, 20 or 40 mg) on a random day of year 2 and doubles the dose 18 months later; 3 or 4 lab
values a year, on random days, over 5 years, each drawn from the model's own LDL-C noise
(within-person CV 9.5 % and assay CV 4 %). The twin is told the doses (as it would be by the
prescriptions) and, at the end of years 1-4, assimilates the year's lab values and forecasts
the next year; every lab value of that next year is scored against the forecast's 80 % and
95 % bands at its day.

All twins move together: one vmapped :func:`~medtwin.assimilate.assimilate_many` and one
:func:`~medtwin.forecast.forecast_many` per year (the truth is one vmapped ``simulate``).

Tolerance (issue 22): within 7 percentage points of nominal. Observed (seeded, 32 persons,
256 particles, about 55 s on 2 cores with nothing compiled): 80 % band 82.9 %, 95 % band
95.5 % over 449 lab values; the response scale's 90 % interval is 0.87 wide in the prior,
0.83 after the untreated first year (median ratio 0.96) and 0.22 after the therapy and its
change (median ratio to year 1: 0.30; below 0.75 for every person). The slow run (160
persons, 500 particles, seed 2022; about 4-6 minutes): 81.9 % and 96.2 % over 2,232 lab
values, response interval 0.85 -> 0.24 (median ratio 0.28).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.assimilate import ParticleFilter, SpecPrior, assimilate_many, observations
from medtwin.forecast import forecast_many
from medtwin.models import get_model
from medtwin.simulate import Regimen, SetRate, simulate
from medtwin.twin import Twin

MODEL = get_model("ldl")
FREE = ("LDL0", "slope", "resp", "ke0")
YEAR = 365
TOLERANCE = 0.07


def persons(n: int, seed: int):
    """Truth parameters, dose regimens and lab values (days, mg/dL) of ``n`` persons."""
    rng = np.random.default_rng(seed)
    truth = np.asarray(SpecPrior(FREE).sample(MODEL, jax.random.key(seed), n))
    start = rng.integers(YEAR + 1, 2 * YEAR, n).astype(float)
    dose = rng.choice([10.0, 20.0, 40.0], n)
    regs = [Regimen((SetRate(s, "atorvastatin", d), SetRate(s + 548, "atorvastatin", 2 * d)))
            for s, d in zip(start, dose, strict=True)]  # fmt: skip
    days = np.arange(0.0, 5 * YEAR + 1)
    ldl = np.asarray(simulate(MODEL, truth, regs, t1=days[-1], saveat=days).observable("ldl"))
    n_labs = rng.integers(3, 5, (n, 5))
    lab_days = [
        np.sort(np.concatenate([y * YEAR + rng.choice(np.arange(1, YEAR + 1), k, replace=False)
                                for y, k in enumerate(row)]))
        for row in n_labs
    ]  # fmt: skip
    noise = MODEL.observables[MODEL.observable_index("ldl")].noise
    keys = jax.random.split(jax.random.key(seed + 1), n)
    values = [np.asarray(noise.sample(k, jnp.asarray(ldl[i, d.astype(int)])))
              for i, (k, d) in enumerate(zip(keys, lab_days, strict=True))]  # fmt: skip
    return truth, regs, lab_days, values


def run(n_persons: int, particles: int, seed: int):
    _, regs, lab_days, values = persons(n_persons, seed)
    prior = SpecPrior(FREE)
    twins = [Twin.create(MODEL, prior, key=k, n=particles, method=ParticleFilter())
             for k in jax.random.split(jax.random.key(seed + 2), n_persons)]  # fmt: skip
    i_resp = MODEL.param_index("resp")

    def resp_width(ts):
        return np.array([np.diff(t.ensemble.quantiles(t.ensemble.params[:, i_resp],
                                                      (0.05, 0.95)))[0] for t in ts])  # fmt: skip

    widths = [resp_width(twins)]
    hits: dict[float, list[np.ndarray]] = {0.8: [], 0.95: []}
    before = -1.0
    for year in range(1, 5):
        origin = float(year * YEAR)
        window = [(d > before) & (d <= origin) for d in lab_days]
        obs = [observations(d[w], v[w], "ldl") for d, v, w in zip(lab_days, values, window,
                                                                  strict=True)]  # fmt: skip
        told = regs if year == 1 else None
        twins = [a.twin for a in assimilate_many(twins, obs, told, until=[origin] * n_persons)]
        widths.append(resp_width(twins))
        for d, v, fc in zip(lab_days, values, forecast_many(twins, float(YEAR), every=1.0),
                            strict=True):  # fmt: skip
            ahead = (d > origin) & (d <= origin + YEAR)
            idx = (d[ahead] - origin - 1).astype(int)
            for level in hits:
                lo, hi = fc.band("ldl", level)
                hits[level].append((v[ahead] >= lo[idx]) & (v[ahead] <= hi[idx]))
        before = origin
    coverage = {lv: float(np.mean(np.concatenate(h))) for lv, h in hits.items()}
    n_scored = int(sum(len(h) for h in hits[0.8]))
    return coverage, n_scored, widths


def check(n_persons: int, particles: int, seed: int):
    coverage, n_scored, widths = run(n_persons, particles, seed)
    assert n_scored >= 12 * n_persons  # 3-4 values a year over years 2-5
    for level, got in coverage.items():
        assert abs(got - level) <= TOLERANCE, (level, got, n_scored)
    # year 1 (untreated): no information on the response; after the therapy and its change
    # (years 3-4) the 90 % interval of the response scale is far narrower, for most persons
    prior_w, untreated_w, treated_w = widths[0], widths[1], widths[4]
    assert np.median(untreated_w / prior_w) > 0.8
    ratio = treated_w / untreated_w
    assert np.median(ratio) < 0.5 and np.mean(ratio < 0.75) >= 0.9, ratio
    return coverage, ratio


@pytest.mark.slow
def test_one_year_bands_are_calibrated_and_the_response_is_learnt():
    check(n_persons=32, particles=256, seed=22)


@pytest.mark.slow
def test_one_year_bands_are_calibrated_on_a_larger_population():
    check(n_persons=160, particles=500, seed=2022)
