"""What a patient is: the model interface every twin plugs into.

A model declares

* its **states** (:class:`StateSpec`: name, unit),
* its **parameters** (:class:`ParameterSpec`: name, unit, default, bounds, prior, reference),
* its **inputs** (:class:`InputSpec`: rates such as carbohydrate g/min or insulin U/min, held
  constant over each input step of length ``input_dt``),
* its **observables** (:class:`ObservableSpec`: name, unit, LOINC code, measurement-noise model),
* the **events** of a patient's record it takes (:class:`EventSpec`: a meal, a bolus, a drug
  rate, each with its unit and the input it acts on), and
* how it becomes a **twin** by default (:class:`TwinDefaults`: prior, learnt parameters, filter
  drift, alert rules),

and how the state moves. Parameters travel as one flat float64 vector ordered like
``parameters`` (a leading batch axis for cohorts and ensembles); states likewise.

Two ways to move the state, chosen by the base class:

* :class:`AbstractODEModel` gives a ``vector_field``; ``simulate`` integrates it with the solver it
  is handed (fixed-step RK4 by default, diffrax adaptive for references).
* :class:`AbstractSteppedModel` gives ``step(t, y, u, params, dt, key)`` that advances one input
  step itself -- for PDEs with their own scheme and for stochastic or agent-based models (which
  receive a key). Hybrids compose either with ``on_step``, a discrete update applied at the start
  of every input step (meal-memory, dosing logic, cell division bookkeeping).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..errors import ModelError
from ._noise import NoiseModel
from ._priors import Prior

__all__ = [
    "AbstractModel",
    "AbstractODEModel",
    "AbstractSteppedModel",
    "AlertRule",
    "EventSpec",
    "InputSpec",
    "ObservableSpec",
    "ParamView",
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
class TwinDefaults:
    """How the model becomes a twin when a configuration does not say otherwise.

    ``prior``: ``"spec"`` (each free parameter from its ``ParameterSpec.prior``) or
    ``"population"`` (a kernel density over the model's :meth:`AbstractModel.population`).
    ``free``: the parameters the twin learns (empty: the configuration must name them).
    ``drift``: the particle filter's parameter drift per sqrt(hour). ``alerts``: the rules
    checked on every forecast the twin issues."""

    prior: str = "spec"
    free: tuple[str, ...] = ()
    drift: float = 0.0
    alerts: tuple[AlertRule, ...] = ()


class ParamView:
    """Named view of a parameter vector: ``p.kp1`` is ``vec[index of 'kp1']`` (static indexing
    under jit, so the model equations read like the paper)."""

    __slots__ = ("_index", "_vec")

    def __init__(self, vec: Array, index: dict[str, int]) -> None:
        self._vec = vec
        self._index = index

    def __getattr__(self, name: str) -> Array:
        return self._vec[self._index[name]]


def _index(specs: tuple, name: str, what: str, model: str) -> int:
    for i, s in enumerate(specs):
        if s.name == name:
            return i
    known = ", ".join(s.name for s in specs)
    raise ModelError(f"Model {model!r} has no {what} named {name!r}. Expected one of: {known}.")


@functools.cache
def _name_index(specs: tuple[ParameterSpec, ...]) -> dict[str, int]:
    return {s.name: i for i, s in enumerate(specs)}


class AbstractModel(eqx.Module):
    """Interface of every model. Subclass :class:`AbstractODEModel` or
    :class:`AbstractSteppedModel`, not this class.

    Class attributes (the published model's declaration):
    ``name``, ``title``, ``reference``, ``time_unit``, ``states``, ``parameters``, ``inputs``,
    ``observables``; optionally ``events`` (what a patient's record feeds in) and
    ``twin_defaults`` (how it becomes a twin). Instance fields hold configuration only (grid
    size, eating rate, ...).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    reference: ClassVar[str]
    time_unit: ClassVar[str]
    states: ClassVar[tuple[StateSpec, ...]]
    parameters: ClassVar[tuple[ParameterSpec, ...]]
    inputs: ClassVar[tuple[InputSpec, ...]]
    observables: ClassVar[tuple[ObservableSpec, ...]]
    stochastic: ClassVar[bool] = False
    events: ClassVar[tuple[EventSpec, ...]] = ()
    twin_defaults: ClassVar[TwinDefaults] = TwinDefaults()

    # Inputs are piecewise constant over steps of this length (model time unit).
    input_dt: eqx.AbstractVar[float]

    # ---- declaration helpers -------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_params(self) -> int:
        return len(self.parameters)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.inputs)

    @property
    def observable_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.observables)

    def named(self, params: Float[Array, " n_params"]) -> ParamView:
        """Attribute access to ``params`` by parameter name (``self.named(params).kp1``)."""
        return ParamView(params, _name_index(type(self).parameters))

    def param_index(self, name: str) -> int:
        return _index(self.parameters, name, "parameter", self.name)

    def state_index(self, name: str) -> int:
        return _index(self.states, name, "state", self.name)

    def input_index(self, name: str) -> int:
        return _index(self.inputs, name, "input", self.name)

    def observable_index(self, name: str) -> int:
        return _index(self.observables, name, "observable", self.name)

    def observable_for_code(self, code: str) -> str | None:
        """The observable measured by LOINC ``code`` (None if the model observes no such code)."""
        for spec in self.observables:
            if spec.loinc == code:
                return spec.name
        return None

    def event_spec(self, kind: str) -> EventSpec | None:
        """The declared event of ``kind`` (None if the model takes no such event)."""
        for spec in self.events:
            if spec.kind == kind:
                return spec
        return None

    def population(self) -> Float[Array, "m n_params"]:
        """Parameter vectors of a published population of this model (e.g. the 30 UVA/Padova
        virtual patients), for the twin's ``population`` prior. The base class has none."""
        raise ModelError(
            f"Model {self.name!r} ships no parameter population. Use prior='spec' with the "
            "free parameters named."
        )

    def default_params(self) -> Float[Array, " n_params"]:
        """The default parameter vector (ordered like ``parameters``)."""
        return jnp.asarray([p.default for p in self.parameters], dtype=jnp.float64)

    def make_params(self, base: ArrayLike | None = None, **values: float) -> Float[Array, " p"]:
        """A parameter vector from ``base`` (default: the defaults) with named values replaced."""
        vec = np.array(self.default_params() if base is None else base, dtype=np.float64)
        if vec.shape != (self.n_params,):
            raise ModelError(
                f"make_params() needs a base vector of shape ({self.n_params},) for model "
                f"{self.name!r}. Got shape {vec.shape}."
            )
        for k, v in values.items():
            vec[self.param_index(k)] = float(v)
        return jnp.asarray(vec)

    # ---- dynamics ------------------------------------------------------------------------
    def initial_state(self, params: Float[Array, " n_params"]) -> Float[Array, " n_states"]:
        """The state at t0 when none is given (usually the model's steady state)."""
        raise NotImplementedError

    def baseline_inputs(self, params: Float[Array, " n_params"]) -> Float[Array, " n_inputs"]:
        """Input rates applied where the regimen sets none (e.g. a patient's own basal insulin)."""
        return jnp.zeros(len(self.inputs), dtype=jnp.float64)

    def on_step(
        self,
        t: Float[ArrayLike, ""],
        y: Float[Array, " n_states"],
        u: Float[Array, " n_inputs"],
        params: Float[Array, " n_params"],
    ) -> Float[Array, " n_states"]:
        """Discrete update at the start of each input step (hybrid models). Default: none."""
        return y

    def observe(
        self, t: Float[ArrayLike, ""], y: Float[Array, " n_states"], params: Float[Array, " p"]
    ) -> Float[Array, " n_observables"]:
        """Noise-free observables of state ``y``, ordered like ``observables``."""
        raise NotImplementedError


class AbstractODEModel(AbstractModel):
    """A model given by an ODE vector field ``dy/dt = f(t, y, u, params)``."""

    def vector_field(
        self,
        t: Float[ArrayLike, ""],
        y: Float[Array, " n_states"],
        u: Float[Array, " n_inputs"],
        params: Float[Array, " n_params"],
    ) -> Float[Array, " n_states"]:
        raise NotImplementedError


class AbstractSteppedModel(AbstractModel):
    """A model that advances itself over one input step: PDE schemes, stochastic and agent-based
    models. ``key`` is a JAX PRNG key (``None`` for deterministic models)."""

    def step(
        self,
        t: Float[ArrayLike, ""],
        y: Float[Array, " n_states"],
        u: Float[Array, " n_inputs"],
        params: Float[Array, " n_params"],
        dt: float,
        key: PRNGKeyArray | None,
    ) -> Float[Array, " n_states"]:
        raise NotImplementedError
