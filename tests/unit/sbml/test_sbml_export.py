"""Exporting an imported model: SBML (re-importable), SED-ML and a COMBINE/OMEX archive.

* **Round trip** (issue 17's acceptance): the exported SBML, imported again with
  :func:`medtwin.sbml.load_sbml`, simulates like the original model with the exported
  parameters -- stored tolerance 1e-10 relative per cell (plus 1e-12 of the column's largest
  value, for cells that cross zero), both runs at rtol = atol = 1e-12. Cases: BIOMD0000000379
  (Dalla Man 2007, SBML L2V4, rate and assignment rules; ``../shared/reference/biomodels/``)
  with five parameters changed, among them a state's initial amount; SBML Test Suite case
  00754 (an initial assignment that overrides a species' initial amount and reads a
  parameter, a state-triggered event, a function definition) with the parameter the initial
  assignment reads and the one the event assigns changed (the event fires at t ~ 0.43); a
  small Level 2 document with a reaction-local parameter. Measured: the trajectories are
  identical (difference 0).
* The exported SBML passes libsbml's consistency check with no error, holds every value
  exactly (libsbml alone writes 15 digits) and exporting it again gives the same text.
* SED-ML: read by libsedml (in a separate process: python-libsedml 2.0 breaks python-libsbml's
  MathML when both are loaded in one process, so medtwin never loads it) with no error; its
  time course, algorithm, data generators and report are what was asked; every XPath target
  names exactly one element of the SBML.
* OMEX: opened with libcombine, the manifest's formats and master file, the SED-ML read with
  libsedml; ``libroadrunner`` (an independent simulator, CVODE) reruns the archive -- its
  model on its SED-ML grid -- and equals medtwin to 1e-6 relative.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import libsbml
import numpy as np
import pytest
from sbml_docs import apply, ci, compartment, math, parameter, sbml, species
from sbml_suite import tarball
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.errors import DataError, ModelError
from medtwin.sbml import (
    SBMLEventModel,
    export_omex,
    export_sbml,
    export_sedml,
    load_sbml,
    omex_errors,
    sedml_errors,
)
from medtwin.simulate import Adaptive, simulate

_SHARED = (Path(__file__).resolve().parents[3].parent / "shared", Path("/work/shared"))
BIOMD379 = next(
    (p for s in _SHARED if (p := s / "reference/biomodels/BIOMD0000000379.xml").is_file()), None
)
needs_379 = pytest.mark.skipif(BIOMD379 is None, reason="BIOMD0000000379.xml is not here")
RTOL, ATOL_OF_MAX = 1e-10, 1e-12  # stored round-trip tolerance (module docstring)
TIGHT = 1e-12
CHANGED_379 = {"k_abs": 0.071, "V_G": 1.93, "k_p2": 0.0025, "G_p": 190.0, "D": 70000.0}
SEDML_NS = {"s": "http://sed-ml.org/sed-ml/level1/version4"}
SBML_NS = {"sbml": "http://www.sbml.org/sbml/level3/version2/core"}

LOCAL = sbml(
    f"<listOfCompartments>{compartment('c', 2.0)}</listOfCompartments>"
    + f"<listOfSpecies>{species('A', amount=10.0)}</listOfSpecies>"
    + f"<listOfParameters>{parameter('k0', 0.3)}</listOfParameters>"
    + '<listOfReactions><reaction id="decay" reversible="false">'
    '<listOfReactants><speciesReference species="A" stoichiometry="1"/></listOfReactants>'
    '<kineticLaw>' + math(apply("times", ci("k"), ci("A"), ci("c")))
    + '<listOfParameters><parameter id="k" value="0.25"/></listOfParameters>'
    "</kineticLaw></reaction></listOfReactions>",
    level=2, version=4,
).replace('<model id="m" name="test model" timeUnits="second">', '<model id="m">')  # fmt: skip


def observe(cls, params, t1: float, dt: float) -> np.ndarray:
    """The observables of ``cls`` with ``params`` (None: its defaults) over [0, t1] on a grid
    of ``dt``, at rtol = atol = 1e-12."""
    if issubclass(cls, SBMLEventModel):
        model, solver = cls(input_dt=dt, rtol=TIGHT, atol=TIGHT), None
    else:
        model, solver = cls(input_dt=dt), Adaptive(rtol=TIGHT, atol=TIGHT, max_steps=100_000)
    traj = simulate(model, model.default_params() if params is None else params, t1=t1,
                    solver=solver)  # fmt: skip
    assert bool(traj.ok)
    return np.asarray(traj.observables)


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    floor = ATOL_OF_MAX * np.max(np.abs(a), axis=0)
    assert np.all(np.abs(a - b) <= RTOL * np.abs(a) + floor), np.max(np.abs(a - b))


def consistency_errors(text: str) -> list[str]:
    doc = libsbml.readSBMLFromString(text)
    doc.checkConsistency()
    log = doc.getErrorLog()
    return [log.getError(i).getMessage() for i in range(log.getNumErrors())
            if log.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]  # fmt: skip


@pytest.fixture(scope="module")
def dallaman():
    assert BIOMD379 is not None
    return load_sbml(BIOMD379, time_unit="min", observables=["G", "I"])


@pytest.fixture(scope="module")
def dallaman_run(dallaman) -> np.ndarray:
    """G and I of BIOMD0000000379 with ``CHANGED_379`` over 0-30 min, 1-min grid."""
    return observe(dallaman, dallaman().make_params(**CHANGED_379), t1=30.0, dt=1.0)


@needs_379
def test_biomd379_round_trip_with_changed_parameters(dallaman, dallaman_run):
    params = dallaman().make_params(**CHANGED_379)
    text = export_sbml(dallaman, params, source=BIOMD379)
    assert consistency_errors(text) == []
    again = load_sbml(text, observables=["G", "I"])  # no time_unit: the document now says min
    assert again.time_unit == "min"
    assert [p.name for p in again.parameters] == [p.name for p in dallaman.parameters]
    assert np.array_equal([p.default for p in again.parameters], np.asarray(params))
    a, b = dallaman_run, observe(again, None, t1=30.0, dt=1.0)
    assert a[0, 0] == pytest.approx(190.0 / 1.93, rel=1e-12)  # G = G_p / V_G at t = 0
    assert_same(a, b)
    assert export_sbml(again, source=text) == text  # a fixed point


def test_values_are_written_exactly_and_local_parameters_are_promoted():
    cls = load_sbml(LOCAL)
    assert [p.name for p in cls.parameters] == ["c", "A", "k0", "decay_k"]
    values = {"decay_k": 0.1 + 0.2, "A": 1 / 3}  # 0.30000000000000004: libsbml writes 0.3
    text = export_sbml(cls(), values, source=LOCAL)
    assert 'value="0.30000000000000004"' in text and "<localParameter" not in text
    assert 'level="3" version="2"' in text and consistency_errors(text) == []
    again = load_sbml(text)
    assert [p.default for p in again.parameters] == [2.0, 1 / 3, 0.3, 0.1 + 0.2]
    a = observe(cls, cls().make_params(**values), t1=4.0, dt=0.5)
    b = observe(again, None, t1=4.0, dt=0.5)
    # d amount/dt = -k [A] c = -k amount: [A](4) = (1/3) / c * exp(-4 k)
    assert a[-1, 0] == pytest.approx((1 / 3) / 2.0 * np.exp(-0.30000000000000004 * 4.0),
                                     rel=1e-9)  # fmt: skip
    assert_same(a, b)


@pytest.fixture(scope="module")
def case_00754(tmp_path_factory) -> str:
    archive = tarball()
    if archive is None:
        pytest.skip("the SBML Test Suite archive is not here")
    with tarfile.open(archive, "r:xz") as tar:
        member = next(m for m in tar if m.name.endswith("00754/00754-sbml-l3v2.xml"))
        data = tar.extractfile(member)
        assert data is not None
        return data.read().decode()


def test_initial_assignment_and_event_case_round_trip(case_00754):
    cls = load_sbml(case_00754)
    names = [p.name for p in cls.parameters]
    assert "S1" not in names and {"p1", "k3", "C", "S2"} <= set(names)
    with pytest.raises(ModelError, match="'S1'"):  # its initial assignment sets it
        export_sbml(cls, {"S1": 5.0}, source=case_00754)
    values = {"p1": 0.35, "k3": 1.1, "C": 1.5, "S2": 2.5}
    text = export_sbml(cls, values, source=case_00754)
    assert consistency_errors(text) == [] and '<functionDefinition id="add"' in text
    assert '<initialAssignment symbol="S1">' in text
    again = load_sbml(text)
    assert issubclass(again, SBMLEventModel)
    a = observe(cls, cls().make_params(**values), t1=2.0, dt=0.04)
    b = observe(again, None, t1=2.0, dt=0.04)
    assert a[0, 0] == pytest.approx(0.7, rel=1e-14)  # S1 = add(p1, p1) at t = 0
    # S1 and S2 fall alike; when S1 falls below 0.5 (t ~ 0.43) the event sets S2 = k3 + k4
    assert a[0, 1] - a[0, 0] == pytest.approx(2.5 / 1.5 - 0.7, rel=1e-12)
    assert a[-1, 1] - a[-1, 0] == pytest.approx(1.1 + 0.2 - 0.5, rel=1e-8)
    assert_same(a, b)


def test_export_refuses_what_it_cannot_export(tmp_path):
    cls = load_sbml(LOCAL)
    with pytest.raises(DataError, match="not the document"):
        export_sbml(cls, source=LOCAL.replace('value="0.3"', 'value="0.4"'))
    with pytest.raises(ModelError, match=r"shape \(4,\)"):
        export_sbml(cls, np.ones((2, 4)), source=LOCAL)
    with pytest.raises(ModelError, match="'k0' is nan"):
        export_sbml(cls, {"k0": float("nan")}, source=LOCAL)
    with pytest.raises(ModelError, match=r"\['nope'\]"):
        export_sbml(cls, {"nope": 1.0}, source=LOCAL)
    with pytest.raises(ModelError, match="load_sbml"):
        export_sbml(int, source=LOCAL)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="points"):
        export_sedml(cls, sbml=export_sbml(cls, source=LOCAL), t1=1.0, points=1)


READER = r"""
import json, sys
import libcombine, libsedml
archive = libcombine.CombineArchive()
assert archive.initializeFromArchive(sys.argv[1])
manifest = archive.getManifest()
entries = {manifest.getContent(i).getLocation(): [manifest.getContent(i).getFormat(),
           manifest.getContent(i).getMaster()] for i in range(manifest.getNumContents())}
