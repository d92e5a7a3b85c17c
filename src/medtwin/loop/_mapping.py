"""From a patient's record to the model: wall-clock times to model time, LOINC codes to
observables, recorded events to regimen events -- all read off the model's declaration.

Model time is ``(datetime - epoch)`` in the model's time unit (``min``, ``h`` or ``d``); a twin
starts at model time 0 (its configuration's ``epoch``). An observation's LOINC ``code`` maps to
the observable whose ``ObservableSpec.loinc`` is that code (2339-0 -> ``bg``, 99504-3 ->
``sc_glucose``, 6690-2 -> ``wbc``); an event's ``kind`` to the model's :class:`EventSpec` of
that kind (``meal`` g eaten at 5 g/min -> ``carbs``, ``bolus`` U and ``basal`` U/h ->
``insulin``, ``antibiotic`` 1/h -> a rate on the input of that name, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from .. import timeunits
from ..assimilate import Observations
from ..models._base import AbstractModel
from ..simulate import Dose, Event, SetRate

__all__ = [
    "event_kinds",
    "from_model_time",
    "observable_for",
    "observations_of",
    "regimen_event",
    "snapped",
    "to_model_time",
]


def to_model_time(t: datetime, epoch: datetime, unit: str) -> float:
    """``t`` in model time: ``(t - epoch)`` in ``unit`` (min, h or d)."""
    return (t - epoch).total_seconds() / timeunits.SECONDS[unit]


def from_model_time(t: float, epoch: datetime, unit: str) -> datetime:
    """Model time ``t`` (in ``unit``) as a UTC datetime."""
    return epoch + timedelta(seconds=float(t) * timeunits.SECONDS[unit])


def snapped(model: AbstractModel, t: float) -> float:
    """``t`` on the model's input grid from 0 (as the filters snap observation times)."""
    return round(t / model.input_dt) * model.input_dt


def observable_for(model: AbstractModel, code: str) -> str | None:
    """The observable measured by LOINC ``code``, or None if the model observes no such code."""
    return model.observable_for_code(code)


def regimen_event(model: AbstractModel, kind: str, t: float, amount: float) -> Event | None:
    """The regimen event of a recorded event at model time ``t``, or None if the model declares
    no event of that kind (the record is kept but cannot act on this twin)."""
    spec = model.event_spec(kind)
    if spec is None or spec.input not in model.input_names:
        return None
    label = spec.label or kind.replace("_", "-")
    if spec.form == "rate":
        return SetRate(t, spec.input, amount / spec.per, label)
    return Dose(t, spec.input, amount / spec.per, rate=spec.rate, label=label)


def event_kinds(model: AbstractModel) -> list[tuple[str, str]]:
    """(kind, unit) of every event ``model`` takes, as declared."""
    return model.event_kinds()


def observations_of(rows: Sequence[tuple[float, str, float, int]]) -> Observations:
    """Observations from (model time, observable, value, censored) rows."""
    return Observations(
        np.array([r[0] for r in rows], dtype=np.float64),
        tuple(r[1] for r in rows),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=np.int8),
    )
