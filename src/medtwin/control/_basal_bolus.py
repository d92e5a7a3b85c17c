"""Basal-bolus therapy: the patient's basal rate, a meal bolus for announced carbohydrate and a
correction bolus above a threshold, net of insulin on board.

As simglucose's ``BBController`` (Xie 2018): meal bolus = carbs / carb ratio (g per U);
correction = (BG - target) / correction factor (mg/dL per U) when BG exceeds ``threshold``,
given with a meal; here (as bolus calculators do, Walsh et al. 2011) the correction is reduced by
the insulin on board, so none is given while the IOB covers it, and it may also be given between
meals (``correct_between_meals``).

Units: min, mg/dL, g, U/h, U.

References
----------
Xie J. simglucose v0.2.1, 2018 (MIT): ``controller/basal_bolus_ctrller.py``.
Walsh J, Roberts R, Bailey T. J Diabetes Sci Technol 5(1):129-135, 2011.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ..errors import ModelError
from ._policy import Decision, PolicyInput, clip_to_pump

__all__ = ["BasalBolus", "basal_bolus_dose"]

Value = Float[ArrayLike, "*batch"]


def basal_bolus_dose(
    carbs: Value,
    cgm: Value,
    iob: Value,
    carb_ratio: Value,
    correction_factor: Value,
    target: Value,
    threshold: Value,
    correct_between_meals: bool = True,
) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    """The basal-bolus arithmetic (traceable, broadcasts over patients): ``(meal bolus,
    correction bolus)`` in U for ``carbs`` g announced now, the reading ``cgm`` and insulin on
    board ``iob`` (U). The correction ``(cgm - target) / CF - IOB`` (not below 0) is given only
    above ``threshold``, and without a meal only if ``correct_between_meals``."""
    carbs, cgm = jnp.asarray(carbs, jnp.float64), jnp.asarray(cgm, jnp.float64)
    meal = carbs / carb_ratio
    corr = jnp.maximum((cgm - target) / correction_factor - iob, 0.0)
    corr = jnp.where(cgm > threshold, corr, 0.0)
    if not correct_between_meals:
        corr = jnp.where(carbs > 0, corr, 0.0)
    return meal, corr


@dataclass(frozen=True)
class BasalBolus:
    """Open-loop basal-bolus therapy.

    ``basal`` the patient's basal rate (U/h); ``carb_ratio`` g of carbohydrate per U;
    ``correction_factor`` mg/dL lowered per U; ``target`` and ``threshold`` (mg/dL): correct
    towards ``target`` when the CGM is above ``threshold``; ``every`` the decision interval (min):
    a meal announced in ``[time, time + every)`` is bolused at ``time``; ``correct_between_meals``
    allows a correction without a meal."""

    basal: float
    carb_ratio: float
    correction_factor: float
    target: float = 140.0
    threshold: float = 150.0
    every: float = 5.0
    correct_between_meals: bool = True

    def __post_init__(self) -> None:
        for name in ("carb_ratio", "correction_factor", "every"):
            if not getattr(self, name) > 0:
                raise ModelError(f"BasalBolus needs {name} > 0. Got {getattr(self, name)!r}.")
        if not self.basal >= 0:
            raise ModelError(f"BasalBolus needs a basal rate >= 0 U/h. Got {self.basal!r}.")

    def doses(self, carbs: float, obs: PolicyInput) -> tuple[float, float]:
        """``(meal bolus, correction bolus)`` in U (see :func:`basal_bolus_dose`)."""
        meal, corr = basal_bolus_dose(
            carbs, obs.cgm, obs.iob, self.carb_ratio, self.correction_factor, self.target,
            self.threshold, self.correct_between_meals,
        )  # fmt: skip
        return float(meal), float(corr)

    def correction(self, obs: PolicyInput) -> float:
        """Correction bolus (U) net of insulin on board; 0 below the threshold."""
        return self.doses(1.0, obs)[1]

    def decide(self, obs: PolicyInput) -> Decision:
        carbs = obs.meals_between(obs.time, obs.time + self.every)
        meal, corr = self.doses(carbs, obs)
        parts = []
        if meal > 0:
            parts.append(f"meal bolus {carbs:g} g / CR {self.carb_ratio:g}")
        if corr > 0:
            parts.append(f"correction ({obs.cgm:.0f} - {self.target:g}) / CF, net of IOB")
        elif obs.cgm > self.threshold:
            parts.append(f"no correction: IOB {obs.iob:.2f} U covers it")
        reason = "basal-bolus: " + ("; ".join(parts) if parts else "basal only")
        return clip_to_pump(Decision(self.basal, meal + corr, reason), obs.pump)
