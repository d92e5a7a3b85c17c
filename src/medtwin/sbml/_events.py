"""SBML events read into plain data, and what the importer refuses about them.

An event (SBML L3V2 core section 4.12) has a *trigger* (a boolean expression; the event fires
when it goes from false to true), ``initialValue`` (the trigger's value just before the
initial time: false lets a trigger true at t0 fire at t0), ``persistent`` (whether a fired
event still executes if its trigger turns false before it does), an optional ``priority``
(simultaneous events execute highest priority first), an optional ``delay``,
``useValuesFromTriggerTime`` and event assignments (``variable := math``).

Imported: events with their priorities, ``initialValue``, ``persistent``,
``useValuesFromTriggerTime`` and delays (simulated by :mod:`._eventstep`, the pending
executions of delayed events by :mod:`._eventqueue`). Refused
(:class:`~medtwin.sbml.UnsupportedSBMLError`): two events with the same constant priority
where one assigns what the other assigns or reads (feature ``"random event execution
order"``: SBML leaves the order of such simultaneous events random, section 4.12.7, and a
deterministic simulator cannot reproduce it; a priority counts as constant where it reads
only numbers and constant parameters or compartments). A ``<delay>`` without math is no
delay (section 4.12.3).

Reference: SBML Level 3 Version 2 Core, release 2 (Hucka et al. 2019), section 4.12.
"""

from __future__ import annotations

from dataclasses import dataclass

import libsbml

from ..errors import DataError
from ._errors import UnsupportedSBMLError
from ._mathml import Expr, Num, translate

__all__ = ["EventDecl", "read_events", "refuse_unsupported_events"]


@dataclass(frozen=True)
class EventDecl:
    """One event as declared (see the module docstring); ``label`` names it in messages and
    state names (its id, or ``#k`` by document position)."""

    label: str
    trigger: Expr
    initial_value: bool
    persistent: bool
    use_trigger_values: bool
    priority: Expr | None
    assignments: tuple[tuple[str, Expr], ...]
    delay: Expr | None = None  # evaluated when the event fires (section 4.12.3)


def _label(e: libsbml.Event, i: int) -> str:
    return e.getId() if e.isSetId() else f"#{i + 1}"


def _math(sb: libsbml.SBase | None, what: str) -> Expr | None:
    if sb is None or not sb.isSetMath():
        return None
    try:
        return translate(sb.getMath(), what)
    except RecursionError:
        raise DataError(f"The math of {what} is nested too deeply to import.") from None


def _names(ast: libsbml.ASTNode | None) -> set[str]:
    if ast is None:
        return set()
    out = {ast.getName()} if ast.isName() and ast.getType() == libsbml.AST_NAME else set()
    for i in range(ast.getNumChildren()):
        out |= _names(ast.getChild(i))
    return out


def _reads_writes(model: libsbml.Model, e: libsbml.Event) -> tuple[set[str], set[str]]:
    """The ids an event reads (through assignment rules too) and the ids it assigns."""
    parts = [
        e.getTrigger() if e.isSetTrigger() else None,
        e.getPriority() if e.isSetPriority() else None,
        *e.getListOfEventAssignments(),
    ]
    reads: set[str] = set()
    for sb in parts:
        if sb is not None and sb.isSetMath():
            reads |= _names(sb.getMath())
    todo = list(reads)
    while todo:
        rule = model.getRuleByVariable(todo.pop())
        if rule is not None and rule.isAssignment() and rule.isSetMath():
            new = _names(rule.getMath()) - reads
            reads |= new
            todo += new
    return reads, {ea.getVariable() for ea in e.getListOfEventAssignments()}


def refuse_unsupported_events(model: libsbml.Model) -> None:
    """Refuse events of equal constant priority where the order of their execution matters
    (one assigns what the other assigns or reads). Run on the document as read (any
    level)."""
    by_priority: dict[float, list[tuple[str, set[str], set[str]]]] = {}
    for i, e in enumerate(model.getListOfEvents()):
        label = _label(e, i)
        if e.isSetPriority() and e.getPriority().isSetMath():
            value = _constant(model, e.getPriority().getMath())
            if value is None:
                continue
            reads, writes = _reads_writes(model, e)
            for other, o_reads, o_writes in by_priority.get(value, []):
                if writes & (o_reads | o_writes) or o_writes & reads:
                    raise UnsupportedSBMLError(
                        "random event execution order", f"event {label!r}",
                        f"It has the same priority ({value:g}) as event {other!r} and one "
                        "assigns what the other assigns or reads; SBML executes such "
                        "simultaneous events in random order.",
                    )  # fmt: skip
            by_priority.setdefault(value, []).append((label, reads, writes))


def _is_constant(model: libsbml.Model, ast: libsbml.ASTNode) -> bool:
    """Whether ``ast`` reads only numbers and constant parameters or compartments."""
    if ast.getType() in (libsbml.AST_NAME_TIME, libsbml.AST_FUNCTION, libsbml.AST_FUNCTION_DELAY,
                         libsbml.AST_FUNCTION_RATE_OF):  # fmt: skip
        return False
    if ast.isName():
        q = model.getParameter(ast.getName()) or model.getCompartment(ast.getName())
        if q is None or not q.getConstant():
            return False
    return all(_is_constant(model, ast.getChild(i)) for i in range(ast.getNumChildren()))


def _constant(model: libsbml.Model, ast: libsbml.ASTNode) -> float | None:
    """The value of a priority that reads only numbers and constant parameters or
    compartments (their initial assignments included); else None."""
    if not _is_constant(model, ast):
        return None
    value = float(libsbml.SBMLTransforms.evaluateASTNode(ast, model))
    return value if value == value else None


def read_events(model: libsbml.Model) -> tuple[EventDecl, ...]:
    """The events of an L3V2 libsbml model (function definitions expanded)."""
    out = []
    for i, e in enumerate(model.getListOfEvents()):
        label = _label(e, i)
        trigger = _math(e.getTrigger() if e.isSetTrigger() else None, f"the trigger of {label!r}")
        trig = e.getTrigger()
        if trigger is None:  # no trigger math: the event never fires (section 4.12.2)
            trigger = Num(False)
        priority = _math(e.getPriority() if e.isSetPriority() else None,
                         f"the priority of {label!r}")  # fmt: skip
        delay = _math(e.getDelay() if e.isSetDelay() else None, f"the delay of {label!r}")
        assignments = []
        for ea in e.getListOfEventAssignments():
            expr = _math(ea, f"the assignment to {ea.getVariable()!r} in event {label!r}")
            if expr is not None:  # an assignment without math has no effect (section 4.12.4)
                assignments.append((ea.getVariable(), expr))
        out.append(
            EventDecl(
                label,
                trigger,
                bool(trig.getInitialValue()) if trig and trig.isSetInitialValue() else True,
                bool(trig.getPersistent()) if trig and trig.isSetPersistent() else True,
                bool(e.getUseValuesFromTriggerTime()),
                priority,
                tuple(assignments),
                delay,
            )
        )
    return tuple(out)


NO_PRIORITY = Num(-1e300)
"""The priority of an event that declares none: below any declared one (executed last among
simultaneous events; ties in document order)."""
