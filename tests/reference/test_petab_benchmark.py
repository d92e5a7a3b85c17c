"""PEtab benchmark problems: medtwin's likelihood at the nominal parameters against the
reference log-likelihoods, and Boehm's gradient against central finite differences.

Reference values: ../shared/reference/petab-benchmark/reference_llh.tsv (AMICI's benchmark
test values, log-likelihoods; see the folder's README), each within ``TOLERANCE`` absolute,
the likelihood being computed with the default solver settings (Kvaerno5, rtol 1e-8,
atol 1e-10).

Crauste_CellSystems2017 is held to a wider tolerance, stored here with the reason: at tight
tolerances (rtol 1e-10 and 1e-12) medtwin's value converges to -190.963978 and libroadrunner
2.10 (CVODE, rtol 1e-12, atol 1e-14; the same measurements and noise) gives -190.9639776, both
1.24e-3 above AMICI's -190.9652190 (the folder's README reports the same gap for
libroadrunner + petab.calculate_llh). The two independent simulators agree to 1e-6; the
reference is the one that is off by its solver tolerance.

The default run (``-m "not slow"``) takes three fast problems that together use every table
feature the collection has without pre-equilibration (Boehm: lin and log10 scales; Elowitz:
a log10 observable transformation with two observable parameters; Fiedler: a noise formula of
two noise parameters and per-measurement overrides); the others, including the two with
pre-equilibration (Brannmark, Zheng) and the time-switched inputs (Brannmark, Fujita), are slow.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from medtwin.petab import fit, load_petab

_SHARED = (Path(__file__).resolve().parents[2].parent / "shared", Path("/work/shared"))
ROOT = next(
    (p for s in _SHARED if (p := s / "reference" / "petab-benchmark").is_dir()),
    _SHARED[0] / "reference" / "petab-benchmark",
)
TOLERANCE = 1e-3
WIDER = {"Crauste_CellSystems2017": 1.5e-3}  # see the module docstring
# Crauste's log-likelihood by libroadrunner 2.10 (CVODE, rtol 1e-12, atol 1e-14), the
# independent value it is held to instead, within the default solver's own error (9e-5).
CRAUSTE_ROADRUNNER, CRAUSTE_RR_TOL = -190.9639776, 2e-4
FAST = ("Boehm_JProteomeRes2014", "Elowitz_Nature2000", "Fiedler_BMCSystBiol2016")

pytestmark = pytest.mark.skipif(not ROOT.is_dir(), reason=f"no reference data at {ROOT}")


def _reference() -> dict[str, float]:
    if not ROOT.is_dir():
        return {}
    with (ROOT / "reference_llh.tsv").open() as f:
        return {r["problem"]: float(r["llh_at_nominal"]) for r in csv.DictReader(f, delimiter="\t")}


REFERENCE = _reference()
PROBLEMS = [
    pytest.param(name, marks=() if name in FAST else pytest.mark.slow, id=name)
    for name in sorted(REFERENCE)
]


def _load(name: str):
    return load_petab(ROOT / name / f"{name}.yaml")


def test_the_reference_lists_ten_problems():
    assert len(REFERENCE) == 10 and set(FAST) <= set(REFERENCE)


@pytest.mark.parametrize("name", PROBLEMS)
def test_llh_at_nominal_parameters_equals_the_reference(name):
    problem = _load(name)
    llh = -float(problem.nllh(problem.z_nominal))
    assert llh == pytest.approx(REFERENCE[name], abs=WIDER.get(name, TOLERANCE))
    if name == "Crauste_CellSystems2017":
        assert llh == pytest.approx(CRAUSTE_ROADRUNNER, abs=CRAUSTE_RR_TOL)


def test_boehm_gradient_equals_central_finite_differences():
    problem = _load("Boehm_JProteomeRes2014")
    lo, hi = problem.z_bounds()
    # away from the nominal values (the published optimum, where the gradient is ~0)
    z = np.clip(problem.z_nominal + np.random.default_rng(0).uniform(-0.2, 0.2, len(lo)), lo, hi)
    value, grad = problem.value_and_grad(z)
    grad = np.asarray(grad)
    h = 1e-4
    fd = np.array(
        [
            (float(problem.nllh(z + h * e)) - float(problem.nllh(z - h * e))) / (2 * h)
            for e in np.eye(len(z))
        ]
    )
    assert float(value) == pytest.approx(float(problem.nllh(z)), rel=1e-12)
    assert np.linalg.norm(grad - fd) <= 1e-4 * np.linalg.norm(fd)
    # per component, 1e-4 relative; the one parameter with almost no influence here
    # (k_imp_homo, |dnllh/dz| ~ 3e-5 against a gradient norm of ~750) is held to 1e-4 absolute
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_a_multi_start_fit_of_boehm_reaches_the_published_optimum():
    # The collection's nominal values are the published maximum-likelihood estimate (Boehm et
    # al. 2014, J Proteome Res 13:5685, as curated by Hass et al. 2019, Bioinformatics
    # 35:3073); its log-likelihood is the reference's -138.22199693517703. Ten seeded
    # L-BFGS-B starts, uniform within the bounds on the parameter scales: here 3 of 10 end
    # within 2e-3 of it (the best at 138.22198), about 2 minutes on 2 cores.
    problem = _load("Boehm_JProteomeRes2014")
    result = fit(problem, n_starts=10, seed=0)
    assert result.value <= -REFERENCE["Boehm_JProteomeRes2014"] + TOLERANCE
    assert float(problem.nllh(result.z)) == pytest.approx(result.value, abs=1e-9)
    lo, hi = problem.z_bounds()
    assert np.all((result.z >= lo) & (result.z <= hi))
