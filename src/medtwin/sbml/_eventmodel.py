"""Imported SBML models with events: :class:`SBMLEventModel`.

A model with events advances itself over each input step (a medtwin *stepped* model), so
``simulate``, ``advance``, forecasts and the twin loop apply its events with no solver to
choose: the step integrates with diffrax and executes the events inside it
(:mod:`._eventstep`). A ``solver=`` given to ``simulate`` is not used for it; the model's own
fields set the tolerances.
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..errors import ModelError
from ..models._base import AbstractSteppedModel
from ._eventqueue import MAX_PENDING
from ._eventstep import EventSettings, event_step, initial_memory
from ._model import SBMLBase

__all__ = ["SBMLEventModel"]


class SBMLEventModel(SBMLBase, AbstractSteppedModel):
    """A model imported from SBML whose document has events (see :class:`SBMLModel` for the
    states, parameters and observables).

    The state vector holds the ODE states, then per event the value of its trigger at the
    last check (``trigger(<event>)``, 1.0 or 0.0), then per event with a delay its queue of
    pending executions: ``max_pending`` slots of ``pending(<event>)[k]`` (1.0 or 0.0),
    ``time(<event>)[k]`` and, with ``useValuesFromTriggerTime``, the values held from the
    trigger time ``held(<event>)[k].<variable>`` (:mod:`medtwin.sbml._eventqueue`).
    :meth:`initial_state` executes the events due at time 0 (a trigger true at 0 whose
    ``initialValue`` is false) and queues the delayed ones. A hand-made ``y0`` must carry
    the event memory too (take it from :meth:`initial_state`).

    Fields: ``input_dt`` (model time units, default 1: the save and input grid); ``rtol``,
    ``atol`` (the adaptive integrator's tolerances, default 1e-8); ``max_steps`` (integrator
    steps per solver stop); ``max_events`` (event executions per input step, default 1000)
    and ``max_stops`` (solver stops per input step, default 10000): a member that exceeds
    them, or whose integration fails, gets NaN states and a non-zero ``simulate`` status; so
    does one whose delayed event fires with a negative or NaN delay or while its queue holds
    ``max_pending`` executions already (a class attribute, set by
    ``load_sbml(..., max_pending=...)``, because it sizes the state vector).
    """

    max_pending: ClassVar[int] = MAX_PENDING

    input_dt: float = 1.0
    rtol: float = 1e-8
    atol: float = 1e-8
    max_steps: int = 16384
    max_events: int = 1000
    max_stops: int = 10000

    def __check_init__(self) -> None:
        for name in ("max_steps", "max_events", "max_stops"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ModelError(f"{type(self).__name__}.{name} must be an integer >= 1. "
                                 f"Got {value!r}.")  # fmt: skip
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not (isinstance(value, float | int) and value > 0):
                raise ModelError(f"{type(self).__name__}.{name} must be > 0. Got {value!r}.")

    def initial_state(self, params: Float[Array, " n_params"]) -> Float[Array, " n_states"]:
        params = jnp.asarray(params)
        x = self.equations.initial_state(params)
        return initial_memory(self.equations, x, params, self._settings())

    def _settings(self) -> EventSettings:
        return EventSettings(float(self.rtol), float(self.atol), self.max_steps,
                             self.max_events, self.max_stops, self.max_pending)  # fmt: skip

    def step(
        self,
        t: Float[ArrayLike, ""],
        y: Float[Array, " n_states"],
        u: Float[Array, " n_inputs"],
        params: Float[Array, " n_params"],
        dt: float,
        key: PRNGKeyArray | None,
    ) -> Float[Array, " n_states"]:
        return event_step(self.equations, t, y, params, dt, self._settings())
