"""Closed-loop simulation of a whole cohort at once: for every virtual patient a true patient
model, a CGM, an insulin pump, a policy and -- for model-predictive control -- a twin that
recalibrates from the CGM alone every 5 minutes, all advanced together in one compiled step.

Every ``every`` (5) min, for all patients at once (``vmap``; no Python loop over patients):

1. the CGM reads the true patient's subcutaneous glucose plus the sensor's noise (drawn for the
   whole run up front, so every policy sees the same noise) and clips it to its reporting range
   (a LO/HI reading is censored for the twin);
2. the twin assimilates the reading with the particle filter's own steps (the same functions
   :func:`~medtwin.assimilate.assimilate` calls: parameter drift, weighting, resampling with the
   Liu-West move, with the same keys: a one-patient run equals ``assimilate`` reading by
   reading), and tracks how often the reading fell inside its one-step 95 % predictive band
   (an exponential moving average over ``coverage_window`` min: the coverage drift signal);
3. the policy decides (:func:`~medtwin.control.basal_bolus_dose`,
   :func:`~medtwin.control.pid_terms`, or :func:`~medtwin.control.mpc_scores` on particles
   resampled from the twin; MPC falls back to basal-bolus when :func:`safety_flags` says so, and
   the code of the reason is recorded), and the pump quantises and caps the command; MPC's
   eventual glucose counts the net insulin (above basal) delivered in the last 6 h;
4. the true patient eats the meals it eats; the twin is told the announced ones (at their start,
   with the announced carbohydrate) and the insulin the pump delivered; both advance 5 min.

Meal scenarios follow simglucose's random scenario (Xie 2018): six daily meal slots (breakfast,
lunch, dinner and three snacks) with the slots' probabilities, truncated-normal times and normal
amounts below; announcements carry a multiplicative carb-counting error (default sd 10 %).

Units: min, mg/dL, g, U/h, U.

References
----------
Xie J. simglucose v0.2.1, 2018 (MIT): the random meal scenario (slot times, amounts and
probabilities).
Man CD, Micheletto F, Lv D, Breton M, Kovatchev B, Cobelli C. The UVA/PADOVA type 1 diabetes
simulator: new features. J Diabetes Sci Technol 8(1):26-34, 2014 (closed-loop in-silico testing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..analysis.metrics import glucose_metrics
from ..assimilate._ensemble import Prior, free_transform
from ..assimilate._filters import (
    HOURS_PER_UNIT,
    ParticleFilter,
    bounds,
    pf_drift,
    pf_resample_move,
    pf_weight,
    systematic_resample,
)
from ..errors import ModelError
from ..models._base import AbstractModel
from ..models.glucose.cgm import CGMSensor
from ..models.glucose.pump import InsulinPump
from ..simulate import RK4, Solver, Trajectory, integrate_rates
from ._basal_bolus import BasalBolus, basal_bolus_dose
from ._meals import MealSchedule, announce_times, random_meals
from ._mpc import MPC, choose_plan, mpc_scores
from ._pid import PID, pid_terms
from ._policy import insulin_remaining
from ._safety import FALLBACK_REASONS, SafetyLimits, bound_share, safety_flags

__all__ = ["ClosedLoop", "ClosedLoopResult", "PolicyArm"]

_IOB_HOURS = 6  # bolus history kept for insulin on board (the action curve's duration)


@dataclass(frozen=True)
class ClosedLoopResult:
    """A closed-loop run: every ``every`` min (``times``, from 0) per patient the true plasma
    glucose ``bg``, the CGM reading ``cgm``, the delivered ``basal`` (U/h) and ``bolus`` (U),
    the ``fallback`` code (0: none; meaning in ``reasons``), the twin's effective sample size
    fraction ``ess`` and its coverage signal ``coverage`` (NaN without a twin)."""

    policy: str
    times: np.ndarray
    bg: np.ndarray
    cgm: np.ndarray
    basal: np.ndarray
    bolus: np.ndarray
    fallback: np.ndarray
    ess: np.ndarray
    coverage: np.ndarray
    reasons: tuple[str, ...] = FALLBACK_REASONS
    twin: dict[str, np.ndarray] | None = None

    def trajectory(self) -> Trajectory:
        """The run as a :class:`~medtwin.simulate.Trajectory` (observables ``bg``, ``cgm``,
        ``basal``, ``bolus``), so trial endpoints compute on it as on a simulation."""
        obs = np.stack([self.bg, self.cgm, self.basal, self.bolus], axis=-1)
        return Trajectory(
            ts=jnp.asarray(self.times), observables=jnp.asarray(obs), states=None,
            status=jnp.zeros(self.bg.shape[0], jnp.int32),
            observable_names=("bg", "cgm", "basal", "bolus"), state_names=(),
        )  # fmt: skip

    def metrics(self) -> dict[str, np.ndarray]:
        """Per patient: time in range 70-180, below 70, below 54, above 180 (%), mean (mg/dL),
        CV (%), LBGI, and the number of decisions that fell back to basal-bolus."""
        m = glucose_metrics(self.bg)
        return {
            "tir": np.asarray(m.tir),
            "below70": np.asarray(m.tbr70),
            "below54": np.asarray(m.tbr54),
            "above180": np.asarray(m.tar180),
            "mean": np.asarray(m.mean),
            "cv": np.asarray(m.cv),
            "lbgi": np.asarray(m.lbgi),
            "fallbacks": np.sum(self.fallback > 0, axis=1),
        }


@dataclass(frozen=True)
class ClosedLoop:
    """The closed-loop simulator (module docstring). ``model`` the patient model (UVA/Padova);
    ``prior`` and ``method`` the twin's population prior (or one per patient, e.g. leaving
    the patient out of the population) and particle filter; ``particles`` the
    twin's ensemble size; ``sensor``, ``pump``; ``every`` the decision interval (min);
    ``coverage_window`` (min) and ``min_coverage``: the twin counts as drifting when the moving
    average of its one-step 95 % band coverage falls below ``min_coverage``."""

    model: AbstractModel
    prior: Prior | Sequence[Prior]
    method: ParticleFilter = field(default_factory=ParticleFilter)
    particles: int = 200
    sensor: CGMSensor = field(default_factory=CGMSensor)
    pump: InsulinPump = field(default_factory=InsulinPump)
    every: float = 5.0
    coverage_window: float = 120.0
    min_coverage: float = 0.75
    solver: Solver = field(default_factory=RK4)

    def run(
        self,
        policies: Sequence[BasalBolus | PID | MPC],
        truth: Float[ArrayLike, "p n_params"],
        scenario: MealSchedule,
        *,
        days: float,
        key: PRNGKeyArray,
        progress: Callable[[int, int], None] | None = None,
    ) -> ClosedLoopResult:
        """Run ``policies[i]`` on true patient ``truth[i]`` for ``days``; all patients advance
        together, one compiled day at a time (``progress(day, days)`` after each)."""
        model = self.model
        truth = np.asarray(truth, np.float64)
        n_p = truth.shape[0]
        if truth.ndim != 2 or truth.shape[1] != model.n_params or len(policies) != n_p:
            raise ModelError(
                f"ClosedLoop.run() needs truth (patients, {model.n_params}) and one policy per "
                f"patient. Got truth {truth.shape} and {len(policies)} policies."
            )
        if scenario.n_patients != n_p:
            raise ModelError(
                f"The meal scenario has {scenario.n_patients} patients, the run {n_p}."
            )
        kinds = {type(p) for p in policies}
        if len(kinds) != 1 or not kinds <= {BasalBolus, PID, MPC}:
            raise ModelError(
                "ClosedLoop.run() needs one kind of policy for every patient (BasalBolus, PID or "
                f"MPC). Got {sorted(k.__name__ for k in kinds)}."
            )
        dt = float(model.input_dt)
        sub = round(self.every / dt)
        steps_per_day = round(1440.0 / self.every)
        n_days = math.ceil(days)
        n_steps = round(days * 1440.0 / self.every)
        pol = _Settings.of(policies, self)
        horizon_steps = pol.horizon_steps
        n_min = n_steps * sub + horizon_steps + sub
        eaten = jnp.asarray(scenario.rates(n_min, announced=False, model=model))
        told = scenario.rates(n_min, announced=True, model=model)
        now_carbs = scenario.announced_at(n_steps + steps_per_day, self.every)
        told_start = announce_times(scenario, n_min)
        k_noise, k_twin = jax.random.split(key)
        noise = self.sensor.noise_sequence(k_noise, (n_p,), n_steps + 1)
        carry = self._initial(truth, pol, k_twin)
        consts = (jnp.asarray(truth), eaten, jnp.asarray(told), jnp.asarray(told_start),
                  jnp.asarray(now_carbs), noise, jnp.asarray(pol.basal),
                  jnp.asarray(pol.carb_ratio), jnp.asarray(pol.correction_factor))  # fmt: skip
        outs = []
        run_steps = _compile(self, pol)
        for d in range(n_days):
            k0 = d * steps_per_day
            n_here = min(steps_per_day, n_steps - k0)
            carry, out = run_steps(carry, consts, jnp.int64(k0), n_here)
            outs.append(jax.tree.map(np.asarray, out))
            if progress is not None:
                progress(d + 1, n_days)
        out = {k: np.concatenate([o[k] for o in outs], axis=0).T for k in outs[0]}
        return ClosedLoopResult(
            policy=pol.kind, times=self.every * np.arange(n_steps), bg=out["bg"], cgm=out["cgm"],
            basal=out["basal"], bolus=out["bolus"], fallback=out["fallback"].astype(np.int8),
            ess=out["ess"], coverage=out["coverage"],
            twin={k: np.asarray(carry[k]) for k in ("params", "states", "lw") if k in carry},
        )  # fmt: skip

    def _initial(self, truth: np.ndarray, pol: _Settings, key: PRNGKeyArray) -> dict:
        model, n_p, n = self.model, truth.shape[0], self.particles
        y = jax.vmap(model.initial_state)(jnp.asarray(truth))
        carry = {
            "y": y,
            "g_hist": jnp.zeros((n_p, pol.history)),
            "valid": jnp.zeros((n_p, pol.history), bool),
            "bolus_hist": jnp.zeros((n_p, pol.iob_weights.size)),
            "net_hist": jnp.zeros((n_p, pol.iob_weights.size)),
            "coverage": jnp.full((n_p,), 0.95),
        }
        if pol.kind == "mpc":
            keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n_p))
            # as Twin.create(key=keys[i]): particles from fold_in(keys[i], 0)
            if isinstance(self.prior, Prior):
                params = jax.vmap(lambda k: self.prior.sample(model, jax.random.fold_in(k, 0), n))(
                    keys
                )
            else:  # one prior per patient: host set-up, once per run
                if len(self.prior) != n_p or len({tuple(p.free) for p in self.prior}) != 1:
                    raise ModelError(
                        f"ClosedLoop needs one prior, or one per patient ({n_p}) with the same "
                        f"free parameters. Got {len(self.prior)} priors."
                    )
                params = jnp.stack([pr.sample(model, jax.random.fold_in(keys[i], 0), n)
                                    for i, pr in enumerate(self.prior)])  # fmt: skip
            states = jax.vmap(jax.vmap(model.initial_state))(params)
            carry |= {
                "keys": keys,
                "params": params,
                "states": states,
                "lw": jnp.full((n_p, n), -jnp.log(n)),
            }
        return carry


@dataclass(frozen=True)
class _Settings:
    """The policies' per-patient numbers as arrays, and their shared configuration."""

    kind: str
    basal: np.ndarray
    carb_ratio: np.ndarray
    correction_factor: np.ndarray
    template: BasalBolus | PID | MPC
    iob_weights: np.ndarray
    history: int
    horizon_steps: int

    @staticmethod
    def of(policies: Sequence, loop: ClosedLoop) -> _Settings:
        first = policies[0]
        if isinstance(first, MPC):
            bbs = [p.fallback for p in policies]
            kind, history = "mpc", 1
            horizon = round(first.horizon / loop.model.input_dt)
            shared = {_neutral(p) for p in policies}
            if first.particles is None:
                raise ModelError(
                    "The closed loop's MPC needs particles=M (resampled per decision)."
                )
        elif isinstance(first, PID):
            bbs = None
            kind, horizon = "pid", 0
            history = round(max(first.window, first.slope_window) / loop.every) + 1
            shared = {_neutral(p) for p in policies}
        else:
            bbs = list(policies)
            kind, history, horizon = "bb", 1, 0
            shared = set()
        if bbs is not None:
            shared |= {("bb", b.target, b.threshold, b.correct_between_meals) for b in bbs}
        n_shared = 1 + (bbs is not None and kind != "bb")
        if len(shared) > n_shared:
            raise ModelError(
                "The closed loop runs one policy configuration for every patient; only the "
                "patient's basal rate, carb ratio and correction factor may differ."
            )
        if abs(getattr(first, "every", loop.every) - loop.every) > 1e-9:
            raise ModelError(
                f"The policies decide every {first.every:g} min, the loop every {loop.every:g}."
            )
        if bbs is not None:
            basal = np.array([b.basal for b in bbs])
            cr = np.array([b.carb_ratio for b in bbs])
            cf = np.array([b.correction_factor for b in bbs])
        else:
            basal = np.array([p.basal for p in policies])
            cr = np.array([p.carb_ratio or np.inf for p in policies])
            cf = np.full(len(policies), np.inf)
        lags = loop.every * np.arange(1, round(_IOB_HOURS * 60 / loop.every) + 1)
        return _Settings(kind, basal, cr, cf, first, insulin_remaining(lags), history, horizon)


