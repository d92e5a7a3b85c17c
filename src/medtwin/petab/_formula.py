"""PEtab math (observable and noise formulas) to the expression tree of :mod:`medtwin.sbml`.

A formula string is parsed by libsbml's SBML Level 3 infix parser (``parseL3Formula``) into an
AST and translated by the SBML importer's own translator, so a formula is evaluated in JAX by
the same code as the model's MathML (no sympy, no ``eval``, no generated source).

PEtab v1 reads formulas with sympy's conventions; where they differ from libsbml's L3 syntax
this module follows PEtab: ``log(x)`` is the natural logarithm (libsbml's parser is told so),
``**`` is a power (written ``^`` before parsing), and ``t`` or ``time`` is the simulation time
unless the model or the tables define an identifier ``t`` (:func:`replace_time`, applied
where the formula is compiled). ``log(x, b)`` is refused: sympy
reads it as base ``b``, libsbml as base ``x``; write ``ln(x)/ln(b)``.

References
----------
PEtab v1 format specification, "Math expressions" and the observable table
(https://petab.readthedocs.io/en/latest/v1/documentation_data_format.html); libsbml
``L3ParserSettings`` (L3P_PARSE_LOG_AS_LN).
"""

from __future__ import annotations

import re

import libsbml

from ..errors import DataError
from ..sbml._mathml import Apply, Expr, Num, Sym, Time, free_symbols, translate

__all__ = ["Expr", "free_symbols", "parse_formula", "replace_time"]

_SETTINGS = libsbml.L3ParserSettings()
_SETTINGS.setParseLog(libsbml.L3P_PARSE_LOG_AS_LN)
_SETTINGS.setParseAvogadroCsymbol(False)


def parse_formula(text: object, where: str) -> Expr:
    """The expression tree of a PEtab formula (a string, or a number as PEtab tables allow).

    ``where`` names the table cell for errors (e.g. ``"observableFormula of 'pSTAT5A_rel'"``).
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        return Num(float(text))
    if not isinstance(text, str) or not text.strip():
        raise DataError(
            f"The {where} must be a formula (text such as 'scale * S + offset') or a number. "
            f"Got {text!r}. Fill in the cell."
        )
    ast = libsbml.parseL3FormulaWithSettings(text.replace("**", "^"), _SETTINGS)
    if ast is None:
        msg = libsbml.getLastParseL3Error().strip()
        raise DataError(
            f"The {where} is not a formula libsbml can read: {text!r} ({msg}). Use infix math "
            "with +, -, *, /, ^, functions such as exp(), ln(), log10(), sqrt(), abs() and "
            "piecewise()."
        )
    _refuse_two_argument_log(text, where)
    return translate(ast, where)


def _refuse_two_argument_log(text: str, where: str) -> None:
    """Refuse ``log(x, b)`` in the text (the tree cannot tell it from ``log10(x)``, which
    libsbml parses as ``log`` with base 10)."""
    for m in re.finditer(r"(?<![A-Za-z0-9_])log\s*\(", text):
        depth = 0
        for ch in text[m.end() - 1 :]:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0:
                break
            if ch == "," and depth == 1:
                raise DataError(
                    f"The {where} uses log with two arguments ({text!r}); PEtab (sympy) and "
                    "SBML read the base differently. Write ln(x)/ln(b) for the logarithm of x "
                    "to base b."
                )


def replace_time(expr: Expr, name: str) -> Expr:
    """``expr`` with the identifier ``name`` read as the simulation time."""
    if isinstance(expr, Sym) and expr.name == name:
        return Time()
    if isinstance(expr, Apply):
        return Apply(expr.op, tuple(replace_time(a, name) for a in expr.args))
    return expr
