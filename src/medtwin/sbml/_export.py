"""export_sbml(): an imported model, with its parameter values, back out as SBML.

The exported document is the one the model was imported from, converted as the importer reads
it -- SBML Level 3 Version 2, reaction-local parameters promoted to global ones named
``<reaction id>_<parameter id>`` (function definitions are kept, not expanded) -- with the
values of the model's parameter vector written where the document holds them:

* a compartment's ``size``, a parameter's ``value``;
* a species' ``initialAmount`` or ``initialConcentration`` (whichever the document gives: the
  parameter is the value the document states, SBML L3V2 section 4.6).

No initial assignment overrides a value written so: the importer makes a parameter only of a
value that no initial assignment or assignment rule sets (:mod:`._program`), so every
parameter is one of these attributes and a quantity an initial assignment sets is not in the
parameter vector (asking for it is refused by name). Initial assignments that read the
parameters (``S1 = 2 * p1``) stay as they are and follow the new values, as they do in medtwin.

Where the model's time unit (``load_sbml(..., time_unit=...)``) differs from what the
document declares, the document gets that unit (``timeUnits``; a ``unitDefinition`` for
minutes, hours or days), so the exported document says what medtwin simulated and re-imports
with the same time unit. No number is converted.

Values are written exactly: libsbml writes 15 significant digits, so the written attribute
is replaced by the shortest decimal that reads back as the same float64 (Python's ``repr``)
and every value is read back and compared. The document passes libsbml's consistency checks
with no error the export introduced (errors the source document already has are its own: the
export is as valid as its source; the importer accepts such documents too).

References
----------
SBML Level 3 Version 2 Core, release 2 (Hucka et al. 2019, J Integr Bioinform 16:20190021),
sections 4.4 (units), 4.5-4.8 (compartments, species, parameters, initial assignments);
libsbml 5 converters (``SBMLLocalParameterConverter``, ``SBMLLevelVersionConverter``) and
``SBMLDocument.checkConsistency``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

import libsbml
import numpy as np
from jaxtyping import ArrayLike

from ..errors import DataError, ModelError
from . import _units
from ._model import SBMLBase
from ._read import MAX_BYTES, Source, parse, read_source, to_l3v2

__all__ = ["export_sbml", "parameter_values", "sbml_class"]

_GETTER = {"size": "getSize", "value": "getValue", "initialAmount": "getInitialAmount",
           "initialConcentration": "getInitialConcentration"}  # fmt: skip
_ATTRS = r'(?:[^>"]|"[^"]*")*?'  # the attributes of a start tag (a value may hold '>')
_TIME_UNITS = {"s": ("second", 1.0), "min": ("minute", 60.0), "h": ("hour", 3600.0),
               "d": ("day", 86400.0)}  # fmt: skip


def sbml_class(model: SBMLBase | type[SBMLBase], caller: str) -> type[SBMLBase]:
    """The imported model class of ``model`` (a class or an instance of one)."""
    cls = model if isinstance(model, type) else type(model)
    if not issubclass(cls, SBMLBase):
        raise ModelError(
            f"{caller}() exports a model imported by medtwin.sbml.load_sbml(). Got "
            f"{getattr(cls, '__name__', cls)!r}, which is not one; import the SBML document "
            "first."
        )
    return cls


def parameter_values(
    cls: type[SBMLBase], params: ArrayLike | Mapping[str, float] | None, caller: str
) -> dict[str, float]:
    """SBML id -> value for one member: the defaults, a full vector (ordered like
    ``cls.parameters``) or a mapping of the ids to change. Every value must be finite (a
    non-finite value in a document is a constant, not a parameter, on re-import)."""
    names = [p.name for p in cls.parameters]
    values = {p.name: float(p.default) for p in cls.parameters}
    if isinstance(params, Mapping):
        unknown = sorted(set(params) - set(values))
        if unknown:
            raise ModelError(
                f"{caller}(params=...) names {unknown[:5]}, which are no parameters of "
                f"{cls.name!r}. Expected ids among its {len(names)} parameters, e.g. "
                f"{names[:8]} (a value an initial assignment or rule sets is not a parameter)."
            )
        values.update({k: float(v) for k, v in params.items()})
    elif params is not None:
        vec = np.asarray(params, dtype=np.float64)
        if vec.shape != (len(names),):
            raise ModelError(
                f"{caller}(params=...) needs one parameter vector of shape ({len(names)},) for "
                f"{cls.name!r}. Got shape {vec.shape}; for a batch, export one member "
                "(params[k])."
            )
        values = dict(zip(names, (float(v) for v in vec), strict=True))
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise ModelError(
            f"{caller}(params=...): the value of {bad[0]!r} is {values[bad[0]]!r}; finite "
            "values are expected (a non-finite value is no parameter in SBML)."
        )
    return values


def export_sbml(
    model: SBMLBase | type[SBMLBase],
    params: ArrayLike | Mapping[str, float] | None = None,
    *,
    source: str | os.PathLike[str] | bytes,
    max_bytes: int = MAX_BYTES,
) -> str:
    """The SBML document of an imported model with the given parameter values (see the module
    docstring), as text (UTF-8 XML, SBML Level 3 Version 2).

    ``model``: a model class from :func:`~medtwin.sbml.load_sbml` or an instance of one.
    ``params``: one parameter vector (ordered like ``model.parameters``: fitted or posterior
    values), a mapping ``{SBML id: value}`` of the values to change, or None for the defaults.
    ``source``: the document the model was imported from (path, text or bytes, as
    ``load_sbml`` takes it); it must be that document (its SHA-256 is checked against
    ``model.sbml_sha256``). ``load_sbml(export_sbml(...))`` simulates like ``model`` with
    ``params``.

    Raises :class:`~medtwin.errors.ModelError` for a model that was not imported, an unknown
    parameter id, a vector of the wrong shape or a non-finite value, and
    :class:`~medtwin.errors.DataError` for a ``source`` that is not the model's document.
    """
    cls = sbml_class(model, "export_sbml")
    values = parameter_values(cls, params, "export_sbml")
    src = read_source(source, max_bytes=max_bytes)
    if src.sha256 != cls.sbml_sha256:
        raise DataError(
            f"export_sbml(source=...): {src.origin} is not the document {cls.name!r} was "
            f"imported from (SHA-256 {src.sha256[:16]}..., expected "
            f"{cls.sbml_sha256[:16]}...). Pass the document given to load_sbml()."
        )
    doc = to_l3v2(parse(src), expand=False)
    m = doc.getModel()
    written = [_set_value(m, sid, v) for sid, v in values.items()]
    _declare_time_unit(m, cls.time_unit)
    text = _exact(libsbml.writeSBMLToString(doc), written)
    _check(text, written, src)
    return text


def _set_value(m: libsbml.Model, sid: str, value: float) -> tuple[str, str, str, float]:
    """Write ``value`` where the document holds parameter ``sid``; returns ``(element name,
    id, attribute, value)``."""
    ia = m.getInitialAssignmentBySymbol(sid)
    if ia is not None and ia.isSetMath():  # the importer makes no parameter of such a value
        raise ModelError(
            f"export_sbml(): {sid!r} is a parameter of the model but an initial assignment sets "
            "it in the document; the model and the document disagree. Re-import the document "
            "with load_sbml()."
        )
    if (c := m.getCompartment(sid)) is not None:
        c.setSize(value)
        return ("compartment", sid, "size", value)
    if (s := m.getSpecies(sid)) is not None:
        if s.isSetInitialAmount():
            s.setInitialAmount(value)
            return ("species", sid, "initialAmount", value)
        s.setInitialConcentration(value)
        return ("species", sid, "initialConcentration", value)
    if (p := m.getParameter(sid)) is not None:
        p.setValue(value)
        return ("parameter", sid, "value", value)
    raise ModelError(
        f"export_sbml(): the model's parameter {sid!r} is no compartment, species or parameter "
        "of the document; the model and the document disagree. Re-import the document."
    )


def _declare_time_unit(m: libsbml.Model, unit: str) -> None:
    """Make the document's time unit ``unit`` (s, min, h, d) where it declares another."""
    if unit not in _TIME_UNITS or _units.time_unit(m) == unit:
        return
    name, seconds = _TIME_UNITS[unit]
    if unit == "s":
        m.setTimeUnits("second")
        return
    uid, k = f"medtwin_{name}", 1
    while m.getUnitDefinition(uid) is not None or m.getElementBySId(uid) is not None:
        uid, k = f"medtwin_{name}_{k}", k + 1
    ud = m.createUnitDefinition()
    ud.setId(uid)
    ud.setName(name)
    u = ud.createUnit()
    u.setKind(libsbml.UNIT_KIND_SECOND)
    u.setExponent(1.0)
    u.setScale(0)
    u.setMultiplier(seconds)
    m.setTimeUnits(uid)


