"""Closed-loop simulation of a whole cohort at once: for every virtual patient a true patient
model, a CGM, an insulin pump, a policy and -- for model-predictive control -- a twin that
recalibrates from the CGM alone every 5 minutes, all advanced together in one compiled step.

Every ``every`` (5) min, for all patients at once (``vmap``; no Python loop over patients):

1. the CGM reads the true patient's subcutaneous glucose plus the sensor's noise (drawn for the
   whole run up front, so every policy sees the same noise) and clips it to its reporting range
   (a LO/HI reading is censored for the twin);
2. the policy decides (``decide`` of its :class:`~medtwin.control._policies.LoopPolicy`:
   basal-bolus, PID, the OpenAPS-style APS, or MPC, whose twin first assimilates the reading
   with the particle filter's own steps and keys, ``_loop_twin.py``), and the pump quantises
   and caps the command;
3. the true patient eats the meals it eats, and its rescue carbohydrate when the reading is
   low or its twin alerts it to a coming low (:class:`~medtwin.control.HypoTreatment`, if the
   loop has one; :class:`~medtwin.control.LowAlert`; never announced); the
   twin is told the announced meals (at their start, with the announced carbohydrate), the
   rescue carbohydrate if the patient logs it, and the insulin the pump delivered; both
   advance 5 min.

The loop's state between steps is a :class:`~medtwin.control._loop_state.LoopState`; the step
is compiled by ``jax.jit`` (``equinox.filter_jit``) with the loop's configuration and the
policy's shared settings static, so JAX's own compile cache serves every run of the same
configuration (other patients, meals, keys and lengths up to a day). Meals are a realisation
:class:`~medtwin.simulate.Meals` (:class:`~medtwin.control.MealSchedule`), e.g. simglucose's
random scenario (:func:`~medtwin.control.random_meals`).

Units: min, mg/dL, g, U/h, U.

References
----------
Man CD, Micheletto F, Lv D, Breton M, Kovatchev B, Cobelli C. The UVA/PADOVA type 1 diabetes
simulator: new features. J Diabetes Sci Technol 8(1):26-34, 2014 (closed-loop in-silico testing).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..analysis.metrics import glucose_metrics
from ..assimilate._ensemble import Prior
from ..assimilate._filters import ParticleFilter
from ..errors import ModelError
from ..models._base import AbstractModel
from ..models.glucose.cgm import CGMSensor
from ..models.glucose.pump import InsulinPump
from ..simulate import RK4, Meals, Solver, Trajectory, integrate_rates
from ._aps import APS
from ._basal_bolus import BasalBolus
from ._loop_state import LoopInputs, LoopObservation, LoopSpec, LoopState, StepRecord
from ._mpc import MPC
from ._pid import PID
from ._policies import LoopPolicy, loop_policy
from ._rescue import HypoTreatment
from ._safety import FALLBACK_REASONS

__all__ = ["ClosedLoop", "ClosedLoopResult"]


@dataclass(frozen=True)
class ClosedLoopResult:
    """A closed-loop run: every ``every`` min (``times``, from 0) per patient the true plasma
    glucose ``bg``, the CGM reading ``cgm``, the delivered ``basal`` (U/h) and ``bolus`` (U),
    the ``fallback`` code (0: none; meaning in ``reasons``), the twin's effective sample size
    fraction ``ess``, its coverage signal ``coverage``, whether the reading fell in its
    one-step 95 % band ``inside`` (1.0 / 0.0; NaN without a twin), the rescue carbohydrate
    the patient ate ``rescue`` (g; zeros without a hypoglycaemia treatment), whether the
    twin's low alert was on ``alert`` (None without :class:`~medtwin.control.LowAlert`), the
    twin's chance of a low soon behind it ``p_low`` (its least over the plans it scored, at
    every decision, also those that fell back; None without), the learnt meal-bolus
    factor each decision used ``bolus_factor`` (None without bolus learning) and the glucose
    the OpenAPS-style plan MPC anchors on dosed on ``aps_glucose`` (mg/dL: the lower of the
    reading and the twin's estimate, the reading where the loop fell back; None unless
    ``MPC(aps_glucose="twin")``): the reading minus it is how high the twin judged the
    sensor to read."""

    policy: str
    times: np.ndarray
    bg: np.ndarray
    cgm: np.ndarray
    basal: np.ndarray
    bolus: np.ndarray
    fallback: np.ndarray
    ess: np.ndarray
    coverage: np.ndarray
    inside: np.ndarray | None = None
    reasons: tuple[str, ...] = FALLBACK_REASONS
    twin: dict[str, np.ndarray] | None = None
    rescue: np.ndarray | None = None
    bolus_factor: np.ndarray | None = None
    alert: np.ndarray | None = None
    p_low: np.ndarray | None = None
    aps_glucose: np.ndarray | None = None

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
        CV (%), LBGI, the share of decisions that fell back to basal-bolus (%), of readings
        after the first in the twin's one-step 95 % band (%; NaN without a twin) and the rescue
        treatments per day (``rescues``)."""
        m = glucose_metrics(self.bg)
        inside = self.inside if self.inside is not None else np.full(self.bg.shape, np.nan)
        return {
            "tir": np.asarray(m.tir),
            "below70": np.asarray(m.tbr70),
            "below54": np.asarray(m.tbr54),
            "above180": np.asarray(m.tar180),
            "mean": np.asarray(m.mean),
            "cv": np.asarray(m.cv),
            "lbgi": np.asarray(m.lbgi),
            "fallbacks": 100.0 * np.mean(self.fallback > 0, axis=1),
            "band": 100.0 * np.mean(inside[:, 1:], axis=1),
            "rescues": self._rescues_per_day(),
        }

    def _rescues_per_day(self) -> np.ndarray:
        if self.rescue is None or self.times.size < 2:
            return np.zeros(self.bg.shape[0])
        days = self.times.size * (self.times[1] - self.times[0]) / 1440.0
        return np.sum(self.rescue > 0, axis=1) / days