_COMPILED: dict = {}


def _neutral(policy):
    """The policy's shared configuration (its per-patient numbers travel as arrays)."""
    if isinstance(policy, MPC):
        return replace(policy, fallback=_neutral(policy.fallback))
    if isinstance(policy, PID):
        return replace(policy, basal=0.0, carb_ratio=None if policy.carb_ratio is None else 1.0)
    return replace(policy, basal=0.0, carb_ratio=1.0, correction_factor=1.0)


def _compile(loop: ClosedLoop, pol: _Settings):
    """The compiled run of ``n`` decision steps from step ``k0``. Runs with the same
    configuration (patients' numbers aside) share it; JAX compiles once per shape."""
    free = tuple(loop.prior.free if isinstance(loop.prior, Prior) else loop.prior[0].free)
    key = (loop.model, loop.method, loop.particles, loop.sensor, loop.pump, loop.every,
           loop.coverage_window, loop.min_coverage, loop.solver, free, pol.kind,
           _neutral(pol.template), pol.history, pol.horizon_steps)  # fmt: skip
    if key not in _COMPILED:

        def run_steps(carry: dict, consts: tuple, k0: Array, n: int):
            def body(carry, k):
                return _step(loop, pol, carry, consts, k)

            return jax.lax.scan(body, carry, k0 + jnp.arange(n))

        if len(_COMPILED) >= 8:
            _COMPILED.clear()
        _COMPILED[key] = jax.jit(run_steps, static_argnums=3)
    return _COMPILED[key]


