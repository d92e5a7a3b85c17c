"""The closed loop's data, typed: what stays fixed during a run (:class:`LoopSpec`, static;
:class:`LoopInputs`, arrays), what is carried from one decision to the next
(:class:`LoopState`, with the twin's :class:`TwinState`), what a policy sees at a decision
(:class:`LoopObservation`), what it commands (:class:`LoopDecision`) and what every step records
(:class:`StepRecord`).

The array types are equinox Modules with the patient axis first (``p`` patients, ``n``
particles per twin), so ``jax.jit``, ``vmap`` and ``lax.scan`` trace them; :class:`LoopSpec` is
a hashable dataclass, the static half of the compiled step (a new spec compiles anew, a new
patient does not).

Units: min, mg/dL, g, U/h, U.
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from ..assimilate._filters import ParticleFilter
from ..models._base import AbstractModel
from ..models.glucose.cgm import CGMSensor
from ..models.glucose.pump import InsulinPump
from ..simulate import Solver
from ._bolus_learning import BolusLearningState
from ._policy import insulin_remaining
from ._rescue import HypoTreatment

__all__ = [
    "LoopDecision",
    "LoopInputs",
    "LoopObservation",
    "LoopSpec",
    "LoopState",
    "StepRecord",
    "TwinState",
]

IOB_HOURS = 6  # bolus history kept for insulin on board (the action curve's duration)


@dataclass(frozen=True)
class LoopSpec:
    """The configuration every compiled step shares (hashable: it keys JAX's compile cache):
    the patient ``model`` and its ``solver``, the twin's particle filter ``method`` and
    ``free`` parameters, the ``sensor`` and ``pump``, the decision interval ``every`` (min), and
    the coverage signal's ``coverage_window`` (min) and ``min_coverage``, and the patient's
    hypoglycaemia treatment ``rescue`` (None: none)."""

    model: AbstractModel
    method: ParticleFilter
    sensor: CGMSensor
    pump: InsulinPump
    every: float
    coverage_window: float
    min_coverage: float
    solver: Solver
    free: tuple[str, ...]
    rescue: HypoTreatment | None = None

    @property
    def substeps(self) -> int:
        """Model input steps per decision interval."""
        return round(self.every / self.model.input_dt)

    def iob_weights(self) -> np.ndarray:
        """Fraction of each past decision's bolus still on board, latest first (L,)."""
        lags = self.every * np.arange(1, round(IOB_HOURS * 60 / self.every) + 1)
        return insulin_remaining(lags)


class TwinState(eqx.Module):
    """Every patient's twin: its key (``keys`` (p,), as ``Twin.create(key=...)``), particles
    (``params`` (p, n, n_params), ``states`` (p, n, n_states)), ``log_weights`` (p, n) and the
    moving average of its one-step 95 % band coverage (``coverage`` (p,), the drift signal)
    and, with the filter's sensor error model, every particle's sensor error of the last
    reading (``sensor`` (p, n), the AR(1) state of :mod:`medtwin.assimilate._sensor`)."""

    keys: PRNGKeyArray
    params: Float[Array, "p n n_params"]
    states: Float[Array, "p n n_states"]
    log_weights: Float[Array, "p n"]
    coverage: Float[Array, " p"]
    sensor: Float[Array, "p n"]


class LoopState(eqx.Module):
    """What the loop carries from one decision to the next: the true patients' states ``y``;
    the CGM history ``g_hist`` (p, h) mg/dL, oldest first, and which entries are readings
    (``valid``); the delivered boluses ``bolus_hist`` (p, L) U and the net insulin above basal
    ``net_hist`` (p, L) U of the last ``IOB_HOURS``, latest first; the time of the patient's
    last rescue carbohydrate ``last_rescue`` (p,) min (-inf: none); ``twin`` (None for a policy
    without one); ``learning`` the run-to-run meal-bolus learning's state
    (:class:`~medtwin.control._bolus_learning.BolusLearningState`; None for a policy without
    it)."""

    y: Float[Array, "p n_states"]
    g_hist: Float[Array, "p h"]
    valid: Bool[Array, "p h"]
    bolus_hist: Float[Array, "p l"]
    net_hist: Float[Array, "p l"]
    last_rescue: Float[Array, " p"]
    twin: TwinState | None
    learning: BolusLearningState | None = None


class LoopInputs(eqx.Module):
    """A run's fixed arrays: the true patients' parameters ``truth``; carbohydrate eaten
    (``eaten``) and announced (``told``) per model input step (p, minutes) g/min; the start
    time (min) of the announced meal being eaten (``told_start``, inf: none); carbohydrate
    announced per decision interval (``now_carbs`` (p, steps) g); the CGM noise (``noise``
    (p, steps + 1) mg/dL)."""

    truth: Float[Array, "p n_params"]
    eaten: Float[Array, "p minutes"]
    told: Float[Array, "p minutes"]
    told_start: Float[Array, "p minutes"]
    now_carbs: Float[Array, "p steps"]
    noise: Float[Array, "p steps_plus_1"]


class LoopObservation(eqx.Module):
    """What a policy sees at decision ``k`` (time ``t`` min): the CGM reading ``cgm`` (mg/dL,
    clipped to the sensor's range; ``censored`` -1 LO, 1 HI, 0 exact), the CGM history
    ``g_hist``/``valid`` ending with it, insulin on board ``iob`` (U) and the carbohydrate
    announced for this interval ``carbs`` (g)."""

    t: Float[Array, ""]
    k: Int[Array, ""]
    cgm: Float[Array, " p"]
    censored: Int[Array, " p"]
    g_hist: Float[Array, "p h"]
    valid: Bool[Array, "p h"]
    iob: Float[Array, " p"]
    carbs: Float[Array, " p"]


class LoopDecision(eqx.Module):
    """A policy's command before the pump: ``basal`` (U/h) and ``bolus`` (U) per patient, the
    ``fallback`` code (0: none, else ``FALLBACK_REASONS``), the twin's effective sample size
    fraction ``ess`` and ``coverage`` (NaN without a twin), whether the reading fell in the
    twin's one-step 95 % band (``inside``, 1.0 / 0.0, NaN without a twin), the twin after
    the reading, the meal-bolus learning's state after it (None without), the twin's low
    alert (``alert``: the patient treats now, :class:`~medtwin.control.LowAlert`; None
    without) and the chance behind it (``p_low``: the twin's least P(low soon) over the plans
    it scored, also where the loop did not trust it; None without an alert), and the glucose
    the OpenAPS-style plan dosed on (``aps_glucose``, mg/dL: MPC's ``aps_glucose="twin"``;
    None without)."""

    basal: Float[Array, " p"]
    bolus: Float[Array, " p"]
    fallback: Int[Array, " p"]
    ess: Float[Array, " p"]
    coverage: Float[Array, " p"]
    inside: Float[Array, " p"]
    twin: TwinState | None
    learning: BolusLearningState | None = None
    alert: Bool[Array, " p"] | None = None
    p_low: Float[Array, " p"] | None = None
    aps_glucose: Float[Array, " p"] | None = None


class StepRecord(eqx.Module):
    """What one step records per patient: true plasma glucose ``bg`` and the ``cgm`` reading
    (mg/dL), the delivered ``basal`` (U/h) and ``bolus`` (U), the ``fallback`` code, ``ess`` and
    ``coverage`` and ``inside`` (NaN without a twin), the rescue carbohydrate eaten
    (``rescue``, g), whether a twin's low alert was on (``alert``; False without) and the
    chance behind it (``p_low``; NaN without), the learnt meal-bolus factor the decision used
    (``bolus_factor``; NaN without bolus learning) and the glucose the OpenAPS-style plan
    dosed on (``aps_glucose``; NaN without). Stacked by ``lax.scan``: (steps, p)."""

    bg: Float[Array, " p"]
    cgm: Float[Array, " p"]
    basal: Float[Array, " p"]
    bolus: Float[Array, " p"]
    fallback: Int[Array, " p"]
    ess: Float[Array, " p"]
    coverage: Float[Array, " p"]
    inside: Float[Array, " p"]
    rescue: Float[Array, " p"]
    alert: Bool[Array, " p"]
    p_low: Float[Array, " p"]
    bolus_factor: Float[Array, " p"]
    aps_glucose: Float[Array, " p"]
