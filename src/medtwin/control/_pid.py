"""PID control of the basal rate on the CGM error from a target, with anti-windup and,
optionally, insulin feedback: simglucose's plain PID and the external physiologic insulin
delivery PID with insulin feedback (ePID-IFB) of Steil et al., the algorithm family of
Medtronic's hybrid closed loop.

``PID = basal0 + Kp e + Ki integral(e) + Kd de/dt`` with ``e = CGM - target`` (mg/dL) around
the patient's basal rate ``basal0`` (U/h), as the external physiologic insulin delivery of Steil
et al. (2006) starts its integral at the basal rate. With insulin feedback ``gamma`` (Steil et
al. 2011) the command is ``(1 + gamma) PID - gamma I_hat``, ``I_hat`` (U/h) the model-predicted
insulin of what was delivered: the feedback takes back insulin already given that has not yet
acted, which is what keeps a PID from stacking insulin after a meal.

**simglucose's PID** (the defaults, ``gamma = 0``): ``PIDController`` of Xie (2018) with its
example gains ``k_P = 0.001`` U/min per mg/dL, ``k_I = 0.00001`` U/min per mg/dL/min and
``k_D = 0.001`` U/min per mg/dL/min at target 140 mg/dL (in U/h: x 60). :meth:`PID.scaled`
multiplies every gain by ``TDI / REFERENCE_TDI`` (``REFERENCE_TDI`` = 40 U/day, about the mean
of the 30 virtual patients' 16-68 U/day in simglucose's Quest.csv), gain in proportion to the
total daily insulin dose as Panteleon et al. (2006) set this controller's gain.

**ePID-IFB** (:meth:`PID.epid_ifb`), the published settings, not tuned here:

| parameter | value | source |
| --- | --- | --- |
| ``Kp`` | ``TDI / 2250`` U/h per mg/dL (``TDI`` U/day) | Ruiz et al. (2012), appendix |
| ``TI`` | 150 min (``Ki = Kp / TI``) | Ruiz et al. (2012) |
| ``TD`` | 75 min (``Kd = Kp TD``), the daytime value | Ruiz et al. (2012) |
| target | 120 mg/dL | Ruiz et al. (2012) |
| ``gamma`` | 0.5 | Steil et al. (2011) |
| ``tau_1..3`` | 50, 70, 55 min (``exp(-1/tau)`` in the 1-min model below) | Ruiz et al. (2012) |

``I_hat`` is the weighted sum ``g_1 I_sc + g_2 I_p + g_3 I_eff`` (``g`` = 0.64935, 0.34128,
0.0093667; they sum to 1) of the subcutaneous, plasma and effect-site insulin of Ruiz et al.'s
discrete model (1-min steps, ``ID`` the insulin delivered in the last minute, U; states in U/h,
each equal to the delivery rate at steady state)::

    I_sc(n)  = 0.9802 I_sc(n-1)                                 + 1.1881    ID(n-1)
    I_p(n)   = 0.014043 I_sc(n-1) + 0.98582 I_p(n-1)            + 0.0084741 ID(n-1)
    I_eff(n) = 0.000127 I_sc(n-1) + 0.017889 I_p(n-1) + 0.98198 I_eff(n-1) + 0.00005 ID(n-1)

It is linear, so the policy needs no state of its own: at steady basal delivery ``I_hat`` is the
basal rate, and ``I_hat = basal0 + `` the response to the net insulin above ``basal0`` of the
last 6 h (:func:`insulin_feedback`: the loop's ``net_hist``, boluses at the start of their
interval, the rest spread over it; 0.7 % of a dose's response lies beyond 6 h). So
``basal = basal0 + (1 + gamma)(P + I + D) - gamma (I_hat - basal0)``. Meal boluses for
announced meals use the patient's carb ratio (``carb_ratio``): a hybrid loop -- Weinzimer et
al. (2008) gave the ePID a manual priming bolus before meals; here, as in the MiniMed 670G's
hybrid closed loop, the whole meal bolus -- and the bolus enters the insulin feedback like any
delivered insulin. ``TDI`` comes from
the patient's basal rate (:func:`total_daily_insulin`: the basal rate is about half of it --
47.5 % in Davidson et al. 2008 -- so ``TDI = 24 h x basal / 0.475``).

Not modelled: the night-time derivative gain (``TD`` 40 min in Ruiz et al.), the integral's
reset below 60 mg/dL and its own limit (here: the pump's, below), the controller's 1-min
updates (here every ``every`` min) and Medtronic's later safeguards.

The policy is stateless (a frozen dataclass): the integral is the trapezoidal integral of the
error over the CGM history of the last ``window`` minutes (Steil's integral has no window: the
window bounds the memory), and the derivative the least-squares slope of the last
``slope_window`` minutes. Anti-windup: the integral term is clamped to
``[-basal0, max_basal - basal0]`` of the pump (it can never ask beyond what the pump can
deliver).

Units: min, mg/dL, U/h, U.

References
----------
Steil GM, Rebrin K, Darwin C, Hariri F, Saad MF. Feasibility of automating insulin delivery for
the treatment of type 1 diabetes. Diabetes 55(12):3344-3350, 2006.
Steil GM, Palerm CC, Kurtz N, Voskanyan G, Roy A, Paz S, Kandeel FR. The effect of insulin
feedback on closed loop glucose control. J Clin Endocrinol Metab 96(5):1402-1408, 2011.
Ruiz JL, Sherr JL, Cengiz E, Carria L, Roy A, Voskanyan G, Tamborlane WV, Weinzimer SA. Effect of
insulin feedback on closed-loop glucose control: a crossover study. J Diabetes Sci Technol
6(5):1123-1130, 2012 (appendix: the controller's equations and parameters).
Weinzimer SA, Steil GM, Swan KL, Dziura J, Kurtz N, Tamborlane WV. Fully automated closed-loop
insulin delivery versus semiautomated hybrid control in pediatric patients with type 1
diabetes using an artificial pancreas. Diabetes Care 31(5):934-939, 2008.
Xie J. simglucose v0.2.1, 2018 (MIT): ``controller/pid_ctrller.py`` and its example.
Panteleon AE, Loutseiko M, Steil GM, Rebrin K. Evaluation of the effect of gain on the meal
response of an automated closed-loop insulin delivery system. Diabetes 55(7):1995-2000, 2006.
Davidson PC, Hebblewhite HR, Steed RD, Bode BW. Analysis of guidelines for basal-bolus insulin
dosing: basal insulin, correction factor, and carbohydrate-to-insulin ratio. Endocr Pract
14(9):1095-1101, 2008.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from ..errors import ModelError
from ._policy import Decision, PolicyInput, clip_to_pump

__all__ = [
    "BASAL_SHARE",
    "EPID_KP_DIVISOR",
    "PID",
    "REFERENCE_TDI",
    "insulin_feedback",
    "pid_command",
    "pid_terms",
    "total_daily_insulin",
]

History = Float[ArrayLike, "*batch n"]
Gain = Float[ArrayLike, "*batch"]

REFERENCE_TDI = 40.0  # U/day at which the shared (simglucose) gains hold
BASAL_SHARE = 0.475  # basal insulin's share of the total daily dose (Davidson et al. 2008)

# ePID-IFB (module docstring): Kp = TDI / 2250, TI, TD, target (Ruiz et al. 2012), gamma (Steil
# et al. 2011)
EPID_KP_DIVISOR = 2250.0  # U/day per (U/h per mg/dL)
EPID_TI = 150.0  # min
EPID_TD = 75.0  # min
EPID_TARGET = 120.0  # mg/dL
EPID_GAMMA = 0.5
# Ruiz et al. (2012): the 1-min discrete insulin model (subcutaneous, plasma, effect site) and
# the feedback's weights on its states
IFB_A = np.array([[0.9802, 0.0, 0.0], [0.014043, 0.98582, 0.0], [0.000127, 0.017889, 0.98198]])
IFB_B = np.array([1.1881, 0.0084741, 0.00005])
IFB_WEIGHTS = np.array([0.64935, 0.34128, 0.0093667])


def ifb_response(every: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``I_hat`` (U/h) now of 1 U delivered ``k`` decision intervals of ``every`` min ago,
    k = 1..n (latest first): as a bolus at the start of the interval and spread evenly over it
    (Ruiz et al.'s 1-min model, module docstring)."""
    bolus, spread = _ifb_response(float(every), int(n))
    return bolus.copy(), spread.copy()


