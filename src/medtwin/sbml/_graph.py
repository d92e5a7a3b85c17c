"""Evaluation order of named definitions (a dependency graph) and its evaluation in JAX.

A *graph* maps keys to expressions (:mod:`._mathml`); an expression depends on the keys it
reads (its identifiers and the ``rateOf(x)`` keys of its rateOf csymbols). :func:`order` gives
the keys needed for some roots, each after the keys it reads, stopping at *leaves* (values
handed in: states, parameters, constants). SBML requires that assignment rules and initial
assignments form no cycle (L3V2 core sections 4.8 and 4.9, "algebraic loops"); a cycle is
refused with the keys on it, and a key that is read but defined nowhere is refused with the
key that reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import jax.numpy as jnp
from jaxtyping import Array

from ..errors import DataError
from ._jaxmath import as_float, emit, rate_name
from ._mathml import Expr, free_symbols, rate_of_symbols

__all__ = ["deps", "evaluate", "order", "stack"]


def deps(expr: Expr) -> tuple[str, ...]:
    """The keys ``expr`` reads, sorted."""
    names = free_symbols(expr) | {rate_name(x) for x in rate_of_symbols(expr)}
    return tuple(sorted(names))


def _describe(key: str) -> str:
    return key if key.startswith(("d/dt", "rateOf(", "amount(", "concentration(")) else repr(key)


def order(
    defs: Mapping[str, Expr],
    roots: Iterable[str],
    leaves: Iterable[str],
    what: str,
    readers: Mapping[str, str] | None = None,
) -> list[str]:
    """The keys to evaluate, in order, so that every root is known; ``what`` says which
    evaluation this is and ``readers`` which key reads each root (for errors)."""
    leafset = set(leaves)
    done: set[str] = set()
    out: list[str] = []
    for root in roots:
        if root in done or root in leafset:
            continue
        path: list[str] = [root]
        onpath = {root}
        stack = [(root, iter(deps(defs[root]) if root in defs else ()))]
        if root not in defs:
            by = (readers or {}).get(root)
            raise DataError(
                f"{_describe(root)}{f' is read by {_describe(by)} but' if by else ''} has no "
                f"value for the {what}: give it a value attribute, an initial assignment or a "
                "rule."
            )
        while stack:
            key, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                onpath.discard(key)
                done.add(key)
                out.append(key)
                continue
            if nxt in done or nxt in leafset:
                continue
            if nxt in onpath:
                cycle = [*path[path.index(nxt) :], nxt]
                raise DataError(
                    f"The definitions of {' -> '.join(_describe(k) for k in cycle)} depend on "
                    f"each other in a cycle (in the {what}). SBML forbids such algebraic loops "
                    "among assignment rules, initial assignments and kinetic laws (SBML L3V2 "
                    "section 4.9); rewrite one of them."
                )
            if nxt not in defs:
                raise DataError(
                    f"{_describe(nxt)} is read by {_describe(key)} but has no value for the "
                    f"{what}: give it a value attribute, an initial assignment or a rule."
                )
            path.append(nxt)
            onpath.add(nxt)
            stack.append((nxt, iter(deps(defs[nxt]))))
    return out


def evaluate(
    keys: Iterable[str], defs: Mapping[str, Expr], env: dict[str, Array], t: Array
) -> dict[str, Array]:
    """Evaluate ``keys`` (an :func:`order`) into ``env`` at time ``t``; returns ``env``."""
    for key in keys:
        env[key] = emit(defs[key], env, t)
    return env


def stack(env: Mapping[str, Array], keys: Iterable[str]) -> Array:
    """The float64 vector of ``env[k]`` for ``keys`` (shape (0,) for none)."""
    values = [as_float(env[k]) for k in keys]
    return jnp.stack(values) if values else jnp.zeros((0,), jnp.float64)
