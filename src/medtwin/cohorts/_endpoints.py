"""Trial endpoints: one value per patient from a chunk's trajectories.

An endpoint is anything with a ``name``, a ``unit`` and ``__call__(trajectory, population) ->
[n]`` (the :class:`Endpoint` protocol); it must be picklable (a module-level function wrapped in
:class:`FunctionEndpoint`, or a small dataclass) for process and Dask executors.

* :class:`GlucoseEndpoint` -- the consensus CGM metrics of :mod:`medtwin.analysis.metrics` (time
  in range 70-180, below 70 and 54, above 180 and 250 mg/dL, mean, SD, CV, LBGI, HBGI, GMI;
  Battelino et al. 2019, Diabetes Care 42:1593), from ``start`` on (to skip a run-in).
* :class:`HbA1cChange` -- the glucose management indicator at the end of the trial minus the
  patient's baseline HbA1c (a covariate): GMI (%) = 3.31 + 0.02392 x mean glucose (mg/dL)
  (Bergenstal et al. 2018, Diabetes Care 41:2275).
* :class:`SepsisSurvival` -- 1 where the Reynolds 2006 sepsis model's final state is "health"
  (:func:`~medtwin.models.inflammation.reynolds2006.outcome_class`), else 0: its arm mean is the
  survival fraction. Needs ``save_states=True`` and a horizon long enough to settle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..analysis import metrics as m
from ..errors import DataError, ModelError
from ..models.inflammation.reynolds2006 import outcome_class
from ._populations import Population

__all__ = [
    "GLUCOSE_METRICS",
    "Endpoint",
    "FunctionEndpoint",
    "GlucoseEndpoint",
    "HbA1cChange",
    "SepsisSurvival",
]

# metric -> (unit, description)
GLUCOSE_METRICS: dict[str, tuple[str, str]] = {
    "tir": ("%", "time in range 70-180 mg/dL"),
    "tbr70": ("%", "time below 70 mg/dL"),
    "tbr54": ("%", "time below 54 mg/dL"),
    "tar180": ("%", "time above 180 mg/dL"),
    "tar250": ("%", "time above 250 mg/dL"),
    "mean": ("mg/dL", "mean glucose"),
    "sd": ("mg/dL", "glucose standard deviation"),
    "cv": ("%", "coefficient of variation"),
    "lbgi": ("1", "low blood glucose index"),
    "hbgi": ("1", "high blood glucose index"),
    "gmi": ("%", "glucose management indicator"),
}


class Endpoint(Protocol):
    """``endpoint(trajectory, population) -> [n]`` with a ``name`` and a ``unit``."""

    @property
    def name(self) -> str: ...
    @property
    def unit(self) -> str: ...

    def __call__(self, trajectory: Any, population: Population) -> np.ndarray: ...


def _window(trajectory: Any, observable: str, start: float) -> np.ndarray:
    g = np.asarray(trajectory.observable(observable), dtype=np.float64)
    keep = np.asarray(trajectory.ts) >= start
    if not keep.any():
        raise DataError(
            f"No saved time point at or after start={start:g}; the trajectory ends at "
            f"{float(np.asarray(trajectory.ts)[-1]):g}. Lower 'start' or simulate longer."
        )
    return g.reshape(-1, g.shape[-1])[:, keep]


def _metric(metric: str, g: np.ndarray) -> np.ndarray:
    fns: dict[str, Callable[[np.ndarray], Any]] = {
        "tir": m.time_in_range,
        "tbr70": lambda x: m.time_below(x, 70.0),
        "tbr54": lambda x: m.time_below(x, 54.0),
        "tar180": lambda x: m.time_above(x, 180.0),
        "tar250": lambda x: m.time_above(x, 250.0),
        "mean": m.mean_glucose,
        "sd": m.glucose_sd,
        "cv": m.coefficient_of_variation,
        "lbgi": m.lbgi,
        "hbgi": m.hbgi,
        "gmi": m.gmi,
    }
    return np.asarray(fns[metric](g), dtype=np.float64)


@dataclass(frozen=True)
class GlucoseEndpoint:
    """A CGM metric (a key of :data:`GLUCOSE_METRICS`) of ``observable`` (mg/dL) over the saved
    times ``>= start`` (model time, min)."""

    metric: str
    observable: str = "bg"
    start: float = 0.0
    label: str | None = None

    def __post_init__(self) -> None:
        if self.metric not in GLUCOSE_METRICS:
            raise ModelError(
                f"Unknown glucose endpoint {self.metric!r}. Expected one of: "
                f"{', '.join(GLUCOSE_METRICS)}."
            )

    @property
    def name(self) -> str:
        return self.label or self.metric

    @property
    def unit(self) -> str:
        return GLUCOSE_METRICS[self.metric][0]

    def __call__(self, trajectory: Any, population: Population) -> np.ndarray:
        return _metric(self.metric, _window(trajectory, self.observable, self.start))


@dataclass(frozen=True)
class HbA1cChange:
    """GMI over the saved times ``>= start`` minus the covariate ``baseline`` (HbA1c, %)."""

    baseline: str = "hba1c"
    observable: str = "bg"
    start: float = 0.0
    name: str = "hba1c_change"
    unit: str = "%-points"

    def __call__(self, trajectory: Any, population: Population) -> np.ndarray:
        if self.baseline not in population.covariates:
            raise DataError(
                f"HbA1cChange needs each patient's baseline HbA1c (%) as covariate "
                f"{self.baseline!r}; the population has {sorted(population.covariates)}. Add it "
                "with population.with_covariates(hba1c=...)."
            )
        base = np.asarray(population.covariates[self.baseline], dtype=np.float64)
        return _metric("gmi", _window(trajectory, self.observable, self.start)) - base


@dataclass(frozen=True)
class SepsisSurvival:
    """1.0 where the final state classifies as "health" (Reynolds et al. 2006), else 0.0."""

    name: str = "survival"
    unit: str = "fraction"

    def __call__(self, trajectory: Any, population: Population) -> np.ndarray:
        if trajectory.states is None:
            raise DataError("SepsisSurvival needs the states: give the arm save_states=True.")
        final = np.asarray(trajectory.states)[..., -1, :4].reshape(-1, 4)
        return (np.asarray(outcome_class(final)) == "health").astype(np.float64)


@dataclass(frozen=True)
class FunctionEndpoint:
    """Any ``fn(trajectory, population) -> [n]`` as an endpoint (``fn`` module-level)."""

    name: str
    fn: Callable[[Any, Population], Any]
    unit: str = ""

    def __call__(self, trajectory: Any, population: Population) -> np.ndarray:
        return np.asarray(self.fn(trajectory, population), dtype=np.float64)
