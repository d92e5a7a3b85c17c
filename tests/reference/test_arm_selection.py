"""Allen, Rieger & Musante 2016 (CPT Pharmacometrics Syst Pharmacol 5:140) virtual-population
selection reproduces a target distribution of observables; a plain sample does not.

Plausible population: 3,000 Bergman minimal-model patients (Gb, p1, p2, p3, VG on a Latin
hypercube over their ParameterSpec ranges, Gb in 70-200 mg/dL), each given a 75 g oral glucose
load; observables: fasting glucose and its rise at 120 min (mg/dL). Target: a bivariate normal
(fasting 110 +- 15, rise 80 +- 25, correlation 0.3), far from the plausible population's spread.
Criterion (from outside the project): the two-sample Kolmogorov-Smirnov test of each observable
against 2,000 fresh draws of the target passes at level alpha = 0.05 for the selected population
(three selection seeds), and rejects a same-size plain sample of the plausible population at
p < 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

import medtwin  # noqa: F401
from medtwin.cohorts import GaussianTarget, observe, plausible, sample_ranges, select_arm
from medtwin.models import get_model
from medtwin.simulate import Regimen, meal, simulate

ALPHA = 0.05
NAMES = ("fasting", "rise")
TARGET = GaussianTarget([110.0, 80.0], [[15.0**2, 0.3 * 15 * 25], [0.3 * 15 * 25, 25.0**2]])
OGTT = Regimen((meal(0.0, 75.0),))


def _ogtt(rows: np.ndarray, seed: np.random.SeedSequence) -> np.ndarray:
    traj = simulate(
        get_model("bergman"), rows, OGTT, t1=120.0, saveat=np.array([0.0, 120.0]),
        save_states=False,
    )  # fmt: skip
    bg = np.asarray(traj.observable("bg"))
    return np.column_stack([bg[:, 0], bg[:, 1] - bg[:, 0]])


@pytest.fixture(scope="module")
def plausible_population():
    pop = sample_ranges(
        get_model("bergman"), 3000, names=("Gb", "p1", "p2", "p3", "VG"),
        bounds={"Gb": (70.0, 200.0)}, method="lhs", seed=3,
    )  # fmt: skip
    pop = observe(pop, _ogtt, NAMES, chunk=1000)
    return plausible(pop, {"fasting": (60.0, 250.0), "rise": (0.0, 300.0)})


def _values(pop) -> np.ndarray:
    return np.column_stack([pop.covariates[k] for k in NAMES])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_selection_matches_the_target_and_a_plain_sample_does_not(plausible_population, seed):
    fresh = TARGET.sample(2000, np.random.default_rng(1000 + seed))
    sel = select_arm(plausible_population, NAMES, TARGET, bandwidth=0.2, seed=seed)
    assert 200 <= sel.n_selected <= 0.5 * len(plausible_population)
    y = _values(sel.population)
    for j in range(2):
        assert ks_2samp(y[:, j], fresh[:, j]).pvalue > ALPHA, NAMES[j]
    # the selected population's means are within 5 mg/dL of the target's
    np.testing.assert_allclose(y.mean(axis=0), TARGET.mean, atol=5.0)
    rng = np.random.default_rng(seed)
    plain = plausible_population.subset(
        rng.choice(len(plausible_population), sel.n_selected, replace=False)
    )
    yp = _values(plain)
    for j in range(2):
        assert ks_2samp(yp[:, j], fresh[:, j]).pvalue < 1e-6, NAMES[j]


def test_inclusion_probability_follows_the_density_ratio(plausible_population):
    sel = select_arm(plausible_population, NAMES, TARGET, bandwidth=0.2, seed=1)
    p = sel.probability
    assert np.all((p >= 0) & (p <= 1)) and sel.scale > 0
    # patients near the target's mode are accepted far more often than those in its tails
    y = _values(plausible_population)
    near = np.all(np.abs(y - TARGET.mean) < [10.0, 15.0], axis=1)
    far = np.abs(y[:, 0] - 110.0) > 60.0
    assert p[near].mean() > 20 * p[far].mean()
    assert sel.selected[far].mean() < 0.01
