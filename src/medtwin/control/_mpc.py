"""Model-predictive control over the twin's posterior ensemble, with a chance constraint on
hypoglycaemia and a safe fallback to basal-bolus therapy.

At each decision (every ``every`` = 5 min) the controller

1. runs :func:`~medtwin.control.safety_check`; if the twin is not trustworthy it returns the
   basal-bolus decision with the reason in ``Decision.fallback``;
2. builds a grid of candidate insulin plans over the receding ``horizon`` (120 min):
   piecewise-constant basal over ``blocks`` (default 30 + 90 min; each block's rate a multiple
   ``basal_levels`` of the patient's basal) and a bolus now (a multiple ``bolus_levels`` of a
   reference: with ``bolus_reference="carbs"`` announced carbs / carb ratio + (CGM - target) /
   correction factor; with ``"basal-bolus"`` the fallback's own bolus, whose correction rules
   and insulin on board apply, so that MPC adjusts the basal around the patient's boluses as a
   hybrid closed loop does), optionally plus a multiple ``correction_levels`` of an automatic
   correction bolus (with ``"basal-bolus"``: the correction net of insulin on board that the
   patient's rules would not give now, i.e. between meals; Control-IQ offers 60 % of it,
   Brown et al. 2019), every plan quantised to the pump's increments and limits first; with
   ``max_iob`` the first block's basal is capped as OpenAPS caps a temp basal (the loop's own
   net insulin on board at most ``max_iob`` hours of basal, :class:`~medtwin.control.APS`);
3. simulates every (resampled) particle under every plan in ONE vmapped
   :func:`~medtwin.simulate.simulate` call (particles x plans members; the announced meals
   enter each plan's regimen when ``announce``);
4. scores each plan by the posterior mean of the Kovatchev risk of plasma glucose over the
   horizon, ``r(BG) = 10 (1.509 (ln(BG)^1.084 - 5.381))^2`` (BG in mg/dL), and its chance of
   hypoglycaemia ``P(BG < 70 mg/dL at any 5-min point of the horizon)``; chooses the lowest-risk
   plan with that probability <= ``p_hypo_max`` (5 %), or, if none qualifies, the plan with the
   lowest probability of hypoglycaemia (and says so);
5. applies the first block's basal and the bolus (receding horizon); in the closed loop, with
   ``low_alert``, it also alerts the patient to eat their rescue carbohydrate when even the
   least-insulin plan leaves a low likely within 35 min (:class:`~medtwin.control.LowAlert`).

Insulin on board is respected through the model: every particle's subcutaneous and plasma
insulin states carry all insulin given so far, so a bolus that would stack on active insulin
shows up as predicted hypoglycaemia.

Units: min, mg/dL, g, U/h, U.

References
----------
Kovatchev BP, Cox DJ, Gonder-Frederick LA, Clarke W. Symmetrization of the blood glucose
measurement scale and its applications. Diabetes Care 20(11):1655-1658, 1997.
Hovorka R et al. Nonlinear model predictive control of glucose concentration in subjects with
type 1 diabetes. Physiol Meas 25(4):905-920, 2004.
Brown SA et al. Six-month randomized, multicenter trial of closed-loop control in type 1
diabetes. N Engl J Med 381:1707-1717, 2019 (Control-IQ: automatic correction boluses of 60 %).
Schwenzer M et al. Review on model predictive control: an engineering perspective. Int J Adv
Manuf Technol 117:1327-1349, 2021 (chance constraints in stochastic MPC).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..assimilate._filters import systematic_resample
from ..errors import ModelError
from ..simulate import RK4, Regimen, Solver, integrate_rates, meal
from ._aps import APS, max_iob_rate
from ._basal_bolus import BasalBolus, basal_bolus_dose
from ._bolus_learning import BolusLearning
from ._policy import Decision, PolicyInput, clip_to_pump, insulin_remaining
from ._rescue import LowAlert
from ._safety import SafetyLimits, safety_check

__all__ = ["MPC", "MPCPlan", "PlanScores", "kovatchev_risk", "mpc_scores"]

Glucose = Float[ArrayLike, " *shape"]  # mg/dL
Risk = Float[Array, " *shape"]


def kovatchev_risk(bg: Glucose) -> Risk:
    """Kovatchev et al. (1997) risk of blood glucose ``bg`` (mg/dL): 0 at 112.5 mg/dL, 100 at
    the extremes (about 20 and 600 mg/dL). Values below 1 mg/dL count as 1."""
    g = jnp.maximum(jnp.asarray(bg, dtype=jnp.float64), 1.0)
    f = 1.509 * (jnp.log(g) ** 1.084 - 5.381)
    return 10.0 * f**2


class PlanScores(NamedTuple):
    """What :func:`mpc_scores` gives per plan (C,): the posterior mean Kovatchev ``risk``,
    the chance of hypoglycaemia over the horizon ``p_hypo`` and, when asked, of a low soon
    ``p_soon`` (None when not)."""

    risk: Float[Array, " c"]
    p_hypo: Float[Array, " c"]
    p_soon: Float[Array, " c"] | None = None


def mpc_scores(
    model,
    solver: Solver,
    params: Float[Array, "m n_params"],
    states: Float[Array, "m n_states"],
    weights: Float[Array, " m"],
    t0: Float[ArrayLike, ""],
    carbs: Float[Array, " steps"],
    plans: Float[Array, "c blocks_plus_1"],
    refine: Array | None,
    refine_any: Array | None,
    *,
    block_steps: tuple[int, ...],
    dt: float,
    every: int,
    observable: int,
    hypo: float,
    terminal: Float[Array, " c"] | None = None,
    sharing: tuple[tuple[int, ...], tuple[int, ...]] | None = None,
    soon: tuple[int, float] | None = None,
    shift: Float[Array, " m"] | None = None,
) -> PlanScores:
    """Posterior mean Kovatchev risk and P(BG < ``hypo``) of every plan (traceable; the one
    numerical core of :meth:`MPC.plan` and of the closed loop), as :class:`PlanScores`; with
    ``soon`` = (n, level) also P(BG < level at one of the first n scored points) per plan,
    the chance of a low soon that a :class:`~medtwin.control.LowAlert` acts on; ``shift`` (m,)
    mg/dL added to each particle's glucose for that check only (a reading-anchored alert).

    Every particle (``params``, ``states``, ``weights`` summing to 1) is simulated under every
    plan for ``sum(block_steps)`` input steps of ``dt``: insulin at the plan's basal of each
    block (U/h) plus its bolus (U) in the first step, carbohydrate at the announced rate
    ``carbs`` (g/min per step); glucose ``observable`` is scored every ``every`` steps. A
    failed member counts as hypoglycaemic with risk 100. ``terminal`` (C,) the further glucose
    drop (mg/dL) each plan's insulin still on board at the horizon's end will cause: the
    *eventual* glucose ``BG(end) - terminal`` is scored as one more point and counts for the
    chance constraint (the horizon is shorter than insulin action, 6 h).

    ``sharing`` (static; ``plan_sharing(mpc)``) saves work without changing a number: plans
    with the same first block (basal and bolus) are simulated over it once and branch after
    it; plans that are copies of others at this decision (a zero correction bolus) are
    simulated once (a real branch where no ``vmap`` batches this call)."""
    ic, ii = model.input_names.index("carbs"), model.input_names.index("insulin")
    block_of = np.repeat(np.arange(len(block_steps)), block_steps)
    first = (np.arange(block_of.size) == 0).astype(np.float64)
    insulin = plans[:, block_of] / 60.0 + plans[:, -1:] * first / dt  # (c, steps) U/min
    n_in = len(model.input_names)
    rates = jnp.zeros((plans.shape[0], block_of.size, n_in))
    rates = rates.at[:, :, ii].set(insulin).at[:, :, ic].set(carbs)

    n_steps = block_of.size
    split = block_steps[0] // every * every  # shared first block, to a scored point
    if sharing is None or solver.initial_carry() != () or not 0 < split < n_steps:
        split = 0  # (a solver carrying a step size across steps runs each plan whole)

    m, n_y = states.shape

    def run(y, r, first, last):
        """Every particle (from ``y``: (m, n) or (m, c, n)) under every plan of ``r`` from
        step ``first`` to ``last``, members on the last axis: BG (m, c, saves), state, ok."""
        c = r.shape[0]
        y = jnp.broadcast_to(y[:, None] if y.ndim == 2 else y, (m, c, n_y))
        p = jnp.broadcast_to(params[:, None], (m, c, params.shape[-1])).reshape(m * c, -1)
        r = jnp.broadcast_to(r[None, :, :last], (m, c, last, n_in)).reshape(m * c, last, n_in)
        ref = None if refine is None else refine[:last]
        ref_any = None if refine_any is None else refine_any[:last]
        obs, y1, ok = integrate_rates(
            model, solver, p.T, y.reshape(m * c, n_y).T, t0, r.transpose(1, 2, 0), ref,
            ref_any, dt=dt, save_every=every, first=first, members_last=True,
        )  # fmt: skip
        return obs[:, observable].T.reshape(m, c, -1), y1.T.reshape(m, c, n_y), ok.reshape(m, c)

    def glucose(rows: tuple[int, ...]) -> Array:
        """BG (m, len(rows), saves) of the plans ``rows``."""
        r = rates[np.asarray(rows)]
        if not split:
            return run(states, r, 0, n_steps)[0]
        assert sharing is not None
        heads: dict[int, int] = {}
        of = np.array([heads.setdefault(sharing[0][i], j) for j, i in enumerate(rows)])
        head = np.array(sorted(heads.values()))
        of = np.searchsorted(head, of)  # each plan's head among the heads
        bg1, y1, ok1 = run(states, r[head], 0, split)
        bg2, _, _ = run(y1[:, of], r, split, n_steps)
        bg2 = jnp.where(ok1[:, of, None], bg2, jnp.nan)
        return jnp.concatenate([bg1[:, of], bg2], axis=-1)

    n_c = plans.shape[0]
    if sharing is None:
        bg = glucose(tuple(range(n_c)))
    else:
        same = np.asarray(sharing[1])
        kept = tuple(int(i) for i in np.unique(same))
        if len(kept) == n_c:
            bg = glucose(kept)
        else:
            copies = jnp.all(plans == plans[same])
            where = np.searchsorted(np.asarray(kept), same)
            bg = jax.lax.cond(
                copies, lambda: glucose(kept)[:, where], lambda: glucose(tuple(range(n_c)))
            )
    p_soon = None
    if soon is not None:
        near = bg[..., : soon[0]] if shift is None else bg[..., : soon[0]] + shift[:, None, None]
        low_soon = jnp.any(near < soon[1], axis=-1)  # NaN (failed): no low
        p_soon = weights @ low_soon.astype(jnp.float64)
    if terminal is not None:
        bg = jnp.concatenate([bg, bg[..., -1:] - terminal[None, :, None]], axis=-1)
    bad = ~jnp.all(jnp.isfinite(bg), axis=-1)  # (m, c)
    risk = jnp.where(bad, 100.0, kovatchev_risk(jnp.nan_to_num(bg)).mean(-1))
    hypo_pc = bad | jnp.any(jnp.nan_to_num(bg, nan=0.0) < hypo, axis=-1)
    return PlanScores(weights @ risk, weights @ hypo_pc.astype(jnp.float64), p_soon)


def plan_sharing(mpc: MPC) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """What the candidate plans of ``mpc`` share, from their multipliers (static): for each
    plan the first plan with the same first block (basal and bolus: the same first-block basal
    level, bolus level and correction level), and the first plan with the same basal levels
    (equal to it when the bolus and correction levels give the same bolus, e.g. a zero
    correction; :func:`mpc_scores` checks that at each decision)."""
    lv, bl, cl = mpc.levels()
    first: dict[tuple[float, ...], int] = {}
    basal: dict[tuple[float, ...], int] = {}
    prefix = tuple(first.setdefault((lv[i, 0], bl[i], cl[i]), i) for i in range(bl.size))
    same = tuple(basal.setdefault(tuple(lv[i]), i) for i in range(bl.size))
    if mpc.anchor_plan == "aps":  # the OpenAPS-style plan after the grid shares nothing
        return (*prefix, bl.size), (*same, bl.size)
    return prefix, same


def choose_plan(
    risk: Array,
    p_hypo: Array,
    p_max: float,
    anchor: int | None = None,
    margin: float = 0.0,
    reference: int | None = None,
) -> tuple[Array, Array]:
    """Index of the lowest-risk plan with ``p_hypo <= p_max``, else of the least hypoglycaemic
    (ties by risk); and whether the constraint was met (traceable). With an ``anchor`` plan
    (the patient's usual therapy) the constraint is relative -- no plan may be likelier to
    cause hypoglycaemia than both ``p_max`` and the usual therapy -- and another plan is taken
    only if it lowers the risk by more than ``margin``: the twin must be sure enough to
    deviate from what the patient would do anyway. A ``reference`` plan other than the anchor
    sets that relative limit instead, and an anchor over it is left for the lowest-risk plan
    within it (the twin vetoes a plan likelier to cause a low than the usual therapy)."""
    ref = anchor if reference is None else reference
    limit = jnp.maximum(p_max, p_hypo[ref]) if ref is not None else p_max
    ok = p_hypo <= limit
    feasible = jnp.any(ok)
    best_ok = jnp.argmin(jnp.where(ok, risk, jnp.inf))
    if anchor is not None:
        keep = ok[anchor] & (risk[best_ok] > risk[anchor] - margin)
        best_ok = jnp.where(keep, anchor, best_ok)
    # least hypoglycaemic, ties broken by risk
    best_hypo = jnp.argmin(p_hypo + 1e-9 * risk / (1.0 + jnp.max(jnp.abs(risk))))
    return jnp.where(feasible, best_ok, best_hypo), feasible


_scores_jit = eqx.filter_jit(mpc_scores)


@dataclass(frozen=True)
class MPCPlan:
    """Every candidate plan of one decision and how it scored.

    ``plans`` (C, n_blocks + 1): basal of each block (U/h) then the bolus (U), as the pump
    delivers them; ``risk`` (C,) posterior mean Kovatchev risk; ``p_hypo`` (C,) posterior
    probability of BG < ``hypo`` mg/dL in the horizon; ``chosen`` the index taken;
    ``feasible`` whether it meets the chance constraint; ``n_particles`` particles per plan."""

    plans: np.ndarray
    risk: np.ndarray
    p_hypo: np.ndarray
    chosen: int
    feasible: bool
    n_particles: int

    @property
    def n_candidates(self) -> int:
        return int(self.plans.shape[0])


@dataclass(frozen=True)
class MPC:
    """Model-predictive control with the twin's posterior ensemble (module docstring).

    ``fallback`` the patient's basal-bolus therapy (also gives the basal rate, carb ratio,
    correction factor and target); ``horizon`` and ``blocks`` (min, blocks sum to the horizon);
    ``basal_levels`` multiples of the basal rate per block; ``bolus_levels`` multiples of the
    reference bolus; ``correction_levels`` multiples of the automatic correction added to each
    (``(0.0,)``: none; needs ``bolus_reference="basal-bolus"``); ``announce`` use announced
    meals; ``p_hypo_max`` the chance constraint; ``hypo`` (mg/dL); ``particles`` particles
    resampled (by weight) for the prediction, None for every particle with its weight;
    ``every`` the decision interval (min). ``fallback_to`` what runs when the twin may not be
    trusted: ``"basal-bolus"`` (the patient's therapy) or ``"aps"`` (the OpenAPS-style temp
    basal of :class:`~medtwin.control.APS` on the same settings: a model-free loop with a
    predictive low-glucose suspend); ``low_guard`` suspends MPC's basal whenever that
    OpenAPS-style policy would give none (its predicted minimum below its safety threshold,
    or an eventual glucose that needs no insulin): a model-free guard beside the twin's chance
    constraint. ``anchor_plan`` the plan MPC leaves only for a risk lower by more than
    ``switch_margin``: ``"therapy"`` the patient's usual therapy (basal x1, bolus x1), or
    ``"aps"`` what the OpenAPS-style policy would do now (its temp basal for the first block,
    the usual basal after, its bolus), scored as one more candidate: the twin supervises the
    model-free loop and overrides it only where it foresees a clear gain. ``fallback_to="aps"``,
    ``low_guard`` and ``anchor_plan="aps"`` need the closed loop's histories
    (:class:`ClosedLoop`), not :meth:`decide`. ``max_iob`` (hours of basal; None: no limit)
    caps the first block's basal so that the net temp-basal insulin on board stays within it,
    the safety setting of OpenAPS (:class:`~medtwin.control.APS` ``max_iob``), and is passed
    to the OpenAPS-style policy MPC anchors on and falls back to. ``bolus_learning`` (None:
    none) scales every meal bolus MPC considers, the anchor's and the fallback's by a factor
    learnt run to run from the lows that followed the patient's earlier meal boluses
    (:class:`~medtwin.control.BolusLearning`; closed loop only). ``low_alert`` (None: none)
    alerts the patient, who eats their rescue carbohydrate, when even the least-insulin plan
    the twin scores leaves a low likely soon (:class:`~medtwin.control.LowAlert`; closed loop
    with a :class:`~medtwin.control.HypoTreatment` only). ``veto`` (``anchor_plan="aps"``
    only) lets the twin veto the OpenAPS-style plan: the chance constraint is then relative
    to the usual therapy's P(hypo), not the anchor's, and an anchor likelier than both
    ``p_hypo_max`` and the usual therapy to cause a low gives way to the lowest-risk plan
    within that limit. ``aps_glucose`` the glucose that OpenAPS-style plan (the anchor and the
    ``low_guard``, not the fallback) doses on: ``"reading"`` the CGM reading, or ``"twin"`` the
    lower of the reading and the twin's posterior mean of the glucose the sensor reads (where
    the twin judges the sensor to read high, it doses on its own estimate; never higher than
    the reading, and the reading itself when it is censored or the twin is not trusted)."""

    fallback: BasalBolus
    horizon: float = 120.0
    blocks: tuple[float, ...] = (30.0, 90.0)
    basal_levels: tuple[float, ...] = (0.0, 1.0, 2.5)
    bolus_levels: tuple[float, ...] = (0.0, 0.5, 1.0)
    announce: bool = True
    p_hypo_max: float = 0.05
    hypo: float = 70.0
    particles: int | None = 200
    every: float = 5.0
    observable: str = "bg"
    limits: SafetyLimits = field(default_factory=SafetyLimits)
    solver: Solver = field(default_factory=RK4)
    terminal: bool = True
    bolus_reference: str = "carbs"
    switch_margin: float | None = None
    correction_levels: tuple[float, ...] = (0.0,)
    fallback_to: str = "basal-bolus"
    low_guard: bool = False
    anchor_plan: str = "therapy"
    max_iob: float | None = None
    bolus_learning: BolusLearning | None = None
    low_alert: LowAlert | None = None
    veto: bool = False
    aps_glucose: str = "reading"

    def __post_init__(self) -> None:
        self.aps()  # checks max_iob
        if self.anchor_plan not in ("therapy", "aps"):
            raise ModelError(
                "MPC anchor_plan must be 'therapy' (the patient's usual basal and bolus) or "
                f"'aps' (the OpenAPS-style temp basal, closed loop only). Got {self.anchor_plan!r}."
            )
        if self.anchor_plan == "aps" and self.switch_margin is None:
            raise ModelError(
                "MPC anchor_plan='aps' needs a switch_margin (the risk MPC must save to leave the "
                "OpenAPS-style plan, e.g. 1.0). Got switch_margin=None."
            )
        if self.veto and self.anchor_plan != "aps":
            raise ModelError(
                "MPC veto=True lets the twin veto the OpenAPS-style plan it anchors on, so it "
                f"needs anchor_plan='aps'. Got anchor_plan={self.anchor_plan!r}; use "
                "anchor_plan='aps' (closed loop) or leave veto=False."
            )
        if self.veto:
            self.usual()  # the grid must hold the usual plan
        if self.aps_glucose not in ("reading", "twin"):
            raise ModelError(
                "MPC aps_glucose must be 'reading' (the OpenAPS-style plan doses on the CGM "
                "reading) or 'twin' (on the lower of the reading and the twin's estimate). Got "
                f"{self.aps_glucose!r}."
            )
        if self.aps_glucose == "twin" and self.anchor_plan != "aps" and not self.low_guard:
            raise ModelError(
                "MPC aps_glucose='twin' sets the glucose of the OpenAPS-style plan MPC anchors on "
                "and guards with, so it needs anchor_plan='aps' or low_guard=True. Got "
                f"anchor_plan={self.anchor_plan!r}, low_guard={self.low_guard!r}."
            )
        if self.fallback_to not in ("basal-bolus", "aps"):
            raise ModelError(
                "MPC fallback_to must be 'basal-bolus' or 'aps' (the OpenAPS-style temp basal "
                f"with the same settings, closed loop only). Got {self.fallback_to!r}."
            )
        if self.bolus_reference not in ("carbs", "basal-bolus"):
            raise ModelError(
                "MPC bolus_reference must be 'carbs' or 'basal-bolus'. Got "
                f"{self.bolus_reference!r}."
            )
        if abs(sum(self.blocks) - self.horizon) > 1e-9 or min(self.blocks) <= 0:
            raise ModelError(
                f"MPC blocks must be > 0 and sum to the horizon {self.horizon:g} min. Got "
                f"{self.blocks!r}."
            )
        if any(c != 0 for c in self.correction_levels) and self.bolus_reference != "basal-bolus":
            raise ModelError(
                "MPC correction_levels other than (0.0,) need bolus_reference='basal-bolus' (the "
                "'carbs' reference already corrects at every decision). Got correction_levels="
                f"{self.correction_levels!r} with bolus_reference={self.bolus_reference!r}."
            )
        if not self.correction_levels or min(self.correction_levels) < 0:
            raise ModelError(
                f"MPC correction_levels must be multiples >= 0. Got {self.correction_levels!r}."
            )
        if not 0 <= self.p_hypo_max < 1:
            raise ModelError(f"MPC needs 0 <= p_hypo_max < 1. Got {self.p_hypo_max!r}.")
        if self.particles is not None and self.particles < 2:
            raise ModelError(f"MPC needs particles >= 2 or None. Got {self.particles!r}.")
        if self.low_alert is not None and not isinstance(self.low_alert, LowAlert):
            raise ModelError(
                "MPC low_alert must be a LowAlert (e.g. LowAlert(within=35, below=80, "
                f"probability=0.5)) or None. Got {self.low_alert!r}."
            )

    def levels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidate grid as multipliers: basal per block (C, n_blocks), bolus (C,) and
        automatic correction (C,)."""
        rows = [
            (levels, b, c)
            for levels in itertools.product(self.basal_levels, repeat=len(self.blocks))
            for b in self.bolus_levels
            for c in self.correction_levels
        ]
        return (
            np.array([r[0] for r in rows], np.float64),
            np.array([r[1] for r in rows], np.float64),
            np.array([r[2] for r in rows], np.float64),
        )

    def aps(self) -> APS:
        """The OpenAPS-style policy on the same settings (and ``max_iob``): the anchor of
        ``anchor_plan="aps"``, the fallback of ``fallback_to="aps"``, the ``low_guard``."""
        return APS(self.fallback, max_iob=self.max_iob)

    def first_block_cap(self, net_hist, bolus_hist, basal_rate, *, every: float) -> Array:
        """The highest first-block basal (U/h) within ``max_iob`` (inf without it), from the
        insulin delivered per decision interval (latest first, :func:`max_iob_rate`)."""
        if self.max_iob is None:
            return jnp.full(jnp.shape(basal_rate), jnp.inf)
        aps = self.aps()
        return max_iob_rate(
            net_hist, bolus_hist, basal_rate, max_iob=self.max_iob, duration=self.blocks[0],
            every=every, dia=aps.dia, peak=aps.peak,
        )  # fmt: skip

    @property
    def uses_aps(self) -> bool:
        """Whether a decision needs the OpenAPS-style policy (``fallback_to="aps"``,
        ``low_guard`` or ``anchor_plan="aps"``), so the closed loop's histories."""
        return self.fallback_to == "aps" or self.low_guard or self.anchor_plan == "aps"

    def anchor(self) -> int | None:
        """Index of the anchor plan when ``switch_margin`` is set: MPC leaves it only for a risk
        lower by more than the margin. The usual-therapy plan (basal x1 in every block, bolus
        x1, no automatic correction) for ``anchor_plan="therapy"``; for ``"aps"`` the
        OpenAPS-style plan the closed loop appends after the grid."""
        if self.switch_margin is None:
            return None
        if self.anchor_plan == "aps":
            return int(self.levels()[1].size)
        return self.usual()

    def usual(self) -> int:
        """Index of the usual-therapy plan in the grid (basal x1 in every block, bolus x1, no
        automatic correction); an error naming the levels it needs where there is none."""
        lv, bl, cl = self.levels()
        hit = np.flatnonzero(np.all(lv == 1.0, axis=1) & (bl == 1.0) & (cl == 0.0))
        if hit.size == 0:
            raise ModelError(
                "MPC switch_margin and veto need the usual plan in the grid: 1.0 in "
                "basal_levels and bolus_levels, 0.0 in correction_levels. Got "
                f"{self.basal_levels!r}, {self.bolus_levels!r} and {self.correction_levels!r}."
            )
        return int(hit[0])

    def reference(self, carbs, cgm, iob, carb_ratio, correction_factor) -> tuple[Array, Array]:
        """The bolus the ``bolus_levels`` multiply and the automatic correction the
        ``correction_levels`` multiply (U; traceable, patient settings given). The automatic
        correction is the IOB-net correction above the threshold that the patient's own rules
        do not give now (between meals, unless they correct between meals anyway)."""
        bb = self.fallback
        if self.bolus_reference == "basal-bolus":
            meal_b, corr_b = basal_bolus_dose(
                carbs, cgm, iob, carb_ratio, correction_factor, bb.target, bb.threshold,
                bb.correct_between_meals,
            )  # fmt: skip
            _, corr_any = basal_bolus_dose(
                carbs, cgm, iob, carb_ratio, correction_factor, bb.target, bb.threshold, True
            )
            return meal_b + corr_b, corr_any - corr_b
        ref = carbs / carb_ratio + jnp.maximum((cgm - bb.target) / correction_factor, 0.0)
        return ref, jnp.zeros_like(ref)

    def grid_for(self, basal_rate, ref, pump, correction=0.0, cap=jnp.inf) -> Array:
        """Candidate plans (C, n_blocks + 1) for a patient's ``basal_rate`` (U/h), reference
        bolus ``ref`` and automatic ``correction`` (U) (traceable): basal levels x the basal
        rate (the first block's at most ``cap`` U/h, :meth:`first_block_cap`), bolus levels x
        the reference + correction levels x the correction, quantised by the pump."""
        lv, bl, cl = self.levels()
        bolus = pump.deliver_bolus(bl * ref + cl * correction)
        rates = lv * basal_rate
        rates = jnp.concatenate([jnp.minimum(rates[:, :1], cap), rates[:, 1:]], axis=1)
        return jnp.concatenate([pump.deliver_basal(rates), bolus[:, None]], axis=1)

    def candidates(self, obs: PolicyInput) -> np.ndarray:
        """The candidate plans (C, n_blocks + 1), quantised by the pump. C is the same at every
        decision (duplicates are kept), so the batched simulation compiles once."""
        carbs = obs.meals_between(obs.time, obs.time + self.every) if self.announce else 0.0
        bb = self.fallback
        ref, corr = self.reference(carbs, obs.cgm, obs.iob, bb.carb_ratio, bb.correction_factor)
        cap: Array | float = jnp.inf
        if self.max_iob is not None:
            if len(obs.net_hist) != len(obs.bolus_hist):
                raise ModelError(
                    "MPC max_iob needs as many net insulin as bolus entries in PolicyInput "
                    f"(net_hist, bolus_hist). Got {len(obs.net_hist)} and {len(obs.bolus_hist)}."
                )
            net = np.asarray(obs.net_hist or (0.0,), np.float64)
            bolus = np.asarray(obs.bolus_hist or (0.0,), np.float64)
            cap = self.first_block_cap(net, bolus, bb.basal, every=self.every)
        return np.asarray(self.grid_for(bb.basal, ref, obs.pump, corr, cap))

    def terminal_drop(self, plans, basal_rate, correction_factor, past_iob, dt: float) -> Array:
        """Glucose drop (mg/dL) beyond the horizon from each plan's net insulin (above the
        patient's ``basal_rate``) still on board at its end, plus ``past_iob`` (U still on
        board then from earlier net insulin), times the correction factor: the "eventual BG"
        of OpenAPS oref0 with the exponential action curve of :func:`insulin_remaining`
        (traceable)."""
        block_steps, _ = self.steps(dt)
        h = sum(block_steps)
        block_of = np.repeat(np.arange(len(block_steps)), block_steps)
        remaining = insulin_remaining(dt * (h - np.arange(h)))  # (h,) at the horizon's end
        extra = (plans[:, block_of] - basal_rate) / 60.0 * dt  # (c, h) U per step
        iob = extra @ remaining + plans[:, -1] * remaining[0]
        return correction_factor * (iob + past_iob)

    def steps(self, dt: float) -> tuple[tuple[int, ...], int]:
        """Input steps per block and per scored point for a model step ``dt`` (min)."""
        block_steps = tuple(round(b / dt) for b in self.blocks)
        every = round(self.every / dt)
        if sum(block_steps) % every or any(abs(n * dt - b) > 1e-9 for n, b in
                                           zip(block_steps, self.blocks, strict=True)):  # fmt: skip
            raise ModelError(
                f"MPC blocks {self.blocks!r} and every={self.every:g} min must be multiples of "
                f"the model's input step {dt:g} min."
            )
        return block_steps, every

    def plan(self, obs: PolicyInput) -> MPCPlan:
        """Evaluate every candidate plan on the twin's ensemble (no safety check)."""
        self._one_reading("plan")
        if self.anchor_plan != "therapy":
            raise ModelError(
                "MPC.plan() scores the grid around the patient's therapy; anchor_plan='aps' "
                "needs the OpenAPS-style policy's CGM and insulin history, which the closed loop "
                "(ClosedLoop.run) keeps. Run it there, or leave anchor_plan='therapy'."
            )
        twin = obs.twin
        ens, model = twin.ensemble, twin.model
        t0, dt = float(ens.time), float(model.input_dt)
        if self.particles is None:
            params, states, w = ens.params, ens.states, ens.weights
        else:
            key = jax.random.fold_in(twin.key, 2**21 + round(t0 / self.every))
            anc = systematic_resample(key, ens.log_weights, self.particles)
            params, states = ens.params[anc], ens.states[anc]
            w = jnp.full(self.particles, 1.0 / self.particles)
        plans = self.candidates(obs)
        block_steps, every = self.steps(dt)
        n = sum(block_steps)
        carbs = np.zeros(n)
        if self.announce:
            meals = tuple(
                meal(t, g) for t, g in obs.meals if t0 - self.horizon <= t < t0 + self.horizon
            )
            carbs = (
                Regimen(meals)
                .compile(model.input_names, t0, dt, n)
                .dose_rate[:, model.input_names.index("carbs")]
            )
        dosing = (carbs > 0) | (np.arange(n) == 0)
        mask = self.solver.refine_mask(dosing)
        refine = None if mask is None else jnp.asarray(mask)
        terminal = None
        if self.terminal:  # earlier insulin on board: as if given now (conservative)
            past = obs.iob * float(insulin_remaining(self.horizon))
            terminal = self.terminal_drop(
                jnp.asarray(plans), self.fallback.basal, self.fallback.correction_factor, past, dt
            )

        def score(part: slice) -> PlanScores:
            return _scores_jit(
                model, self.solver, params[part], states[part], w[part], jnp.float64(t0),
                jnp.asarray(carbs), jnp.asarray(plans), refine, refine, block_steps=block_steps,
                dt=dt, every=every, observable=model.observable_index(self.observable),
                hypo=self.hypo, terminal=terminal,
            )  # fmt: skip

        # weighted sums over particles: halves on two CPU cores add up to the whole
        n_p = int(params.shape[0])
        parts = [slice(0, n_p)]
        if jax.default_backend() == "cpu" and n_p >= 512 and len(os.sched_getaffinity(0)) > 1:
            parts = [slice(0, n_p // 2), slice(n_p // 2, n_p)]
        with ThreadPoolExecutor(len(parts)) as pool:
            scored = list(pool.map(score, parts))
        risk = scored[0].risk if len(scored) == 1 else scored[0].risk + scored[1].risk
        p_hypo = scored[0].p_hypo if len(scored) == 1 else scored[0].p_hypo + scored[1].p_hypo
        chosen, feasible = choose_plan(
            risk, p_hypo, self.p_hypo_max, self.anchor(), self.switch_margin or 0.0
        )
        return MPCPlan(
            plans, np.asarray(risk), np.asarray(p_hypo), int(chosen), bool(feasible),
            int(params.shape[0]),
        )  # fmt: skip

    def _one_reading(self, method: str) -> None:
        """Refuse ``bolus_learning`` and ``low_alert`` outside the closed loop, which keeps
        the history and runs the patient's treatment."""
        if self.low_alert is not None:
            raise ModelError(
                f"MPC.{method}() gives an insulin command; low_alert makes the patient eat their "
                "rescue carbohydrate, which the closed loop runs (ClosedLoop(rescue="
                "HypoTreatment(...))). Run it there, or leave low_alert=None."
            )
        if self.bolus_learning is not None:
            raise ModelError(
                f"MPC.{method}() sees one reading; bolus_learning learns from the lows after the "
                "patient's earlier meal boluses, which the closed loop (ClosedLoop.run) keeps. "
                "Run it there, or leave bolus_learning=None."
            )

    def decide(self, obs: PolicyInput) -> Decision:
        self._one_reading("decide")
        if self.uses_aps:
            raise ModelError(
                "MPC.decide() falls back to basal-bolus therapy; fallback_to='aps', "
                "low_guard=True and anchor_plan='aps' need the OpenAPS-style policy's CGM and "
                "insulin history, which the closed loop (ClosedLoop.run) keeps. Run it there, or "
                "leave them at their defaults."
            )
        why = safety_check(obs.twin, obs.cgm, obs.time, drifting=obs.drifting, limits=self.limits)
        if why:
            d = self.fallback.decide(obs)
            return clip_to_pump(Decision(d.basal, d.bolus, d.reason, fallback=why), obs.pump)
        p = self.plan(obs)
        row = p.plans[p.chosen]
        reason = (
            f"MPC: plan {p.chosen + 1}/{p.n_candidates}, risk {p.risk[p.chosen]:.2f}, "
            f"P(BG<{self.hypo:g}) {p.p_hypo[p.chosen]:.1%} over {self.horizon:g} min"
        )
        if not p.feasible:
            reason += f"; no plan meets P <= {self.p_hypo_max:.0%}: least hypoglycaemic plan"
        return clip_to_pump(Decision(float(row[0]), float(row[-1]), reason), obs.pump)