def _step(loop: ClosedLoop, pol: _Settings, carry: dict, consts: tuple, k: Array):
    model, dt = loop.model, float(loop.model.input_dt)
    sub = round(loop.every / dt)
    truth, eaten, told, told_start, now_carbs, noise, basal, cr, cf = consts
    pol = replace(pol, basal=basal, carb_ratio=cr, correction_factor=cf)
    n_p = truth.shape[0]
    t = k * loop.every
    sensor = loop.sensor
    j_sc, j_bg = model.observable_index("sc_glucose"), model.observable_index("bg")

    # 1. the CGM reading
    y_obs = jax.vmap(model.observe, (None, 0, 0))(t, carry["y"], truth)
    raw = y_obs[:, j_sc] + noise[:, k]
    cgm = jnp.clip(raw, sensor.min_value, sensor.max_value)
    cens = jnp.where(raw <= sensor.min_value, -1, jnp.where(raw >= sensor.max_value, 1, 0))
    g_hist = jnp.concatenate([carry["g_hist"][:, 1:], cgm[:, None]], axis=1)
    valid = jnp.concatenate([carry["valid"][:, 1:], jnp.ones((n_p, 1), bool)], axis=1)
    iob = carry["bolus_hist"] @ jnp.asarray(pol.iob_weights)
    carbs_now = now_carbs[:, k]
    meal_b, corr_b = basal_bolus_dose(
        carbs_now, cgm, iob, pol.carb_ratio, pol.correction_factor, *_bb_targets(pol)
    )
    new = dict(carry)
    out = {"bg": y_obs[:, j_bg], "cgm": cgm}
    nan = jnp.full((n_p,), jnp.nan)
    fallback = jnp.zeros((n_p,), jnp.int32)
    if pol.kind == "bb":
        basal_cmd, bolus_cmd = jnp.asarray(pol.basal), meal_b + corr_b
        ess, cov = nan, nan
    elif pol.kind == "pid":
        tpl = pol.template
        times = t + loop.every * (jnp.arange(pol.history) - (pol.history - 1))
        p_, i_, d_ = pid_terms(
            jnp.broadcast_to(times, g_hist.shape), g_hist, valid, jnp.full((n_p,), t),
            basal=jnp.asarray(pol.basal), kp=tpl.kp, ki=tpl.ki, kd=tpl.kd, target=tpl.target,
            window=tpl.window, slope_window=tpl.slope_window, max_basal=loop.pump.max_basal,
        )  # fmt: skip
        basal_cmd = pol.basal + p_ + i_ + d_
        bolus_cmd = jnp.where(jnp.isfinite(pol.carb_ratio), meal_b, 0.0)
        ess, cov = nan, nan
    else:
        limits = pol.template.limits
        twin, cov, ess, safe_in = _twin_update(loop, limits, carry, cgm, cens, t, k)
        new |= twin
        flags = safety_flags(ess, cov < loop.min_coverage, cgm, *safe_in, limits)
        fallback = jnp.where(jnp.any(flags, -1), jnp.argmax(flags, -1) + 1, 0)
        basal_mpc, bolus_mpc = _mpc_decide(
            loop, pol, new, cgm, carbs_now, told, told_start, t, k, iob
        )
        use = fallback == 0
        basal_cmd = jnp.where(use, basal_mpc, pol.basal)
        bolus_cmd = jnp.where(use, bolus_mpc, meal_b + corr_b)
    basal_cmd = loop.pump.deliver_basal(basal_cmd)
    bolus_cmd = loop.pump.deliver_bolus(bolus_cmd)

    # 4. five minutes of the patient (eaten meals) and of the twin (announced meals)
    first = (jnp.arange(sub) == 0).astype(jnp.float64)
    insulin = basal_cmd[:, None] / 60.0 + bolus_cmd[:, None] * first / dt  # (P, sub) U/min
    ic, ii = model.input_names.index("carbs"), model.input_names.index("insulin")

    def rates(carbs):
        r = jnp.zeros((n_p, sub, len(model.input_names)))
        return r.at[:, :, ic].set(carbs).at[:, :, ii].set(insulin)

    def slice_(a):
        return jax.lax.dynamic_slice_in_dim(a, k * sub, sub, axis=1)

    r_true = rates(slice_(eaten))
    new["y"] = _advance(loop, truth, carry["y"], t, r_true, bolus_cmd)
    if pol.kind == "mpc":
        r_twin = rates(slice_(told))
        new["states"] = _advance(loop, new["params"], new["states"], t, r_twin, bolus_cmd)
    new["g_hist"], new["valid"] = g_hist, valid
    new["bolus_hist"] = jnp.concatenate([bolus_cmd[:, None], carry["bolus_hist"][:, :-1]], 1)
    net = bolus_cmd + (basal_cmd - pol.basal) * loop.every / 60.0  # U above basal
    new["net_hist"] = jnp.concatenate([net[:, None], carry["net_hist"][:, :-1]], 1)
    out |= {"basal": basal_cmd, "bolus": bolus_cmd, "fallback": fallback, "ess": ess,
            "coverage": cov}  # fmt: skip
    return new, out