@dataclass(frozen=True)
class ClosedLoop:
    """The closed-loop simulator (module docstring). ``model`` the patient model (UVA/Padova);
    ``prior`` and ``method`` the twin's population prior (or one per patient, e.g. leaving
    the patient out of the population) and particle filter; ``particles`` the
    twin's ensemble size; ``sensor``, ``pump``; ``every`` the decision interval (min);
    ``coverage_window`` (min) and ``min_coverage``: the twin counts as drifting when the moving
    average of its one-step 95 % band coverage falls below ``min_coverage``; ``rescue`` the
    patients' hypoglycaemia treatment (None: none)."""

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
    rescue: HypoTreatment | None = None

    def spec(self) -> LoopSpec:
        """The configuration the compiled step shares (all but the prior's numbers)."""
        free = tuple(self.prior.free if isinstance(self.prior, Prior) else self.prior[0].free)
        return LoopSpec(
            self.model, self.method, self.sensor, self.pump, self.every, self.coverage_window,
            self.min_coverage, self.solver, free, self.rescue,
        )  # fmt: skip

    def run(
        self,
        policies: Sequence[BasalBolus | PID | APS | MPC],
        truth: Float[ArrayLike, "p n_params"],
        scenario: Meals,
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
        spec = self.spec()
        policy = loop_policy(policies, spec)
        sub = spec.substeps
        steps_per_day = round(1440.0 / self.every)
        n_days = math.ceil(days)
        n_steps = round(days * 1440.0 / self.every)
        n_min = n_steps * sub + policy.lookahead(spec) + sub
        k_noise, k_twin = jax.random.split(key)
        inputs = LoopInputs(
            truth=jnp.asarray(truth),
            eaten=jnp.asarray(scenario.rates(n_min, announced=False, model=model)),
            told=jnp.asarray(scenario.rates(n_min, announced=True, model=model)),
            told_start=jnp.asarray(scenario.announce_starts(n_min)),
            now_carbs=jnp.asarray(scenario.announced_at(n_steps + steps_per_day, self.every)),
            noise=self.sensor.noise_sequence(k_noise, (n_p,), n_steps + 1),
        )
        state = policy.init(self, inputs.truth, k_twin)
        # every patient's numbers are its own (its keys, noise and meals are drawn for the whole
        # cohort above), so the patients run in chunks, one thread per core (XLA runs one
        # computation on one core); equal chunks, the last padded with the last patient
        chunks = _patient_chunks(n_p)
        parts = [_take((policy, state, inputs), idx) for idx in chunks]
        records: list[list[StepRecord]] = [[] for _ in chunks]
        with ThreadPoolExecutor(len(chunks)) as pool:
            for d in range(n_days):
                k0 = d * steps_per_day
                n_here = min(steps_per_day, n_steps - k0)

                def day(i: int, k0: int = k0, n_here: int = n_here) -> None:
                    pol, st, inp = parts[i]
                    st, rec = _run_steps(spec, pol, st, inp, jnp.int64(k0), n_here)
                    parts[i] = (pol, st, inp)
                    records[i].append(jax.tree.map(np.asarray, rec))

                list(pool.map(day, range(len(chunks))))
                if progress is not None:
                    progress(d + 1, n_days)
        per_chunk = [jax.tree.map(lambda *r: np.concatenate(r, axis=0).T, *rs) for rs in records]
        out = jax.tree.map(lambda *c: np.concatenate(c, axis=0)[:n_p], *per_chunk)
        twins = [part[1].twin for part in parts]
        return ClosedLoopResult(
            policy=policy.kind, times=self.every * np.arange(n_steps), bg=out.bg, cgm=out.cgm,
            basal=out.basal, bolus=out.bolus, fallback=out.fallback.astype(np.int8),
            ess=out.ess, coverage=out.coverage, inside=out.inside, rescue=out.rescue,
            bolus_factor=None if state.learning is None else out.bolus_factor,
            alert=out.alert if policy.alerts else None,
            p_low=out.p_low if policy.alerts else None,
            aps_glucose=out.aps_glucose if policy.twin_guided else None,
            twin={} if twins[0] is None else {
                name: np.concatenate([np.asarray(getattr(tw, attr)) for tw in twins])[:n_p]
                for name, attr in (("params", "params"), ("states", "states"),
                                    ("lw", "log_weights"), ("sensor", "sensor"))},
        )  # fmt: skip


MIN_CHUNK = 4  # patients per thread below which one thread runs the cohort


def _patient_chunks(n_p: int) -> list[np.ndarray]:
    """The patients of each thread: one chunk per CPU core on the CPU backend (at least
    ``MIN_CHUNK`` patients each), equal sizes, the last padded with the last patient."""
    if jax.default_backend() != "cpu":
        return [np.arange(n_p)]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = max(1, min(cores or 1, n_p // MIN_CHUNK))
    size = -(-n_p // n)
    return [np.minimum(np.arange(i * size, (i + 1) * size), n_p - 1) for i in range(n)]


def _take(tree: Any, idx: np.ndarray) -> Any:
    """The patients ``idx`` of every per-patient array of ``tree`` (patient axis first)."""
    return jax.tree.map(lambda a: a[idx] if eqx.is_array(a) and a.ndim else a, tree)


@eqx.filter_jit
def _run_steps(
    spec: LoopSpec, policy: LoopPolicy, state: LoopState, inputs: LoopInputs, k0: Array, n: int
) -> tuple[LoopState, StepRecord]:
    """``n`` decision steps from step ``k0`` (compiled once per ``spec``, policy template,
    ``n`` and shapes: JAX's compile cache)."""

    def body(state: LoopState, k: Array) -> tuple[LoopState, StepRecord]:
        return _step(spec, policy, state, inputs, k)

    return jax.lax.scan(body, state, k0 + jnp.arange(n))


def _step(
    spec: LoopSpec, policy: LoopPolicy, state: LoopState, inputs: LoopInputs, k: Array
) -> tuple[LoopState, StepRecord]:
    """One decision interval for every patient (module docstring, 1-3)."""
    model, dt, sub, sensor = spec.model, float(spec.model.input_dt), spec.substeps, spec.sensor
    n_p = inputs.truth.shape[0]
    t = k * spec.every
    j_sc, j_bg = model.observable_index("sc_glucose"), model.observable_index("bg")

    # 1. the CGM reading
    y_obs = jax.vmap(model.observe, (None, 0, 0))(t, state.y, inputs.truth)
    raw = y_obs[:, j_sc] + inputs.noise[:, k]
    cgm = jnp.clip(raw, sensor.min_value, sensor.max_value)
    cens = jnp.where(raw <= sensor.min_value, -1, jnp.where(raw >= sensor.max_value, 1, 0))
    g_hist = jnp.concatenate([state.g_hist[:, 1:], cgm[:, None]], axis=1)
    valid = jnp.concatenate([state.valid[:, 1:], jnp.ones((n_p, 1), bool)], axis=1)
    iob = state.bolus_hist @ jnp.asarray(spec.iob_weights())
    obs = LoopObservation(t, k, cgm, cens, g_hist, valid, iob, inputs.now_carbs[:, k])

    # 2. the policy's decision, through the pump
    decision = policy.decide(spec, state, inputs, obs)
    basal_cmd = spec.pump.deliver_basal(decision.basal)
    bolus_cmd = spec.pump.deliver_bolus(decision.bolus)

    # 3. five minutes of the patient (eaten meals, rescue carbohydrate) and of the twin
    # (announced meals)
    first = (jnp.arange(sub) == 0).astype(jnp.float64)
    insulin = basal_cmd[:, None] / 60.0 + bolus_cmd[:, None] * first / dt  # (P, sub) U/min
    ic, ii = model.input_names.index("carbs"), model.input_names.index("insulin")

    def rates(carbs: Array) -> Array:
        r = jnp.zeros((n_p, sub, len(model.input_names)))
        return r.at[:, :, ic].set(carbs).at[:, :, ii].set(insulin)

    def slice_(a: Array) -> Array:
        return jax.lax.dynamic_slice_in_dim(a, k * sub, sub, axis=1)

    eaten = slice_(inputs.eaten)
    told = slice_(inputs.told)
    if spec.rescue is None:
        rescue, last_rescue = jnp.zeros(n_p), state.last_rescue
    else:
        rescue = spec.rescue.due(cgm, t, state.last_rescue, decision.alert)
        last_rescue = jnp.where(rescue > 0, t, state.last_rescue)
        rescue_rate = rescue[:, None] / (sub * dt)  # g/min over the interval
        eaten = eaten + rescue_rate
        if spec.rescue.logged:
            told = told + rescue_rate
    y = _advance(spec, inputs.truth, state.y, t, rates(eaten), bolus_cmd)
    twin = decision.twin
    if twin is not None:
        r_twin = rates(told)
        states = _advance(spec, twin.params, twin.states, t, r_twin, bolus_cmd)
        twin = eqx.tree_at(lambda tw: tw.states, twin, states)
    net = bolus_cmd + (basal_cmd - policy.basal) * spec.every / 60.0  # U above basal
    new = LoopState(
        y=y,
        g_hist=g_hist,
        valid=valid,
        bolus_hist=jnp.concatenate([bolus_cmd[:, None], state.bolus_hist[:, :-1]], 1),
        net_hist=jnp.concatenate([net[:, None], state.net_hist[:, :-1]], 1),
        last_rescue=last_rescue,
        twin=twin,
        learning=decision.learning,
    )
    record = StepRecord(
        bg=y_obs[:, j_bg], cgm=cgm, basal=basal_cmd, bolus=bolus_cmd,
        fallback=decision.fallback, ess=decision.ess, coverage=decision.coverage,
        inside=decision.inside, rescue=rescue,
        alert=jnp.zeros((n_p,), bool) if decision.alert is None else decision.alert,
        p_low=jnp.full((n_p,), jnp.nan) if decision.p_low is None else decision.p_low,
        bolus_factor=jnp.full((n_p,), jnp.nan) if decision.learning is None
        else decision.learning.factor,
        aps_glucose=jnp.full((n_p,), jnp.nan) if decision.aps_glucose is None
        else decision.aps_glucose,
    )  # fmt: skip
    return new, record


def _advance(spec: LoopSpec, params: Array, y: Array, t: Array, rates: Array, bolus: Array):
    """Advance every member 5 min; ``params``/``y`` are (P, ...) or (P, N, ...); ``rates``
    (P, sub, inputs) per patient. Refinement: as :func:`~medtwin.simulate.advance` would
    choose it for each patient's call (doses inside this interval)."""
    solver, model, dt = spec.solver, spec.model, float(spec.model.input_dt)
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
