"""A model's declaration: what it is, read without loading the numerics.

The spec records a model is made of (:class:`StateSpec`, :class:`ParameterSpec`,
:class:`InputSpec`, :class:`ObservableSpec`, :class:`EventSpec`, :class:`AlertRule`,
:class:`TwinDefaults`) and :class:`Declaration`, the whole of a published model's declaration
as data. A model class takes its class attributes from its declaration
(:func:`medtwin.models.declared`), and the registry reads the built-in declarations without
importing JAX, so a command can check its input against a model in milliseconds
(:func:`medtwin.models.declaration`). :class:`Declared` holds the lookups both share.

This module imports neither JAX nor NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol

from ..errors import ModelError
from ..limits import Spans
from ._noise import NoiseModel
from ._priors import Prior

__all__ = [
    "AlertRule",
    "DecisionSpec",
    "Declaration",
    "Declared",
    "EventSpec",
    "InputSpec",
    "ObservableSpec",
    "ParameterSpec",
    "StateSpec",
    "TwinDefaults",
]


@dataclass(frozen=True)
class StateSpec:
    """One state variable. ``kind="memory"`` marks a discrete state changed only by ``on_step``."""

    name: str
    unit: str
    description: str = ""
    kind: str = "continuous"

    def __post_init__(self) -> None:
        if self.kind not in ("continuous", "memory"):
            raise ModelError(
                f"StateSpec.kind must be 'continuous' or 'memory'. Got {self.kind!r} for "
                f"state {self.name!r}."
            )


@dataclass(frozen=True)
class ParameterSpec:
    """One model parameter with its unit, default, plausible bounds, prior and source."""

    name: str
    unit: str
    default: float
    bounds: tuple[float, float] = (-math.inf, math.inf)
    prior: Prior | None = None
    description: str = ""
    reference: str = ""

    def __post_init__(self) -> None:
        lo, hi = self.bounds
        if self.prior is not None and not isinstance(self.prior, Prior):
            raise ModelError(
                f"ParameterSpec {self.name!r} needs a Prior (Normal, LogNormal, Uniform) or None "
                f"as prior. Got {self.prior!r}."
            )
        if not math.isfinite(self.default):
            raise ModelError(
                f"ParameterSpec {self.name!r} needs a finite default. Got {self.default!r}."
            )
        if not lo < hi:
            raise ModelError(
                f"ParameterSpec {self.name!r} needs bounds (low, high) with low < high. "
                f"Got {self.bounds!r}."
            )


@dataclass(frozen=True)
class InputSpec:
    """One input channel: a rate, piecewise constant over each input step."""

    name: str
    unit: str
    description: str = ""


@dataclass(frozen=True)
class ObservableSpec:
    """A quantity that can be measured, with its unit, LOINC code and measurement noise."""

    name: str
    unit: str
    loinc: str | None = None
    description: str = ""
    noise: NoiseModel | None = field(default=None, compare=False)


@dataclass(frozen=True)
class EventSpec:
    """An event kind of a patient's record that the model takes, and how it becomes input.

    ``kind``: the record's kind (``meal``, ``bolus``, ``basal``, ``antibiotic``, ...);
    ``unit``: the unit of the recorded amount; ``input``: the model input it acts on.
    ``form``: ``"dose"`` (the amount is delivered into the input: within one input step, or at
    ``rate`` input units per model time unit, e.g. a meal eaten at 5 g/min) or ``"rate"`` (the
    input's background rate from the event's time on, e.g. a basal rate). The input receives
    ``amount / per`` (``per``: 60 for an amount per hour on a model timed in minutes, else 1).
    ``label``: the regimen event's label (default: ``kind`` with ``-`` for ``_``)."""

    kind: str
    unit: str
    input: str
    form: str = "dose"
    per: float = 1.0
    rate: float | None = None
    label: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.form not in ("dose", "rate"):
            raise ModelError(
                f"EventSpec {self.kind!r}: form must be 'dose' or 'rate'. Got {self.form!r}."
            )
        if not (isinstance(self.per, int | float) and math.isfinite(self.per) and self.per > 0):
            raise ModelError(f"EventSpec {self.kind!r}: per must be > 0. Got {self.per!r}.")
        if self.rate is not None and self.form != "dose":
            raise ModelError(f"EventSpec {self.kind!r}: only a dose has an intake rate.")


