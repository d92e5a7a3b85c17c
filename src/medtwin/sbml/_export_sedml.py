"""export_sedml() and export_omex(): the experiment that reruns an imported model's simulation,
in the community's formats.

:func:`export_sedml` writes a SED-ML Level 1 Version 4 document for medtwin's time course of an
imported model: the model (an SBML L3V2 file, by its location), a uniform time course from 0 to
``t1`` with ``points`` output times (``numberOfSteps = points - 1``), the algorithm medtwin
integrates with (KiSAO:0000087, the Dormand-Prince method -- diffrax ``Dopri5`` -- with its
relative and absolute tolerances, KiSAO:0000209 and KiSAO:0000211), a data generator for the
time and one per observable, and a report of them (labelled by the observables' names).

An observable that is an SBML id is a variable with an XPath target (a compartment's size, a
parameter's value, a species' value as SBML math reads it -- its concentration unless it has
only substance units -- a reaction's rate, a species reference's stoichiometry). ``amount(S)``
and ``concentration(S)`` are the species' value times or divided by its compartment's size,
where it is not already one (SBML L3V2 section 4.6).

:func:`export_omex` packs the SBML of :func:`~medtwin.sbml.export_sbml` (``model.xml``) and that
SED-ML (``simulation.sedml``, the master file) into a COMBINE archive with its manifest, the
formats named by identifiers.org's COMBINE specification URIs, so that another tool (tellurium,
COPASI, the BioSimulators runners) reruns what medtwin simulated.

Needs python-libsedml and python-libcombine (the ``sbml`` extra), imported on use.

References
----------
SED-ML Level 1 Version 4 (Smith et al. 2021, J Integr Bioinform 18:20210021), sections 2.2
(model, uniform time course, task, data generator, report) and 3.2 (XPath targets and
symbols); Kinetic Simulation Algorithm Ontology (KiSAO, https://identifiers.org/kisao);
COMBINE archive / OMEX 1.0 (Bergmann et al. 2014, BMC Bioinformatics 15:369).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import libsbml
from jaxtyping import ArrayLike

from ..errors import DataError, ModelError
from ._export import export_sbml, sbml_class
from ._model import SBMLBase
from ._read import MAX_BYTES

__all__ = ["CVODE", "DOPRI5", "export_omex", "export_sedml", "omex_errors", "sedml_errors"]

DOPRI5 = "KISAO:0000087"
"""KiSAO term of the Dormand-Prince method (Dopri5), what medtwin integrates imported models
with."""
CVODE = "KISAO:0000019"
"""KiSAO term of CVODE, for tools that offer no Dopri5 (libroadrunner's and COPASI's default)."""

SBML_FORMAT = "http://identifiers.org/combine.specifications/sbml.level-3.version-2"
SEDML_FORMAT = "http://identifiers.org/combine.specifications/sed-ml.level-1.version-4"
SBML_LANGUAGE = "urn:sedml:language:sbml.level-3.version-2"
SEDML_NS = "http://sed-ml.org/sed-ml/level1/version4"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
TIME_SYMBOL = "urn:sedml:symbol:time"
_SBML_NS = "http://www.sbml.org/sbml/level3/version2/core"
_FORM = re.compile(r"^(amount|concentration)\((\w+)\)$")
_KISAO = re.compile(r"^KISAO:\d{7}$")


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - depends on the environment
        package = {"libsedml": "python-libsedml", "libcombine": "python-libcombine"}[name]
        raise ImportError(
            f"Exporting SED-ML and COMBINE archives needs {package}, which is not installed. "
            "Install the sbml extra: pip install 'medtwin[sbml]'."
        ) from None


def _check_grid(t1: float, points: int, caller: str) -> None:
    if not (isinstance(t1, int | float) and math.isfinite(t1) and t1 > 0):
        raise ModelError(f"{caller}(t1=...) must be a finite number > 0. Got {t1!r}.")
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise ModelError(
            f"{caller}(points=...) must be an integer >= 2 (the output times 0 and t1 "
            f"included). Got {points!r}."
        )


def _xpath(m: libsbml.Model, sid: str) -> str:
    """The XPath of the element with id ``sid`` in an SBML L3V2 document."""
    el = m.getElementBySId(sid)
    code = None if el is None else el.getTypeCode()
    kinds = {libsbml.SBML_COMPARTMENT: ("listOfCompartments", "compartment"),
             libsbml.SBML_SPECIES: ("listOfSpecies", "species"),
             libsbml.SBML_PARAMETER: ("listOfParameters", "parameter"),
             libsbml.SBML_REACTION: ("listOfReactions", "reaction")}  # fmt: skip
    if code in kinds:
        listing, tag = kinds[code]
        return f"/sbml:sbml/sbml:model/sbml:{listing}/sbml:{tag}[@id='{sid}']"
    if code == libsbml.SBML_SPECIES_REFERENCE:
        listing = el.getParentSBMLObject()
        reaction = listing.getParentSBMLObject()
        return (
            f"/sbml:sbml/sbml:model/sbml:listOfReactions/sbml:reaction[@id='{reaction.getId()}']"
            f"/sbml:{listing.getElementName()}/sbml:speciesReference[@id='{sid}']"
        )
    raise ModelError(
        f"export_sedml(): the observable {sid!r} is no compartment, species, parameter, "
        "reaction or species reference of the SBML document. Export the document of this model."
    )


def _observable(m: libsbml.Model, name: str) -> tuple[list[tuple[str, str]], str | None]:
    """``([(variable suffix, XPath), ...], MathML operator)`` of one observable: one variable
    and no operator, or a species' value and its compartment's size and ``times`` (its
    amount) or ``divide`` (its concentration)."""
    form = _FORM.match(name)
    if form is None:
        return [("", _xpath(m, name))], None
    kind, sid = form.groups()
    s = m.getSpecies(sid)
    if s is None:
        raise ModelError(f"export_sedml(): {name!r} names {sid!r}, which is no species.")
    c = m.getCompartment(s.getCompartment())
    sizeless = c is None or (c.getSpatialDimensionsAsDouble() == 0.0 and not c.isSetSize())
    is_amount = bool(s.getHasOnlySubstanceUnits()) or sizeless
    target = [("", _xpath(m, sid))]
    if (kind == "amount") == is_amount:
        return target, None
    size = [("_size", _xpath(m, s.getCompartment()))]
    return target + size, "times" if kind == "amount" else "divide"


def export_sedml(
    model: SBMLBase | type[SBMLBase],
    *,
    sbml: str,
    t1: float,
    points: int,
    sbml_location: str = "model.xml",
    rtol: float = 1e-8,
    atol: float = 1e-8,
    algorithm: str = DOPRI5,
    check: bool = True,
) -> str:
    """A SED-ML L1V4 document (text) that reruns ``model``'s time course (module docstring).

    ``sbml``: the SBML document the experiment simulates, as text (what
    :func:`~medtwin.sbml.export_sbml` returns); ``sbml_location``: where the SED-ML finds it
    (a path relative to the SED-ML file, ``model.xml`` in :func:`export_omex`'s archive).
    ``t1``: end time in the model's time unit; ``points``: output times, 0 and ``t1``
    included (``t1 / dt + 1`` for medtwin's grid of ``dt``). ``rtol``, ``atol``: the
    integrator's tolerances; ``algorithm``: a KiSAO term (:data:`DOPRI5`, :data:`CVODE`).
    The observables are ``model.observables``. ``check``: read the document back with libsedml
    (:func:`sedml_errors`) and raise on an error.

    Raises :class:`~medtwin.errors.ModelError` for bad arguments and
    :class:`~medtwin.errors.DataError` where libsedml finds an error in the document.
    """
    cls = sbml_class(model, "export_sedml")
    _check_grid(t1, points, "export_sedml")
    for value, what in ((rtol, "rtol"), (atol, "atol")):
        if not (math.isfinite(value) and value > 0):
            raise ModelError(
                f"export_sedml({what}=...) must be a finite number > 0. Got {value!r}."
            )
    if not _KISAO.match(algorithm):
        raise ModelError(
            f"export_sedml(algorithm=...) must be a KiSAO term like {DOPRI5!r}. Got {algorithm!r}."
        )
    doc_sbml = libsbml.readSBMLFromString(sbml)
    m = doc_sbml.getModel()
    if m is None or (doc_sbml.getLevel(), doc_sbml.getVersion()) != (3, 2):
        raise ModelError(
            "export_sedml(sbml=...) takes the SBML L3V2 text of export_sbml(). Got a document "
            f"{'without a model' if m is None else f'of level {doc_sbml.getLevel()}'}."
        )
    root = ET.Element("sedML", {"xmlns": SEDML_NS, "xmlns:sbml": _SBML_NS, "level": "1",
                                "version": "4"})  # fmt: skip
    models = ET.SubElement(root, "listOfModels")
    ET.SubElement(models, "model", {"id": "model", "name": cls.title or cls.name,
                                    "language": SBML_LANGUAGE,
                                    "source": sbml_location})  # fmt: skip
    sims = ET.SubElement(root, "listOfSimulations")
    sim = ET.SubElement(sims, "uniformTimeCourse", {
        "id": "simulation", "name": f"0 to {t1:g} {cls.time_unit}, {points} points",
        "initialTime": "0", "outputStartTime": "0", "outputEndTime": repr(float(t1)),
        "numberOfSteps": str(points - 1)})  # fmt: skip
    alg = ET.SubElement(sim, "algorithm", {"kisaoID": algorithm})
    params = ET.SubElement(alg, "listOfAlgorithmParameters")
    for kisao, value in (("KISAO:0000209", rtol), ("KISAO:0000211", atol)):
        ET.SubElement(params, "algorithmParameter", {"kisaoID": kisao, "value": repr(float(value))})
    tasks = ET.SubElement(root, "listOfTasks")
    ET.SubElement(tasks, "task", {"id": "task", "modelReference": "model",
                                  "simulationReference": "simulation"})  # fmt: skip
    generators = ET.SubElement(root, "listOfDataGenerators")
    outputs = ET.SubElement(root, "listOfOutputs")
    report = ET.SubElement(outputs, "report", {"id": "report",
                                               "name": f"observables of {cls.name}"})  # fmt: skip
    sets = ET.SubElement(report, "listOfDataSets")
    columns: list[tuple[str, list[tuple[str, str]], str | None]] = [("time", [], None)]
    for o in cls.observables:
        targets, op = _observable(m, o.name)
        columns.append((o.name, targets, op))
    for j, (label, targets, op) in enumerate(columns):
        dg = ET.SubElement(generators, "dataGenerator", {"id": f"dg_{j}", "name": label})
        variables = ET.SubElement(dg, "listOfVariables")
        if not targets:  # the time
            names = ["time"]
            ET.SubElement(variables, "variable", {"id": "time", "symbol": TIME_SYMBOL,
                                                  "taskReference": "task"})  # fmt: skip
        else:
            names = [f"v{j}{suffix}" for suffix, _ in targets]
            for name, (_, xpath) in zip(names, targets, strict=True):
                ET.SubElement(variables, "variable", {"id": name, "target": xpath,
                                                      "taskReference": "task"})  # fmt: skip
        _math(dg, names, op)
        ET.SubElement(sets, "dataSet", {"id": f"ds_{j}", "label": label,
                                        "dataReference": f"dg_{j}"})  # fmt: skip
    ET.indent(root)
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
    if check:
        errors = sedml_errors(text)
        if errors:
            raise DataError(
                f"libsedml reports {len(errors)} error(s) in the exported SED-ML: "
                f"{'; '.join(errors[:3])}. This is a defect of the export; please report it."
            )
    return text


def _math(parent: ET.Element, names: list[str], op: str | None) -> None:
    """``<math>`` of a data generator: the one variable, or ``op`` (times, divide) of two."""
    math_el = ET.SubElement(parent, "math", {"xmlns": MATHML_NS})
    if op is None:
        ET.SubElement(math_el, "ci").text = names[0]
        return
    apply = ET.SubElement(math_el, "apply")
    ET.SubElement(apply, op)
    for name in names:
        ET.SubElement(apply, "ci").text = name


_READER = r"""
import json, sys
import libcombine, libsedml

def sedml(text):
    doc = libsedml.readSedMLFromString(text)
    return [f"line {e.getLine()}: {e.getMessage().strip()}"
            for e in (doc.getError(i) for i in range(doc.getNumErrors()))
            if e.getSeverity() >= libsedml.LIBSEDML_SEV_ERROR]

if sys.argv[1] == "sedml":
    print(json.dumps(sedml(sys.stdin.read())))
else:
    archive, errors = libcombine.CombineArchive(), []
    if not archive.initializeFromArchive(sys.argv[2]):
        errors.append("libcombine cannot open the archive")
    else:
        master = archive.getMasterFile()
        if master is None:
            errors.append("the manifest names no master file")
        else:
            errors += sedml(archive.extractEntryToString(master.getLocation()))
        archive.cleanUp()
    print(json.dumps(errors))
"""


def _read_in_subprocess(args: list[str], stdin: str = "") -> list[str]:
    """Run :data:`_READER` in a fresh interpreter: importing libsedml into a process that has
    imported libsbml breaks libsbml's MathML (python-libsedml 2.0 registers its own copy of
    libsbml's ``ASTNodeType_t`` with SWIG), so libsedml never enters this process."""
    for name in ("libsedml", "libcombine"):
        if importlib.util.find_spec(name) is None:
            _module(name)  # raises the ImportError with the pip hint
    done = subprocess.run(
        [sys.executable, "-I", "-c", _READER, *args], input=stdin, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise DataError(f"Reading the export back with libsedml/libcombine failed: {last}")
    return list(json.loads(done.stdout))


def sedml_errors(text: str) -> list[str]:
    """The errors (severity error or fatal) libsedml reports reading SED-ML ``text``, each
    ``"line N: message"``; read in a separate Python process (see :func:`_read_in_subprocess`)."""
    return _read_in_subprocess(["sedml"], text)


def omex_errors(path: str | os.PathLike[str]) -> list[str]:
    """The errors of a COMBINE archive: libcombine cannot open it, its manifest names no master
    file, or libsedml reports errors in the master SED-ML (read in a separate process)."""
    return _read_in_subprocess(["omex", os.fspath(path)])


def export_omex(
    path: str | os.PathLike[str],
    model: SBMLBase | type[SBMLBase],
    params: ArrayLike | Mapping[str, float] | None = None,
    *,
    source: str | os.PathLike[str] | bytes,
    t1: float,
    points: int,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    algorithm: str = DOPRI5,
    max_bytes: int = MAX_BYTES,
    check: bool = True,
) -> Path:
    """Write a COMBINE archive (OMEX) at ``path``: ``model.xml`` (:func:`export_sbml` of
    ``model`` with ``params`` from ``source``), ``simulation.sedml`` (:func:`export_sedml`,
    the master file) and the manifest, written by libcombine. The other arguments are those
    two functions'. ``check``: open the archive again with libcombine and read its SED-ML with
    libsedml (:func:`omex_errors`) before it is moved to ``path``. The archive is written
    beside ``path`` and moved there when complete (an existing file is replaced). Returns
    ``path``.

    Raises what :func:`export_sbml` and :func:`export_sedml` raise, and
    :class:`~medtwin.errors.DataError` where the archive cannot be written or read back.
    """
    _check_grid(t1, points, "export_omex")
    out = Path(path)
    if not out.parent.is_dir():
        raise DataError(
            f"export_omex(): the folder of {str(out)!r} does not exist. Create it first."
        )
    sbml = export_sbml(model, params, source=source, max_bytes=max_bytes)
    sedml = export_sedml(model, sbml=sbml, t1=t1, points=points, rtol=rtol, atol=atol,
                         algorithm=algorithm, check=False)  # fmt: skip
    combine = _module("libcombine")
    archive = combine.CombineArchive()
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)  # libcombine writes the file itself
    try:
        ok = (
            archive.addFileFromString(sbml, "model.xml", SBML_FORMAT, False)
            and archive.addFileFromString(sedml, "simulation.sedml", SEDML_FORMAT, True)
            and archive.writeToFile(tmp)
        )
        if not ok:
            raise DataError(f"libcombine could not write the COMBINE archive {str(out)!r}.")
        errors = omex_errors(tmp) if check else []
        if errors:
            raise DataError(
                f"The exported archive does not read back: {'; '.join(errors[:3])}. This is a "
                "defect of the export; please report it."
            )
        os.replace(tmp, out)
    finally:
        archive.cleanUp()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
