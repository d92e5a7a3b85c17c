"""SBML MathML (a libsbml ``ASTNode``) to a small immutable expression tree of our own.

The tree (:data:`Expr`) has four kinds of node: :class:`Num` (a number or the constants
``pi``, ``exponentiale``, ``avogadro``, ``true``/``false``, ``infinity``, ``notanumber``),
:class:`Sym` (an SBML identifier: its value in the model's namespace, SBML L3V2 core section
3.4), :class:`Time` (the ``time`` csymbol), :class:`RateOf` (the ``rateOf`` csymbol of
L3V2) and :class:`Apply` (an operator applied to arguments, with the operator named
as in MathML: ``plus``, ``piecewise``, ``arccoth``, ...). It holds plain Python values only, so
a translated model is hashable and never needs libsbml again; :mod:`._jaxmath` turns it into
JAX operations.

What is refused here, naming the element (:class:`~medtwin.sbml.UnsupportedSBMLError`): the
``delay`` csymbol, calls to function definitions that were not expanded, and MathML outside
the subset SBML core allows (L3V2 section 3.4), e.g. package csymbols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import libsbml

from ..errors import DataError
from ._errors import UnsupportedSBMLError

__all__ = [
    "Apply",
    "Expr",
    "Num",
    "RateOf",
    "Sym",
    "Time",
    "free_symbols",
    "has_time",
    "rate_of_symbols",
    "translate",
]

AVOGADRO = 6.02214179e23  # SBML L3 value of the avogadro csymbol (L3V2 section 3.4)


@dataclass(frozen=True)
class Num:
    """A constant: a float, or a bool for ``true``/``false``."""

    value: float | bool


@dataclass(frozen=True)
class Sym:
    """The value of an SBML identifier (compartment, species, parameter, species reference,
    reaction)."""

    name: str


@dataclass(frozen=True)
class Time:
    """The simulation time (csymbol ``time``)."""


@dataclass(frozen=True)
class RateOf:
    """The instantaneous rate of change of an identifier's value (csymbol ``rateOf``)."""

    name: str


@dataclass(frozen=True)
class Apply:
    """``op`` applied to ``args`` (MathML operator names; see :data:`OPS`)."""

    op: str
    args: tuple[Expr, ...]


Expr = Num | Sym | Time | RateOf | Apply

_T = libsbml
_SIMPLE = {
    _T.AST_PLUS: "plus", _T.AST_MINUS: "minus", _T.AST_TIMES: "times", _T.AST_DIVIDE: "divide",
    _T.AST_POWER: "power", _T.AST_FUNCTION_POWER: "power", _T.AST_FUNCTION_ROOT: "root",
    _T.AST_FUNCTION_LOG: "log", _T.AST_FUNCTION_ABS: "abs", _T.AST_FUNCTION_EXP: "exp",
    _T.AST_FUNCTION_LN: "ln", _T.AST_FUNCTION_FLOOR: "floor", _T.AST_FUNCTION_CEILING: "ceiling",
    _T.AST_FUNCTION_FACTORIAL: "factorial", _T.AST_FUNCTION_PIECEWISE: "piecewise",
    _T.AST_FUNCTION_SIN: "sin", _T.AST_FUNCTION_COS: "cos", _T.AST_FUNCTION_TAN: "tan",
    _T.AST_FUNCTION_SEC: "sec", _T.AST_FUNCTION_CSC: "csc", _T.AST_FUNCTION_COT: "cot",
    _T.AST_FUNCTION_SINH: "sinh", _T.AST_FUNCTION_COSH: "cosh", _T.AST_FUNCTION_TANH: "tanh",
    _T.AST_FUNCTION_SECH: "sech", _T.AST_FUNCTION_CSCH: "csch", _T.AST_FUNCTION_COTH: "coth",
    _T.AST_FUNCTION_ARCSIN: "arcsin", _T.AST_FUNCTION_ARCCOS: "arccos",
    _T.AST_FUNCTION_ARCTAN: "arctan", _T.AST_FUNCTION_ARCSEC: "arcsec",
    _T.AST_FUNCTION_ARCCSC: "arccsc", _T.AST_FUNCTION_ARCCOT: "arccot",
    _T.AST_FUNCTION_ARCSINH: "arcsinh", _T.AST_FUNCTION_ARCCOSH: "arccosh",
    _T.AST_FUNCTION_ARCTANH: "arctanh", _T.AST_FUNCTION_ARCSECH: "arcsech",
    _T.AST_FUNCTION_ARCCSCH: "arccsch", _T.AST_FUNCTION_ARCCOTH: "arccoth",
    _T.AST_FUNCTION_MAX: "max", _T.AST_FUNCTION_MIN: "min", _T.AST_FUNCTION_REM: "rem",
    _T.AST_FUNCTION_QUOTIENT: "quotient",
    _T.AST_RELATIONAL_EQ: "eq", _T.AST_RELATIONAL_NEQ: "neq", _T.AST_RELATIONAL_GT: "gt",
    _T.AST_RELATIONAL_LT: "lt", _T.AST_RELATIONAL_GEQ: "geq", _T.AST_RELATIONAL_LEQ: "leq",
    _T.AST_LOGICAL_AND: "and", _T.AST_LOGICAL_OR: "or", _T.AST_LOGICAL_XOR: "xor",
    _T.AST_LOGICAL_NOT: "not", _T.AST_LOGICAL_IMPLIES: "implies",
}  # fmt: skip
_CONSTANTS = {
    _T.AST_CONSTANT_E: math.e,
    _T.AST_CONSTANT_PI: math.pi,
    _T.AST_CONSTANT_TRUE: True,
    _T.AST_CONSTANT_FALSE: False,
    _T.AST_NAME_AVOGADRO: AVOGADRO,
}
# Operators and the numbers of arguments they take (None: any number).
OPS: dict[str, tuple[int, int | None]] = {
    "plus": (0, None), "times": (0, None), "minus": (1, 2), "divide": (2, 2), "power": (2, 2),
    "root": (1, 2), "log": (1, 2), "piecewise": (0, None), "max": (1, None), "min": (1, None),
    "rem": (2, 2), "quotient": (2, 2), "eq": (1, None), "neq": (2, 2), "gt": (1, None),
    "lt": (1, None), "geq": (1, None), "leq": (1, None), "and": (0, None), "or": (0, None),
    "xor": (0, None), "not": (1, 1), "implies": (2, 2),
}  # fmt: skip
for _name in set(_SIMPLE.values()) - set(OPS):
    OPS[_name] = (1, 1)


