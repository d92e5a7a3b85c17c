"""Hypoglycaemia treatment in the closed loop: the patient's rescue carbohydrate, at a low
reading or, with a twin, at its predictive low alert.

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

A twin can warn before the reading is low (:class:`LowAlert`, an option of
:class:`~medtwin.control.MPC`): when even the controller's least-insulin plan leaves a
probability of at least ``probability`` (0.5) that plasma glucose falls below ``below``
(80 mg/dL) within ``within`` (35) minutes, the loop alerts the patient, who treats as at a
low reading (the same grams, not again within ``recheck``). Insulin cannot stop a low that
the insulin already on board will bring (the patient's own meal bolus, a suspended basal
notwithstanding); only carbohydrate can, and the earlier it is eaten the less it takes.
Predictive hypoglycaemia alarms with carbohydrate suggestions prevented most lows in
closed-loop studies (Turksoy et al. 2016); the defaults are the alarm of Dassau et al. (2010):
a predicted glucose below 80 mg/dL within 35 min, which caught 91 % of the lows below
60 mg/dL in their validation. Parameters (defaults): ``within`` 35 min, ``below`` 80 mg/dL
(plasma), ``probability`` 0.5 (of the twin's posterior: a low more likely than not),
``anchor`` "twin".

A twin whose physiology is wrong can explain a falling reading as sensor error: its
correlated-error sensor model makes a persistent offset of 20 mg/dL cheap, and its forecast
stays above the alert's level while the reading falls. With ``anchor="reading"`` the alert
takes the level from the sensor and the course from the twin: each particle's forecast is
shifted by the latest reading's difference from the sensor value that particle predicted
(the sensor's error read as the twin's), for the alert only (MPC's plans are scored on the
twin as it is).

Units: mg/dL, g, min.

References
----------
American Diabetes Association Professional Practice Committee. 6. Glycemic goals and
hypoglycemia: Standards of Care in Diabetes-2024. Diabetes Care 47(Suppl 1):S111-S125,
2024 (hypoglycaemia treatment: 15-20 g of glucose at < 70 mg/dL, repeated if the glucose is
still low after 15 min).
Dassau E, Cameron F, Lee H, et al. Real-time hypoglycemia prediction suite using continuous
glucose monitoring: a safety net for the artificial pancreas. Diabetes Care
33(6):1249-1254, 2010 (an alarm when glucose is predicted below 80 mg/dL within 35 min).
Turksoy K et al. Hypoglycemia detection and carbohydrate suggestion in an artificial
pancreas. J Diabetes Sci Technol 10(6), 2016 (predictive alarms with carbohydrate
suggestions in 3-day closed-loop experiments; about 14 g per alarm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ..errors import ModelError

__all__ = ["HypoTreatment", "LowAlert"]

# what a LowAlert's forecast stands on (module docstring)
ANCHORS = ("twin", "reading")


def _not_positive(**values: object) -> list[str]:
    """``name=value`` of each of ``values`` that is not a finite number > 0."""
    return [
        f"{name}={value!r}"
        for name, value in values.items()
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0)
    ]


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
        bad = _not_positive(threshold=self.threshold, grams=self.grams, recheck=self.recheck)
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
        self,
        cgm: Float[Array, " p"],
        t: Float[Array, ""],
        last: Float[Array, " p"],
        alert: Bool[Array, " p"] | None = None,
    ) -> Float[Array, " p"]:
        """Grams eaten now per patient: ``grams`` where the reading ``cgm`` is below the
        threshold, or a twin's low ``alert`` is on, and the last treatment (time ``last`` min;
        -inf: none) is at least ``recheck`` min before ``t``, else 0 (traceable)."""
        low = cgm < self.threshold
        if alert is not None:
            low = low | alert
        return jnp.where(low & (t - last >= self.recheck), self.grams, 0.0)


@dataclass(frozen=True)
class LowAlert:
    """A twin's predictive low alert (module docstring): the patient treats when even the
    least-insulin plan leaves P(plasma glucose < ``below`` mg/dL within ``within`` min) >=
    ``probability``; ``anchor`` "twin" (its forecast as it is) or "reading" (each particle's
    forecast shifted by the reading's difference from what it predicted the sensor reads)."""

    within: float = 35.0
    below: float = 80.0
    probability: float = 0.5
    anchor: str = "twin"

    def __post_init__(self) -> None:
        bad = _not_positive(within=self.within, below=self.below)
        p = self.probability
        if not (isinstance(p, int | float) and 0 < p <= 1):
            bad.append(f"probability={p!r}")
        if self.anchor not in ANCHORS:
            bad.append(f"anchor={self.anchor!r}")
        if bad:
            raise ModelError(
                "LowAlert needs a horizon within (min) and a level below (mg/dL), each a finite "
                "number > 0, a probability in (0, 1] (0.5: the twin thinks a low more likely "
                f"than not) and an anchor, one of {', '.join(map(repr, ANCHORS))}. Got "
                f"{', '.join(bad)}."
            )

    def saves(self, every: float) -> int:
        """Forecast points (one every ``every`` min) within the alert's horizon (at least 1)."""
        return max(1, round(self.within / every))
