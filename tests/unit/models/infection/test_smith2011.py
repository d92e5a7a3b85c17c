"""Smith, McCullers & Adler 2011 (pneumococcal lung infection): the declaration, the curated
BioModels SBML (BIOMD0000000924) run by libroadrunner, RK4 accuracy at the model's input step,
the alveolar-macrophage clearance threshold (closed form against bisection on the full model),
the paper's two outcomes on either side of it, and the antibiotic input.

Stored tolerances:

* SBML: medtwin ``Adaptive`` (Dopri5, rtol = atol = 1e-12) against roadrunner's CVODE (relative
  and absolute 1e-12) at 1, 6, 12, 24, 48 and 72 h for inocula 10^3, 10^4, 10^5 and 10^6
  CFU/mL: per cell ``|medtwin - rr| <= 1e-6 |rr| + 1e-9 max|rr column|`` (the floor matters
  only where a cleared lung's P has decayed by 20 orders of magnitude). Measured: at most
  6.3e-4 of that budget; plain relative differences <= 4.4e-9 wherever a state is above
  1e-6 of its column's peak.
* RK4 at input_dt = 0.02 h against Adaptive(rtol = atol = 1e-10) over 72 h: 1e-6 of each
  state's peak (measured 1.4e-7).
* Threshold: the closed form P* = n (M_A (gamma_MA M_A / r - 1))^(1/x) = 9,944.5 CFU/mL lies in
  the bisection bracket of the full model with eta = 0 (measured 9,944.43-9,944.70, a
  relative width of 3e-5; the bracket differs from P* only through K_P and the debris).
  With neutrophils (the published eta) the threshold is 12,182 CFU/mL (measured bracket
  12,181.6-12,181.9; an independent scipy LSODA bisection gives 12,181.9).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import medtwin.models as models
from medtwin.models import get_model
from medtwin.models.infection import Smith2011, am_threshold, outcome_class
from medtwin.simulate import Adaptive, Regimen, SetRate, simulate

SBML = Path(__file__).resolve().parents[3] / "data" / "biomodels" / "BIOMD0000000924.xml"
RR_SPECIES = {
    "P": "Pneumococci___P",
    "EU": "Susceptible_epithelial_cells__EU",
    "Ea": "Epithelial_cells_with_bacteria_attached__Ea",
    "C": "proinflammatory_cytokine__C",
    "N": "Neutrophils__N",
    "D": "Debris__D",
}
TIMES = np.array([1.0, 6.0, 12.0, 24.0, 48.0, 72.0])
INOCULA = (1.0e3, 1.0e4, 1.0e5, 1.0e6)
RTOL, ATOL_OF_MAX = 1e-6, 1e-9
P_STAR = 9944.536455246896  # closed form at the published parameters (hand: 5 sqrt(1e6 x 3.9558))
FULL_THRESHOLD = (12181.0, 12183.0)


@pytest.fixture(scope="module")
def model() -> Smith2011:
    return Smith2011()


def test_registry_and_declaration(model):
    assert isinstance(get_model("pneumonia"), Smith2011)
    assert models.Smith2011 is Smith2011 is models.infection.Smith2011
    assert model.time_unit == "h"
    assert model.state_names == ("P", "EU", "Ea", "C", "N", "D")
    assert model.input_names == ("antibiotic",)
    assert [e.kind for e in model.events] == ["antibiotic"]
    assert model.events[0].form == "rate"
    for spec in model.parameters:
        lo, hi = spec.bounds
        assert spec.unit and spec.reference and spec.description, spec.name
        assert lo <= spec.default <= hi, spec.name
    for obs in model.observables:
        assert obs.unit and obs.noise is not None and obs.loinc is None, obs.name


def roadrunner_states(inoculum: float) -> np.ndarray:
    roadrunner = pytest.importorskip("roadrunner")
    r = roadrunner.RoadRunner(str(SBML))
    integrator = r.getIntegrator()
    integrator.setValue("relative_tolerance", 1e-12)
    integrator.setValue("absolute_tolerance", 1e-12)
    integrator.setValue("maximum_num_steps", 1_000_000)
    r.setValue(f"init([{RR_SPECIES['P']}])", inoculum)
    out = np.asarray(
        r.simulate(times=[0.0, *TIMES], selections=[f"[{s}]" for s in RR_SPECIES.values()])
    )
    return out[1:]


def test_matches_biomodels_sbml_under_roadrunner():
    coarse = Smith2011(input_dt=1.0)  # Adaptive integrates within each step to its tolerance
    params = np.stack([coarse.make_params(P0=p0) for p0 in INOCULA])
    traj = simulate(coarse, params, t1=float(TIMES[-1]), saveat=TIMES,
                    solver=Adaptive(rtol=1e-12, atol=1e-12, max_steps=100_000))  # fmt: skip
    ours = np.asarray(traj.states)
    worst = 0.0
    for i, p0 in enumerate(INOCULA):
        ref = roadrunner_states(p0)
        floor = ATOL_OF_MAX * np.abs(ref).max(axis=0)
        budget = RTOL * np.abs(ref) + floor
        ratio = np.abs(ours[i] - ref) / budget
        worst = max(worst, float(ratio.max()))
        assert np.all(ratio <= 1.0), (p0, ratio.max(axis=0))
    assert worst < 1.0


def test_rk4_at_input_dt_matches_adaptive(model):
    params = np.stack([model.make_params(P0=p0) for p0 in INOCULA])
    saveat = np.arange(0.0, 73.0, 6.0)
    rk4 = np.asarray(simulate(model, params, t1=72.0, saveat=saveat).states)
    ref = np.asarray(
        simulate(Smith2011(input_dt=1.0), params, t1=72.0, saveat=saveat,
                 solver=Adaptive(rtol=1e-10, atol=1e-10, max_steps=100_000)).states
    )  # fmt: skip
    peak = np.abs(ref).max(axis=1, keepdims=True)
    assert np.max(np.abs(rk4 - ref) / peak) < 1e-6


def bisect_threshold(model, base, lo, hi, *, rounds=4, k=16, t1=150.0):
    """Bracket of the inoculum where the outcome turns from cleared to sustained: ``rounds``
    of ``k`` log-spaced inocula simulated as one batch each (the unstable equilibrium repels
    at about 1.8/h, so 150 h decide inocula 1e-5 apart)."""
    i = model.param_index("P0")
    for _ in range(rounds):
        grid = np.geomspace(lo, hi, k)
        params = np.tile(np.asarray(base), (k, 1))
        params[:, i] = grid
        end = np.asarray(simulate(model, params, t1=t1, saveat=[t1]).states[:, -1])
        cleared = outcome_class(end) == "cleared"
        assert cleared[0] and not cleared[-1]
        j = int(np.argmax(~cleared))
        assert cleared[:j].all() and not cleared[j:].any()  # one switch, no islands
        lo, hi = grid[j - 1], grid[j]
    return lo, hi


def test_closed_form_threshold(model):
    base = model.default_params()
    assert math.isclose(float(am_threshold(base)), P_STAR, rel_tol=1e-12)
    assert math.isclose(P_STAR, 5.0 * math.sqrt(1e6 * (5.6 / 1.13 - 1.0)), rel_tol=1e-12)
    batch = np.stack([base, model.make_params(gamma_MA=1.0e-6)])  # 1/h < r: no clearance
    out = am_threshold(batch)
    assert math.isclose(out[0], P_STAR, rel_tol=1e-12) and np.isnan(out[1])
    with pytest.raises(ValueError, match="length"):
        am_threshold(np.ones(3))


def test_threshold_by_bisection_on_the_full_model(model):
    lo, hi = bisect_threshold(model, model.make_params(eta=0.0), 5e3, 2e4)
    assert lo <= P_STAR <= hi and (hi - lo) / P_STAR < 1e-4, (lo, hi)
    lo, hi = bisect_threshold(model, model.default_params(), 5e3, 2e4)
    assert FULL_THRESHOLD[0] <= lo < hi <= FULL_THRESHOLD[1], (lo, hi)


def test_both_outcomes_on_either_side(model):
    inocula = (0.5 * P_STAR, 0.9 * FULL_THRESHOLD[0], 1.1 * FULL_THRESHOLD[1], 1.0e5, 1.0e7)
    params = np.stack([model.make_params(P0=p0) for p0 in inocula])
    traj = simulate(model, params, t1=200.0, saveat=np.arange(0.0, 201.0, 2.0))
    classes = outcome_class(np.asarray(traj.states[:, -1]))
    assert list(classes) == ["cleared", "cleared", "sustained", "sustained", "sustained"]
    end = np.asarray(traj.states[:, -1])
    K_P = model.default_params()[model.param_index("K_P")]
    # Sustained growth settles near (below) the carrying capacity; cleared lungs are empty.
    assert np.all(end[2:, 0] > 0.9 * K_P) and np.all(end[:2, 0] < 1e-6)
    # Neutrophils are recruited in every course, far more when the infection is sustained
    # (then the bacteria kill them, d_NP N P, and their number falls again).
    peak_n = np.asarray(traj.states[:, :, 4]).max(axis=1)
    assert np.all(peak_n[:2] > 10.0) and np.all(peak_n[2:] > 1e4), peak_n
    assert np.all(end[2:, 4] < 0.1 * peak_n[2:])


def test_antibiotic_clears_a_sustained_infection(model):
    params = model.make_params(P0=1.0e5)
    untreated = simulate(model, params, t1=96.0, saveat=[96.0])
    treated = simulate(model, params, Regimen((SetRate(6.0, "antibiotic", 2.0),)), t1=96.0,
                       saveat=[96.0])  # fmt: skip
    assert outcome_class(np.asarray(untreated.states[-1])) == "sustained"
    assert outcome_class(np.asarray(treated.states[-1])) == "cleared"
    obs = np.asarray(treated.observable("log10_pathogen"))
    assert obs[-1] == pytest.approx(-12.0)  # the floor of a cleared lung's titre


def test_outcome_class_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(\.\.\., 6\)"):
        outcome_class(np.zeros(4))
    assert outcome_class(np.full(6, np.nan)) == "unknown"