@dataclass(frozen=True)
class AlertRule:
    """When a forecast of ``observable`` calls for attention: the probability that it falls
    below ``low`` or rises above ``high`` (either may be None) at any forecast time within
    ``within`` model time units of issue. ``medtwin.loop`` evaluates the rules on every
    forecast a twin issues (``alert`` from 20 %, ``watch`` from 5 % or when the widest band
    crosses). ``reference``: where the thresholds come from."""

    observable: str
    low: float | None = None
    high: float | None = None
    within: float = 60.0
    reference: str = ""

    def __post_init__(self) -> None:
        if self.low is None and self.high is None:
            raise ModelError(f"AlertRule for {self.observable!r}: give low, high or both.")
        if not (math.isfinite(self.within) and self.within > 0):
            raise ModelError(
                f"AlertRule for {self.observable!r}: within must be > 0. Got {self.within!r}."
            )


@dataclass(frozen=True)
class DecisionSpec:
    """What a model offers the treatment-schedule search (:func:`medtwin.control.rank_schedules`):
    the inputs a schedule acts on and the read-out of its outcome.

    ``antibiotic``: the input of a bactericidal kill rate (1/h), given as a course (start,
    rate, duration); ``anti_inflammatory``: an input infused over one hour (a dose), or None.
    ``outcome``: where the classifier of settled states lives (``"module:function"``, called
    with states of shape ``(..., n_states)``, returning labels); ``outcomes``: its labels, the
    good one first (``"health"``, ``"cleared"``). ``score``: an observable with an ordinal
    observation model (:class:`~medtwin.models.OrdinalNoise`) whose expected value a schedule
    must keep below ``threshold`` at every ``every`` time units of the ``horizon`` (None: the
    outcome alone ranks). ``horizon``: how long a course is followed before it is classified
    (model time units, long enough to settle). ``reference``: where the threshold comes from."""

    antibiotic: str
    outcome: str
    outcomes: tuple[str, ...]
    anti_inflammatory: str | None = None
    score: str | None = None
    threshold: float | None = None
    horizon: float = 500.0
    every: float = 1.0
    reference: str = ""

    def __post_init__(self) -> None:
        mod, colon, fn = self.outcome.partition(":")
        if not (mod and colon and fn) or not self.outcomes:
            raise ModelError(
                "DecisionSpec needs outcome='module:function' and its labels (the good one "
                f"first). Got outcome={self.outcome!r}, outcomes={self.outcomes!r}."
            )
        if not (self.horizon > 0 and self.every > 0 and self.every <= self.horizon):
            raise ModelError(
                f"DecisionSpec needs 0 < every <= horizon. Got every={self.every!r}, "
                f"horizon={self.horizon!r}."
            )
        if self.threshold is not None and self.score is None:
            raise ModelError("DecisionSpec: a threshold needs the score observable it applies to.")


@dataclass(frozen=True)
class TwinDefaults:
    """How the model becomes a twin when a configuration does not say otherwise.

    ``prior``: ``"spec"`` (each free parameter from its ``ParameterSpec.prior``) or
    ``"population"`` (a kernel density over the model's :meth:`AbstractModel.population`).
    ``free``: the parameters the twin learns (empty: the configuration must name them).
    ``drift``: the particle filter's parameter drift per sqrt(hour). ``alerts``: the rules
    checked on every forecast the twin issues. ``spans``: how far a twin reaches (the longest
    forecast, update and what-if, :class:`medtwin.limits.Spans`; default a week, a week and
    two days), within what a twin may cost (``medtwin.limits.TWIN_STEPS`` input steps).
    ``decision``: what the treatment-schedule search ranks (:class:`DecisionSpec`), or None."""

    prior: str = "spec"
    free: tuple[str, ...] = ()
    drift: float = 0.0
    alerts: tuple[AlertRule, ...] = ()
    spans: Spans = field(default_factory=Spans)
    decision: DecisionSpec | None = None


def _index(specs: Sequence, name: str, what: str, model: str) -> int:
    for i, s in enumerate(specs):
        if s.name == name:
            return i
    known = ", ".join(s.name for s in specs)
    raise ModelError(f"Model {model!r} has no {what} named {name!r}. Expected one of: {known}.")


class _Specs(Protocol):
    """What the lookups read: a model class's class attributes or a declaration's fields."""

    @property
    def name(self) -> str: ...
    @property
    def states(self) -> Sequence[StateSpec]: ...
    @property
    def parameters(self) -> tuple[ParameterSpec, ...]: ...
    @property
    def inputs(self) -> tuple[InputSpec, ...]: ...
    @property
    def observables(self) -> tuple[ObservableSpec, ...]: ...
    @property
    def events(self) -> tuple[EventSpec, ...]: ...


