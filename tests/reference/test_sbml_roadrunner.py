"""Imported SBML models against an independent simulator (libroadrunner, CVODE) and a paper.

* **BIOMD0000000379** (Dalla Man, Rizza & Cobelli 2007, meal glucose-insulin model of a healthy
  subject; ``../shared/reference/biomodels/``, CC0) at its default parameters, imported with
  :func:`medtwin.sbml.load_sbml` and simulated by :func:`medtwin.simulate.simulate`, equals
  libroadrunner on a 1-minute grid over 0-420 min (the meal at 0, the paper's 7-hour horizon):
  all 12 species amounts and the observables ``G`` (plasma glucose, mg/dL) and ``I`` (plasma
  insulin, pmol/L). Solvers: medtwin ``Adaptive`` (Dopri5) at rtol = atol = 1e-12; roadrunner
  CVODE at relative 1e-12 and absolute 1e-12 (the states reach 1e2 to 1e5, so the
  relative tolerance governs). Stored tolerance per cell: ``|medtwin - roadrunner| <= 1e-6 *
  |roadrunner| + 1e-9 * max|roadrunner column|`` (the floor only matters where the remote
  insulin action ``X`` crosses zero). Measured: 1.9e-9 of that budget at most (``X`` near
  its zero crossing, 413 min); plain relative differences 1e-11 for ``G``, 9e-11 for ``I``,
  1.8e-8 for ``X`` and 1.5e-7 for the stomach content ``Q_sto1`` at 420 min, where it has
  decayed from 78,000 to 5e-6 mg (an absolute 8e-13 mg).
* The published peaks (the paper's meal simulation, the issue's acceptance list): plasma
  glucose 163.95 mg/dL at about 69.6 min, plasma insulin 259.4 pmol/L at about 83.8 min,
  located on a 0.1-minute grid. Stored tolerances: 0.01 mg/dL and 0.05 pmol/L (the published
  values are rounded to 0.01 and 0.1; measured 163.9463 and 259.3782) and 0.1 min (the grid
  and the published rounding); roadrunner's peaks on the same grid equal medtwin's to 1e-8
  relative (measured 4e-12 and 5e-12, at the same grid times).
* A handful of SBML Test Suite pure-ODE cases chosen for their features (multiple
  compartments, initial assignments with function definitions, a rate-ruled compartment with
  a constant species, assigned and time-dependent stoichiometries) against roadrunner at the
  same tolerance rule (the suite's own expected results are checked in ``tests/unit/sbml``).
  Measured: at most 1e-9 relative (00528), most cases 1e-10 or less.

The document's time is minutes although, being SBML Level 2 without a time unit, it declares
seconds: ``time_unit="min"`` says so.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import jax
import libsbml
import numpy as np
import pytest
import roadrunner

from medtwin.sbml import load_sbml
from medtwin.simulate import Adaptive, simulate

_SHARED = (Path(__file__).resolve().parents[2].parent / "shared", Path("/work/shared"))
BIOMD379 = next(
    (p for s in _SHARED if (p := s / "reference/biomodels/BIOMD0000000379.xml").is_file()), None
)
SUITE = next(
    (p for s in _SHARED if (p := s / "reference/sbml-test-suite-semantic.tar.xz").is_file()), None
)
RTOL, ATOL_OF_MAX = 1e-6, 1e-9  # stored tolerance: per cell, see the module docstring
TIGHT = Adaptive(rtol=1e-12, atol=1e-12, max_steps=100_000)


def roadrunner_run(sbml: str, t1: float, points: int, selections: list[str]) -> np.ndarray:
    """libroadrunner's CVODE at relative and absolute tolerance 1e-12 on ``points`` equally
    spaced times over [0, t1]; columns: time, then ``selections``."""
    r = roadrunner.RoadRunner(sbml)
    integrator = r.getIntegrator()
    integrator.setValue("relative_tolerance", 1e-12)
    integrator.setValue("absolute_tolerance", 1e-12)
    integrator.setValue("maximum_num_steps", 1_000_000)
    return np.asarray(r.simulate(0.0, t1, points, ["time", *selections]))


def relative_differences(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per cell ``|got - ref| / (|ref| + ATOL_OF_MAX / RTOL * max|ref column|)``, to be <= RTOL."""
    floor = ATOL_OF_MAX / RTOL * np.abs(ref).max(axis=0)
    return np.abs(got - ref) / (np.abs(ref) + np.where(floor > 0, floor, 1e-300))


@pytest.fixture(scope="module")
def biomd379() -> Path:
    if BIOMD379 is None:
        pytest.skip("BIOMD0000000379.xml (../shared/reference/biomodels/) is not on this machine")
    return BIOMD379


