"""When model-predictive control may not trust its twin: the safety checks behind the fallback
to basal-bolus therapy.

:func:`safety_check` returns an empty string when the twin may be used and otherwise the reason
(the first failing check), which the controller records in :attr:`Decision.fallback`:

1. no twin, or a twin whose time is not the decision time (stale);
2. the effective sample size (1 / sum w^2) is below ``min_ess_fraction`` of the particles:
   the posterior has collapsed onto a few particles (weight degeneracy, Doucet & Johansen 2011);
3. the skill ledger reports the twin's recent forecast coverage as drifting;
4. the CGM is outside the validated range ``cgm_range`` (mg/dL) or outside the range the
   ensemble predicts now (its particles' ``sc_glucose``) widened by ``margin`` mg/dL: the
   patient is in a state the twin's population does not cover;
5. more than ``bound_fraction`` of the posterior weight sits on particles with a free parameter
   at its prior bound (within ``bound_rtol`` of the bound's width): the data push the twin out of
   its population.

References
----------
Doucet A, Johansen AM. A tutorial on particle filtering and smoothing: fifteen years later.
Handbook of Nonlinear Filtering 12:656-704, 2011 (effective sample size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

__all__ = ["SafetyLimits", "safety_check"]


@dataclass(frozen=True)
class SafetyLimits:
    """Thresholds of :func:`safety_check` (see the module docstring). Glucose in mg/dL, time in
    the model's unit (min)."""

    min_ess_fraction: float = 0.05
    cgm_range: tuple[float, float] = (40.0, 400.0)
    margin: float = 25.0
    bound_fraction: float = 0.5
    bound_rtol: float = 1e-3
    max_staleness: float = 5.0
    observable: str = "sc_glucose"


def safety_check(
    twin: Any, cgm: float, time: float, *, drifting: bool = False, limits: SafetyLimits
) -> str:
    """``""`` if model-predictive control may use ``twin`` at ``time`` (min) with the latest
    reading ``cgm`` (mg/dL), else why not."""
    if twin is None:
        return "no twin given"
    if abs(twin.time - time) > limits.max_staleness:
        return f"twin is stale: at t={twin.time:g} min, decision at t={time:g} min"
    ens = twin.ensemble
    n = ens.size
    ess = ens.ess
    if ess < limits.min_ess_fraction * n:
        return (
            f"effective sample size collapsed: ESS {ess:.1f} of {n} particles "
            f"< {limits.min_ess_fraction:.0%}"
        )
    if drifting:
        return "forecast coverage drifting (skill ledger)"
    lo, hi = limits.cgm_range
    if not lo <= cgm <= hi:
        return f"CGM {cgm:.0f} mg/dL outside the validated range [{lo:g}, {hi:g}] mg/dL"
    model = twin.model
    j = model.observable_index(limits.observable)
    pred = np.asarray(jax.vmap(lambda y, p: model.observe(ens.time, y, p))(ens.states, ens.params))
    pred = pred[:, j]
    p_lo, p_hi = float(np.nanmin(pred)) - limits.margin, float(np.nanmax(pred)) + limits.margin
    if not p_lo <= cgm <= p_hi:
        return (
            f"CGM {cgm:.0f} mg/dL outside the ensemble's predicted range "
            f"[{p_lo:.0f}, {p_hi:.0f}] mg/dL (prediction +- {limits.margin:g})"
        )
    idx = np.array([model.param_index(name) for name in twin.free], dtype=np.int64)
    if idx.size:
        b = np.array([model.parameters[i].bounds for i in idx])
        tol = limits.bound_rtol * (b[:, 1] - b[:, 0])
        v = np.asarray(ens.params)[:, idx]
        at = np.any((v <= b[:, 0] + tol) | (v >= b[:, 1] - tol), axis=1)
        share = float(np.sum(np.asarray(ens.weights)[at]))
        if share > limits.bound_fraction:
            return (
                f"parameters at their bounds: {share:.0%} of the posterior weight "
                f"> {limits.bound_fraction:.0%}"
            )
    return ""
