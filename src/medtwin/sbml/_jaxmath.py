"""The expression tree of :mod:`._mathml` as JAX float64 operations.

:func:`emit` walks an expression once, while JAX traces the model's functions, and returns the
JAX value; the walk costs nothing at run time (the compiled kernel holds only the arithmetic).
No sympy, no generated source text, no ``eval``.

Semantics (SBML L3V2 core section 3.4, MathML 2.0 content markup):

* Numbers are float64. A boolean used as a number is 1.0 or 0.0, and a number used as a
  boolean is true where it is non-zero (L3V2 section 3.4 forbids mixing them, but Level 3
  documents written by common tools do it and the SBML Test Suite's ``BoolNumericSwap`` cases
  expect this reading).
* ``piecewise(v1, c1, v2, c2, ..., [otherwise])`` is the first ``vi`` whose ``ci`` holds,
  else ``otherwise`` (NaN when there is none, the value being undefined). Every branch is
  computed and one is selected (``jnp.where``), so a branch that is not taken may be inf or
  NaN without harm.
* ``log(x)`` is base 10, ``log(b, x)`` base ``b``; ``root(x)`` the square root, ``root(n, x)``
  ``x**(1/n)``; ``factorial(n)`` is ``Gamma(n + 1)``; ``rem`` takes the sign of the dividend
  (C ``fmod``), ``quotient`` truncates toward zero (L3V2 section 3.4).
* ``arcsec``, ``arccsc``, ``arccot`` and their hyperbolic forms are the inverse functions of
  ``1/x`` (``arccot(x) = arctan(1/x)``), as libsbml's and libroadrunner's C back ends compute.
* n-ary relations chain (``lt(a, b, c)`` is ``a < b and b < c``); ``and()``/``or()``/
  ``xor()`` with no argument are true/false/false, ``plus()`` 0 and ``times()`` 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from functools import reduce

import jax.numpy as jnp
from jax.scipy.special import gammaln
from jaxtyping import Array

from ._mathml import Apply, Expr, Num, RateOf, Sym, Time

__all__ = ["as_bool", "as_float", "emit", "rate_name"]

F64 = jnp.float64


def as_float(x: Array) -> Array:
    """``x`` as a float64 number (a boolean as 1.0/0.0)."""
    x = jnp.asarray(x)
    return x.astype(F64) if x.dtype != F64 else x


def as_bool(x: Array) -> Array:
    """``x`` as a boolean (a number as ``x != 0``)."""
    x = jnp.asarray(x)
    return x if x.dtype == jnp.bool_ else x != 0


def _chain(cmp: Callable[[Array, Array], Array]) -> Callable[..., Array]:
    def rel(*xs: Array) -> Array:
        fs = [as_float(x) for x in xs]
        pairs = [cmp(a, b) for a, b in itertools.pairwise(fs)]
        return reduce(jnp.logical_and, pairs, jnp.bool_(True))

    return rel


def _minus(*xs: Array) -> Array:
    return -as_float(xs[0]) if len(xs) == 1 else as_float(xs[0]) - as_float(xs[1])


def _log(*xs: Array) -> Array:
    if len(xs) == 1:
        return jnp.log10(as_float(xs[0]))
    return jnp.log(as_float(xs[1])) / jnp.log(as_float(xs[0]))


def _root(*xs: Array) -> Array:
    if len(xs) == 1:
        return jnp.sqrt(as_float(xs[0]))
    n, x = as_float(xs[0]), as_float(xs[1])
    return jnp.where(n == 2.0, jnp.sqrt(x), jnp.power(x, 1.0 / n))


def _unary(f: Callable[[Array], Array]) -> Callable[..., Array]:
    return lambda x: f(as_float(x))


def _nary_float(f: Callable[[Array, Array], Array], unit: float) -> Callable[..., Array]:
    return lambda *xs: reduce(f, (as_float(x) for x in xs), jnp.asarray(unit, F64))


def _nary_bool(f: Callable[[Array, Array], Array], unit: bool) -> Callable[..., Array]:
    return lambda *xs: reduce(f, (as_bool(x) for x in xs), jnp.bool_(unit))


_OPS: dict[str, Callable[..., Array]] = {
    "plus": _nary_float(jnp.add, 0.0),
    "times": _nary_float(jnp.multiply, 1.0),
    "minus": _minus,
    "divide": lambda a, b: as_float(a) / as_float(b),
    "power": lambda a, b: jnp.power(as_float(a), as_float(b)),
    "root": _root,
    "log": _log,
    "ln": _unary(jnp.log),
    "exp": _unary(jnp.exp),
    "abs": _unary(jnp.abs),
    "floor": _unary(jnp.floor),
    "ceiling": _unary(jnp.ceil),
    "factorial": _unary(lambda x: jnp.exp(gammaln(x + 1.0))),
    "sin": _unary(jnp.sin),
    "cos": _unary(jnp.cos),
    "tan": _unary(jnp.tan),
    "sec": _unary(lambda x: 1.0 / jnp.cos(x)),
    "csc": _unary(lambda x: 1.0 / jnp.sin(x)),
    "cot": _unary(lambda x: 1.0 / jnp.tan(x)),
    "sinh": _unary(jnp.sinh),
    "cosh": _unary(jnp.cosh),
    "tanh": _unary(jnp.tanh),
    "sech": _unary(lambda x: 1.0 / jnp.cosh(x)),
    "csch": _unary(lambda x: 1.0 / jnp.sinh(x)),
    "coth": _unary(lambda x: 1.0 / jnp.tanh(x)),
    "arcsin": _unary(jnp.arcsin),
    "arccos": _unary(jnp.arccos),
    "arctan": _unary(jnp.arctan),
    "arcsec": _unary(lambda x: jnp.arccos(1.0 / x)),
    "arccsc": _unary(lambda x: jnp.arcsin(1.0 / x)),
    "arccot": _unary(lambda x: jnp.arctan(1.0 / x)),
    "arcsinh": _unary(jnp.arcsinh),
    "arccosh": _unary(jnp.arccosh),
    "arctanh": _unary(jnp.arctanh),
    "arcsech": _unary(lambda x: jnp.arccosh(1.0 / x)),
    "arccsch": _unary(lambda x: jnp.arcsinh(1.0 / x)),
    "arccoth": _unary(lambda x: jnp.arctanh(1.0 / x)),
    "max": _nary_float(jnp.maximum, -jnp.inf),
    "min": _nary_float(jnp.minimum, jnp.inf),
    "rem": lambda a, b: jnp.fmod(as_float(a), as_float(b)),
    "quotient": lambda a, b: jnp.trunc(as_float(a) / as_float(b)),
    "eq": _chain(jnp.equal),
    "neq": lambda a, b: as_float(a) != as_float(b),
    "gt": _chain(jnp.greater),
    "lt": _chain(jnp.less),
    "geq": _chain(jnp.greater_equal),
    "leq": _chain(jnp.less_equal),
    "and": _nary_bool(jnp.logical_and, True),
    "or": _nary_bool(jnp.logical_or, False),
    "xor": _nary_bool(jnp.logical_xor, False),
    "not": lambda a: jnp.logical_not(as_bool(a)),
    "implies": lambda a, b: jnp.logical_or(jnp.logical_not(as_bool(a)), as_bool(b)),
}


def _piecewise(args: tuple[Expr, ...], env: Mapping[str, Array], t: Array) -> Array:
    values = [emit(args[i], env, t) for i in range(0, len(args) - 1, 2)]
    conds = [as_bool(emit(args[i + 1], env, t)) for i in range(0, len(args) - 1, 2)]
    other = emit(args[-1], env, t) if len(args) % 2 else None
    if other is None or any(jnp.asarray(v).dtype != jnp.bool_ for v in [*values, other]):
        values = [as_float(v) for v in values]
        other = jnp.asarray(jnp.nan, F64) if other is None else as_float(other)
    out = other
    for v, c in zip(reversed(values), reversed(conds), strict=True):
        out = jnp.where(c, v, out)
    return out


def emit(expr: Expr, env: Mapping[str, Array], t: Array) -> Array:
    """The JAX value of ``expr`` with identifiers read from ``env`` and time ``t``."""
    if isinstance(expr, Num):
        v = expr.value
        return jnp.bool_(v) if isinstance(v, bool) else jnp.asarray(v, F64)
    if isinstance(expr, Sym):
        return env[expr.name]
    if isinstance(expr, RateOf):
        return env[rate_name(expr.name)]
    if isinstance(expr, Time):
        return t
    assert isinstance(expr, Apply)
    if expr.op == "piecewise":
        return _piecewise(expr.args, env, t)
    return _OPS[expr.op](*(emit(a, env, t) for a in expr.args))


def rate_name(name: str) -> str:
    """The environment key of ``rateOf(name)``."""
    return f"rateOf({name})"
