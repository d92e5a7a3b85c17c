"""The meaning of an SBML model as two graphs of definitions: at the initial time and at any
time along the solution.

Every identifier with a value gets a *role* (SBML L3V2 core sections 4.5-4.11):

* ``amount`` -- a species changed by reactions (not a boundary or constant species, no rule):
  its **amount** is a state, ``d amount/dt = cf * sum_r stoichiometry_r * rate_r`` (kinetic laws
  are in amount per time; ``cf`` the species' or the model's conversion factor, section
  4.11), and its value in math is ``amount / size(compartment)`` unless it has only
  substance units (or lies in a 0-D compartment), so a changing compartment keeps the amount
  and changes the concentration (section 4.6);
* ``rate`` -- the target of a rate rule: its value is a state whose derivative is the rule
  (a species' concentration unless it has only substance units, section 4.9);
* ``assigned`` -- the target of an assignment rule, computed in every evaluation, at the
  initial time too (section 4.9);
* ``fixed`` -- anything else: its value at the initial time; for a species its amount, so its
  concentration follows a changing compartment even where the species is ``constant`` (as
  the SBML Test Suite's cases 01117 and 01118 require).
  Where an event assigns it, it is a state with zero derivative instead
  (:mod:`._eventgraph`, which also adds the events' triggers, priorities and assigned values
  to the RHS graph).

Initial values (time 0, section 3.4): an initial assignment (section 4.8) wins over the
value in the document, and initial assignments and assignment rules are evaluated together in
dependency order. A value given in the document (compartment size, parameter value, species
initial amount or concentration) is a medtwin **parameter** named by the identifier, so a
batch of members may differ in any of them and everything that depends on them at the initial
time (initial assignments) follows per member. Species-reference stoichiometries are taken as
given (not parameters).

``rateOf(x)`` (section 3.4, the rateOf csymbol) is the derivative of ``x``: the rate rule,
the amount balance divided by the size (with the size's own rate where a rate rule moves it),
or 0 for a fixed ``x``; the rate of an assignment-ruled ``x`` is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import DataError
from ._errors import UnsupportedSBMLError
from ._eventgraph import EventInfo, compile_events, event_targets
from ._jaxmath import rate_name
from ._mathml import Apply, Expr, Num, Sym, rate_of_symbols
from ._symbols import Declared, Quantity

__all__ = [
    "EventInfo",
    "Layout",
    "ParamInfo",
    "StateInfo",
    "amount_key",
    "build_layout",
    "conc_key",
]


@dataclass(frozen=True)
class StateInfo:
    """One state: the SBML id, its key in the graphs, unit and description."""

    id: str
    key: str
    unit: str
    description: str


@dataclass(frozen=True)
class ParamInfo:
    """One parameter: the SBML id, its leaf key in the initial graph, default, unit and what
    it is."""

    id: str
    key: str
    default: float
    unit: str
    description: str


@dataclass(frozen=True)
class Layout:
    """The two graphs and their leaves (see the module docstring)."""

    states: tuple[StateInfo, ...]
    params: tuple[ParamInfo, ...]
    init_defs: dict[str, Expr]
    rhs_defs: dict[str, Expr]
    consts: frozenset[str]  # leaves of the RHS graph taken from the initial evaluation
    derivs: tuple[str, ...]  # per state, the key of its derivative
    outputs: tuple[str, ...]  # the default observables (SBML ids)
    units: dict[str, str]  # unit of each output key
    events: tuple[EventInfo, ...] = ()
    roots: tuple[str, ...] = ()  # keys of the trigger atoms' root functions (a - b for a > b)


def _mul(a: Expr, b: Expr) -> Expr:
    return Apply("times", (a, b))


def _div(a: Expr, b: Expr) -> Expr:
    return Apply("divide", (a, b))


def amount_key(sid: str) -> str:
    return f"amount({sid})"


def conc_key(sid: str) -> str:
    return f"concentration({sid})"


def _roles(d: Declared) -> dict[str, str]:
    changed = {s for r in d.reactions for s, _, _ in r.terms}
    for target in (*d.rate, *d.assignment, *d.initial):
        if target not in d.quantities:
            kind = "reaction" if target in {r.id for r in d.reactions} else "unknown identifier"
            raise DataError(
                f"A rule or initial assignment targets {target!r}, a {kind}. A compartment, "
                "species, parameter or species reference is expected (SBML L3V2 sections "
                "4.8, 4.9)."
            )
    roles = {}
    for sid, q in d.quantities.items():
        in_reactions = q.kind == "species" and sid in changed and not (q.boundary or q.constant)
        ruled = sid in d.rate or sid in d.assignment
        if (ruled and q.constant) or (ruled and in_reactions):
            why = "is constant" if q.constant else "is changed by reactions"
            raise DataError(
                f"{q.kind.capitalize()} {sid!r} {why} and is the target of a rule. Only a "
                "non-constant quantity (for a species: a boundary species) may be (SBML L3V2 "
                "sections 4.6, 4.9)."
            )
        if sid in d.rate:
            roles[sid] = "rate"
        elif sid in d.assignment:
            roles[sid] = "assigned"
        elif in_reactions:
            roles[sid] = "amount"
        else:
            roles[sid] = "fixed"
    return roles


def _species_defs(q: Quantity, role: str, init: bool, d: Declared) -> dict[str, Expr]:
    """Definitions of a species' value, amount and concentration keys."""
    s, amt, size = q.id, amount_key(q.id), Sym(q.compartment or "")
    value_from_amount = Sym(amt) if q.only_substance else _div(Sym(amt), size)
    amount_from_value = Sym(s) if q.only_substance else _mul(Sym(s), size)
    out: dict[str, Expr] = {}
    if not q.only_substance:
        out[conc_key(s)] = Sym(s)
    elif not q.zero_d:
        out[conc_key(s)] = _div(Sym(amt), size)
    if init and s in d.initial:
        out[s], out[amt] = d.initial[s], amount_from_value
    elif role == "assigned":
        out[s], out[amt] = d.assignment[s], amount_from_value
    elif init:
        given: Expr | None = None
        if q.given is not None:
            given = Sym(f"given({s})") if math.isfinite(q.given) else Num(q.given)
        if given is None:
            return out
        if q.given_is == "amount":
            out[amt], out[s] = given, value_from_amount
        elif q.only_substance:
            out[amt], out[s] = _mul(given, size), Sym(amt)
        else:
            out[s], out[amt] = given, amount_from_value
    elif role in ("amount", "fixed"):
        out[s] = value_from_amount  # amount(s) is a leaf: a state or a constant
    else:  # a rate-ruled value: a state
        out[amt] = amount_from_value
    return out


