"""PID control of the basal rate on the CGM error from a target, with anti-windup.

``basal = basal0 + Kp e + Ki integral(e) + Kd de/dt`` with ``e = CGM - target`` (mg/dL), as
simglucose's ``PIDController`` (Xie 2018) whose example gains ``k_P = 0.001`` U/min per mg/dL,
``k_I = 0.00001`` U/min per mg/dL/min and ``k_D = 0.001`` U/min per mg/dL/min at target 140 mg/dL
are the defaults here (in U/h: x 60), added to the patient's basal rate as in the external
physiologic insulin delivery of Steil et al. (2006).

Per-patient gains (:meth:`PID.scaled`): the controller's gain is set in proportion to the
patient's open-loop total daily insulin dose, as Panteleon et al. (2006) set the proportional
gain of this controller (stable control from 0.5 to 1.5 x that gain): every gain is
multiplied by ``TDI / REFERENCE_TDI``, the shared gains holding for ``REFERENCE_TDI`` = 40
U/day (about the mean of the 30 virtual patients' 16-68 U/day in simglucose's Quest.csv). A
patient's TDI from its therapy settings (:func:`total_daily_insulin`): the basal rate is about
half of it -- 47.5 % in Davidson et al. (2008) -- so ``TDI = 24 h x basal / 0.475``.

The policy is stateless (a frozen dataclass): the integral is the trapezoidal integral of the
error over the CGM history of the last ``window`` minutes, and the derivative the least-squares
slope of the last ``slope_window`` minutes. Anti-windup: the integral term is clamped to
``[-basal0, max_basal - basal0]`` of the pump (it can never ask beyond what the pump can
deliver), and the window bounds the memory. Meal boluses for announced meals are optional
(``carb_ratio``; the PID alone reacts to meals only through the CGM).

Units: min, mg/dL, U/h, U.

References
----------
Steil GM, Rebrin K, Darwin C, Hariri F, Saad MF. Feasibility of automating insulin delivery for
the treatment of type 1 diabetes. Diabetes 55(12):3344-3350, 2006.
Xie J. simglucose v0.2.1, 2018 (MIT): ``controller/pid_ctrller.py`` and its example.
Panteleon AE, Loutseiko M, Steil GM, Rebrin K. Evaluation of the effect of gain on the meal
response of an automated closed-loop insulin delivery system. Diabetes 55(7):1995-2000, 2006.
Davidson PC, Hebblewhite HR, Steed RD, Bode BW. Analysis of guidelines for basal-bolus insulin
dosing: basal insulin, correction factor, and carbohydrate-to-insulin ratio. Endocr Pract
14(9):1095-1101, 2008.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from ..errors import ModelError
from ._policy import Decision, PolicyInput, clip_to_pump

__all__ = ["BASAL_SHARE", "PID", "REFERENCE_TDI", "pid_terms", "total_daily_insulin"]

History = Float[ArrayLike, "*batch n"]
Gain = Float[ArrayLike, "*batch"]

REFERENCE_TDI = 40.0  # U/day at which the shared (simglucose) gains hold
BASAL_SHARE = 0.475  # basal insulin's share of the total daily dose (Davidson et al. 2008)


def total_daily_insulin(basal: float) -> float:
    """A patient's total daily insulin (U/day) from its basal rate (U/h): ``24 basal / 0.475``
    (module docstring)."""
    if not (math.isfinite(basal) and basal > 0):
        raise ModelError(f"total_daily_insulin() needs a basal rate > 0 U/h. Got {basal!r}.")
    return 24.0 * basal / BASAL_SHARE


def pid_terms(
    t: History,
    g: History,
    valid: Bool[ArrayLike, "*batch n"],
    now: Float[ArrayLike, "*batch"],
    *,
    basal: Float[ArrayLike, "*batch"],
    kp: Gain,
    ki: Gain,
    kd: Gain,
    target: float,
    window: float,
    slope_window: float,
    max_basal: float,
) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"], Float[Array, "*batch"]]:
    """The P, I (clamped) and D terms in U/h (traceable, batched over leading axes; the gains
    may differ per batch member).

    ``t``/``g`` the CGM history (min, mg/dL), oldest first, ending with the reading at ``now``;
    ``valid`` which entries are readings (a padded history has False in front). The integral is
    the trapezoidal integral of ``g - target`` over consecutive valid readings of the last
    ``window`` min; the derivative the least-squares slope of the valid readings of the last
    ``slope_window`` min (0 with fewer than two)."""
    t, g = jnp.asarray(t, jnp.float64), jnp.asarray(g, jnp.float64)
    now = jnp.asarray(now, jnp.float64)[..., None]
    valid = jnp.asarray(valid, bool)
    e = g - target
    inw = valid & (t >= now - window)
    pair = inw[..., 1:] & inw[..., :-1]
    integral = jnp.sum(jnp.where(pair, jnp.diff(t) * (e[..., 1:] + e[..., :-1]) / 2, 0.0), -1)
    basal = jnp.asarray(basal, jnp.float64)
    i_term = jnp.clip(ki * integral, -basal, max_basal - basal)
    last = valid & (t >= now - slope_window)
    n = jnp.sum(last, -1, keepdims=True)
    tbar = jnp.sum(jnp.where(last, t, 0.0), -1, keepdims=True) / jnp.maximum(n, 1)
    gbar = jnp.sum(jnp.where(last, g, 0.0), -1, keepdims=True) / jnp.maximum(n, 1)
    sxx = jnp.sum(jnp.where(last, (t - tbar) ** 2, 0.0), -1)
    sxy = jnp.sum(jnp.where(last, (t - tbar) * (g - gbar), 0.0), -1)
    slope = jnp.where((n[..., 0] >= 2) & (sxx > 0), sxy / jnp.where(sxx > 0, sxx, 1.0), 0.0)
    return jnp.asarray(kp) * e[..., -1], i_term, jnp.asarray(kd) * slope


@dataclass(frozen=True)
class PID:
    """PID on CGM error. ``basal`` (U/h) the patient's basal rate; gains ``kp`` (U/h per mg/dL),
    ``ki`` (U/h per mg/dL min), ``kd`` (U/h per mg/dL/min); ``target`` (mg/dL); ``window`` and
    ``slope_window`` (min); ``carb_ratio`` (g/U) for optional meal boluses; ``every`` (min)."""

    basal: float
    kp: float = 0.06
    ki: float = 0.0006
    kd: float = 0.06
    target: float = 140.0
    window: float = 120.0
    slope_window: float = 15.0
    carb_ratio: float | None = None
    every: float = 5.0

    def __post_init__(self) -> None:
        if not self.basal >= 0:
            raise ModelError(f"PID needs a basal rate >= 0 U/h. Got {self.basal!r}.")
        if not (self.window > 0 and self.slope_window > 0):
            raise ModelError(
                f"PID needs window > 0 and slope_window > 0 (min). Got {self.window!r}, "
                f"{self.slope_window!r}."
            )

    def scaled(self, tdi: float, reference: float = REFERENCE_TDI) -> PID:
        """This PID with its gains multiplied by ``tdi / reference`` (U/day; module
        docstring)."""
        if not (math.isfinite(tdi) and tdi > 0 and math.isfinite(reference) and reference > 0):
            raise ModelError(
                f"PID.scaled() needs total daily insulin doses > 0 U/day. Got {tdi!r} and "
                f"reference {reference!r}."
            )
        f = tdi / reference
        return replace(self, kp=self.kp * f, ki=self.ki * f, kd=self.kd * f)

    def terms(self, obs: PolicyInput) -> tuple[float, float, float]:
        """The P, I (clamped) and D terms in U/h (see :func:`pid_terms`)."""
        t = np.asarray((*obs.cgm_times, obs.time), dtype=np.float64)
        g = np.asarray((*obs.cgm_values, obs.cgm), dtype=np.float64)
        if len(obs.cgm_times) and obs.cgm_times[-1] == obs.time:
            t, g = t[:-1], g[:-1]
        p, i, d = pid_terms(
            t, g, np.ones(t.shape, bool), obs.time, basal=self.basal, kp=self.kp, ki=self.ki,
            kd=self.kd, target=self.target, window=self.window, slope_window=self.slope_window,
            max_basal=obs.pump.max_basal,
        )  # fmt: skip
        return float(p), float(i), float(d)

    def decide(self, obs: PolicyInput) -> Decision:
        p, i, d = self.terms(obs)
        bolus = 0.0
        if self.carb_ratio is not None:
            bolus = obs.meals_between(obs.time, obs.time + self.every) / self.carb_ratio
        reason = f"PID: P {p:+.2f}, I {i:+.2f}, D {d:+.2f} U/h on basal {self.basal:g} U/h"
        return clip_to_pump(Decision(self.basal + p + i + d, bolus, reason), obs.pump)
