"""A discrete Bayesian network as plain, validated, immutable data.

A :class:`BayesNet` holds, for each node (in a topological order), its states, its parents and
its conditional probability table (CPT). A table is a NumPy array of shape
``(*parent_cards, card)``: the last axis runs over the node's own states, the leading axes over
the parents' states in the order of ``parents[node]``; every slice ``table[i, j, ..., :]`` sums
to one. This is the layout of the BIF format's ``probability ( X | A, B )`` blocks.

Checks at construction (a :class:`~medtwin.errors.ModelError` naming the item): a parent that
is not a node, a cycle (the message lists it), a table of the wrong shape, a negative or
non-finite probability, a column that does not sum to one within ``SUM_TOL`` (the message
names the node and the parent states of the column). A column within ``SUM_TOL`` but not within
1e-12 of one (a file's printed digits) is rescaled to sum to one, so that every inference
engine sees the same distribution; exact columns keep their bits. Inference runs on
:mod:`pyagrum` (see :mod:`medtwin.bn._infer`); this module loads no inference library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import ModelError

__all__ = ["SUM_TOL", "BayesNet", "topological_order"]

SUM_TOL = 1e-6  # a column sums to one within this (BIF files print 4-6 digits)


def topological_order(nodes: Iterable[str], parents: Mapping[str, Iterable[str]]) -> list[str]:
    """The nodes with every parent before its children (Kahn; ties keep the given order).

    Raises :class:`ModelError` naming one directed cycle when the graph has one, and naming a
    parent that is not among ``nodes``.
    """
    nodes = list(nodes)
    known = set(nodes)
    for n in nodes:
        for p in parents.get(n, ()):
            if p not in known:
                raise ModelError(
                    f"Node {n!r} has the parent {p!r}, which is not a node of the network. "
                    f"Declare {p!r} as a variable or remove it from {n!r}'s parents."
                )
    children: dict[str, list[str]] = {n: [] for n in nodes}
    indegree = {n: len(tuple(parents.get(n, ()))) for n in nodes}
    for n in nodes:
        for p in parents.get(n, ()):
            children[p].append(n)
    order = [n for n in nodes if indegree[n] == 0]
    i = 0
    while i < len(order):
        for c in children[order[i]]:
            indegree[c] -= 1
            if indegree[c] == 0:
                order.append(c)
        i += 1
    if len(order) < len(nodes):
        cycle = _a_cycle([n for n in nodes if indegree[n] > 0], parents)
        raise ModelError(
            "A Bayesian network must be a directed acyclic graph. Got the cycle "
            f"{' -> '.join(cycle)}. Remove or reverse one of its edges."
        )
    return order


def _a_cycle(left: list[str], parents: Mapping[str, Iterable[str]]) -> list[str]:
    """One directed cycle among ``left`` (the nodes Kahn's algorithm could not order)."""
    rest = set(left)
    node = left[0]
    path: list[str] = []
    seen: dict[str, int] = {}
    while node not in seen:  # walk to a parent that is also left: must revisit a node
        seen[node] = len(path)
        path.append(node)
        node = next(p for p in parents.get(node, ()) if p in rest)
    cycle = path[seen[node] :][::-1]  # parent -> child order
    return [*cycle, cycle[0]]


@dataclass(frozen=True, eq=False)
class BayesNet:
    """A discrete Bayesian network (see the module docstring for the table layout).

    ``states``: node -> its state names (in BIF order); ``parents``: node -> its parents (the
    order of the table's leading axes); ``tables``: node -> CPT. ``name``: the network's name
    (written to BIF). Nodes are kept in a topological order (:attr:`nodes`).
    """

    states: Mapping[str, tuple[str, ...]]
    parents: Mapping[str, tuple[str, ...]]
    tables: Mapping[str, np.ndarray]
    name: str = "network"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        states = {str(n): tuple(str(s) for s in v) for n, v in self.states.items()}
        parents = {n: tuple(str(p) for p in self.parents.get(n, ())) for n in states}
        for n in self.parents:
            if n not in states:
                raise ModelError(
                    f"The parents of {n!r} are given but {n!r} is not a node. Expected one "
                    f"of: {', '.join(states)}."
                )
        order = topological_order(states, parents)
        tables = {}
        for n in order:
            if len(states[n]) < 1 or len(set(states[n])) != len(states[n]):
                raise ModelError(
                    f"Node {n!r} must have at least one state and no state twice. Got "
                    f"{list(states[n])}."
                )
            if len(set(parents[n])) != len(parents[n]):
                raise ModelError(f"Node {n!r} lists a parent twice: {list(parents[n])}.")
            if n not in self.tables:
                raise ModelError(f"Node {n!r} has no probability table. Give one.")
            tables[n] = _checked_table(n, self.tables[n], states, parents[n])
        object.__setattr__(self, "states", MappingProxyType({n: states[n] for n in order}))
        object.__setattr__(self, "parents", MappingProxyType({n: parents[n] for n in order}))
        object.__setattr__(self, "tables", MappingProxyType(tables))

    @property
    def nodes(self) -> tuple[str, ...]:
        """The node names, parents before children."""
        return tuple(self.states)

    def card(self, node: str) -> int:
        """The number of states of ``node``."""
        return len(self.states[self.check_node(node)])

    def check_node(self, node: str, what: str = "node") -> str:
        """``node`` if it is a node, else :class:`ModelError` listing the nodes."""
        if node not in self.states:
            raise ModelError(
                f"Unknown {what} {node!r}: the network {self.name!r} has no such node. "
                f"Expected one of: {', '.join(self.states)}."
            )
        return node

    def state_index(self, node: str, state: str) -> int:
        """The index of ``state`` among ``node``'s states (an error lists them)."""
        try:
            return self.states[self.check_node(node)].index(state)
        except ValueError:
            raise ModelError(
                f"Unknown state {state!r} of node {node!r}. Expected one of: "
                f"{', '.join(self.states[node])}."
            ) from None

    def children(self, node: str) -> tuple[str, ...]:
        """The nodes that have ``node`` as a parent."""
        return tuple(n for n in self.nodes if node in self.parents[n])

    def edges(self) -> tuple[tuple[str, str], ...]:
        """Every edge ``(parent, child)``."""
        return tuple((p, n) for n in self.nodes for p in self.parents[n])

    def replace(
        self,
        *,
        tables: Mapping[str, np.ndarray] | None = None,
        parents: Mapping[str, tuple[str, ...]] | None = None,
        name: str | None = None,
    ) -> BayesNet:
        """A new network with some tables (and parents) replaced; checked again."""
        return BayesNet(
            states=dict(self.states),
            parents={**self.parents, **(parents or {})},
            tables={**self.tables, **(tables or {})},
            name=self.name if name is None else name,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BayesNet):
            return NotImplemented
        return (
            self.name == other.name
            and dict(self.states) == dict(other.states)
            and dict(self.parents) == dict(other.parents)
            and all(np.array_equal(self.tables[n], other.tables[n]) for n in self.nodes)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking content: not hashable


def _checked_table(
    node: str,
    table: Any,
    states: Mapping[str, tuple[str, ...]],
    parents: tuple[str, ...],
) -> np.ndarray:
    shape = (*(len(states[p]) for p in parents), len(states[node]))
    t = np.array(table, dtype=np.float64)
    if t.shape != shape:
        if t.size == int(np.prod(shape)):
            t = t.reshape(shape)
        else:
            given = " | " + ", ".join(parents) if parents else ""
            raise ModelError(
                f"The table of {node!r} must have shape {shape} (P({node}{given}), the node's "
                f"states last). Got shape {t.shape}."
            )
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ModelError(
            f"The table of {node!r} must hold finite probabilities >= 0. Got min "
            f"{np.nanmin(t) if t.size else 0:g} (or a NaN/inf)."
        )
    sums = t.sum(axis=-1)
    bad = np.abs(sums - 1.0) > SUM_TOL
    if bad.any():  # (a root's sums are 0-d: argwhere would find nothing)
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
        where = ", ".join(f"{p}={states[p][i]}" for p, i in zip(parents, idx, strict=True))
        raise ModelError(
            f"The probabilities of {node!r}"
            + (f" given {where}" if where else "")
            + f" must sum to 1 (within {SUM_TOL:g}). Got {float(sums[idx]):.6g}. Fix that "
            "column of the table."
        )
    off = np.abs(sums - 1.0) > 1e-12  # printed digits: rescale; exact columns keep their bits
    if off.any():
        t[off] = t[off] / sums[off][..., None]
    t.setflags(write=False)
    return t