@functools.cache
def _ifb_response(every: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    steps = round(every)
    if not (steps >= 1 and math.isclose(steps, every) and n >= 0):
        raise ModelError(
            f"The insulin feedback needs a decision interval of whole minutes >= 1 and n >= 0. "
            f"Got every={every!r}, n={n!r}."
        )
    minutes = steps * n
    x_bolus, x_spread = np.zeros(3), np.zeros(3)
    bolus, spread = np.zeros(minutes + 1), np.zeros(minutes + 1)
    for m in range(minutes):  # dose given at minute 0 (bolus) or 1/steps U per minute
        x_bolus = IFB_A @ x_bolus + IFB_B * (1.0 if m == 0 else 0.0)
        x_spread = IFB_A @ x_spread + IFB_B * (1.0 / steps if m < steps else 0.0)
        bolus[m + 1], spread[m + 1] = IFB_WEIGHTS @ x_bolus, IFB_WEIGHTS @ x_spread
    at = steps * np.arange(1, n + 1)
    return bolus[at], spread[at]


def insulin_feedback(
    net_hist: Float[ArrayLike, "*batch l"],
    bolus_hist: Float[ArrayLike, "*batch l"],
    *,
    every: float,
) -> Float[Array, "*batch"]:
    """``I_hat - basal0`` (U/h): the model-predicted insulin of the net insulin above the basal
    rate delivered in the last decision intervals (traceable). ``net_hist``: U above basal per
    interval, boluses included; ``bolus_hist``: the boluses (U); both latest first, as the
    closed loop's state keeps them."""
    net = jnp.asarray(net_hist, jnp.float64)
    bolus = jnp.asarray(bolus_hist, jnp.float64)
    w_bolus, w_spread = ifb_response(every, net.shape[-1])
    return bolus @ jnp.asarray(w_bolus) + (net - bolus) @ jnp.asarray(w_spread)


def pid_command(basal: Any, p: Any, i: Any, d: Any, *, feedback: float, ifb: Any) -> Any:
    """The basal command (U/h) from the P, I and D terms: ``basal + P + I + D``, with insulin
    feedback ``gamma = feedback > 0`` ``basal + (1 + gamma)(P + I + D) - gamma ifb`` (``ifb``:
    :func:`insulin_feedback`; module docstring). Floats or arrays alike (the object API and
    the traced loop policy)."""
    if feedback:
        return basal + (1.0 + feedback) * (p + i + d) - feedback * ifb
    return basal + p + i + d


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
    ``slope_window`` (min); ``carb_ratio`` (g/U) for meal boluses; ``feedback`` the insulin
    feedback ``gamma`` (0: none); ``every`` (min). The defaults are simglucose's PID;
    :meth:`epid_ifb` gives the ePID-IFB (module docstring)."""

    basal: float
    kp: float = 0.06
    ki: float = 0.0006
    kd: float = 0.06
    target: float = 140.0
    window: float = 120.0
    slope_window: float = 15.0
    carb_ratio: float | None = None
    every: float = 5.0
    feedback: float = 0.0

    def __post_init__(self) -> None:
        if not self.basal >= 0:
            raise ModelError(f"PID needs a basal rate >= 0 U/h. Got {self.basal!r}.")
        if not (self.window > 0 and self.slope_window > 0):
            raise ModelError(
                f"PID needs window > 0 and slope_window > 0 (min). Got {self.window!r}, "
                f"{self.slope_window!r}."
            )
        if not (math.isfinite(self.feedback) and self.feedback >= 0):
            raise ModelError(
                f"PID needs an insulin feedback gamma >= 0 (0: none; the ePID-IFB's is "
                f"{EPID_GAMMA}). Got {self.feedback!r}."
            )

    @classmethod
    def epid_ifb(
        cls, basal: float, carb_ratio: float | None = None, *, tdi: float | None = None
    ) -> PID:
        """The ePID-IFB with its published settings (module docstring) for a patient with basal
        rate ``basal`` (U/h) and total daily insulin ``tdi`` (U/day; default: from the basal
        rate, :func:`total_daily_insulin`); meal boluses with ``carb_ratio`` (g/U)."""
        tdi = total_daily_insulin(basal) if tdi is None else tdi
        if not (math.isfinite(tdi) and tdi > 0):
            raise ModelError(f"PID.epid_ifb() needs a total daily insulin > 0 U/day. Got {tdi!r}.")
        kp = tdi / EPID_KP_DIVISOR
        return cls(
            basal, kp=kp, ki=kp / EPID_TI, kd=kp * EPID_TD, target=EPID_TARGET,
            carb_ratio=carb_ratio, feedback=EPID_GAMMA,
        )  # fmt: skip

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

    def insulin_feedback(self, obs: PolicyInput) -> float:
        """``I_hat - basal`` (U/h) of the insulin ``obs`` says was delivered
        (:func:`insulin_feedback` on ``obs.net_hist``/``obs.bolus_hist``; 0 without them)."""
        if len(obs.net_hist) != len(obs.bolus_hist):
            raise ModelError(
                f"PolicyInput needs as many net insulin entries as boluses. Got "
                f"{len(obs.net_hist)} and {len(obs.bolus_hist)}."
            )
        if not obs.net_hist:
            return 0.0
        net, bolus = np.asarray(obs.net_hist, np.float64), np.asarray(obs.bolus_hist, np.float64)
        return float(insulin_feedback(net, bolus, every=self.every))

    def decide(self, obs: PolicyInput) -> Decision:
        p, i, d = self.terms(obs)
        bolus = 0.0
        if self.carb_ratio is not None:
            bolus = obs.meals_between(obs.time, obs.time + self.every) / self.carb_ratio
        reason = f"PID: P {p:+.2f}, I {i:+.2f}, D {d:+.2f} U/h on basal {self.basal:g} U/h"
        ifb = 0.0
        if self.feedback:
            ifb = self.insulin_feedback(obs)
            reason += f", insulin feedback {self.feedback:g} x {ifb:+.2f} U/h"
        basal = pid_command(self.basal, p, i, d, feedback=self.feedback, ifb=ifb)
        return clip_to_pump(Decision(basal, bolus, reason), obs.pump)