def _rate_of(x: str, d: Declared, roles: dict[str, str]) -> Expr:
    """The definition of ``rateOf(x)``."""
    if x not in d.quantities:
        raise UnsupportedSBMLError("rateOf of a reaction or unknown identifier", repr(x))
    role, q = roles[x], d.quantities[x]
    if role == "assigned":
        raise UnsupportedSBMLError("rateOf of an assignment-ruled variable", repr(x))
    if role == "rate":
        return Sym(f"d/dt {x}")
    if q.kind != "species":
        return Num(0.0)
    own = Sym(f"d/dt {amount_key(x)}") if role == "amount" else Num(0.0)
    if q.only_substance:
        return own
    c = q.compartment or ""
    if roles.get(c) == "assigned":
        raise UnsupportedSBMLError(
            "rateOf of a species in an assignment-ruled compartment", repr(x)
        )
    if roles.get(c) == "rate":
        # d(A/V)/dt = (dA/dt - (A/V) dV/dt) / V
        return _div(Apply("minus", (own, _mul(Sym(x), Sym(f"d/dt {c}")))), Sym(c))
    return _div(own, Sym(c))


def _param_info(q: Quantity) -> ParamInfo:
    """The parameter holding the value ``q`` has in the document."""
    assert q.given is not None
    if q.kind == "species":
        unit = q.amount_unit if q.given_is == "amount" else q.concentration_unit
        what = f"initial {q.given_is} of species"
    else:
        unit, what = q.unit, {"compartment": "size of", "parameter": "value of"}[q.kind]
        what = f"{what} {q.kind}"
    return ParamInfo(q.id, f"given({q.id})", q.given, unit, f"{what} {q.id}")