master = archive.getMasterFile().getLocation()
doc = libsedml.readSedMLFromString(archive.extractEntryToString(master))
sim = doc.getSimulation(0)
print(json.dumps({
    "entries": entries, "master": master,
    "errors": doc.getNumErrors(libsedml.LIBSEDML_SEV_ERROR)
              + doc.getNumErrors(libsedml.LIBSEDML_SEV_FATAL),
    "level": [doc.getLevel(), doc.getVersion()],
    "source": doc.getModel(0).getSource(), "language": doc.getModel(0).getLanguage(),
    "grid": [sim.getInitialTime(), sim.getOutputStartTime(), sim.getOutputEndTime(),
             sim.getNumberOfSteps()],
    "kisao": sim.getAlgorithm().getKisaoID(),
    "labels": [doc.getOutput(0).getDataSet(i).getLabel()
               for i in range(doc.getOutput(0).getNumDataSets())],
    "model": archive.extractEntryToString("model.xml"),
}))
archive.cleanUp()
"""


def read_archive(path: Path) -> dict:
    """The archive as libcombine and libsedml read it, in a fresh process (see the module
    docstring)."""
    done = subprocess.run([sys.executable, "-c", READER, str(path)], capture_output=True,
                          text=True, check=True, timeout=120)  # fmt: skip
    return json.loads(done.stdout)


@needs_379
def test_omex_archive_opens_and_its_sedml_reads_without_errors(dallaman, tmp_path):
    path = export_omex(tmp_path / "meal.omex", dallaman, CHANGED_379, source=BIOMD379, t1=30.0,
                       points=31, rtol=TIGHT, atol=TIGHT)  # fmt: skip
    assert "libsedml" not in sys.modules  # it would break libsbml in this process
    got = read_archive(path)
    spec = "http://identifiers.org/combine.specifications/"
    assert got["entries"]["model.xml"] == [spec + "sbml.level-3.version-2", False]
    assert got["entries"]["simulation.sedml"] == [spec + "sed-ml.level-1.version-4", True]
    assert got["master"] == "simulation.sedml" and got["errors"] == 0
    assert got["level"] == [1, 4] and got["source"] == "model.xml"
    assert got["language"] == "urn:sedml:language:sbml.level-3.version-2"
    assert got["grid"] == [0.0, 0.0, 30.0, 30] and got["kisao"] == "KISAO:0000087"
    assert got["labels"] == ["time", "G", "I"]
    assert got["model"] == export_sbml(dallaman, CHANGED_379, source=BIOMD379)
    assert omex_errors(path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meal.omex"]  # no temporary left


@needs_379
def test_the_archive_reruns_in_libroadrunner(dallaman, dallaman_run, tmp_path):
    roadrunner = pytest.importorskip("roadrunner")
    path = export_omex(tmp_path / "meal.omex", dallaman, CHANGED_379, source=BIOMD379, t1=30.0,
                       points=31, rtol=TIGHT, atol=TIGHT)  # fmt: skip
    with zipfile.ZipFile(path) as z:
        model, sedml = z.read("model.xml").decode(), ET.fromstring(z.read("simulation.sedml"))
    tc = sedml.find(".//s:uniformTimeCourse", SEDML_NS)
    assert tc is not None
    t1, steps = float(tc.get("outputEndTime", "nan")), int(tc.get("numberOfSteps", "0"))
    params = {a.get("kisaoID"): float(a.get("value", "nan"))
              for a in tc.iterfind(".//s:algorithmParameter", SEDML_NS)}  # fmt: skip
    r = roadrunner.RoadRunner(model)
    r.integrator.relative_tolerance = params["KISAO:0000209"]
    r.integrator.absolute_tolerance = params["KISAO:0000211"]
    ids = [v.get("target", "").split("@id='")[1].rstrip("']")
           for v in sedml.iterfind(".//s:variable[@target]", SEDML_NS)]  # fmt: skip
    rr = np.asarray(r.simulate(0.0, t1, steps + 1, ["time", *ids]))
    a = dallaman_run
    assert np.allclose(rr[:, 0], np.linspace(0.0, 30.0, 31))
    assert np.all(np.abs(rr[:, 1:] - a) <= 1e-6 * np.abs(a)), np.max(np.abs(rr[:, 1:] / a - 1))


def test_sedml_targets_and_data_generators(case_00754):
    cls = load_sbml(case_00754, observables=["S1", "amount(S2)", "concentration(S3)", "C",
                                             "reaction1"])  # fmt: skip
    text = export_sbml(cls, source=case_00754)
    sedml = export_sedml(cls, sbml=text, t1=2.0, points=51, rtol=1e-10, atol=1e-12)
    root, doc = ET.fromstring(sedml), ET.fromstring(text)
    for var in root.iterfind(".//s:variable[@target]", SEDML_NS):
        path = var.get("target", "").removeprefix("/sbml:sbml/")
        assert len(doc.findall(path, SBML_NS)) == 1, path  # each target names one element
    gens = {g.get("name"): g for g in root.iterfind(".//s:dataGenerator", SEDML_NS)}
    assert list(gens) == ["time", "S1", "amount(S2)", "concentration(S3)", "C", "reaction1"]
    mml = "{http://www.w3.org/1998/Math/MathML}"
    assert gens["amount(S2)"].find(f".//{mml}times") is not None  # concentration times size
    assert gens["concentration(S3)"].find(f".//{mml}apply") is None  # already its value
    algo = root.find(".//s:algorithmParameter[@kisaoID='KISAO:0000211']", SEDML_NS)
    assert algo is not None and float(algo.get("value", "nan")) == 1e-12
    assert sedml_errors(sedml) == []
    broken = sedml.replace(' source="model.xml"', "")  # the check can fail
    assert any("source" in e for e in sedml_errors(broken))


@needs_379
def test_cli_export_writes_the_archive_and_the_sbml(tmp_path):
    out, xml = tmp_path / "meal.omex", tmp_path / "meal.xml"
    res = CliRunner().invoke(app, [
        "sbml", "export", str(BIOMD379), "--time-unit", "min", "--observables", "G,I",
        "--set", "k_abs=0.071", "--t1", "30", "--dt", "0.5", "--out", str(out),
        "--sbml-out", str(xml)])  # fmt: skip
    assert res.exit_code == 0, res.output
    got = read_archive(out)
    assert got["errors"] == 0 and got["grid"] == [0.0, 0.0, 30.0, 60]
    assert got["model"] == xml.read_text()
    again = load_sbml(xml.read_text())
    assert {p.name: p.default for p in again.parameters}["k_abs"] == 0.071
    res = CliRunner().invoke(app, ["sbml", "export", str(BIOMD379), "--set", "nope=1",
                                   "--sbml-out", str(tmp_path / "x.xml")])  # fmt: skip
    assert res.exit_code == 2 and "no parameter of" in res.output
    assert not (tmp_path / "x.xml").exists()
