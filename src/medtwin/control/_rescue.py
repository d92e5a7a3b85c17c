"""Hypoglycaemia treatment in the closed loop: the patient's rescue carbohydrate.

A person with type 1 diabetes treats a low: at a CGM reading below ``threshold`` (70 mg/dL,
level 1 hypoglycaemia) they eat ``grams`` (15 g) of fast carbohydrate and, if the reading is
still low ``recheck`` (15 min) later, eat again -- the "15-15 rule" of the American Diabetes
Association's Standards of Care. Clinical closed-loop trials treat hypoglycaemia by such a
protocol in every arm; the in-silico trial does the same, so a policy is judged with the
patient's own safety net and a simulated patient cannot stay hypoglycaemic for days.

The treatment is eaten within the decision interval at which the low reading comes. It is
never announced: no policy doses for it. With ``logged`` the patient records it (a trial's
hypoglycaemia log, a Nightscout "Carb Correction" entry) and a twin is told it as it is told
the announced meals, so the twin does not read the rise that follows as a change of the
patient's physiology; without, every policy sees it only through the CGM.

Parameters (defaults): ``threshold`` 70 mg/dL (CGM), ``grams`` 15 g, ``recheck`` 15 min,
``logged`` False.

Units: mg/dL, g, min.

References
----------
American Diabetes Association Professional Practice Committee. 6. Glycemic goals and
hypoglycemia: Standards of Care in Diabetes-2024. Diabetes Care 47(Suppl 1):S111-S125,
2024 (hypoglycaemia treatment: 15-20 g of glucose at < 70 mg/dL, repeated if the glucose is
still low after 15 min).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
from jaxtyping import Array, Float

from ..errors import ModelError

__all__ = ["HypoTreatment"]


@dataclass(frozen=True)
class HypoTreatment:
    """Rescue carbohydrate (module docstring): ``grams`` (g) at a CGM reading below
    ``threshold`` (mg/dL), again after ``recheck`` (min) while the reading stays low;
    ``logged``: a twin is told it."""

    threshold: float = 70.0
    grams: float = 15.0
    recheck: float = 15.0
    logged: bool = False

    def __post_init__(self) -> None:
        bad = [
            f"{name}={value!r}"
            for name, value in (
                ("threshold", self.threshold), ("grams", self.grams), ("recheck", self.recheck)
            )
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0)
        ]  # fmt: skip
        if bad:
            raise ModelError(
                "HypoTreatment needs a threshold (mg/dL), grams (g) and a recheck interval "
                f"(min), each a finite number > 0. Got {', '.join(bad)}."
            )
        if not isinstance(self.logged, bool):
            raise ModelError(
                "HypoTreatment logged must be True (a twin is told the treatment) or False. "
                f"Got {self.logged!r}."
            )

    def due(
        self, cgm: Float[Array, " p"], t: Float[Array, ""], last: Float[Array, " p"]
    ) -> Float[Array, " p"]:
        """Grams eaten now per patient: ``grams`` where the reading ``cgm`` is below the
        threshold and the last treatment (time ``last`` min; -inf: none) is at least
        ``recheck`` min before ``t``, else 0 (traceable)."""
        return jnp.where((cgm < self.threshold) & (t - last >= self.recheck), self.grams, 0.0)