def _all_exprs(d: Declared) -> list[Expr]:
    return [*d.assignment.values(), *d.rate.values(), *d.initial.values(),
            *(r.law for r in d.reactions),
            *(x for e in d.events for x in (e.trigger, *(v for _, v in e.assignments))),
            *(e.priority for e in d.events if e.priority is not None),
            *(e.delay for e in d.events if e.delay is not None)]  # fmt: skip


def build_layout(d: Declared) -> Layout:
    """The graphs, states and parameters of a declared model."""
    roles = _roles(d)
    targets = event_targets(d, roles)
    init: dict[str, Expr] = {}
    rhs: dict[str, Expr] = {}
    states: list[StateInfo] = []
    params: list[ParamInfo] = []
    consts: set[str] = set()
    derivs: list[str] = []
    balance: dict[str, list[Expr]] = {}
    for r in d.reactions:
        init[r.id] = rhs[r.id] = r.law
        for s, stoich, sign in r.terms:
            term = _mul(stoich, Sym(r.id))
            balance.setdefault(s, []).append(term if sign > 0 else Apply("minus", (term,)))
    for sid, q in d.quantities.items():
        role = roles[sid]
        if (
            q.given is not None
            and math.isfinite(q.given)
            and sid not in d.initial
            and (role != "assigned" and q.kind != "speciesReference")
        ):
            params.append(_param_info(q))
        if q.kind == "species":
            init.update(_species_defs(q, role, True, d))
            rhs.update(_species_defs(q, role, False, d))
        else:
            if sid in d.initial:
                init[sid] = d.initial[sid]
            elif role == "assigned":
                init[sid] = d.assignment[sid]
            elif q.given is not None:
                finite = math.isfinite(q.given) and q.kind != "speciesReference"
                init[sid] = Sym(f"given({sid})") if finite else Num(q.given)
            if role == "assigned":
                rhs[sid] = d.assignment[sid]
        if role == "amount":
            key = amount_key(sid)
            terms = tuple(balance.get(sid, ()))
            flux: Expr = Apply("plus", terms)
            if q.conversion_factor:
                flux = _mul(Sym(q.conversion_factor), flux)
            init[f"d/dt {key}"] = rhs[f"d/dt {key}"] = flux
            states.append(StateInfo(sid, key, q.amount_unit, f"amount of species {sid}"))
        elif role == "rate":
            init[f"d/dt {sid}"] = rhs[f"d/dt {sid}"] = d.rate[sid]
            states.append(StateInfo(sid, sid, q.unit, f"{q.kind} {sid} (rate rule)"))
        elif role == "fixed" and sid in targets:
            # changed only by events: a state with zero derivative
            key = amount_key(sid) if q.kind == "species" else sid
            unit = q.amount_unit if q.kind == "species" else q.unit
            init[f"d/dt {key}"] = rhs[f"d/dt {key}"] = Num(0.0)
            states.append(StateInfo(sid, key, unit, f"{q.kind} {sid} (set by events)"))
        elif role == "fixed":
            consts.add(amount_key(sid) if q.kind == "species" else sid)
        if role in ("amount", "rate") or (role == "fixed" and sid in targets):
            derivs.append(f"d/dt {states[-1].key}")
    for x in sorted(set().union(*(rate_of_symbols(e) for e in _all_exprs(d)))):
        init[rate_name(x)] = rhs[rate_name(x)] = _rate_of(x, d, roles)
    outputs = tuple(
        sid for sid, q in d.quantities.items()
        if q.kind == "species"
        or (q.kind != "speciesReference" and (roles[sid] != "fixed" or sid in targets))
    )  # fmt: skip
    units = {sid: q.unit for sid, q in d.quantities.items()}
    for sid, q in d.quantities.items():
        if q.kind == "species":
            units[amount_key(sid)] = q.amount_unit
            units[conc_key(sid)] = q.concentration_unit
    events, roots = compile_events(d, rhs, tuple(s.key for s in states))
    return Layout(tuple(states), tuple(params), init, rhs, frozenset(consts), tuple(derivs),
                  outputs, units, events, roots)  # fmt: skip
