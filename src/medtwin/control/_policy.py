"""The one policy interface: what a controller sees (:class:`PolicyInput`), what it commands
(:class:`Decision`), the pump limits every policy goes through (:func:`clip_to_pump`) and
insulin on board (:func:`insulin_on_board`).

Units: time in minutes, glucose in mg/dL, carbohydrate in g, basal in U/h, bolus and insulin on
board in U.

Insulin on board uses the exponential insulin action curve of OpenAPS oref0 / Loop (Maksimovic
2017): with duration of insulin action ``dia`` (default 360 min) and peak activity at ``peak``
(default 75 min, rapid-acting analogues),
``tau = peak (1 - peak/dia) / (1 - 2 peak/dia)``, ``a = 2 tau / dia``,
``S = 1 / (1 - a + (1 + a) exp(-dia/tau))`` and the fraction of a bolus still active ``t`` min
after it is ``1 - S (1 - a) ((t^2 / (tau dia (1 - a)) - t/tau - 1) exp(-t/tau) + 1)`` for
``0 <= t <= dia``, 1 before and 0 after.

References
----------
Maksimovic D. Exponential insulin curves, OpenAPS oref0 ``lib/iob/calculate.js`` and LoopKit
``ExponentialInsulinModel``, 2017 (https://github.com/LoopKit/Loop/issues/388).
Walsh J, Roberts R, Bailey T. Guidelines for optimal bolus calculator settings in adults.
J Diabetes Sci Technol 5(1):129-135, 2011 (insulin on board in bolus calculators).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
from jaxtyping import ArrayLike

from ..errors import ModelError
from ..models.glucose.pump import InsulinPump

__all__ = [
    "Decision",
    "Policy",
    "PolicyInput",
    "clip_to_pump",
    "insulin_on_board",
    "insulin_remaining",
]


def insulin_remaining(
    minutes_since: ArrayLike, *, dia: float = 360.0, peak: float = 75.0
) -> np.ndarray:
    """Fraction (0..1) of a bolus still to act ``minutes_since`` min after it was given
    (exponential action curve, see the module docstring)."""
    if not (0 < 2 * peak < dia):
        raise ModelError(
            f"insulin_remaining() needs 0 < 2*peak < dia (min). Got peak={peak!r}, dia={dia!r}."
        )
    t = np.asarray(minutes_since, dtype=np.float64)
    tau = peak * (1 - peak / dia) / (1 - 2 * peak / dia)
    a = 2 * tau / dia
    s = 1 / (1 - a + (1 + a) * math.exp(-dia / tau))
    tc = np.clip(t, 0.0, dia)
    poly = tc**2 / (tau * dia * (1 - a)) - tc / tau - 1
    frac = 1 - s * (1 - a) * (poly * np.exp(-tc / tau) + 1)
    return np.where(t < 0, 1.0, np.where(t >= dia, 0.0, np.clip(frac, 0.0, 1.0)))


def insulin_on_board(
    times: ArrayLike,
    units: ArrayLike,
    now: float,
    *,
    dia: float = 360.0,
    peak: float = 75.0,
) -> float:
    """Insulin on board (U) at ``now`` (min) from boluses of ``units`` (U) given at ``times``
    (min); boluses after ``now`` are not counted. Basal insulin is not counted (the patient's
    basal is what the correction factor assumes)."""
    t = np.asarray(times, dtype=np.float64).ravel()
    u = np.asarray(units, dtype=np.float64).ravel()
    if t.shape != u.shape:
        raise ModelError(
            f"insulin_on_board() needs as many bolus times as amounts. Got {t.size} times and "
            f"{u.size} amounts."
        )
    given = t <= now
    return float(np.sum(u[given] * insulin_remaining(now - t[given], dia=dia, peak=peak)))


@dataclass(frozen=True)
class PolicyInput:
    """What a policy sees at one decision time.

    ``time`` (min); ``cgm`` the latest CGM reading (mg/dL); ``cgm_times``/``cgm_values`` the recent
    history, oldest first, the latest included; ``meals`` announced meals as ``(time min, grams)``
    pairs (past and planned); ``iob`` insulin on board (U, e.g. from :func:`insulin_on_board`);
    ``pump`` the pump that delivers the decision. For model-predictive control: ``twin`` (a
    :class:`~medtwin.twin.Twin` at ``time``) and ``drifting`` (the skill ledger's flag that the
    twin's recent forecast coverage is drifting). For insulin feedback (:class:`PID`): the
    insulin delivered per decision interval, latest first, as the closed loop keeps it --
    ``net_hist`` U above the policy's basal rate, boluses included, and ``bolus_hist`` the
    boluses (U) -- empty: steady basal delivery."""

    time: float
    cgm: float
    cgm_times: tuple[float, ...] = ()
    cgm_values: tuple[float, ...] = ()
    meals: tuple[tuple[float, float], ...] = ()
    iob: float = 0.0
    pump: InsulinPump = field(default_factory=InsulinPump)
    twin: Any = None
    drifting: bool = False
    net_hist: tuple[float, ...] = ()
    bolus_hist: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.cgm_times) != len(self.cgm_values):
            raise ModelError(
                f"PolicyInput needs as many CGM times as values. Got {len(self.cgm_times)} times "
                f"and {len(self.cgm_values)} values."
            )
        if not math.isfinite(float(self.cgm)):
            raise ModelError(f"PolicyInput.cgm must be a finite mg/dL value. Got {self.cgm!r}.")

    def meals_between(self, t0: float, t1: float) -> float:
        """Announced carbohydrate (g) of meals starting in ``[t0, t1)`` (min)."""
        return float(sum(g for t, g in self.meals if t0 <= t < t1))


@dataclass(frozen=True)
class Decision:
    """A command to the pump: ``basal`` (U/h) from now until the next decision, ``bolus`` (U)
    now; ``reason`` says why; ``fallback`` is empty unless the policy fell back to a simpler one
    (then it says why)."""

    basal: float
    bolus: float
    reason: str = ""
    fallback: str = ""


@runtime_checkable
class Policy(Protocol):
    """A treatment policy: ``decide(obs) -> Decision``, with pump limits applied."""

    def decide(self, obs: PolicyInput) -> Decision: ...


def clip_to_pump(decision: Decision, pump: InsulinPump) -> Decision:
    """The decision as ``pump`` will deliver it: non-negative, capped at the pump's maximum basal
    and bolus, quantised down to its increments (NaN -> 0). Every policy returns through here."""
    basal = float(pump.deliver_basal(decision.basal))
    bolus = float(pump.deliver_bolus(decision.bolus))
    return replace(decision, basal=basal, bolus=bolus)
