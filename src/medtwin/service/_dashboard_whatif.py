"""The dashboard's what-if at a choice of horizons, with no compile per horizon.

A what-if horizon fixes the simulation's shape (its number of steps and saves), and each new
shape compiled for 20-50 s, so the page used to offer one horizon. It now offers a few
(:func:`horizon_choices`: 1, 2 and 4 hours and the twin's own forecast horizon, in the model's
time unit, within the model's what-if span, ``medtwin.loop.time_bounds``) and always computes
the *longest* of them (or the horizon asked, when that is longer): one shape per twin,
compiled once -- the twin's own forecast has compiled it already when its horizon is the
longest choice. A shorter horizon is the longest one cut (:func:`cut`): the same draws, so its
numbers are the prefix of the longer horizon's, number for number, and switching horizons
never changes what was already shown.
The metrics of a cut are computed on the cut by :func:`medtwin.forecast.outcome_metrics`, the
function :func:`medtwin.forecast.what_if` computes them with on its whole horizon.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .. import loop, timeunits
from ..forecast import Forecast, WhatIf, outcome_metrics
from ._views import snap_horizon

__all__ = ["CHOICES_MIN", "cut", "horizon_choices"]

CHOICES_MIN = (60.0, 120.0, 240.0)
"""The what-if horizons offered, in minutes (besides the twin's own forecast horizon)."""


def horizon_choices(model: Any, own: float) -> list[float]:
    """The horizons the page offers for a twin of ``model`` whose forecasts look ``own``
    ahead (both in the model's time unit): :data:`CHOICES_MIN` and ``own``, each within the
    what-if limit and snapped to the cadence, ascending."""
    unit = model.time_unit
    longest = loop.time_bounds(model).what_if.high
    wanted = [timeunits.convert(m, "min", unit) for m in CHOICES_MIN] + [min(own, longest)]
    return sorted({snap_horizon(model, h) for h in wanted if h <= longest})


def _cut_forecast(fc: Forecast, n: int) -> Forecast:
    return replace(
        fc,
        times=fc.times[:n],
        median=fc.median[:, :n],
        lower=fc.lower[:, :, :n],
        upper=fc.upper[:, :, :n],
        draws=fc.draws[:, :, :n],
    )


def cut(res: WhatIf, model: Any, points: int) -> WhatIf:
    """``res`` cut to its first ``points`` forecast times, the metrics of each option
    computed on the cut (``res`` itself when nothing is cut)."""
    if points >= len(res.forecasts[0].times):
        return res
    fcs = tuple(_cut_forecast(fc, points) for fc in res.forecasts)
    metrics = {n: outcome_metrics(model, fc.draws) for n, fc in zip(res.options, fcs, strict=True)}
    return WhatIf(res.options, fcs, metrics)
