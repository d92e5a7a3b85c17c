"""PEtab formulas through libsbml's L3 parser and the SBML importer's translator."""

from __future__ import annotations

import math

import jax.numpy as jnp
import pytest

from medtwin.errors import DataError
from medtwin.petab._formula import parse_formula, replace_time
from medtwin.sbml._jaxmath import emit
from medtwin.sbml._mathml import Num, Time


def _value(text, t=0.0, **env):
    expr = replace_time(parse_formula(text, "test formula"), "t")
    return float(emit(expr, {k: jnp.float64(v) for k, v in env.items()}, jnp.float64(t)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("log(x)", math.log(5.0)),  # PEtab (sympy): natural log, not SBML's log10
        ("ln(x) + log10(100)", math.log(5.0) + 2.0),
        ("x**2 + x^2", 50.0),
        ("exp(-x) * sqrt(4)", 2 * math.exp(-5.0)),
        ("piecewise(1, x > 3, 0)", 1.0),
        ("abs(2 - x) / 1E-01", 30.0),
        ("t * x", 10.0),
    ],
)
def test_formulas_evaluate_as_petab_reads_them(text, expected):
    assert _value(text, t=2.0, x=5.0) == pytest.approx(expected, rel=1e-14)


def test_a_number_is_a_constant_and_t_is_time():
    assert parse_formula(0.25, "noiseFormula") == Num(0.25)
    assert replace_time(parse_formula("t", "f"), "t") == Time()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a +", r"observableFormula of 'o' is not a formula libsbml can read: 'a \+'"),
        ("", r"must be a formula .* Got ''"),
        ("log(x, 2)", r"log with two arguments .* ln\(x\)/ln\(b\)"),
    ],
)
def test_bad_formulas_are_refused_with_how_to_fix(text, match):
    with pytest.raises(DataError, match=match):
        parse_formula(text, "observableFormula of 'o'")