def _bb_targets(pol: _Settings) -> tuple:
    tpl = pol.template
    bb = tpl.fallback if isinstance(tpl, MPC) else tpl
    if isinstance(bb, PID):
        return (tpl.target, np.inf, False)
    return (bb.target, bb.threshold, bb.correct_between_meals)


def _advance(loop: ClosedLoop, params: Array, y: Array, t: Array, rates: Array, bolus: Array):
    """Advance every member 5 min; ``params``/``y`` are (P, ...) or (P, N, ...); ``rates``
    (P, sub, inputs) per patient. Refinement: as :func:`~medtwin.simulate.advance` would
    choose it for each patient's call (doses inside this interval)."""
    solver, model, dt = loop.solver, loop.model, float(loop.model.input_dt)
    sub = rates.shape[1]
    dosing = (rates[:, :, model.input_names.index("carbs")] > 0) | (
        (bolus[:, None] > 0) & (jnp.arange(sub) == 0)
    )
    refine = solver.refine_mask_traced(dosing)
    refine_any = None if refine is None else jnp.any(refine, axis=0)

    def member(p, y0, r, ref):
        _, y1, ok = integrate_rates(model, solver, p, y0, t, r, ref, refine_any, dt=dt,
                                    save_every=sub)  # fmt: skip
        return jnp.where(ok, y1, y0)  # a failed member keeps its state (and loses weight)

    if y.ndim == 2:
        return jax.vmap(member)(params, y, rates, refine)
    inner = jax.vmap(member, (0, 0, None, None))
    return jax.vmap(inner)(params, y, rates, refine)


