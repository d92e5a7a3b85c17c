"""Events in the RHS graph: their triggers, priorities and assigned values as keys, their
targets as states, and the root functions that locate trigger changes.

* Every quantity an event assigns is a state: a species changed by reactions or a rate-ruled
  quantity already is one; any other target (a parameter, compartment, boundary species or
  species reference whose value is otherwise fixed) becomes a state with zero derivative
  (:func:`event_targets`, used by :func:`~._program.build_layout`).
* :func:`compile_events` adds to the RHS graph, per event ``E`` (by position ``i``),
  ``trigger#i`` (the trigger), ``priority#i``, ``assign#i.j`` (the value of its ``j``-th
  assignment) and, for a delayed event, ``delay#i`` (its delay), and one root function
  ``root#k`` per relational atom of any trigger: ``a - b`` for ``a > b``, ``a >= b``,
  ``a < b``, ``a <= b``, ``a == b``, ``a != b`` (n-ary relations pairwise). A trigger's
  truth can change between two solver stops only where one of its atoms changes, that is
  where a root function crosses zero, so the solver stops at those crossings
  (:mod:`._eventstep`).

Reference: SBML L3V2 core section 4.12.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..errors import DataError
from ._events import NO_PRIORITY
from ._mathml import Apply, Expr
from ._symbols import Declared

__all__ = ["EventInfo", "compile_events", "event_targets"]

_RELATIONS = frozenset({"gt", "geq", "lt", "leq", "eq", "neq"})


@dataclass(frozen=True)
class EventInfo:
    """One event in the RHS graph: the keys of its trigger, priority and assigned values, and
    per assignment ``(state index, size key)``: the state it sets and, where that state is a
    species' amount while the value assigned is its concentration, the key of the
    compartment's size (else None). ``rescale``: ``(state index, compartment)`` of each
    species whose state is its concentration (a rate rule) in a compartment the event
    resizes: its amount (after the event's own assignment to it, in the old size) is kept,
    so its concentration scales by old size / new size. ``delay``: the key of the delay
    (None: the event has none); ``variables``: the ids its assignments set."""

    label: str
    trigger: str
    priority: str
    initial_value: bool
    persistent: bool
    use_trigger_values: bool
    values: tuple[str, ...]
    targets: tuple[tuple[int, str | None], ...]
    rescale: tuple[tuple[int, str], ...] = ()
    delay: str | None = None
    variables: tuple[str, ...] = ()


def event_targets(d: Declared, roles: dict[str, str]) -> frozenset[str]:
    """The ids events assign; refuses a target that no event may assign."""
    out = set()
    for e in d.events:
        for target, _ in e.assignments:
            q = d.quantities.get(target)
            if q is None or q.constant or roles.get(target) == "assigned":
                why = (
                    "is not a compartment, species, parameter or species reference"
                    if q is None
                    else "is constant"
                    if q.constant
                    else "is set by an assignment rule"
                )
                raise DataError(
                    f"Event {e.label!r} assigns {target!r}, which {why}. An event may assign "
                    "only a non-constant quantity without an assignment rule (SBML L3V2 "
                    "section 4.12.4)."
                )
            out.add(target)
    return frozenset(out)


def _atoms(expr: Expr) -> list[Expr]:
    """The root functions of the relational atoms in ``expr``."""
    out: list[Expr] = []
    if isinstance(expr, Apply):
        if expr.op in _RELATIONS:
            out += [Apply("minus", (a, b)) for a, b in itertools.pairwise(expr.args)]
        for a in expr.args:
            out += _atoms(a)
    return out


def compile_events(
    d: Declared, rhs: dict[str, Expr], state_keys: tuple[str, ...]
) -> tuple[tuple[EventInfo, ...], tuple[str, ...]]:
    """Add the events' keys to ``rhs`` (see the module docstring); returns the events and the
    root keys."""
    events = []
    roots: list[str] = []
    seen: dict[Expr, str] = {}
    for i, e in enumerate(d.events):
        rhs[f"trigger#{i}"] = e.trigger
        rhs[f"priority#{i}"] = e.priority if e.priority is not None else NO_PRIORITY
        if e.delay is not None:
            rhs[f"delay#{i}"] = e.delay
        values, targets = [], []
        for j, (target, value) in enumerate(e.assignments):
            rhs[f"assign#{i}.{j}"] = value
            values.append(f"assign#{i}.{j}")
            q = d.quantities[target]
            if q.kind == "species" and f"amount({target})" in state_keys:
                size = None if q.only_substance else (q.compartment or "")
                targets.append((state_keys.index(f"amount({target})"), size))
            else:
                targets.append((state_keys.index(target), None))
        assigned = {target for target, _ in e.assignments}
        rescale = tuple(
            (state_keys.index(sid), q.compartment or "")
            for sid, q in d.quantities.items()
            if q.kind == "species" and q.compartment in assigned and sid in d.rate
            and not q.only_substance
        )  # fmt: skip
        for atom in _atoms(e.trigger):
            if atom not in seen:
                seen[atom] = rhs_key = f"root#{len(roots)}"
                rhs[rhs_key] = atom
                roots.append(rhs_key)
        events.append(
            EventInfo(
                e.label, f"trigger#{i}", f"priority#{i}", e.initial_value, e.persistent,
                e.use_trigger_values, tuple(values), tuple(targets), rescale,
                None if e.delay is None else f"delay#{i}", tuple(v for v, _ in e.assignments),
            )
        )  # fmt: skip
    return tuple(events), tuple(roots)