def translate(node: libsbml.ASTNode | None, element: str) -> Expr:
    """The expression tree of ``node``; ``element`` names where the math is (for errors)."""
    if node is None:
        raise DataError(f"The math of {element} is missing; a MathML expression is expected.")
    t = node.getType()
    if t == _T.AST_INTEGER:
        return Num(float(node.getInteger()))
    if t in (_T.AST_REAL, _T.AST_REAL_E, _T.AST_RATIONAL):
        return Num(float(node.getReal()))
    if t in _CONSTANTS:
        return Num(_CONSTANTS[t])
    if t == _T.AST_NAME:
        return Sym(node.getName())
    if t == _T.AST_NAME_TIME:
        return Time()
    if t == _T.AST_FUNCTION_DELAY:
        raise UnsupportedSBMLError("csymbol delay", element)
    if t == _T.AST_FUNCTION_RATE_OF:
        arg = node.getChild(0) if node.getNumChildren() == 1 else None
        if arg is None or arg.getType() != _T.AST_NAME:
            raise DataError(
                f"The rateOf csymbol in {element} must have one identifier as its argument "
                "(SBML L3V2 section 3.4, the rateOf csymbol)."
            )
        return RateOf(arg.getName())
    if t == _T.AST_FUNCTION:
        raise UnsupportedSBMLError(
            f"call of function {node.getName()!r} that is not a function definition of the model",
            element,
        )
    op = _SIMPLE.get(t)
    if op is None:
        raise UnsupportedSBMLError(f"MathML element {node.getName() or t!r}", element)
    args = tuple(translate(node.getChild(i), element) for i in range(node.getNumChildren()))
    lo, hi = OPS[op]
    if len(args) < lo or (hi is not None and len(args) > hi):
        want = f"{lo}" if lo == hi else f"{lo} to {hi if hi is not None else 'any number of'}"
        raise DataError(f"MathML <{op}> in {element} takes {want} argument(s). Got {len(args)}.")
    return Apply(op, args)


def free_symbols(expr: Expr) -> set[str]:
    """The identifiers whose values ``expr`` reads (``Sym`` nodes)."""
    if isinstance(expr, Sym):
        return {expr.name}
    if isinstance(expr, Apply):
        return set().union(*(free_symbols(a) for a in expr.args))
    return set()


def rate_of_symbols(expr: Expr) -> set[str]:
    """The identifiers whose rates of change ``expr`` reads (``RateOf`` nodes)."""
    if isinstance(expr, RateOf):
        return {expr.name}
    if isinstance(expr, Apply):
        return set().union(*(rate_of_symbols(a) for a in expr.args))
    return set()


def has_time(expr: Expr) -> bool:
    """Whether ``expr`` reads the time csymbol."""
    if isinstance(expr, Time):
        return True
    return isinstance(expr, Apply) and any(has_time(a) for a in expr.args)