def _twin_update(
    loop: ClosedLoop, limits: SafetyLimits, carry: dict, cgm: Array, cens: Array, t: Array, k: Array
):
    """One reading into every patient's particle filter (the functions ``assimilate`` uses,
    with its keys), plus the coverage signal and the inputs of the safety checks."""
    model, method = loop.model, loop.method
    free = tuple(loop.prior.free if isinstance(loop.prior, Prior) else loop.prior[0].free)
    idx, log = free_transform(model, free)
    lo, hi = bounds(model, idx)
    j = model.observable_index(limits.observable)
    noise = model.observables[j].noise
    n = carry["params"].shape[1]
    per_hour = HOURS_PER_UNIT.get(model.time_unit, 1.0)
    sd = jnp.float64(method.drift * math.sqrt(loop.every * per_hour))
    b = np.array([model.parameters[i].bounds for i in idx]).reshape(-1, 2)

    def one(key, params, states, lw, cov, g, c):
        kv = jax.random.fold_in(key, k + 1)  # assimilate's key for version k + 1
        pred = jax.vmap(model.observe, (None, 0, 0))(t, states, params)[:, j]
        # one-step 95 % predictive band: weighted quantiles of the particles plus sensor noise
        order = jnp.argsort(pred)
        cw = jnp.cumsum(jnp.exp(lw)[order])
        q_lo = pred[order][jnp.argmax(cw >= 0.025)]
        q_hi = pred[order][jnp.argmax(cw >= 0.975)]
        inside = (g >= q_lo - 1.96 * noise.sd(q_lo)) & (g <= q_hi + 1.96 * noise.sd(q_hi))
        a = loop.every / loop.coverage_window
        cov = (1 - a) * cov + a * inside.astype(jnp.float64)
        if method.drift > 0:
            drifted = pf_drift(jax.random.fold_in(kv, 2**30), params, idx, log, lo, hi, sd)
            params = jnp.where(k > 0, drifted, params)
        # a reading at the twin's creation time counts as known (as ``assimilate`` drops it)
        weighted, _, _ = pf_weight(
            model, t, states, params, lw, (j,), g[None], c[None], method.temper
        )
        lw = jnp.where(k > 0, weighted, lw)
        ess = 1.0 / jnp.sum(jnp.exp(lw) ** 2)
        rp, rs, rl, _ = pf_resample_move(
            jax.random.fold_in(kv, 0), params, states, lw, idx, log, lo, hi, method.shrinkage
        )
        go = (ess < method.resample_threshold * n) & (k > 0)
        params, states = jnp.where(go, rp, params), jnp.where(go, rs, states)
        lw = jnp.where(go, rl, lw)
        ess_after = 1.0 / jnp.sum(jnp.exp(lw) ** 2)
        w = jnp.exp(lw)
        pred = jax.vmap(model.observe, (None, 0, 0))(t, states, params)[:, j]
        share = bound_share(params, w, idx, b, limits.bound_rtol) if idx.size else 0.0
        return params, states, lw, cov, ess_after / n, (jnp.min(pred), jnp.max(pred), share)

    params, states, lw, cov, ess, safe_in = jax.vmap(one)(
        carry["keys"], carry["params"], carry["states"], carry["lw"], carry["coverage"], cgm, cens
    )
    twin = {"params": params, "states": states, "lw": lw, "coverage": cov}
    return twin, cov, ess, safe_in