def _exact(text: str, written: list[tuple[str, str, str, float]]) -> str:
    """``text`` with each written attribute holding the shortest exact decimal of its value
    (libsbml writes 15 significant digits)."""
    for tag, sid, attr, value in written:
        start = re.compile(rf'<(?:\w+:)?{tag}\b{_ATTRS}\sid="{re.escape(sid)}"{_ATTRS}/?>')
        found = list(start.finditer(text))
        if len(found) != 1:
            continue  # left as libsbml wrote it; _check reports a value that differs
        a, b = found[0].span()
        tag_text = re.sub(rf'(\s{attr}=")[^"]*(")', rf"\g<1>{value!r}\g<2>", text[a:b], count=1)
        text = text[:a] + tag_text + text[b:]
    return text


def _errors(doc: libsbml.SBMLDocument) -> list[tuple[int, str]]:
    doc.checkConsistency()
    log = doc.getErrorLog()
    return [
        (e.getErrorId(), f"line {e.getLine()}: {e.getMessage().strip()}")
        for e in (log.getError(i) for i in range(log.getNumErrors()))
        if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]


def _check(text: str, written: list[tuple[str, str, str, float]], src: Source) -> None:
    """The exported text reads back with every value exact and no consistency error that the
    source document (converted alike) does not have."""
    doc = libsbml.readSBMLFromString(text)
    m = doc.getModel()
    for tag, sid, attr, value in written:
        el = m.getElementBySId(sid)
        got = getattr(el, _GETTER[attr])() if el is not None else None
        if got != value:
            raise ModelError(
                f"export_sbml(): the {attr} of {tag} {sid!r} reads back as {got!r}, not "
                f"{value!r}. This is a defect of the export; please report it."
            )
    new = _errors(doc)
    if new:
        had = {eid for eid, _ in _errors(to_l3v2(parse(src), expand=False))}
        new = [(eid, msg) for eid, msg in new if eid not in had]
    if new:
        shown = "; ".join(msg for _, msg in new[:3])
        raise ModelError(
            f"export_sbml(): libsbml's consistency check finds {len(new)} error(s) in the "
            f"exported document that the source has not: {shown}. Check the parameter values "
            "written there."
        )
