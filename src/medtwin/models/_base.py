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
from collections.abc import Callable
from dataclasses import fields
from typing import ClassVar, TypeVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..errors import ModelError
from ._spec import (
    AlertRule,
    Declaration,
    Declared,
    EventSpec,
    InputSpec,
    ObservableSpec,
    ParameterSpec,
    StateSpec,
    TwinDefaults,
)

__all__ = [
    "AbstractModel",
    "AbstractODEModel",
    "AbstractSteppedModel",
    "AlertRule",
    "Declaration",
    "EventSpec",
    "InputSpec",
    "ObservableSpec",
    "ParamView",
    "ParameterSpec",
    "StateSpec",
    "TwinDefaults",
    "declared",
]

_C = TypeVar("_C", bound=type)


class ParamView:
    """Named view of a parameter vector: ``p.kp1`` is ``vec[index of 'kp1']`` (static indexing
    under jit, so the model equations read like the paper)."""

    __slots__ = ("_index", "_vec")

    def __init__(self, vec: Array, index: dict[str, int]) -> None:
        self._vec = vec
        self._index = index

    def __getattr__(self, name: str) -> Array:
        return self._vec[self._index[name]]


@functools.cache
def _name_index(specs: tuple[ParameterSpec, ...]) -> dict[str, int]:
    return {s.name: i for i, s in enumerate(specs)}


class AbstractModel(Declared, eqx.Module):
    """Interface of every model. Subclass :class:`AbstractODEModel` or
    :class:`AbstractSteppedModel`, not this class.

    Class attributes (the published model's declaration):
    ``name``, ``title``, ``reference``, ``time_unit``, ``states``, ``parameters``, ``inputs``,
    ``observables``; optionally ``events`` (what a patient's record feeds in) and
    ``twin_defaults`` (how it becomes a twin). Instance fields hold configuration only (grid
    size, eating rate, ...).
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
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

    # ---- declaration helpers (the lookups are :class:`~medtwin.models.Declared`'s) ----------
    def named(self, params: Float[Array, " n_params"]) -> ParamView:
        """Attribute access to ``params`` by parameter name (``self.named(params).kp1``)."""
        return ParamView(params, _name_index(type(self).parameters))

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


def declared(declaration: Declaration) -> Callable[[_C], _C]:
    """Class decorator: the model class takes its class attributes (``name``, ``parameters``,
    ...) from ``declaration``, the data the registry reads without loading the numerics.
    ``declaration.model`` must name the class it decorates. An attribute the class defines itself
    is kept (a grid model's states, one per cell of the instance's grid)."""

    def apply(cls: _C) -> _C:
        where = f"{cls.__module__}:{cls.__qualname__}"
        if declaration.model != where:
            raise ModelError(
                f"The declaration of {declaration.name!r} names its class {declaration.model!r}, "
                f"but decorates {where!r}. Set Declaration.model to {where!r}."
            )
        for f in fields(Declaration):
            if f.name != "model" and f.name not in vars(cls):  # the class's own (a grid's states)
                setattr(cls, f.name, getattr(declaration, f.name))
        return cls

    return apply