def _mpc_decide(loop, pol: _Settings, twin: dict, cgm, carbs_now, told, told_start, t, k, iob):
    """Every patient's MPC decision from ``M`` particles resampled from its twin."""
    mpc: MPC = pol.template
    model, dt = loop.model, float(loop.model.input_dt)
    block_steps, every = mpc.steps(dt)
    h = sum(block_steps)
    m = mpc.particles
    minute = jax.lax.dynamic_slice_in_dim(told, k * round(loop.every / dt), h, axis=1)
    start = jax.lax.dynamic_slice_in_dim(told_start, k * round(loop.every / dt), h, axis=1)
    # the controller knows an announced meal from the interval in which it starts
    carbs = (
        jnp.where(start < t + loop.every, minute, 0.0) if mpc.announce else jnp.zeros_like(minute)
    )
    dosing = (carbs > 0) | (jnp.arange(h) == 0)
    refine = mpc.solver.refine_mask_traced(dosing)
    refine_any = None if refine is None else jnp.any(refine, axis=0)
    obs_j = model.observable_index(mpc.observable)
    anchor = mpc.anchor()
    lags = loop.every * np.arange(1, pol.iob_weights.size + 1)
    past_w = jnp.asarray(insulin_remaining(lags + mpc.horizon))  # net history -> IOB at the end

    def one(key, params, states, lw, g, c_now, carbs_p, ref_p, basal, cr, cf, net_hist, iob):
        ref_p = None if refine is None else ref_p
        kd = jax.random.fold_in(key, 2**21 + k)
        anc = systematic_resample(kd, lw, m)
        ref, corr = mpc.reference(c_now if mpc.announce else 0.0, g, iob, cr, cf)
        plans = mpc.grid_for(basal, ref, loop.pump, corr)
        risk, p_hypo = mpc_scores(
            model, mpc.solver, params[anc], states[anc], jnp.full((m,), 1.0 / m), t, carbs_p,
            plans, ref_p, refine_any, block_steps=block_steps, dt=dt, every=every,
            observable=obs_j, hypo=mpc.hypo,
            terminal=mpc.terminal_drop(plans, basal, cf, net_hist @ past_w, dt)
            if mpc.terminal else None,
        )  # fmt: skip
        chosen, _ = choose_plan(risk, p_hypo, mpc.p_hypo_max, anchor, mpc.switch_margin or 0.0)
        return plans[chosen, 0], plans[chosen, -1]

    ref_arg = refine if refine is not None else jnp.zeros((cgm.shape[0], h), bool)
    return jax.vmap(one)(
        twin["keys"], twin["params"], twin["states"], twin["lw"], cgm, carbs_now, carbs, ref_arg,
        jnp.asarray(pol.basal), jnp.asarray(pol.carb_ratio), jnp.asarray(pol.correction_factor),
        twin["net_hist"], iob,
    )  # fmt: skip


