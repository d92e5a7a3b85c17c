"""An open-source artificial-pancreas comparator in the style of OpenAPS oref0 and Loop:
predictive low-glucose suspend plus a temporary basal rate from the "eventual" glucose, with
the patient's own bolus calculator for meals. Written from the projects' public descriptions
of their logic (not their code).

Every ``every`` (5) min, with the patient's (possibly wrong) therapy settings -- scheduled basal
``b`` (U/h), carb ratio ``CR`` (g/U) and insulin sensitivity ``ISF`` = correction factor
(mg/dL per U):

1. **Meal bolus**: the patient's bolus calculator (:func:`basal_bolus_dose` with
   ``calculator``'s rules), as basal-bolus therapy gives it.
2. **Insulin on board** ``IOB(t)`` (U): the *net* insulin of the last ``dia`` min -- boluses
   plus temp basal above or below the scheduled rate, as oref0 counts it -- and the bolus given
   now, each decaying along the exponential activity curve (:func:`insulin_remaining`:
   duration of insulin action ``dia`` 360 min, peak 75 min: oref0's rapid-acting curve).
3. **Carbs on board** ``COB(t)`` (g): each announced meal absorbed linearly over
   ``absorption`` (180 min, Loop's default medium absorption time).
4. **Deviation** (oref0's name; Loop calls the same idea retrospective correction): the
   observed 5-min change of the CGM, the smaller of the last change and the change per 5 min
   over the last 15 min (oref0's ``minDelta`` of ``delta`` and ``short_avgdelta``), less the
   change the settings expect from insulin activity, ``-ISF (IOB(-5) - IOB(0))``, and from
   carb absorption, ``ISF/CR x`` carbs absorbed in the last 5 min; it is assumed to go on for
   30 min (x 6, as oref0's eventual BG adds it). Zero until there are four readings.
5. **Prediction** every 5 min over ``dia``:
   ``BG(t) = BG - ISF (IOB(0) - IOB(t)) + ISF/CR (COB(0) - COB(t)) + dev min(t, 30)/5``;
   its end is the **eventual glucose** ``BG - IOB ISF + COB ISF/CR + 6 dev`` and its minimum
   (the reading now included) the predicted minimum.
6. **Temp basal**: ``b + (eventual - target)/ISF / (duration/60)`` U/h -- the insulin required
   to bring the eventual glucose to ``target``, delivered over a 30-min temp basal (negative:
   less than the schedule) -- capped at the smallest of ``max_daily_multiple`` (3) x the
   highest scheduled basal, ``current_multiple`` (4) x the current scheduled basal (oref0's
   ``max_daily_safety_multiplier`` and ``current_basal_safety_multiplier``) and the pump's
   maximum, never below 0; **suspended** (0 U/h) when the predicted minimum falls below the
   safety threshold ``target - (target - 40)/2`` (oref0's threshold of ``min_bg``; 77.5 mg/dL
   at the default target 115 mg/dL, the ``min_bg`` of the documentation's example profile).
7. **Maximum IOB** (oref0's ``max_iob``, optional): the insulin the loop itself has added above
   the schedule (net temp-basal insulin on board, boluses not counted) may not exceed
   ``max_iob`` hours of the scheduled basal -- the documentation's rule of thumb is at most 3 x
   the highest basal rate. A temp basal gives at most the headroom left, over its ``duration``;
   with none left it is the scheduled rate. Low temps and suspends are never limited.

A flat basal schedule (the virtual patients') makes the highest and the current basal the same,
so the cap is 3 x basal. Not modelled: autosens, super-micro-boluses and the unannounced-meal
and carb-impact predictions; Loop's momentum and integral retrospective correction.

Units: min, mg/dL, g, U/h, U.

References
----------
OpenAPS documentation. Understanding the determine-basal logic.
https://openaps.readthedocs.io/en/latest/docs/While%20You%20Wait%20For%20Gear/Understand-determine-basal.html
(eventual BG, deviation, ``minDelta``, safety threshold ``min_bg - 0.5 (min_bg - 40)``, temp
basal to correct the eventual BG).
OpenAPS documentation. Understanding your preferences and safety settings.
https://openaps.readthedocs.io/en/latest/docs/While%20You%20Wait%20For%20Gear/preferences-and-safety-settings.html
(the lowest of the pump's max basal, 3 x max daily basal and 4 x current basal caps a temp).
(``max_iob``: the most basal or SMB-correction insulin the loop may build up to treat a
glucose above target; a rule of thumb of at most 3 x the highest basal rate).
OpenAPS documentation. Going beyond low glucose suspend mode.
http://openaps.readthedocs.io/en/latest/docs/walkthrough/phase-3/beyond-low-glucose-suspend.html
Packer R. Loop's temp basal logic, 2019, a wiki page of a fork of LoopKit/Loop (suspend when
any prediction is below the suspend threshold; the eventual glucose).
https://github.com/ryanpacker/Loop/wiki/Loop's-Temp-Basal-Logic
Maksimovic D. Exponential insulin curves (OpenAPS oref0, Loop), 2017; see ``_policy.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..errors import ModelError
from ._basal_bolus import BasalBolus
from ._policy import insulin_remaining

__all__ = ["APS", "aps_temp_basal", "carbs_on_board", "max_iob_rate", "net_iob_path"]

PerPatient = Float[ArrayLike, "*batch"]


@dataclass(frozen=True)
class APS:
    """The OpenAPS-style policy (module docstring): ``calculator`` the patient's basal-bolus
    therapy (its basal rate is the schedule, its carb ratio and correction factor the
    settings, its rules the bolus calculator's); ``target`` (mg/dL); ``duration`` of a temp
    basal (min); ``max_daily_multiple`` and ``current_multiple`` the safety multipliers;
    ``dia`` and ``peak`` the insulin action curve (min); ``absorption`` (min) of announced
    carbs; ``deviation`` whether the eventual glucose adds it; ``every`` (min); ``max_iob``
    the net temp-basal insulin on board the loop may build up, in hours of the scheduled basal
    (oref0's ``max_iob`` / basal; None: no limit)."""

    calculator: BasalBolus
    target: float = 115.0
    duration: float = 30.0
    max_daily_multiple: float = 3.0
    current_multiple: float = 4.0
    dia: float = 360.0
    peak: float = 75.0
    absorption: float = 180.0
    deviation: bool = True
    every: float = 5.0
    max_iob: float | None = None

    def __post_init__(self) -> None:
        for name in ("duration", "max_daily_multiple", "current_multiple", "absorption"):
            if not getattr(self, name) > 0:
                raise ModelError(f"APS needs {name} > 0. Got {getattr(self, name)!r}.")
        if self.max_iob is not None and not (math.isfinite(self.max_iob) and self.max_iob >= 0):
            raise ModelError(
                "APS max_iob is the net temp-basal insulin on board the loop may add, in hours "
                "of the scheduled basal (>= 0; oref0's documentation suggests at most 3), or "
                f"None for no limit. Got {self.max_iob!r}."
            )
        if not 40.0 < self.target < 400.0:
            raise ModelError(f"APS needs a target between 40 and 400 mg/dL. Got {self.target!r}.")
        if not (0 < 2 * self.peak < self.dia <= 360.0) or self.dia % self.every:
            raise ModelError(
                f"APS needs 0 < 2 peak < dia <= 360 min (the loop keeps 6 h of insulin), dia "
                f"a multiple of every. Got peak={self.peak!r}, dia={self.dia!r}, "
                f"every={self.every!r}."
            )

    @property
    def threshold(self) -> float:
        """oref0's safety threshold (mg/dL): ``target - (target - 40) / 2``."""
        return self.target - 0.5 * (self.target - 40.0)

    def horizon(self) -> np.ndarray:
        """The prediction's times (min): 0, every, ..., dia."""
        return self.every * np.arange(round(self.dia / self.every) + 1)


def net_iob_path(
    net_hist: Float[ArrayLike, "*batch l"],
    bolus_now: PerPatient,
    times: np.ndarray,
    *,
    every: float,
    dia: float,
    peak: float,
) -> Float[Array, "*batch t"]:
    """Net insulin on board (U) at ``times`` (min from now) of the net insulin ``net_hist``
    (U above the scheduled basal per decision interval, latest first: entry ``j`` given
    ``(j + 1) every`` min ago) and the bolus given now."""
    lags = every * np.arange(1, np.shape(net_hist)[-1] + 1)
    w = insulin_remaining(lags[:, None] + times[None, :], dia=dia, peak=peak)  # (l, t)
    now = insulin_remaining(times, dia=dia, peak=peak)
    net = jnp.asarray(net_hist, jnp.float64)
    return net @ jnp.asarray(w) + jnp.asarray(bolus_now, jnp.float64)[..., None] * now


def max_iob_rate(
    net_hist: Float[ArrayLike, "*batch l"],
    bolus_hist: Float[ArrayLike, "*batch l"],
    basal: PerPatient,
    *,
    max_iob: float,
    duration: float,
    every: float,
    dia: float,
    peak: float,
) -> Float[Array, "*batch"]:
    """The highest temp basal (U/h) that keeps the loop's own insulin on board within
    ``max_iob`` hours of the scheduled ``basal`` (module docstring, step 7; traceable): the
    scheduled rate plus the headroom left, ``max_iob basal`` less the net temp-basal insulin
    still on board (``net_hist`` less the boluses ``bolus_hist``, both latest first as in
    :func:`net_iob_path`), given over ``duration`` min; the scheduled rate when none is left."""
    net = jnp.asarray(net_hist, jnp.float64) - jnp.asarray(bolus_hist, jnp.float64)
    on_board = net_iob_path(net, 0.0, np.zeros(1), every=every, dia=dia, peak=peak)[..., 0]
    basal = jnp.asarray(basal, jnp.float64)
    return basal + jnp.maximum(max_iob * basal - on_board, 0.0) / (duration / 60.0)


def carbs_on_board(
    carb_hist: Float[ArrayLike, "*batch j"], times: np.ndarray, *, every: float, absorption: float
) -> Float[Array, "*batch t"]:
    """Carbs on board (g) at ``times`` (min from now) of the announced carbs ``carb_hist``
    (g per decision interval, latest first: entry ``j`` announced ``j every`` min ago), each
    absorbed linearly over ``absorption`` min from its announcement."""
    ages = every * np.arange(np.shape(carb_hist)[-1])
    left = np.clip(1.0 - (ages[:, None] + times[None, :]) / absorption, 0.0, 1.0)  # (j, t)
    return jnp.asarray(carb_hist, jnp.float64) @ jnp.asarray(left)


def aps_temp_basal(
    bg: PerPatient,
    iob: Float[ArrayLike, "*batch t"],
    cob: Float[ArrayLike, "*batch t"],
    deviation: PerPatient,
    basal: PerPatient,
    carb_ratio: PerPatient,
    isf: PerPatient,
    *,
    times: np.ndarray,
    target: float,
    threshold: float,
    duration: float,
    max_rate: PerPatient,
) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"], Float[Array, "*batch"]]:
    """``(temp basal U/h, eventual glucose, predicted minimum)`` (mg/dL) of the module
    docstring's steps 5 and 6 (traceable, broadcasts over patients): ``bg`` the reading now,
    ``iob``/``cob`` the net insulin (U) and carbs (g) on board at ``times`` (min, from 0),
    ``deviation`` (mg/dL per 5 min), the settings, and ``max_rate`` the cap (U/h)."""
    bg = jnp.asarray(bg, jnp.float64)[..., None]
    isf = jnp.asarray(isf, jnp.float64)[..., None]
    cr = jnp.asarray(carb_ratio, jnp.float64)[..., None]
    iob, cob = jnp.asarray(iob, jnp.float64), jnp.asarray(cob, jnp.float64)
    dev = jnp.asarray(deviation, jnp.float64)[..., None] * jnp.minimum(times, 30.0) / 5.0
    pred = bg - isf * (iob[..., :1] - iob) + isf / cr * (cob[..., :1] - cob) + dev
    eventual, lowest = pred[..., -1], jnp.min(pred, axis=-1)
    need = (eventual - target) / isf[..., 0]  # U to bring the eventual glucose to target
    rate = jnp.clip(jnp.asarray(basal) + need / (duration / 60.0), 0.0, max_rate)
    return jnp.where(lowest < threshold, 0.0, rate), eventual, lowest


def observed_delta(g: Float[ArrayLike, "*batch h"], valid) -> Float[Array, "*batch"]:
    """oref0's ``minDelta`` (mg/dL per 5 min) from the last four readings (oldest first, 5 min
    apart): the smaller of the last change and the change per 5 min since the mean of the
    three before (about 10 min ago); 0 unless all four are readings."""
    g = jnp.asarray(g, jnp.float64)
    delta = g[..., -1] - g[..., -2]
    short = (g[..., -1] - jnp.mean(g[..., -4:-1], axis=-1)) / 2.0
    return jnp.where(jnp.all(jnp.asarray(valid)[..., -4:], -1), jnp.minimum(delta, short), 0.0)


def expected_delta(
    net_hist: Float[ArrayLike, "*batch l"],
    carb_hist: Float[ArrayLike, "*batch j"],
    carb_ratio: PerPatient,
    isf: PerPatient,
    *,
    every: float,
    dia: float,
    peak: float,
    absorption: float,
) -> Float[Array, "*batch"]:
    """The glucose change (mg/dL) the settings expect over the last ``every`` min: insulin
    activity ``-ISF (IOB(-every) - IOB(0))`` plus ``ISF/CR`` x the carbs absorbed."""
    lags = every * np.arange(1, np.shape(net_hist)[-1] + 1)
    acted = insulin_remaining(lags - every, dia=dia, peak=peak) - insulin_remaining(
        lags, dia=dia, peak=peak
    )
    ages = every * np.arange(np.shape(carb_hist)[-1])
    absorbed = np.clip(ages / absorption, 0, 1) - np.clip((ages - every) / absorption, 0, 1)
    isf = jnp.asarray(isf, jnp.float64)
    insulin = jnp.asarray(net_hist, jnp.float64) @ jnp.asarray(acted)
    carbs = jnp.asarray(carb_hist, jnp.float64) @ jnp.asarray(absorbed)
    return -isf * insulin + isf / jnp.asarray(carb_ratio, jnp.float64) * carbs


def carb_lookback(aps: APS) -> int:
    """Decision intervals of announced carbs the policy keeps (those still absorbing)."""
    return math.ceil(aps.absorption / aps.every) + 1
