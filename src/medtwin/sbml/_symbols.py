"""What an SBML Level 3 Version 2 model declares, read out of libsbml into plain data.

:func:`read_model` returns a :class:`Declared`: every identifier that carries a value
(compartments, species, parameters, species references with an id, reactions), the
assignment rules, rate rules and initial assignments by target, and the reactions with their
kinetic laws and stoichiometries, all as plain Python values and :mod:`._mathml` trees.

Refused here (:class:`~medtwin.sbml.UnsupportedSBMLError`): algebraic rules, fast reactions
(checked on the document as read, before conversion to L3V2 drops ``fast``) and the event
features :mod:`._events` refuses (delays, random execution order).

References: SBML L3V2 core, sections 4.5 (compartments), 4.6 (species), 4.7 (parameters), 4.8
(initial assignments), 4.9 (rules), 4.11 (reactions, species references, kinetic laws and
conversion factors), 4.12 (events).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libsbml

from ..errors import DataError
from . import _units
from ._errors import UnsupportedSBMLError
from ._events import EventDecl, read_events, refuse_unsupported_events
from ._mathml import Expr, Num, Sym, translate

__all__ = ["Declared", "Quantity", "Reaction", "read_model", "refuse_unsupported"]


@dataclass(frozen=True)
class Quantity:
    """One identifier with a value.

    ``kind``: ``compartment``, ``species``, ``parameter`` or ``speciesReference``;
    ``given``: the value in the document (size, value, initial amount or concentration,
    stoichiometry), None where none is set; ``given_is``: ``amount``, ``concentration`` or
    ``value``; ``unit``: the unit of the identifier's value in math (a species' concentration
    unless ``only_substance``). Species only: ``compartment``, ``only_substance`` (its value is
    its amount: ``hasOnlySubstanceUnits``, or a 0-D compartment), ``boundary``,
    ``conversion_factor`` (a parameter id, or None), ``amount_unit``, ``concentration_unit``,
    ``zero_d`` (its compartment has 0 spatial dimensions and no size)."""

    id: str
    kind: str
    constant: bool
    given: float | None
    given_is: str = "value"
    unit: str = _units.UNDECLARED
    name: str = ""
    compartment: str | None = None
    only_substance: bool = False
    boundary: bool = False
    conversion_factor: str | None = None
    amount_unit: str = _units.UNDECLARED
    concentration_unit: str = _units.UNDECLARED
    zero_d: bool = False


@dataclass(frozen=True)
class Reaction:
    """A reaction: its kinetic law (amount per time) and ``(species, stoichiometry, sign)``
    terms (+1 for a product, -1 for a reactant; the stoichiometry a number or the species
    reference's id)."""

    id: str
    law: Expr
    terms: tuple[tuple[str, Expr, int], ...]


@dataclass(frozen=True)
class Declared:
    """Everything :func:`read_model` reads; see the module docstring."""

    model_id: str
    model_name: str
    time_unit: str
    quantities: dict[str, Quantity]
    assignment: dict[str, Expr] = field(default_factory=dict)
    rate: dict[str, Expr] = field(default_factory=dict)
    initial: dict[str, Expr] = field(default_factory=dict)
    reactions: tuple[Reaction, ...] = ()
    events: tuple[EventDecl, ...] = ()


def _label(sb: libsbml.SBase, kind: str, index: int) -> str:
    if sb.isSetId():
        return f"{kind} {sb.getId()!r}"
    if sb.isSetMetaId():
        return f"{kind} with metaid {sb.getMetaId()!r}"
    return f"{kind} #{index + 1}"


def refuse_unsupported(model: libsbml.Model) -> None:
    """Refuse algebraic rules, fast reactions and unsupported event features, naming the first
    element that has one. Run on the document as read (any level)."""
    refuse_unsupported_events(model)
    for i, rule in enumerate(model.getListOfRules()):
        if rule.isAlgebraic():
            raise UnsupportedSBMLError("algebraic rules", _label(rule, "algebraicRule", i))
    for i, r in enumerate(model.getListOfReactions()):
        if r.isSetFast() and r.getFast():
            raise UnsupportedSBMLError("fast reactions", _label(r, "reaction", i))


def _value(x: float, is_set: bool) -> float | None:
    """The value of an attribute; None where it is not set (a set value may be NaN or INF)."""
    return float(x) if is_set else None


def _sizeless_0d(model: libsbml.Model, comp: libsbml.Compartment | None) -> bool:
    """Whether ``comp`` has 0 spatial dimensions and no size at all (no size attribute,
    initial assignment or rule). Level 2 gives such compartments no size and their species
    only amounts; Level 3 dropped the special case (a 0-D compartment with a size is like any
    other, SBML Test Suite case 01809), but documents converted from Level 2 keep sizeless
    0-D compartments (cases 00048-00050), whose species are read as amounts here."""
    if comp is None or not comp.isSetSpatialDimensions():
        return False
    cid = comp.getId()
    return (
        comp.getSpatialDimensionsAsDouble() == 0.0
        and not comp.isSetSize()
        and model.getInitialAssignmentBySymbol(cid) is None
        and model.getRuleByVariable(cid) is None
    )


def _species(model: libsbml.Model, s: libsbml.Species) -> Quantity:
    comp = model.getCompartment(s.getCompartment())
    zero_d = _sizeless_0d(model, comp)
    only = bool(s.getHasOnlySubstanceUnits()) or zero_d
    amount = _units.amount_unit(model, s)
    if s.isSetInitialAmount():
        given, given_is = _value(s.getInitialAmount(), True), "amount"
    elif s.isSetInitialConcentration():
        if zero_d:
            raise DataError(
                f"Species {s.getId()!r} has an initialConcentration but lies in the 0-D "
                f"compartment {s.getCompartment()!r}, which has no size, so its amount is "
                "undefined (SBML L3V2 section 4.6). Give an initialAmount or the compartment a "
                "size."
            )
        given, given_is = _value(s.getInitialConcentration(), True), "concentration"
    else:
        given, given_is = None, "amount"
    cf = s.getConversionFactor() or model.getConversionFactor() or None
    conc = f"{amount}/{_units.size_unit(model, comp)}"
    return Quantity(
        s.getId(), "species", bool(s.getConstant()), given, given_is,
        amount if only else conc, s.getName(), s.getCompartment(), only,
        bool(s.getBoundaryCondition()), cf, amount, conc, zero_d,
    )  # fmt: skip


def _math(sb: libsbml.SBase, what: str) -> Expr | None:
    """The math of ``sb``; None where it has none (SBML L3V2 allows an empty rule or
    initial assignment, which then has no effect: section 4.8, 4.9)."""
    if not sb.isSetMath():
        return None
    try:
        return translate(sb.getMath(), what)
    except RecursionError:
        raise DataError(f"The math of {what} is nested too deeply to import.") from None


def read_model(model: libsbml.Model) -> Declared:
    """Read an L3V2 libsbml model (function definitions expanded, local parameters promoted)."""
    qs: dict[str, Quantity] = {}
    for c in model.getListOfCompartments():
        qs[c.getId()] = Quantity(
            c.getId(), "compartment", bool(c.getConstant()), _value(c.getSize(), c.isSetSize()),
            unit=_units.size_unit(model, c), name=c.getName(),
        )  # fmt: skip
    for s in model.getListOfSpecies():
        qs[s.getId()] = _species(model, s)
    for p in model.getListOfParameters():
        qs[p.getId()] = Quantity(
            p.getId(), "parameter", bool(p.getConstant()), _value(p.getValue(), p.isSetValue()),
            unit=_units.unit(model, p.getUnits()), name=p.getName(),
        )  # fmt: skip
    reactions = []
    for r in model.getListOfReactions():
        rid = r.getId()
        terms = []
        for sign, refs in ((-1, r.getListOfReactants()), (1, r.getListOfProducts())):
            for sr in refs:
                if sr.isSetId():
                    qs[sr.getId()] = Quantity(
                        sr.getId(), "speciesReference", bool(sr.getConstant()),
                        _value(sr.getStoichiometry(), sr.isSetStoichiometry()), unit="1",
                    )  # fmt: skip
                    stoich: Expr = Sym(sr.getId())
                elif sr.isSetStoichiometry():
                    stoich = Num(float(sr.getStoichiometry()))
                else:
                    raise DataError(
                        f"The reference to species {sr.getSpecies()!r} in reaction {rid!r} "
                        "has no stoichiometry, id, initial assignment or rule, so its "
                        "stoichiometry is undefined (SBML L3V2 section 4.11). Set "
                        'stoichiometry="1" (or the value meant).'
                    )
                terms.append((sr.getSpecies(), stoich, sign))
        law = r.getKineticLaw() if r.isSetKineticLaw() else None
        math_ = None if law is None else _math(law, f"the kinetic law of reaction {rid!r}")
        if math_ is None:
            raise DataError(
                f"Reaction {rid!r} has no kinetic law (math), so its rate is undefined. A "
                "kinetic law in amount per time is expected (SBML L3V2 section 4.11)."
            )
        reactions.append(Reaction(rid, math_, tuple(terms)))
    rules: dict[str, dict[str, Expr]] = {"assignment": {}, "rate": {}, "initial": {}}
    for rule in model.getListOfRules():
        kind = "rate" if rule.isRate() else "assignment"
        target = rule.getVariable()
        expr = _math(rule, f"the {kind} rule for {target!r}")
        if expr is not None:
            rules[kind][target] = expr
    for ia in model.getListOfInitialAssignments():
        expr = _math(ia, f"the initial assignment to {ia.getSymbol()!r}")
        if expr is not None:
            rules["initial"][ia.getSymbol()] = expr
    return Declared(
        model.getId(), model.getName() or model.getId(), _units.time_unit(model), qs,
        rules["assignment"], rules["rate"], rules["initial"], tuple(reactions),
        read_events(model),
    )  # fmt: skip
