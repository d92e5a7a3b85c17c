"""The policies as the closed loop runs them: for every patient at once, inside one compiled
step. Each is a :class:`LoopPolicy`, an equinox Module whose per-patient numbers (basal rate,
carb ratio, correction factor) are arrays and whose shared configuration (the neutral
``template``: the user's policy with those numbers blanked) is static, with a traced pair

* ``init(loop, truth, key) -> LoopState``: the loop's first state for this policy (its CGM
  history length; a twin per patient for MPC);
* ``decide(spec, state, inputs, obs) -> LoopDecision``: the command before the pump;

so the loop never asks which policy it runs. :func:`loop_policy` turns the user's policies (one
:class:`BasalBolus`, :class:`PID`, :class:`APS` or :class:`MPC` per patient) into one.

* :class:`BasalBolusLoop`: :func:`basal_bolus_dose` at the patient's basal rate;
* :class:`PIDLoop`: :func:`pid_terms` on the CGM history with every patient's own gains, meal
  boluses when a carb ratio is set, insulin feedback (:func:`insulin_feedback`) on the net
  insulin delivered in the last 6 h;
* :class:`APSLoop`: the OpenAPS-style temp basal (``_aps.py``) around the patient's bolus
  calculator;
* :class:`MPCLoop`: the twin assimilates the reading (:func:`twin_assimilate`), the safety checks
  (:func:`safety_flags`) decide whether to trust it, and :func:`mpc_scores` ranks the plans on
  ``particles`` particles resampled from it; otherwise the fallback's basal-bolus decision.
  Its eventual glucose counts the net insulin (above basal) delivered in the last 6 h.

Units: min, mg/dL, g, U/h, U.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..assimilate._filters import systematic_resample
from ..errors import ModelError
from ._aps import (
    APS,
    aps_temp_basal,
    carb_lookback,
    carbs_on_board,
    expected_delta,
    max_iob_rate,
    net_iob_path,
    observed_delta,
)
from ._basal_bolus import BasalBolus, basal_bolus_dose
from ._bolus_learning import BolusLearningState
from ._loop_state import LoopDecision, LoopInputs, LoopObservation, LoopSpec, LoopState, TwinState
from ._loop_twin import twin_assimilate, twin_glucose, twin_init
from ._mpc import MPC, choose_plan, mpc_scores, plan_sharing
from ._pid import PID, insulin_feedback, pid_command, pid_terms
from ._policy import insulin_remaining
from ._safety import safety_flags

if TYPE_CHECKING:
    from ._closed_loop import ClosedLoop

__all__ = ["APSLoop", "BasalBolusLoop", "LoopPolicy", "MPCLoop", "PIDLoop", "loop_policy"]

PerPatient = Float[Array, " p"]


class LoopPolicy(eqx.Module):
    """One policy for every patient of a closed-loop run (module docstring): ``basal`` (U/h),
    ``carb_ratio`` (g/U; inf: no meal bolus) and ``correction_factor`` (mg/dL per U; inf: no
    correction) per patient, and the shared ``template``."""

    basal: PerPatient
    carb_ratio: PerPatient
    correction_factor: PerPatient
    template: Any = eqx.field(static=True)

    kind: ClassVar[str]
    user_type: ClassVar[type]

    @staticmethod
    @abstractmethod
    def neutral(policy: Any) -> Any:
        """``policy`` with its per-patient numbers blanked: what every patient must share."""

    @classmethod
    def numbers(cls, policies: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The per-patient basal (U/h), carb ratio and correction factor of ``policies``."""
        return (
            np.array([p.basal for p in policies]),
            np.array([p.carb_ratio for p in policies]),
            np.array([p.correction_factor for p in policies]),
        )

    @classmethod
    def extra(cls, policies: Sequence[Any]) -> tuple[Array, ...]:
        """Further per-patient arrays of ``policies`` (the fields after ``template``)."""
        return ()

    def history(self, spec: LoopSpec) -> int:
        """CGM readings the policy looks back on (the latest included)."""
        return 1

    def lookahead(self, spec: LoopSpec) -> int:
        """Model input steps of meals the policy looks ahead at (beyond the run's end)."""
        return 0

    def init(
        self, loop: ClosedLoop, truth: Float[Array, "p n_params"], key: PRNGKeyArray
    ) -> LoopState:
        """The loop's first state: the true patients at their initial state, empty CGM and
        insulin histories, and the twins (:meth:`init_twin`)."""
        spec = loop.spec()
        n_p, h, n_l = truth.shape[0], self.history(spec), spec.iob_weights().size
        return LoopState(
            y=jax.vmap(spec.model.initial_state)(truth),
            g_hist=jnp.zeros((n_p, h)),
            valid=jnp.zeros((n_p, h), bool),
            bolus_hist=jnp.zeros((n_p, n_l)),
            net_hist=jnp.zeros((n_p, n_l)),
            last_rescue=jnp.full((n_p,), -jnp.inf),
            twin=self.init_twin(loop, n_p, key),
            learning=self.init_learning(n_p),
        )

    def init_twin(self, loop: ClosedLoop, n_patients: int, key: PRNGKeyArray) -> TwinState | None:
        """The patients' twins (None: the policy needs none)."""
        return None

    def init_learning(self, n_patients: int) -> BolusLearningState | None:
        """The patients' meal-bolus learning (None: the policy does not learn its bolus)."""
        return None

    @property
    def alerts(self) -> bool:
        """Whether the policy may alert the patient to a coming low (its decisions' ``alert``)."""
        return False

    @property
    def twin_guided(self) -> bool:
        """Whether its OpenAPS-style plan doses on the twin's glucose (its decisions'
        ``aps_glucose``)."""
        return False

    @abstractmethod
    def decide(
        self, spec: LoopSpec, state: LoopState, inputs: LoopInputs, obs: LoopObservation
    ) -> LoopDecision:
        """Every patient's command before the pump (traceable)."""

    def _plain(self, basal: Array, bolus: Array, state: LoopState) -> LoopDecision:
        nan = jnp.full(bolus.shape, jnp.nan)
        fallback = jnp.zeros(bolus.shape, jnp.int32)
        return LoopDecision(basal, bolus, fallback, nan, nan, nan, state.twin, state.learning)

    def _bb_dose(self, obs: LoopObservation, bb: BasalBolus) -> tuple[Array, Array]:
        """(meal bolus, correction bolus) U of ``bb``'s rules with the patients' numbers."""
        return basal_bolus_dose(
            obs.carbs, obs.cgm, obs.iob, self.carb_ratio, self.correction_factor, bb.target,
            bb.threshold, bb.correct_between_meals,
        )  # fmt: skip


