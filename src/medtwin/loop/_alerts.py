"""Alert rules: pure functions of a forecast.

A rule (:class:`~medtwin.models.AlertRule`, declared by the model in its ``twin_defaults``)
looks at one observable over the next ``within`` model time units: for each threshold, the
highest probability over those forecast times that the observable lies beyond it (read off the
forecast's quantiles, so clipped to their outermost levels), and whether the forecast's widest
band crosses it. Severity: ``alert`` from 20 %, ``watch`` from 5 % or when the band crosses,
else ``ok``. An observable the model declares no rule for falls back to the rule of its unit
(:data:`UNIT_RULES`), so a forecast of any glucose or white-cell observable is watched alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import timeunits
from ..forecast import Forecast, draw_quantiles
from ..models._base import AbstractModel, AlertRule
from ._codec import QUANTILES

__all__ = ["UNIT_RULES", "Alert", "Crossing", "evaluate", "forecast_alerts", "rule_for"]

ALERT_AT, WATCH_AT = 0.2, 0.05  # probabilities of crossing that make an alert, a watch
# Rules by unit, the look-ahead in minutes. Glucose: < 70 mg/dL is level 1 hypoglycaemia and
# > 250 mg/dL very high (Battelino et al., Diabetes Care 2019, 42:1593). White cells: the SIRS
# criteria, < 4 or > 12 x10^3/uL (Bone et al., Chest 1992, 101:1644).
UNIT_RULES: dict[str, tuple[float, float, float]] = {
    "mg/dL": (70.0, 250.0, 60.0),
    "10*3/uL": (4.0, 12.0, 12 * 60.0),
}


@dataclass(frozen=True)
class Crossing:
    """One threshold of a rule: ``kind`` ``low`` or ``high``, the highest ``probability`` of
    lying beyond ``threshold`` within the look-ahead, the forecast time index ``at`` where it
    is highest, and whether the widest band crosses the threshold there."""

    kind: str
    threshold: float
    probability: float
    at: int
    band_crosses: bool


@dataclass(frozen=True)
class Alert:
    """A rule evaluated on one forecast: ``severity`` ``alert``, ``watch`` or ``ok``, and the
    crossings (the worst first is :attr:`worst`)."""

    observable: str
    severity: str
    rule: AlertRule
    crossings: tuple[Crossing, ...]

    @property
    def worst(self) -> Crossing:
        return max(self.crossings, key=lambda c: (c.probability, c.band_crosses, c.kind == "low"))

    def to_json(self, times: np.ndarray) -> dict:
        """As JSON, with ``at`` the forecast time (model time)."""
        return {
            "observable": self.observable,
            "severity": self.severity,
            "within": self.rule.within,
            "crossings": [
                {"kind": c.kind, "threshold": c.threshold, "probability": c.probability,
                 "at": float(times[c.at]), "band_crosses": c.band_crosses}
                for c in self.crossings
            ],
        }  # fmt: skip


def rule_for(
    model: AbstractModel | None, observable: str, unit: str, time_unit: str
) -> AlertRule | None:
    """The rule for ``observable``: the model's declared one, else that of ``unit`` with its
    look-ahead in ``time_unit``; None if neither exists."""
    if model is not None:
        for rule in model.twin_defaults.alerts:
            if rule.observable == observable:
                return rule
    if unit not in UNIT_RULES:
        return None
    low, high, ahead_min = UNIT_RULES[unit]
    within = timeunits.convert(ahead_min, "min", time_unit)
    return AlertRule(observable, low, high, within, "medtwin.loop UNIT_RULES")


def evaluate(
    fc: Forecast, observable: str, rule: AlertRule, quantiles: np.ndarray, levels: np.ndarray
) -> Alert:
    """``rule`` on forecast ``fc`` of ``observable``, whose predictive ``quantiles`` (levels,
    observables, times) are at ``levels``."""
    j = fc.observable_names.index(observable)
    lead = np.asarray(fc.times) - fc.issued_at
    k = np.flatnonzero(lead <= rule.within + 1e-9 * max(1.0, rule.within))
    k = k if k.size else np.arange(1)
    q = np.asarray(quantiles)[:, j, :]
    outer = int(np.argmax(fc.levels))
    crossings = []
    for kind, thr in (("low", rule.low), ("high", rule.high)):
        if thr is None:
            continue
        below = np.array([np.interp(thr, q[:, t], levels) for t in k])
        beyond = below if kind == "low" else 1.0 - below
        edge = fc.lower[outer, j, k] if kind == "low" else fc.upper[outer, j, k]
        crosses = bool(np.any(edge < thr) if kind == "low" else np.any(edge > thr))
        at = int(k[int(np.argmax(beyond))])
        crossings.append(Crossing(kind, float(thr), float(np.max(beyond)), at, crosses))
    worst = max(crossings, key=lambda c: (c.probability, c.band_crosses, c.kind == "low"))
    p, crosses = worst.probability, worst.band_crosses
    severity = "alert" if p >= ALERT_AT else "watch" if p >= WATCH_AT or crosses else "ok"
    return Alert(observable, severity, rule, tuple(crossings))


def forecast_alerts(fc: Forecast, model: AbstractModel) -> tuple[Alert, ...]:
    """Every rule ``model`` declares, evaluated on a forecast it issued (raw draws or stored
    quantiles)."""
    if fc.quantile_levels is None:
        quantiles = draw_quantiles(fc.draws, QUANTILES)
        levels = np.asarray(QUANTILES)
    else:
        quantiles, levels = np.asarray(fc.draws), np.asarray(fc.quantile_levels)
    return tuple(
        evaluate(fc, rule.observable, rule, quantiles, levels)
        for rule in model.twin_defaults.alerts
        if rule.observable in fc.observable_names
    )