class Declared:
    """The lookups on a declaration, shared by :class:`Declaration` and every model class
    (which declares the same attributes as class attributes)."""

    @property
    def n_states(self: _Specs) -> int:
        return len(self.states)

    @property
    def n_params(self: _Specs) -> int:
        return len(self.parameters)

    @property
    def parameter_names(self: _Specs) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def state_names(self: _Specs) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def input_names(self: _Specs) -> tuple[str, ...]:
        return tuple(s.name for s in self.inputs)

    @property
    def observable_names(self: _Specs) -> tuple[str, ...]:
        return tuple(s.name for s in self.observables)

    def param_index(self: _Specs, name: str) -> int:
        return _index(self.parameters, name, "parameter", self.name)

    def state_index(self: _Specs, name: str) -> int:
        return _index(self.states, name, "state", self.name)

    def input_index(self: _Specs, name: str) -> int:
        return _index(self.inputs, name, "input", self.name)

    def observable_index(self: _Specs, name: str) -> int:
        return _index(self.observables, name, "observable", self.name)

    def observable_for_code(self: _Specs, code: str) -> str | None:
        """The observable measured by LOINC ``code`` (None if the model observes no such code)."""
        for spec in self.observables:
            if spec.loinc == code:
                return spec.name
        return None

    def event_kinds(self: _Specs) -> list[tuple[str, str]]:
        """(kind, unit) of every event the model takes, as declared (on one of its inputs)."""
        inputs = {i.name for i in self.inputs}
        return [(e.kind, e.unit) for e in self.events if e.input in inputs]

    def event_spec(self: _Specs, kind: str) -> EventSpec | None:
        """The declared event of ``kind`` (None if the model takes no such event)."""
        for spec in self.events:
            if spec.kind == kind:
                return spec
        return None


@dataclass(frozen=True)
class Declaration(Declared):
    """A published model's declaration as data: its ``name`` and ``aliases``, ``title``,
    ``reference``, ``time_unit``, ``states``, ``parameters``, ``inputs``, ``observables``,
    ``events``, ``twin_defaults`` and ``stochastic``, and ``model``, where its numerics live
    (``"package.module:Class"``; empty for a class registered at run time); ``evidence``, where
    its credibility evidence is declared (``"module:NAME"`` of a
    :class:`medtwin.credibility.Evidence`; empty: none declared)."""

    name: str
    title: str
    reference: str
    time_unit: str
    states: tuple[StateSpec, ...]
    parameters: tuple[ParameterSpec, ...]
    inputs: tuple[InputSpec, ...]
    observables: tuple[ObservableSpec, ...]
    events: tuple[EventSpec, ...] = ()
    twin_defaults: TwinDefaults = TwinDefaults()
    aliases: tuple[str, ...] = ()
    stochastic: bool = False
    model: str = ""
    evidence: str = ""

    def __post_init__(self) -> None:
        names = set(self.parameter_names)
        for spec in self.observables:
            missing = [r for r in (spec.noise.reads if spec.noise else ()) if r not in names]
            if missing:
                raise ModelError(
                    f"The noise model of observable {spec.name!r} of {self.name!r} reads "
                    f"parameters {missing}, which the model does not declare. Declare them "
                    "(ParameterSpec) or name declared ones."
                )
        dec = self.twin_defaults.decision
        if dec is not None:
            for name in (dec.antibiotic, dec.anti_inflammatory):
                if name is not None and name not in self.input_names:
                    raise ModelError(
                        f"The decision of {self.name!r} acts on input {name!r}, which it does "
                        f"not take. Expected one of: {', '.join(self.input_names)}."
                    )
            if dec.score is not None:
                noise = self.observables[self.observable_index(dec.score)].noise
                if not hasattr(noise, "expected"):
                    raise ModelError(
                        f"The decision of {self.name!r} reads score {dec.score!r}, which has no "
                        "ordinal observation model (OrdinalNoise)."
                    )

    @classmethod
    def of(cls, model: type) -> Declaration:
        """The declaration of a model class (its class attributes)."""
        attrs = {f.name: getattr(model, f.name) for f in fields(cls) if hasattr(model, f.name)}
        if isinstance(attrs.get("states"), property):  # declared per instance (a grid's cells)
            attrs["states"] = ()
        attrs.setdefault("title", "")
        attrs.setdefault("reference", "")
        attrs.setdefault("model", f"{model.__module__}:{model.__qualname__}")
        return cls(**attrs)

    def names(self) -> tuple[str, ...]:
        """The name and the aliases the model is known by."""
        return (self.name, *self.aliases)
