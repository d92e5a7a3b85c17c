"""The ODE/PDE kind of twin: a particle ensemble over a registered model's parameters and
states (:class:`~medtwin.twin.Twin`), assimilated by its filter, forecast with bands.

The steps are those of ``_step`` (one twin), ``_batch`` (many at once, vmapped), ``_warm``
and ``_codec`` (the blobs); this module only makes them a :class:`~medtwin.loop.TwinKind`.
It is the fallback kind: a name no other kind offers is looked up in the model registry,
whose error names the models it knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..errors import UnknownModelError
from ..models import declaration
from ..twin import Twin
from . import _batch, _step, _warm
from ._codec import pack_ensemble, pack_forecast
from ._config import TwinConfig, model_of
from ._kind import Packed, PackedForecast, TwinKind, register_kind
from ._step import PendingEvent, PendingObservation, Step

__all__ = ["OdeKind"]


class OdeKind(TwinKind):
    """Twins of the models of ``medtwin.models`` (and those registered or imported)."""

    name = "ode"
    fallback = True

    def offers(self, model: str) -> bool:
        return True

    def identity(self, model: str) -> str:
        # the declaration's repr holds every declared field -- parameters with their defaults,
        # bounds and units, states, observables, events, twin defaults, where the numerics
        # live -- and no memory address
        return repr(declaration(model))

    def knows(self, model: str) -> bool:
        try:
            declaration(model)
        except UnknownModelError:
            return False
        return True

    def check(self, config: TwinConfig) -> None:
        config._check_work(model_of(config.model))

    def time_unit(self, config: TwinConfig) -> str:
        return model_of(config.model).time_unit

    def create(self, config: TwinConfig) -> Step:
        return _step.create(config)

    def update(
        self,
        config: TwinConfig,
        twin: Any,
        observations: Sequence[PendingObservation],
        events: Sequence[PendingEvent],
    ) -> Step:
        return _step.update(config, twin, observations, events)

    def update_many(self, items: Sequence[Any]) -> list[Step | Exception]:
        return _batch.update_many(items, errors="return")

    def restore(
        self,
        config: TwinConfig,
        version: int,
        state: bytes,
        history: Sequence[tuple[str, datetime, float]],
    ) -> Twin:
        return _step.restore(config, version, state, history)

    def redo(
        self,
        config: TwinConfig,
        twin: Any,
        observations: Sequence[PendingObservation],
        events: Sequence[PendingEvent],
        until: float | None,
    ) -> Twin:
        return _step.redo(config, twin, observations, events, until)

    def packed(self, step: Step) -> Packed:
        fc, model = step.forecast, step.twin.model.name
        return Packed(
            version=step.twin.version, model=model, model_time=float(step.twin.time),
            state=pack_ensemble(step.twin.ensemble), report=step.report, applied=step.applied,
            obs_marks=step.obs_marks, ev_marks=step.ev_marks,
            forecast=PackedForecast(float(fc.issued_at), tuple(fc.observable_names),
                                    tuple(fc.levels), pack_forecast(fc, model)),
        )  # fmt: skip

    def summary(self, twin: Any) -> dict[str, Any]:
        return {"kind": self.name, "particles": twin.ensemble.size, "ess": twin.ensemble.ess,
                "free": list(twin.free),
                "parameters": {k: {"q05": q[0], "median": q[1], "q95": q[2]}
                               for k, q in twin.parameter_quantiles().items()}}  # fmt: skip

    def warm_up(self, config: TwinConfig) -> float:
        return _warm.warm_up(config)


register_kind(OdeKind())