class BasalBolusLoop(LoopPolicy):
    """Basal-bolus therapy (:class:`BasalBolus`) at every decision."""

    kind: ClassVar[str] = "bb"
    user_type: ClassVar[type] = BasalBolus

    @staticmethod
    def neutral(policy: BasalBolus) -> BasalBolus:
        return replace(policy, basal=0.0, carb_ratio=1.0, correction_factor=1.0)

    def decide(self, spec, state, inputs, obs) -> LoopDecision:
        meal_b, corr_b = self._bb_dose(obs, self.template)
        return self._plain(jnp.asarray(self.basal), meal_b + corr_b, state)


class PIDLoop(LoopPolicy):
    """PID on the CGM history (:class:`PID`) with every patient's own gains ``kp``, ``ki``,
    ``kd`` (e.g. :meth:`PID.scaled` or :meth:`PID.epid_ifb` from its total daily insulin),
    meal boluses when the carb ratio is finite, insulin feedback (the shared ``feedback``
    gamma) on the net insulin the loop delivered (``net_hist``, ``bolus_hist``)."""

    kp: PerPatient
    ki: PerPatient
    kd: PerPatient

    kind: ClassVar[str] = "pid"
    user_type: ClassVar[type] = PID

    @staticmethod
    def neutral(policy: PID) -> PID:
        cr = None if policy.carb_ratio is None else 1.0
        return replace(policy, basal=0.0, carb_ratio=cr, kp=0.0, ki=0.0, kd=0.0)

    @classmethod
    def numbers(cls, policies: Sequence[PID]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        basal = np.array([p.basal for p in policies])
        cr = np.array([p.carb_ratio or np.inf for p in policies])
        return basal, cr, np.full(len(policies), np.inf)

    @classmethod
    def extra(cls, policies: Sequence[PID]) -> tuple[Array, ...]:
        return tuple(jnp.asarray([getattr(p, g) for p in policies]) for g in ("kp", "ki", "kd"))

    def history(self, spec: LoopSpec) -> int:
        tpl = self.template
        return round(max(tpl.window, tpl.slope_window) / spec.every) + 1

    def decide(self, spec, state, inputs, obs) -> LoopDecision:
        tpl, h = self.template, obs.g_hist.shape[1]
        n_p = obs.cgm.shape[0]
        times = obs.t + spec.every * (jnp.arange(h) - (h - 1))
        p_, i_, d_ = pid_terms(
            jnp.broadcast_to(times, obs.g_hist.shape), obs.g_hist, obs.valid,
            jnp.full((n_p,), obs.t), basal=jnp.asarray(self.basal), kp=self.kp, ki=self.ki,
            kd=self.kd, target=tpl.target, window=tpl.window, slope_window=tpl.slope_window,
            max_basal=spec.pump.max_basal,
        )  # fmt: skip
        ifb: Array | float = 0.0  # ePID-IFB: model-predicted insulin of what was delivered
        if tpl.feedback:
            ifb = insulin_feedback(state.net_hist, state.bolus_hist, every=spec.every)
        basal = pid_command(self.basal, p_, i_, d_, feedback=tpl.feedback, ifb=ifb)
        meal_b, _ = basal_bolus_dose(
            obs.carbs, obs.cgm, obs.iob, self.carb_ratio, self.correction_factor, tpl.target,
            np.inf, False,
        )  # fmt: skip
        return self._plain(basal, jnp.where(jnp.isfinite(self.carb_ratio), meal_b, 0.0), state)


class APSLoop(LoopPolicy):
    """The OpenAPS-style policy (:class:`APS`): the patient's bolus calculator for meals, a
    temp basal from the eventual glucose of its net insulin and carbs on board and the
    deviation, suspended when the predicted minimum falls below the safety threshold."""

    kind: ClassVar[str] = "aps"
    user_type: ClassVar[type] = APS

    @staticmethod
    def neutral(policy: APS) -> APS:
        return replace(policy, calculator=BasalBolusLoop.neutral(policy.calculator))

    @classmethod
    def numbers(cls, policies: Sequence[APS]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return BasalBolusLoop.numbers([p.calculator for p in policies])

    def history(self, spec: LoopSpec) -> int:
        return 4  # oref0's deltas: the reading now and the three before

    def decide(self, spec, state, inputs, obs) -> LoopDecision:
        aps: APS = self.template
        meal_b, corr_b = self._bb_dose(obs, aps.calculator)
        bolus = spec.pump.deliver_bolus(meal_b + corr_b)  # as the pump will give it
        back = jnp.arange(carb_lookback(aps))
        idx = obs.k - back  # announced carbs of the last intervals, latest first
        carbs = jnp.where(idx >= 0, jnp.take(inputs.now_carbs, jnp.maximum(idx, 0), 1), 0.0)
        times = aps.horizon()
        curve = {"every": spec.every, "dia": aps.dia, "peak": aps.peak}
        iob = net_iob_path(state.net_hist, bolus, times, **curve)
        cob = carbs_on_board(carbs, times, every=spec.every, absorption=aps.absorption)
        dev = jnp.zeros_like(obs.cgm)
        if aps.deviation:
            seen = observed_delta(obs.g_hist, obs.valid)
            expected = expected_delta(
                state.net_hist, carbs, self.carb_ratio, self.correction_factor, **curve,
                absorption=aps.absorption,
            )  # fmt: skip
            dev = jnp.where(jnp.all(obs.valid, -1), seen - expected, 0.0)
        cap = jnp.minimum(
            jnp.minimum(aps.max_daily_multiple, aps.current_multiple) * self.basal,
            spec.pump.max_basal,
        )  # a flat schedule: the highest scheduled basal is the current one
        if aps.max_iob is not None:
            cap = jnp.minimum(cap, max_iob_rate(
                state.net_hist, state.bolus_hist, self.basal, max_iob=aps.max_iob,
                duration=aps.duration, **curve,
            ))  # fmt: skip
        rate, _, _ = aps_temp_basal(
            obs.cgm, iob, cob, dev, self.basal, self.carb_ratio, self.correction_factor,
            times=times, target=aps.target, threshold=aps.threshold, duration=aps.duration,
            max_rate=cap,
        )  # fmt: skip
        return self._plain(rate, bolus, state)


class MPCLoop(LoopPolicy):
    """Model-predictive control on every patient's twin (:class:`MPC`), falling back to the
    patient's basal-bolus therapy when :func:`safety_flags` says not to trust the twin."""

    kind: ClassVar[str] = "mpc"
    user_type: ClassVar[type] = MPC

    @staticmethod
    def neutral(policy: MPC) -> MPC:
        return replace(policy, fallback=BasalBolusLoop.neutral(policy.fallback))

    @classmethod
    def numbers(cls, policies: Sequence[MPC]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return BasalBolusLoop.numbers([p.fallback for p in policies])

    def lookahead(self, spec: LoopSpec) -> int:
        return round(self.template.horizon / spec.model.input_dt)

    def history(self, spec: LoopSpec) -> int:
        return self._aps().history(spec) if self.template.uses_aps else 1

    def _aps(self) -> APSLoop:
        """The OpenAPS-style policy on the same settings: the fallback of ``fallback_to="aps"``."""
        return APSLoop(self.basal, self.carb_ratio, self.correction_factor,
                       self.template.aps())  # fmt: skip

    def init_twin(self, loop: ClosedLoop, n_patients: int, key: PRNGKeyArray) -> TwinState:
        return twin_init(loop.model, loop.prior, loop.particles, n_patients, key)

    def init_learning(self, n_patients: int) -> BolusLearningState | None:
        learning = self.template.bolus_learning
        return None if learning is None else learning.init(n_patients)

    @property
    def alerts(self) -> bool:
        return self.template.low_alert is not None

    @property
    def twin_guided(self) -> bool:
        return self.template.uses_aps and self.template.aps_glucose == "twin"

    def decide(self, spec, state, inputs, obs) -> LoopDecision:
        limits = self.template.limits
        twin, ess, inside, safe_in = twin_assimilate(spec, limits, state.twin, obs)
        flags = safety_flags(ess, twin.coverage < spec.min_coverage, obs.cgm, *safe_in, limits)
        fallback = jnp.where(jnp.any(flags, -1), jnp.argmax(flags, -1) + 1, 0)
        # the meal bolus's learnt factor (1: the patient's own bolus), after this reading
        learning, factor = state.learning, jnp.ones(obs.cgm.shape)
        if self.template.bolus_learning is not None:
            assert learning is not None
            learning = self.template.bolus_learning.update(learning, obs.t, obs.cgm, obs.carbs > 0)
            factor = learning.factor
        aps = self._aps().decide(spec, state, inputs, obs) if self.template.uses_aps else None
        if aps is not None and self.template.fallback_to == "aps":
            safe_basal, safe_bolus = aps.basal, aps.bolus * factor
        else:
            meal_b, corr_b = self._bb_dose(obs, self.template.fallback)
            safe_basal, safe_bolus = self.basal, (meal_b + corr_b) * factor
        use = fallback == 0
        # the OpenAPS-style plan MPC anchors on and guards with, on the twin's glucose where
        # the twin judges the sensor to read high (the fallback keeps the reading)
        guide, g = aps, None
        if aps is not None and self.twin_guided:
            seen = twin_glucose(spec.model, limits.observable, obs.t, twin)
            g = jnp.where(use & (obs.censored == 0), jnp.minimum(obs.cgm, seen), obs.cgm)
            guide = self._aps().decide(spec, state, inputs, eqx.tree_at(lambda o: o.cgm, obs, g))
        basal_mpc, bolus_mpc, p_low = self._plan(
            spec, twin, state.net_hist, state.bolus_hist, inputs, obs, guide, factor
        )
        if guide is not None and self.template.low_guard:
            basal_mpc = jnp.where(guide.basal == 0.0, 0.0, basal_mpc)
        basal = jnp.where(use, basal_mpc, safe_basal)
        bolus = jnp.where(use, bolus_mpc, safe_bolus)
        # the patient is alerted only on a twin the loop trusts
        low_alert = self.template.low_alert
        alert = None if low_alert is None else (p_low >= low_alert.probability) & use
        return LoopDecision(
            basal, bolus, fallback, ess, twin.coverage, inside, twin, learning, alert,
            None if low_alert is None else p_low, g,
        )  # fmt: skip

    def _plan(
        self, spec: LoopSpec, twin: TwinState, net_hist, bolus_hist, inputs: LoopInputs, obs, aps,
        factor,
    ):  # fmt: skip
        """Every patient's MPC decision (basal U/h, bolus U) and the twin's chance of a low
        soon that even its least-insulin plan leaves (0 without ``low_alert``) from ``M``
        particles resampled from its twin; ``aps`` the OpenAPS-style decision (the anchor plan
        of ``anchor_plan="aps"``), or None; ``factor`` (p,) the learnt meal-bolus factor that
        scales the reference bolus and the anchor's."""
        mpc: MPC = self.template
        model, dt, t, k = spec.model, float(spec.model.input_dt), obs.t, obs.k
        block_steps, every = mpc.steps(dt)
        h = sum(block_steps)
        m = mpc.particles
        assert m is not None  # loop_policy() refuses particles=None
        at = k * spec.substeps
        minute = jax.lax.dynamic_slice_in_dim(inputs.told, at, h, axis=1)
        start = jax.lax.dynamic_slice_in_dim(inputs.told_start, at, h, axis=1)
        # the controller knows an announced meal from the interval in which it starts
        carbs = (
            jnp.where(start < t + spec.every, minute, 0.0)
            if mpc.announce
            else jnp.zeros_like(minute)
        )
        dosing = (carbs > 0) | (jnp.arange(h) == 0)
        refine = mpc.solver.refine_mask_traced(dosing)
        obs_j = model.observable_index(mpc.observable)
        sharing = plan_sharing(mpc)
        anchor = mpc.anchor()
        usual = mpc.usual() if mpc.veto else None  # the chance constraint's reference
        lags = spec.every * np.arange(1, spec.iob_weights().size + 1)
        past_w = jnp.asarray(insulin_remaining(lags + mpc.horizon))  # net history -> IOB at end

        n_later = len(block_steps) - 1
        alert = mpc.low_alert
        soon = None if alert is None else (alert.saves(mpc.every), alert.below)
        obs_seen = model.observable_index(mpc.limits.observable)  # what the sensor reads

        def one(key, params, states, lw, g, c_now, carbs_p, ref_p, basal, cr, cf, net, iob,
                aps_basal, aps_bolus, cap, f):  # fmt: skip
            ref_p = None if refine is None else ref_p
            kd = jax.random.fold_in(key, 2**21 + k)
            anc = systematic_resample(kd, lw, m)
            ref, corr = mpc.reference(c_now if mpc.announce else 0.0, g, iob, cr, cf)
            plans = mpc.grid_for(basal, ref * f, spec.pump, corr, cap)
            if mpc.anchor_plan == "aps":  # its temp basal, then the usual basal; its bolus
                # (quantised by the APS policy already; a learnt factor's scaling is quantised
                # again, and at factor 1 it is kept as it is, bit for bit)
                row = jnp.concatenate([
                    spec.pump.deliver_basal(aps_basal)[None],
                    jnp.full((n_later,), spec.pump.deliver_basal(basal)),
                    jnp.where(f == 1.0, aps_bolus, spec.pump.deliver_bolus(aps_bolus * f))[None],
                ])  # fmt: skip
                plans = jnp.concatenate([plans, row[None]])
            shift = None
            if alert is not None and alert.anchor == "reading":  # the reading's level
                seen = jax.vmap(model.observe, (None, 0, 0))(t, states[anc], params[anc])
                shift = g - seen[:, obs_seen]
            scores = mpc_scores(
                model, mpc.solver, params[anc], states[anc], jnp.full((m,), 1.0 / m), t, carbs_p,
                plans, ref_p, ref_p, block_steps=block_steps, dt=dt, every=every,
                observable=obs_j, hypo=mpc.hypo,
                terminal=mpc.terminal_drop(plans, basal, cf, net @ past_w, dt)
                if mpc.terminal else None, sharing=sharing, soon=soon, shift=shift,
            )  # fmt: skip
            chosen, _ = choose_plan(
                scores.risk, scores.p_hypo, mpc.p_hypo_max, anchor, mpc.switch_margin or 0.0, usual
            )
            # a low soon that no plan avoids: insulin cannot stop it, carbohydrate can
            p_low = jnp.float64(0.0) if scores.p_soon is None else jnp.min(scores.p_soon)
            return plans[chosen, 0], plans[chosen, -1], p_low

        # one patient after another (lax.map, not vmap): each refines only near its own doses
        # and simulates a plan shared with another, or a copy of one, once (mpc_scores)
        ref_arg = refine if refine is not None else jnp.zeros((obs.cgm.shape[0], h), bool)
        nan = jnp.full(obs.cgm.shape, jnp.nan)  # no anchor from the OpenAPS-style policy
        aps_basal, aps_bolus = (aps.basal, aps.bolus) if aps is not None else (nan, nan)
        basal = jnp.asarray(self.basal)
        cap = mpc.first_block_cap(net_hist, bolus_hist, basal, every=spec.every)
        return jax.lax.map(
            lambda a: one(*a),
            (twin.keys, twin.params, twin.states, twin.log_weights, obs.cgm, obs.carbs, carbs,
             ref_arg, basal, jnp.asarray(self.carb_ratio), jnp.asarray(self.correction_factor),
             net_hist, obs.iob, jnp.broadcast_to(aps_basal, obs.cgm.shape), aps_bolus,
             jnp.broadcast_to(cap, obs.cgm.shape), factor),
        )  # fmt: skip


_LOOP_POLICIES: tuple[type[LoopPolicy], ...] = (BasalBolusLoop, PIDLoop, APSLoop, MPCLoop)


def loop_policy(policies: Sequence[BasalBolus | PID | APS | MPC], spec: LoopSpec) -> LoopPolicy:
    """The closed loop's form of ``policies`` (one per patient, all of one kind and one
    configuration: only the basal rate, carb ratio and correction factor may differ)."""
    kinds = {type(p) for p in policies}
    by_type = {c.user_type: c for c in _LOOP_POLICIES}
    if len(kinds) != 1 or not kinds <= set(by_type):
        raise ModelError(
            "ClosedLoop.run() needs one kind of policy for every patient (BasalBolus, PID, APS "
            f"or MPC). Got {sorted(k.__name__ for k in kinds)}."
        )
    cls = by_type[kinds.pop()]
    first = policies[0]
    if isinstance(first, MPC) and first.particles is None:
        raise ModelError("The closed loop's MPC needs particles=M (resampled per decision).")
    if isinstance(first, MPC) and first.low_alert is not None and spec.rescue is None:
        raise ModelError(
            "MPC's low_alert makes the patient eat their rescue carbohydrate, but this "
            "ClosedLoop has no hypoglycaemia treatment. Give it one (ClosedLoop(..., "
            "rescue=HypoTreatment())) or leave low_alert=None."
        )
    if len({cls.neutral(p) for p in policies}) > 1:
        raise ModelError(
            "The closed loop runs one policy configuration for every patient; only the "
            "patient's basal rate, carb ratio and correction factor (and PID's gains) may "
            "differ."
        )
    if abs(first.every - spec.every) > 1e-9:
        raise ModelError(
            f"The policies decide every {first.every:g} min, the loop every {spec.every:g}."
        )
    basal, cr, cf = (jnp.asarray(a) for a in cls.numbers(policies))
    return cls(basal, cr, cf, cls.neutral(first), *cls.extra(policies))