@dataclass(frozen=True)
class PolicyArm:
    """A closed-loop policy as an arm of :func:`medtwin.cohorts.run_trial`: each chunk's
    patients (UVA/Padova parameters; covariates ``carb_ratio`` and ``correction_factor``) run
    ``days`` in ``loop`` under ``policy(basal U/h, carb ratio, correction factor)``, with
    random meals (:func:`random_meals`, ``carb_error``) and sensor noise from the chunk's seed,
    so every arm of the trial sees the same meals and noise (paired). Returns the runs as a
    trajectory (``bg`` every ``loop.every`` min) for the trial's endpoints."""

    name: str
    loop: ClosedLoop
    policy: Callable[[float, float, float], BasalBolus | PID | MPC]
    days: int = 1
    carb_error: float = 0.1

    def run(self, population, seed: np.random.SeedSequence) -> Trajectory:
        model = self.loop.model
        truth = np.asarray(population.params, np.float64)
        try:
            cr = np.asarray(population.covariate("carb_ratio"), np.float64)
            cf = np.asarray(population.covariate("correction_factor"), np.float64)
            basal = truth[:, model.param_index("u2ss")] * truth[:, model.param_index("BW")]
        except (KeyError, ModelError) as exc:
            raise ModelError(
                f"PolicyArm {self.name!r} needs UVA/Padova patients with the covariates "
                f"carb_ratio and correction_factor (e.g. data.virtual_population()): {exc}"
            ) from None
        basal = basal / 6000.0 * 60.0  # pmol/kg/min x kg -> U/h
        state = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 2**20))
        s_meals, s_key = state.generate_state(2)
        meals = random_meals(len(truth), self.days, seed=int(s_meals), carb_error=self.carb_error)
        policies = [
            self.policy(float(b), float(c), float(f)) for b, c, f in zip(basal, cr, cf, strict=True)
        ]
        res = self.loop.run(policies, truth, meals, days=self.days, key=jax.random.key(int(s_key)))
        return res.trajectory()
