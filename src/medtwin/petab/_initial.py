"""A condition table that sets a quantity the SBML document gives by an initial assignment.

PEtab v1: a condition-table value of a species (or a parameter or compartment) replaces its
initial value, the document's initial assignment included; an empty (NaN) cell leaves the
document's initial value, and after pre-equilibration leaves the state where pre-equilibration
brought it. The simulator computes initial assignments itself, so here each such assignment
``X := expr`` becomes ``X := piecewise(petab_value_X, petab_set_X == 1, expr)`` with two new
constant parameters (``petab_set_X`` default 0), and the condition columns ``X`` become
``petab_set_X = 1`` and ``petab_value_X = <the cell>`` where the cell is set.
"""

from __future__ import annotations

import dataclasses
import math

import libsbml

from ..errors import DataError
from ._read import Cell, Tables

__all__ = ["override_initial_assignments"]


def _unused(model: libsbml.Model, base: str) -> str:
    name, k = base, 1
    while model.getElementBySId(name) is not None:
        name, k = f"{base}_{k}", k + 1
    return name


def _parameter(model: libsbml.Model, sid: str, value: float) -> None:
    p = model.createParameter()
    p.setId(sid)
    p.setValue(value)
    p.setConstant(True)


def override_initial_assignments(tables: Tables) -> tuple[Tables, str | None]:
    """The problem with the condition columns that name an initially assigned quantity
    rewritten (module docstring), and the SBML document's new text (``None`` where no column
    names one: the document is used as it is)."""
    columns = {c for cond in tables.conditions.values() for c in cond}
    doc = libsbml.readSBMLFromFile(str(tables.sbml))
    model = doc.getModel()
    if model is None:
        return tables, None  # load_sbml says what is wrong with the document
    renamed: dict[str, tuple[str, str]] = {}
    for c in sorted(columns):
        assignment = model.getInitialAssignmentBySymbol(c)
        if assignment is None or assignment.getMath() is None:
            continue
        flag = _unused(model, f"petab_set_{c}")
        _parameter(model, flag, 0.0)
        value = _unused(model, f"petab_value_{c}")
        _parameter(model, value, 0.0)
        math_ast = libsbml.parseL3Formula(
            f"piecewise({value}, eq({flag}, 1), {libsbml.formulaToL3String(assignment.getMath())})"
        )
        if math_ast is None or assignment.setMath(math_ast) != libsbml.LIBSBML_OPERATION_SUCCESS:
            raise DataError(
                f"The condition table sets {c!r}, whose initial assignment in the SBML "
                f"document could not be replaced ({libsbml.getLastParseL3Error()}). Set the "
                "quantities the assignment is computed from instead."
            )
        renamed[c] = (flag, value)
    if not renamed:
        return tables, None
    conditions: dict[str, dict[str, Cell]] = {}
    for cid, cond in tables.conditions.items():
        out = {k: v for k, v in cond.items() if k not in renamed}
        for c, (flag, value) in renamed.items():
            v = cond.get(c, math.nan)
            if not (isinstance(v, float) and math.isnan(v)):
                out[flag], out[value] = 1.0, v
        conditions[cid] = out
    return dataclasses.replace(tables, conditions=conditions), libsbml.writeSBMLToString(doc)
