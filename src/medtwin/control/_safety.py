"""When model-predictive control may not trust its twin: the safety checks behind the fallback
to basal-bolus therapy.

:func:`safety_check` returns an empty string when the twin may be used and otherwise the reason
(the first failing check), which the controller records in :attr:`Decision.fallback`:

1. no twin, or a twin whose time is not the decision time (stale);
2. the effective sample size (1 / sum w^2) is below ``min_ess_fraction`` of the particles:
   the posterior has collapsed onto a few particles (weight degeneracy, Doucet & Johansen 2011);
3. the skill ledger reports the twin's recent forecast coverage as drifting;
4. the CGM is outside the validated range ``cgm_range`` (mg/dL) or outside the range the
   ensemble predicts now (its particles' ``sc_glucose``; in the closed loop with a sensor
   error model, the readings they predict, each with its sensor error's 99.9 % conditional
   band) widened by ``margin`` mg/dL: the patient is in a state the twin's population does not
   cover;
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
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

__all__ = ["FALLBACK_REASONS", "SafetyLimits", "safety_check", "safety_flags"]

# What a fallback code of the closed loop means (code i = the check at index i - 1 failed first).
FALLBACK_REASONS = (
    "",
    "effective sample size collapsed",
    "forecast coverage drifting",
    "CGM outside the validated range",
    "CGM outside the ensemble's predicted range",
    "parameters at their bounds",
)


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


def safety_flags(
    ess_fraction: Float[ArrayLike, "*batch"],
    drifting: Bool[ArrayLike, "*batch"],
    cgm: Float[ArrayLike, "*batch"],
    pred_lo: Float[ArrayLike, "*batch"],
    pred_hi: Float[ArrayLike, "*batch"],
    bound_share: Float[ArrayLike, "*batch"],
    limits: SafetyLimits,
) -> Bool[Array, "*batch 5"]:
    """Checks 2-5 of the module docstring as flags (True = failed), in the order of
    ``FALLBACK_REASONS[1:]`` (traceable, batched). ``pred_lo``/``pred_hi`` the ensemble's
    predicted range of the CGM's quantity now (mg/dL), ``bound_share`` the posterior weight on
    particles at a prior bound."""
    cgm = jnp.asarray(cgm, jnp.float64)
    lo, hi = limits.cgm_range
    return jnp.stack(
        [
            jnp.asarray(ess_fraction) < limits.min_ess_fraction,
            jnp.asarray(drifting, bool),
            (cgm < lo) | (cgm > hi),
            (cgm < jnp.asarray(pred_lo) - limits.margin)
            | (cgm > jnp.asarray(pred_hi) + limits.margin),
            jnp.asarray(bound_share) > limits.bound_fraction,
        ],
        axis=-1,
    )


def bound_share(params: Array, weights: Array, idx: np.ndarray, b: np.ndarray, rtol: float):
    """Posterior weight on particles with a free parameter (columns ``idx``, bounds ``b``
    [k, 2]) within ``rtol`` of the bounds' width of a bound (traceable)."""
    tol = rtol * (b[:, 1] - b[:, 0])
    v = params[..., idx]
    at = jnp.any((v <= b[:, 0] + tol) | (v >= b[:, 1] - tol), axis=-1)
    return jnp.sum(jnp.where(at, weights, 0.0), axis=-1)


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
    model = twin.model
    j = model.observable_index(limits.observable)
    pred = np.asarray(jax.vmap(lambda y, p: model.observe(ens.time, y, p))(ens.states, ens.params))
    pred = pred[:, j]
    p_lo, p_hi = float(np.nanmin(pred)), float(np.nanmax(pred))
    idx = np.array([model.param_index(name) for name in twin.free], dtype=np.int64)
    b = np.array([model.parameters[i].bounds for i in idx]).reshape(-1, 2)
    share = (
        float(bound_share(ens.params, ens.weights, idx, b, limits.bound_rtol)) if idx.size else 0.0
    )
    flags = np.asarray(safety_flags(ess / n, drifting, cgm, p_lo, p_hi, share, limits))
    if not flags.any():
        return ""
    lo, hi = limits.cgm_range
    return (
        f"effective sample size collapsed: ESS {ess:.1f} of {n} particles "
        f"< {limits.min_ess_fraction:.0%}",
        "forecast coverage drifting (skill ledger)",
        f"CGM {cgm:.0f} mg/dL outside the validated range [{lo:g}, {hi:g}] mg/dL",
        f"CGM {cgm:.0f} mg/dL outside the ensemble's predicted range "
        f"[{p_lo - limits.margin:.0f}, {p_hi + limits.margin:.0f}] mg/dL "
        f"(prediction +- {limits.margin:g})",
        f"parameters at their bounds: {share:.0%} of the posterior weight "
        f"> {limits.bound_fraction:.0%}",
    )[int(np.argmax(flags))]
