"""Run-to-run learning of the meal bolus: the loop scales the patient's meal bolus by a factor
it learns from what followed the patient's earlier meal boluses.

A closed loop adjusts the basal rate around each meal, but the meal bolus is given at once and
acts for hours: a bolus too large for the patient shows as a low 3-5 h after the meal, beyond
a 2-h prediction horizon, whatever the loop does with the basal afterwards (it can only
suspend). Run-to-run control (Palerm et al. 2007; on top of MPC in the UVA/Padova simulator,
Magni et al. 2009) treats each meal as one run of a repeated process and corrects the next
run's dose from the last run's outcome. Here, per patient, a factor ``f`` (1 at the start)
multiplies every bolus the loop gives with a meal:

* a **low** -- a CGM reading below ``low`` (70 mg/dL, the level the patient treats) within
  ``window`` (360 min, the insulin action) of the last meal bolus -- cuts ``f`` by ``down``
  (relative), once per meal, never below ``floor``;
* a meal whose window closed (the next meal bolus came, or ``window`` passed) with every reading
  at or above ``clear`` (100 mg/dL) gives back ``up`` (relative), up to 1: the factor returns
  towards the patient's own bolus when its lows stop; above 1, up to ``ceiling``, only if the
  window also had a reading above ``high`` (180 mg/dL): a bolus too small for the meal.

With ``ceiling`` 1 (the default) the factor never raises the patient's bolus (insulin beyond it
goes through the basal, which the loop can take back). The state is per patient and traced
(:class:`BolusLearningState`), so the closed loop carries it from decision to decision for
every patient at once.

Units: min, mg/dL.

References
----------
Palerm CC, Zisser H, Bevier WC, Jovanovic L, Doyle FJ 3rd. Prandial insulin dosing using
run-to-run control. Diabetes Care 30(5):1131-1136, 2007.
Magni L, Forgione M, Toffanin C, Dalla Man C, Kovatchev B, De Nicolao G, Cobelli C. Run-to-run
tuning of model predictive control for type 1 diabetes subjects: in silico trial. J Diabetes
Sci Technol 3(5):1091-1098, 2009.
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ..errors import ModelError

__all__ = ["BolusLearning", "BolusLearningState"]


class BolusLearningState(eqx.Module):
    """Every patient's learnt meal-bolus ``factor`` (p,), the time of the last meal bolus
    ``meal_t`` (p,) min (-inf: none yet), whether a low followed it (``low_seen``) and the
    lowest and highest readings since (``lowest``, ``highest``, mg/dL)."""

    factor: Float[Array, " p"]
    meal_t: Float[Array, " p"]
    low_seen: Bool[Array, " p"]
    lowest: Float[Array, " p"]
    highest: Float[Array, " p"]


@dataclass(frozen=True)
class BolusLearning:
    """Run-to-run learning of the meal bolus (module docstring): ``down`` the relative cut after
    a low, ``up`` the relative give-back after a meal without one (every reading at or above
    ``clear`` mg/dL), ``floor`` and ``ceiling`` the smallest and largest factor (above 1 only
    after a meal with a reading above ``high`` mg/dL), ``window`` (min) how long after a meal
    bolus a low counts against it, ``low`` (mg/dL) the reading that counts as a low."""

    down: float = 0.1
    up: float = 0.02
    floor: float = 0.7
    window: float = 360.0
    low: float = 70.0
    clear: float = 100.0
    ceiling: float = 1.0
    high: float = 180.0

    def __post_init__(self) -> None:
        if not (0 < self.down < 1 and 0 <= self.up < 1 and 0 < self.floor <= 1 <= self.ceiling):
            raise ModelError(
                "BolusLearning needs 0 < down < 1, 0 <= up < 1 and 0 < floor <= 1 <= ceiling "
                f"(fractions of the patient's bolus). Got down={self.down!r}, up={self.up!r}, "
                f"floor={self.floor!r}, ceiling={self.ceiling!r}."
            )
        if not (self.window > 0 and 0 < self.low <= self.clear <= self.high):
            raise ModelError(
                "BolusLearning needs window > 0 min and 0 < low <= clear <= high (mg/dL). Got "
                f"window={self.window!r}, low={self.low!r}, clear={self.clear!r}, "
                f"high={self.high!r}."
            )

    def init(self, n_patients: int) -> BolusLearningState:
        """Every patient at the patient's own bolus (factor 1), no meal yet."""
        return BolusLearningState(
            factor=jnp.ones(n_patients),
            meal_t=jnp.full(n_patients, -jnp.inf),
            low_seen=jnp.zeros(n_patients, bool),
            lowest=jnp.full(n_patients, jnp.inf),
            highest=jnp.full(n_patients, -jnp.inf),
        )

    def update(
        self, state: BolusLearningState, t: Array, cgm: Array, meal_now: Array
    ) -> BolusLearningState:
        """The state after reading ``cgm`` (p,) at time ``t`` (min), before the decision; with
        ``meal_now`` (p, bool) a meal bolus is due now: the last meal's window closes (a give-back
        if it had no low) and a new one opens (traceable)."""
        within = t - state.meal_t <= self.window
        hit = within & (cgm < self.low) & ~state.low_seen
        factor = jnp.where(hit, jnp.maximum(self.floor, state.factor * (1 - self.down)),
                           state.factor)  # fmt: skip
        low_seen = state.low_seen | hit
        lowest = jnp.where(within, jnp.minimum(state.lowest, cgm), state.lowest)
        highest = jnp.where(within, jnp.maximum(state.highest, cgm), state.highest)
        # a window closes when it has passed or a new meal bolus comes; it gives back once, up
        # to 1, and beyond 1 (to the ceiling) only after a high
        closing = jnp.isfinite(state.meal_t) & (meal_now | (t - state.meal_t > self.window))
        good = closing & ~low_seen & (lowest >= self.clear)
        top = jnp.where(highest > self.high, self.ceiling, 1.0)
        factor = jnp.where(good, jnp.maximum(factor, jnp.minimum(top, factor * (1 + self.up))),
                           factor)  # fmt: skip
        closed = closing & ~meal_now
        return BolusLearningState(
            factor=factor,
            meal_t=jnp.where(meal_now, t, jnp.where(closed, -jnp.inf, state.meal_t)),
            low_seen=jnp.where(meal_now | closed, False, low_seen),
            lowest=jnp.where(meal_now, cgm, jnp.where(closed, jnp.inf, lowest)),
            highest=jnp.where(meal_now, cgm, jnp.where(closed, -jnp.inf, highest)),
        )
