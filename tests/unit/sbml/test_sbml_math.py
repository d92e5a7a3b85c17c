"""MathML as JAX: every operator of SBML L3V2 core (section 3.4.1, table 2) against Python's
own math, booleans used as numbers and numbers as booleans, piecewise, n-ary relations,
constants, function definitions and the time csymbol."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from sbml_docs import TIME, apply, assignment_rule, ci, cn, model_doc, parameter

from medtwin.sbml import load_sbml

A, B = 2.5, -0.75  # the values of parameters a and b

CASES = {
    "plus": (apply("plus", ci("a"), ci("b"), cn(1)), A + B + 1),
    "plus0": ("<apply><plus/></apply>", 0.0),
    "times": (apply("times", ci("a"), ci("b"), cn(2)), A * B * 2),
    "neg": (apply("minus", ci("b")), -B),
    "minus": (apply("minus", ci("a"), ci("b")), A - B),
    "divide": (apply("divide", ci("a"), ci("b")), A / B),
    "power": (apply("power", ci("b"), cn(3)), B**3),
    "root2": (apply("root", ci("a")), math.sqrt(A)),
    "root3": (f"<apply><root/><degree>{cn(3)}</degree>{ci('a')}</apply>", A ** (1 / 3)),
    "log10": (apply("log", ci("a")), math.log10(A)),
    "log2": (f"<apply><log/><logbase>{cn(2)}</logbase>{ci('a')}</apply>", math.log2(A)),
    "ln": (apply("ln", ci("a")), math.log(A)),
    "exp": (apply("exp", ci("b")), math.exp(B)),
    "abs": (apply("abs", ci("b")), abs(B)),
    "floor": (apply("floor", ci("b")), math.floor(B)),
    "ceiling": (apply("ceiling", ci("b")), math.ceil(B)),
    "factorial": (apply("factorial", cn(5)), 120.0),
    "sin": (apply("sin", ci("b")), math.sin(B)),
    "cos": (apply("cos", ci("b")), math.cos(B)),
    "tan": (apply("tan", ci("b")), math.tan(B)),
    "sec": (apply("sec", ci("b")), 1 / math.cos(B)),
    "csc": (apply("csc", ci("b")), 1 / math.sin(B)),
    "cot": (apply("cot", ci("b")), 1 / math.tan(B)),
    "sinh": (apply("sinh", ci("b")), math.sinh(B)),
    "cosh": (apply("cosh", ci("b")), math.cosh(B)),
    "tanh": (apply("tanh", ci("b")), math.tanh(B)),
    "sech": (apply("sech", ci("b")), 1 / math.cosh(B)),
    "csch": (apply("csch", ci("b")), 1 / math.sinh(B)),
    "coth": (apply("coth", ci("b")), 1 / math.tanh(B)),
    "arcsin": (apply("arcsin", ci("b")), math.asin(B)),
    "arccos": (apply("arccos", ci("b")), math.acos(B)),
    "arctan": (apply("arctan", ci("b")), math.atan(B)),
    "arcsec": (apply("arcsec", ci("a")), math.acos(1 / A)),
    "arccsc": (apply("arccsc", ci("a")), math.asin(1 / A)),
    "arccot": (apply("arccot", ci("b")), math.atan(1 / B)),
    "arcsinh": (apply("arcsinh", ci("b")), math.asinh(B)),
    "arccosh": (apply("arccosh", ci("a")), math.acosh(A)),
    "arctanh": (apply("arctanh", ci("b")), math.atanh(B)),
    "arcsech": (apply("arcsech", cn(0.5)), math.acosh(2.0)),
    "arccsch": (apply("arccsch", ci("a")), math.asinh(1 / A)),
    "arccoth": (apply("arccoth", ci("a")), math.atanh(1 / A)),
    "max": (apply("max", ci("a"), ci("b"), cn(1)), A),
    "min": (apply("min", ci("a"), ci("b"), cn(1)), B),
    "rem": (apply("rem", cn(-7), cn(3)), math.fmod(-7, 3)),  # sign of the dividend: -1
    "quotient": (apply("quotient", cn(-7), cn(2)), -3.0),  # truncated toward zero
    "pi": ("<pi/>", math.pi),
    "e": ("<exponentiale/>", math.e),
    "inf": ("<infinity/>", math.inf),
    "nan": ("<notanumber/>", math.nan),
    "avogadro": (
        '<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/avogadro">'
        "N_A</csymbol>",
        6.02214179e23,
    ),
    "e-notation": ('<cn type="e-notation"> 1.5 <sep/> -3 </cn>', 1.5e-3),
    "rational": ('<cn type="rational"> 3 <sep/> 4 </cn>', 0.75),
    # relations and logic, read as numbers (1.0 / 0.0)
    "lt-chain": (apply("lt", ci("b"), cn(0), ci("a")), 1.0),
    "lt-chain-false": (apply("lt", ci("b"), ci("a"), cn(0)), 0.0),
    "eq3": (apply("eq", cn(1), cn(1), cn(2)), 0.0),
    "neq": (apply("neq", ci("a"), ci("b")), 1.0),
    "geq": (apply("geq", ci("a"), cn(2.5)), 1.0),
    "leq": (apply("leq", ci("a"), ci("b")), 0.0),
    "gt": (apply("gt", ci("a"), ci("b")), 1.0),
    "and": (apply("and", "<true/>", apply("gt", ci("a"), cn(0))), 1.0),
    "or0": ("<apply><or/></apply>", 0.0),
    "xor": (apply("xor", "<true/>", "<true/>", "<true/>"), 1.0),
    "not": (apply("not", "<false/>"), 1.0),
    "implies": (apply("implies", "<true/>", "<false/>"), 0.0),
    "bool-as-number": (apply("plus", "<true/>", apply("gt", ci("a"), cn(0))), 2.0),
    "number-as-bool": (apply("and", ci("a"), cn(0)), 0.0),
    "piecewise": (
        f"<piecewise><piece>{cn(10)}{apply('lt', ci('a'), cn(0))}</piece>"
        f"<piece>{cn(20)}{apply('gt', ci('a'), cn(2))}</piece><otherwise>{cn(30)}</otherwise>"
        "</piecewise>",
        20.0,
    ),
    "piecewise-no-otherwise": (
        f"<piecewise><piece>{cn(10)}{apply('lt', ci('a'), cn(0))}</piece></piecewise>",
        math.nan,
    ),
    "piecewise-bool": (
        f"<piecewise><piece><true/>{apply('gt', ci('a'), cn(0))}</piece>"
        "<otherwise><false/></otherwise></piecewise>",
        1.0,
    ),
    "function": (f"<apply>{ci('twice')}{ci('a')}{cn(1)}</apply>", 2 * A + 1),
}

FUNC = (
    '<functionDefinition id="twice"><math xmlns="http://www.w3.org/1998/Math/MathML"><lambda>'
    f"<bvar>{ci('x')}</bvar><bvar>{ci('y')}</bvar>"
    f"{apply('plus', apply('times', cn(2), ci('x')), ci('y'))}"
    "</lambda></math></functionDefinition>"
)  # fmt: skip


@pytest.fixture(scope="module")
def values():
    names = list(CASES)
    ids = [f"y{i}" for i in range(len(names))]
    text = model_doc(
        functions=[FUNC],
        parameters=[parameter("a", A), parameter("b", B)]
        + [parameter(y, constant=False) for y in ids],
        rules=[assignment_rule(y, CASES[n][0]) for y, n in zip(ids, names, strict=True)],
    )
    model = load_sbml(text, observables=ids)()
    p = model.default_params()
    out = jax.jit(lambda p: model.quantities(0.0, model.initial_state(p), p, ids))(p)
    return dict(zip(names, np.asarray(out), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_operator_matches_python_math(values, name):
    expected = CASES[name][1]
    np.testing.assert_allclose(values[name], expected, rtol=1e-14, atol=0.0, equal_nan=True)


def test_time_is_the_simulation_time_inside_rules():
    text = model_doc(parameters=[parameter("y", constant=False)],
                     rules=[assignment_rule("y", apply("times", cn(3), TIME))])  # fmt: skip
    model = load_sbml(text)()
    p = model.default_params()
    got = [float(model.quantities(t, model.initial_state(p), p, ["y"])[0]) for t in (0.0, 2.5)]
    assert got == [0.0, 7.5]