def test_dalla_man_2007_equals_libroadrunner_on_a_one_minute_grid(biomd379):
    model = load_sbml(biomd379, observables=["G", "I"], time_unit="min")(input_dt=1.0)
    traj = simulate(model, model.default_params(), t1=420.0, solver=TIGHT)
    assert bool(traj.ok)
    species = [s.name for s in model.states]
    ref = roadrunner_run(biomd379.read_text(), 420.0, 421, [*species, "G", "I"])
    np.testing.assert_allclose(ref[:, 0], np.asarray(traj.ts), rtol=0, atol=1e-9)
    got = np.concatenate([np.asarray(traj.states), np.asarray(traj.observables)], axis=1)
    rel = relative_differences(got, ref[:, 1:])
    worst = np.unravel_index(np.argmax(rel), rel.shape)
    assert rel.max() <= RTOL, f"{[*species, 'G', 'I'][worst[1]]} at {worst[0]} min: {rel.max()}"


def test_dalla_man_2007_reproduces_the_published_peaks(biomd379):
    model = load_sbml(biomd379, observables=["G", "I"], time_unit="min")(input_dt=0.1)
    p = model.default_params()
    traj = simulate(model, p, t1=150.0, solver=TIGHT)
    assert bool(traj.ok)
    g, i = np.asarray(traj.observables).T
    ts = np.asarray(traj.ts)
    assert abs(g.max() - 163.95) <= 0.01 and abs(ts[g.argmax()] - 69.6) <= 0.1 + 1e-9
    assert abs(i.max() - 259.4) <= 0.05 and abs(ts[i.argmax()] - 83.8) <= 0.1 + 1e-9
    ref = roadrunner_run(biomd379.read_text(), 150.0, 1501, ["G", "I"])
    for ours, theirs in ((g, ref[:, 1]), (i, ref[:, 2])):
        assert ours.max() == pytest.approx(theirs.max(), rel=1e-8)
        assert ts[ours.argmax()] == pytest.approx(ref[theirs.argmax(), 0], abs=1e-9)
    named = model.named(p)  # the basal glucose is the assignment rule G = G_p / V_G at t = 0
    assert g[0] == pytest.approx(float(named.G_p / named.V_G), rel=1e-14)


# SBML Test Suite cases (pure ODE), chosen for their features: 00069 stoichiometryMath (Level 2)
# with a non-unity assigned stoichiometry; 00293 two compartments, reversible reactions,
# assignment rules; 00528 initial assignments and function definitions; 01118 a rate-ruled
# compartment with a constant boundary species; 01121 conversion factors, local parameters,
# hasOnlySubstanceUnits, variable stoichiometries and a changing compartment; 01321 rateOf;
# 01744 stoichiometries that change with the time csymbol.
SUITE_CASES = ["00069", "00293", "00528", "01118", "01121", "01321", "01744"]


def _suite_case(case: str) -> tuple[str, dict[str, str]]:
    """The case's SBML document (the suite's best level for it) and its settings."""
    assert SUITE is not None
    folder = f"sbml-test-suite/cases/{case}/"
    texts: dict[str, str] = {}
    with tarfile.open(SUITE, "r:xz") as tar:
        for member in tar:
            name = member.name.removeprefix(folder)
            if member.name.startswith(folder) and name.endswith((".xml", "settings.txt")):
                texts[name] = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
    xml = next(v for k, v in texts.items() if k.startswith(f"{case}-sbml-l"))
    lines = texts[f"{case}-settings.txt"].splitlines()
    settings = dict((k.strip(), v.strip()) for k, v in (x.split(":", 1) for x in lines if ":" in x))
    return xml, settings


@pytest.mark.parametrize("case", SUITE_CASES)
def test_sbml_test_suite_cases_equal_libroadrunner(case):
    if SUITE is None:
        pytest.skip("the SBML Test Suite archive (../shared/reference/) is not on this machine")
    xml, s = _suite_case(case)
    assert float(s["start"]) == 0.0
    names = [v.strip() for v in s["variables"].split(",")]
    amount = {v.strip() for v in s.get("amount", "").split(",")}
    doc = libsbml.readSBMLFromString(xml)  # kept: the model lives while its document does
    species = {sp.getId() for sp in doc.getModel().getListOfSpecies()}
    conc = {v.strip() for v in s.get("concentration", "").split(",")}
    ours = [
        f"amount({v})" if v in amount else f"concentration({v})" if v in species & conc else v
        for v in names
    ]
    theirs = [(v if v in amount else f"[{v}]") if v in species else v for v in names]
    t1, steps = float(s["duration"]), int(s["steps"])
    model = load_sbml(xml, observables=ours)(input_dt=t1 / steps)
    p = model.default_params()
    traj = simulate(model, p, t1=t1, solver=TIGHT)
    assert bool(traj.ok)
    got = np.asarray(jax.vmap(lambda t, y: model.quantities(t, y, p, ours))(traj.ts, traj.states))
    ref = roadrunner_run(xml, t1, steps + 1, theirs)
    rel = relative_differences(got, ref[:, 1:])
    assert rel.max() <= RTOL, f"{names[int(np.argmax(rel)) % len(names)]}: {rel.max()}"
