"""Two models wired into one: the wiring as data, and the declaration it derives.

A :class:`Composition` names two ODE models by a prefix each (``lung``, ``sys``) and the
:class:`Link` s between them. A link reads an **output** of one component -- one of its states
or observables, ``"lung.P"`` -- and drives a **port** of the other: one of its inputs
(``"sys.antibiotic"``: the input takes the link's value instead of a regimen's), one of its
parameters (``"sys.k_pg"``: the parameter takes the link's value at every instant), or one of
its states (``"sys.P"``: the link's value is a flux added to that state's rate of change, in
the state's unit per time unit). Between the two runs a :class:`LinkMap`: :class:`Identity`,
:class:`Linear` (a gain) or :class:`Excess` (a rate times the part of the output above a
threshold), each declaring its own parameters and the units it takes and gives.

The composed model's declaration (:meth:`Composition.declaration`) is derived from the
components' declarations, read without loading JAX:

* states, parameters and observables: each component's, prefixed (``lung.P``, ``sys.k_pg``,
  ``sys.wbc``: LOINC codes, noise, bounds and priors kept); then each link's map parameters,
  prefixed by the link's name (``link.k_dis``); ``defaults`` may reset a default, with its
  reason;
* inputs: each component's input that no link drives, prefixed (``sys.anti_inflammatory``),
  except the ``shared`` inputs, present in both with one unit: one channel by its own name
  (``antibiotic``) that feeds both;
* events: each component's event kinds on those inputs (a kind both take must act on a shared
  input);
* time unit: the components' (they must agree); twin defaults: both components' learnt
  parameters, the larger drift, both alert rules (observables prefixed) unless given.

Bad wiring -- an unknown component, output or port, a link whose units do not meet, two links
on one port, different time units, a stochastic model -- raises :class:`ModelError` naming it.
Links are read from the states (and the components' own parameters), never from another
link's result, so any wiring, cycles included, has no algebraic loop.

This module imports neither JAX nor NumPy; the numerics are in ``_compose.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ModelError
from ..limits import Spans
from ._spec import (
    AlertRule,
    Declaration,
    EventSpec,
    InputSpec,
    ParameterSpec,
    TwinDefaults,
)

__all__ = ["Composition", "Excess", "Identity", "Linear", "Link", "LinkMap"]


class LinkMap:
    """How a link turns its source's value into its target's. ``parameters``: the map's own
    (prefixed by the link's name in the composed model); ``unit_in`` / ``unit_out``: the units
    it takes and gives (None: the map keeps the unit, so the source's must be the target's).
    :meth:`apply` is written against an array namespace ``xp`` (``jax.numpy`` in a model)."""

    parameters: tuple[ParameterSpec, ...] = ()
    unit_in: str | None = None
    unit_out: str | None = None

    def apply(self, x: Any, theta: Sequence[Any], xp: Any) -> Any:
        """The target's value for source value ``x``; ``theta`` ordered like ``parameters``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Identity(LinkMap):
    """The target takes the source's value (same unit)."""

    def apply(self, x: Any, theta: Sequence[Any], xp: Any) -> Any:
        return x


@dataclass(frozen=True)
class Linear(LinkMap):
    """``gain * x``: ``gain`` is a parameter (unit ``unit_out`` per ``unit_in``)."""

    gain: ParameterSpec
    unit_in: str | None = None
    unit_out: str | None = None

    @property
    def parameters(self) -> tuple[ParameterSpec, ...]:  # type: ignore[override]
        return (self.gain,)

    def apply(self, x: Any, theta: Sequence[Any], xp: Any) -> Any:
        return theta[0] * x


@dataclass(frozen=True)
class Excess(LinkMap):
    """``scale * rate * max(x - threshold, 0)``: nothing passes below ``threshold`` (unit
    ``unit_in``), and above it a ``rate`` per time unit of the excess does. ``scale`` is a
    fixed conversion from the source's unit to the target's (1e-6 from CFU/mL to 10^6
    cells/cc); ``rate`` and ``threshold`` are parameters."""

    rate: ParameterSpec
    threshold: ParameterSpec
    unit_in: str | None = None
    unit_out: str | None = None
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ModelError(f"Excess map: scale must be > 0. Got {self.scale!r}.")

    @property
    def parameters(self) -> tuple[ParameterSpec, ...]:  # type: ignore[override]
        return (self.rate, self.threshold)

    def apply(self, x: Any, theta: Sequence[Any], xp: Any) -> Any:
        return self.scale * theta[0] * xp.maximum(x - theta[1], 0.0)


@dataclass(frozen=True)
class Link:
    """``source`` (``"prefix.name"``: a state or observable of one component) drives
    ``target`` (``"prefix.name"``: an input, parameter or state of the other) through ``map``.
    ``name`` prefixes the map's parameters (``link.k_dis``)."""

    source: str
    target: str
    map: LinkMap = field(default_factory=Identity)
    name: str = "link"


@dataclass(frozen=True)
class Wire:
    """A resolved link: where its source and target sit (component index, kind, index in the
    component's declaration), its map and the index of its first parameter in the composed
    parameter vector."""

    source: tuple[int, str, int]  # (component, "state" | "observable", index)
    target: tuple[int, str, int]  # (component, "input" | "parameter" | "state", index)
    map: LinkMap
    param_start: int


def _split(what: str, ref: str, prefixes: tuple[str, str]) -> tuple[int, str]:
    prefix, dot, name = ref.partition(".")
    if not dot or prefix not in prefixes or not name:
        raise ModelError(
            f"A link's {what} must be 'prefix.name' with prefix one of {list(prefixes)}. "
            f"Got {ref!r}."
        )
    return prefixes.index(prefix), name


def _names(specs: Sequence[Any]) -> list[str]:
    return [s.name for s in specs]


@dataclass(frozen=True)
class Composition:
    """Two declared ODE models and the links between them; :meth:`declaration` is the composed
    model's. ``parts``: ``((prefix, Declaration), (prefix, Declaration))``. ``shared``: inputs
    both components have (same unit) that become one channel. ``defaults``: composed parameter
    name -> (new default, why). ``twin_defaults``: None derives them (see the module)."""

    name: str
    parts: tuple[tuple[str, Declaration], tuple[str, Declaration]]
    links: tuple[Link, ...]
    title: str
    reference: str
    shared: tuple[str, ...] = ()
    defaults: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    twin_defaults: TwinDefaults | None = None
    model: str = ""

    def __post_init__(self) -> None:
        self.declaration  # noqa: B018 -- refuse bad wiring when the composition is made

    @property
    def prefixes(self) -> tuple[str, str]:
        return (self.parts[0][0], self.parts[1][0])

    def _check_parts(self) -> None:
        (pa, a), (pb, b) = self.parts
        for prefix in (pa, pb):
            if not prefix or "." in prefix:
                raise ModelError(
                    f"A component prefix must be non-empty, without '.'. Got {prefix!r}."
                )
        if pa == pb:
            raise ModelError(f"The two components need different prefixes. Got {pa!r} twice.")
        for d in (a, b):
            if d.stochastic:
                raise ModelError(
                    f"compose() joins deterministic ODE models; {d.name!r} is stochastic."
                )
        if a.time_unit != b.time_unit:
            raise ModelError(
                f"compose() needs components timed in one unit: {a.name!r} is in "
                f"{a.time_unit!r}, {b.name!r} in {b.time_unit!r}. Compose a copy of one "
                "re-timed to the other's unit."
            )
        for s in self.shared:
            units = []
            for d in (a, b):
                if s not in d.input_names:
                    raise ModelError(
                        f"Shared input {s!r} is not an input of {d.name!r}. Expected one of: "
                        f"{', '.join(d.input_names) or '(none)'}."
                    )
                units.append(d.inputs[d.input_index(s)].unit)
            if units[0] != units[1]:
                raise ModelError(
                    f"Shared input {s!r} is in {units[0]!r} in {a.name!r} but {units[1]!r} in "
                    f"{b.name!r}: a shared channel needs one unit."
                )

    def wires(self) -> tuple[Wire, ...]:
        """The links resolved against the components (raises on bad wiring)."""
        self._check_parts()
        decls = (self.parts[0][1], self.parts[1][1])
        unit = decls[0].time_unit
        start = sum(d.n_params for d in decls)
        seen: dict[tuple[int, str, int], str] = {}
        out = []
        for link in self.links:
            if not isinstance(link.map, LinkMap):
                raise ModelError(f"Link {link.name!r}: map must be a LinkMap. Got {link.map!r}.")
            i, sname = _split("source", link.source, self.prefixes)
            j, tname = _split("target", link.target, self.prefixes)
            if i == j:
                raise ModelError(
                    f"Link {link.source!r} -> {link.target!r} stays inside one component; a "
                    "link joins the two."
                )
            src, dst = decls[i], decls[j]
            if sname in src.state_names:
                source = (i, "state", src.state_index(sname))
                s_unit = src.states[source[2]].unit
            elif sname in src.observable_names:
                source = (i, "observable", src.observable_index(sname))
                s_unit = src.observables[source[2]].unit
            else:
                raise ModelError(
                    f"Link source {link.source!r}: {src.name!r} has no state or observable "
                    f"{sname!r}. Expected one of: "
                    f"{', '.join(src.state_names + src.observable_names)}."
                )
            if tname in dst.input_names:
                if tname in self.shared:
                    raise ModelError(
                        f"Link target {link.target!r} is a shared input; a link drives an "
                        "input of one component only."
                    )
                target = (j, "input", dst.input_index(tname))
                t_unit = dst.inputs[target[2]].unit
            elif tname in dst.parameter_names:
                target = (j, "parameter", dst.param_index(tname))
                t_unit = dst.parameters[target[2]].unit
            elif tname in dst.state_names:
                target = (j, "state", dst.state_index(tname))
                t_unit = f"{dst.states[target[2]].unit}/{unit}"
            else:
                raise ModelError(
                    f"Link target {link.target!r}: {dst.name!r} has no input, parameter or "
                    f"state {tname!r}. Expected one of: "
                    f"{', '.join(dst.input_names + dst.parameter_names + dst.state_names)}."
                )
            if target in seen:
                raise ModelError(
                    f"Links {seen[target]!r} and {link.name!r} both drive {link.target!r}; "
                    "one port takes one link."
                )
            seen[target] = link.name
            m_in = link.map.unit_in or s_unit
            m_out = link.map.unit_out or m_in
            if m_in != s_unit or m_out != t_unit:
                raise ModelError(
                    f"Link {link.name!r} {link.source!r} -> {link.target!r}: the source is in "
                    f"{s_unit!r} and the target takes {t_unit!r}, but the map takes {m_in!r} "
                    f"and gives {m_out!r}. Give a map that converts (Linear or Excess with "
                    f"unit_in={s_unit!r}, unit_out={t_unit!r})."
                )
            out.append(Wire(source, target, link.map, start))
            start += len(link.map.parameters)
        return tuple(out)

    def input_owner(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """For each composed input, the (component, component input index) it feeds."""
        linked = {(w.target[0], w.target[2]) for w in self.wires() if w.target[1] == "input"}
        owners: list[list[tuple[int, int]]] = []
        by_shared: dict[str, int] = {}
        for c, (_, d) in enumerate(self.parts):
            for k, spec in enumerate(d.inputs):
                if (c, k) in linked:
                    continue
                if spec.name in self.shared:
                    if spec.name in by_shared:
                        owners[by_shared[spec.name]].append((c, k))
                        continue
                    by_shared[spec.name] = len(owners)
                owners.append([(c, k)])
        return tuple(tuple(o) for o in owners)

    @property
    def declaration(self) -> Declaration:
        """The composed model's declaration (see the module)."""
        self.wires()  # refuses bad wiring
        (pa, a), (pb, b) = self.parts
        parts = ((pa, a), (pb, b))

        def pre(prefix: str, spec: Any) -> Any:
            return replace(spec, name=f"{prefix}.{spec.name}")

        states = tuple(pre(p, s) for p, d in parts for s in d.states)
        params = [pre(p, s) for p, d in parts for s in d.parameters]
        for link in self.links:
            params += [replace(s, name=f"{link.name}.{s.name}") for s in link.map.parameters]
        names = _names(params)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ModelError(f"Composed parameters {dupes} are declared twice: rename a link.")
        for pname, (value, why) in self.defaults.items():
            if pname not in names:
                raise ModelError(
                    f"defaults names {pname!r}, not a parameter of {self.name!r}. Expected one "
                    f"of: {', '.join(names)}."
                )
            k = names.index(pname)
            ref = f"{params[k].reference}; default {value:g} in {self.name}: {why}"
            params[k] = replace(params[k], default=float(value), reference=ref)
        observables = tuple(
            replace(pre(p, s), noise=s.noise.renamed(p) if s.noise else None)
            for p, d in parts
            for s in d.observables
        )
        codes = [o.loinc for o in observables if o.loinc]
        if len(set(codes)) != len(codes):
            raise ModelError(
                f"Both components observe LOINC {sorted({c for c in codes if codes.count(c) > 1})}"
                "; a record of that code would feed only one. Compose a copy without it."
            )
        inputs: list[InputSpec] = []
        name_of: dict[tuple[int, int], str] = {}
        for owners in self.input_owner():
            c, k = owners[0]
            spec = parts[c][1].inputs[k]
            name = spec.name if len(owners) > 1 else f"{parts[c][0]}.{spec.name}"
            inputs.append(replace(spec, name=name))
            for o in owners:
                name_of[o] = name
        events: dict[str, EventSpec] = {}
        for c, (_, d) in enumerate(parts):
            for e in d.events:
                if e.input not in d.input_names or (c, d.input_index(e.input)) not in name_of:
                    continue  # an event on an input a link drives: the link owns the input
                ev = replace(e, input=name_of[(c, d.input_index(e.input))])
                if e.kind in events and events[e.kind].input != ev.input:
                    raise ModelError(
                        f"Both components take events of kind {e.kind!r} on different inputs; "
                        f"share the input (shared=({e.input!r},)) or compose a copy without it."
                    )
                events.setdefault(e.kind, ev)
        return Declaration(
            name=self.name,
            aliases=self.aliases,
            title=self.title,
            reference=self.reference,
            time_unit=a.time_unit,
            states=states,
            parameters=tuple(params),
            inputs=tuple(inputs),
            observables=observables,
            events=tuple(events.values()),
            twin_defaults=self._twin_defaults(),
            model=self.model,
        )

    def _twin_defaults(self) -> TwinDefaults:
        if self.twin_defaults is not None:
            return self.twin_defaults
        (pa, a), (pb, b) = self.parts
        ta, tb = a.twin_defaults, b.twin_defaults
        if "population" in (ta.prior, tb.prior):
            raise ModelError(
                f"{a.name!r} or {b.name!r} learns from a population prior, which a composed "
                "model has not; give twin_defaults."
            )
        if ta.spans != tb.spans and Spans() not in (ta.spans, tb.spans):
            raise ModelError(
                f"{a.name!r} and {b.name!r} declare different twin spans; give twin_defaults."
            )
        spans = tb.spans if ta.spans == Spans() else ta.spans

        def alerts(prefix: str, rules: tuple[AlertRule, ...]) -> tuple[AlertRule, ...]:
            return tuple(replace(r, observable=f"{prefix}.{r.observable}") for r in rules)

        return TwinDefaults(
            free=tuple(f"{pa}.{n}" for n in ta.free) + tuple(f"{pb}.{n}" for n in tb.free),
            drift=max(ta.drift, tb.drift),
            alerts=alerts(pa, ta.alerts) + alerts(pb, tb.alerts),
            spans=spans,
        )
