"""Model-predictive control over the twin's posterior ensemble, with a chance constraint on
hypoglycaemia and a safe fallback to basal-bolus therapy.

At each decision (every ``every`` = 5 min) the controller

1. runs :func:`~medtwin.control.safety_check`; if the twin is not trustworthy it returns the
   basal-bolus decision with the reason in ``Decision.fallback``;
2. builds a grid of candidate insulin plans over the receding ``horizon`` (120 min):
   piecewise-constant basal over ``blocks`` (default 30 + 90 min; each block's rate a multiple
   ``basal_levels`` of the patient's basal) and a bolus now (a multiple ``bolus_levels`` of the
   basal-bolus reference: announced carbs / carb ratio + (CGM - target) / correction factor),
   every plan quantised to the pump's increments and limits first;
3. simulates every (resampled) particle under every plan in ONE vmapped
   :func:`~medtwin.simulate.simulate` call (particles x plans members; the announced meals
   enter each plan's regimen when ``announce``);
4. scores each plan by the posterior mean of the Kovatchev risk of plasma glucose over the
   horizon, ``r(BG) = 10 (1.509 (ln(BG)^1.084 - 5.381))^2`` (BG in mg/dL), and its chance of
   hypoglycaemia ``P(BG < 70 mg/dL at any 5-min point of the horizon)``; chooses the lowest-risk
   plan with that probability <= ``p_hypo_max`` (5 %), or, if none qualifies, the plan with the
   lowest probability of hypoglycaemia (and says so);
5. applies the first block's basal and the bolus (receding horizon).

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
Schwenzer M et al. Review on model predictive control: an engineering perspective. Int J Adv
Manuf Technol 117:1327-1349, 2021 (chance constraints in stochastic MPC).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..assimilate._filters import systematic_resample
from ..errors import ModelError
from ..simulate import Regimen, basal, bolus, meal, simulate
from ._basal_bolus import BasalBolus
from ._policy import Decision, PolicyInput, clip_to_pump
from ._safety import SafetyLimits, safety_check

__all__ = ["MPC", "MPCPlan", "kovatchev_risk"]

Glucose = Float[ArrayLike, " *shape"]  # mg/dL
Risk = Float[Array, " *shape"]


def kovatchev_risk(bg: Glucose) -> Risk:
    """Kovatchev et al. (1997) risk of blood glucose ``bg`` (mg/dL): 0 at 112.5 mg/dL, 100 at
    the extremes (about 20 and 600 mg/dL). Values below 1 mg/dL count as 1."""
    g = jnp.maximum(jnp.asarray(bg, dtype=jnp.float64), 1.0)
    f = 1.509 * (jnp.log(g) ** 1.084 - 5.381)
    return 10.0 * f**2


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
    reference bolus; ``announce`` use announced meals; ``p_hypo_max`` the chance constraint;
    ``hypo`` (mg/dL); ``particles`` particles resampled (by weight) for the prediction, None for
    every particle with its weight; ``every`` the decision interval (min)."""

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

    def __post_init__(self) -> None:
        if abs(sum(self.blocks) - self.horizon) > 1e-9 or min(self.blocks) <= 0:
            raise ModelError(
                f"MPC blocks must be > 0 and sum to the horizon {self.horizon:g} min. Got "
                f"{self.blocks!r}."
            )
        if not 0 <= self.p_hypo_max < 1:
            raise ModelError(f"MPC needs 0 <= p_hypo_max < 1. Got {self.p_hypo_max!r}.")
        if self.particles is not None and self.particles < 2:
            raise ModelError(f"MPC needs particles >= 2 or None. Got {self.particles!r}.")

    def candidates(self, obs: PolicyInput) -> np.ndarray:
        """The candidate plans (C, n_blocks + 1), quantised by the pump. C is the same at every
        decision (duplicates are kept), so the batched simulation compiles once."""
        bb = self.fallback
        carbs = obs.meals_between(obs.time, obs.time + self.every) if self.announce else 0.0
        ref = carbs / bb.carb_ratio + max((obs.cgm - bb.target) / bb.correction_factor, 0.0)
        rows = [
            [*(lv * bb.basal for lv in levels), b * ref]
            for levels in itertools.product(self.basal_levels, repeat=len(self.blocks))
            for b in self.bolus_levels
        ]
        plans = np.asarray(rows, dtype=np.float64)
        plans[:, :-1] = np.asarray(obs.pump.deliver_basal(plans[:, :-1]))
        plans[:, -1] = np.asarray(obs.pump.deliver_bolus(plans[:, -1]))
        return plans

    def _regimens(self, obs: PolicyInput, plans: np.ndarray, t0: float) -> list[Regimen]:
        meals = ()
        if self.announce:
            meals = tuple(
                meal(t, g) for t, g in obs.meals if t0 - self.horizon <= t < t0 + self.horizon
            )
        starts = t0 + np.concatenate([[0.0], np.cumsum(self.blocks)[:-1]])
        out = []
        for row in plans:
            events = [basal(float(s), float(r)) for s, r in zip(starts, row[:-1], strict=True)]
            if row[-1] > 0:
                events.append(bolus(t0, float(row[-1])))
            out.append(Regimen((*meals, *events)))
        return out

    def plan(self, obs: PolicyInput) -> MPCPlan:
        """Evaluate every candidate plan on the twin's ensemble (no safety check)."""
        twin = obs.twin
        ens, model = twin.ensemble, twin.model
        t0 = float(ens.time)
        if self.particles is None:
            params, states, w = ens.params, ens.states, np.asarray(ens.weights)
        else:
            key = jax.random.fold_in(twin.key, 2**21 + round(t0 / self.every))
            anc = np.asarray(systematic_resample(key, ens.log_weights))[: self.particles]
            if anc.size < self.particles:
                anc = np.resize(anc, self.particles)
            params, states = np.asarray(ens.params)[anc], np.asarray(ens.states)[anc]
            w = np.full(self.particles, 1.0 / self.particles)
        plans = self.candidates(obs)
        n_p, n_c = len(w), len(plans)
        regs = self._regimens(obs, plans, t0)
        times = t0 + np.arange(self.every, self.horizon + self.every / 2, self.every)
        traj = simulate(
            model, np.repeat(np.asarray(params), n_c, axis=0), regs * n_p, t0=t0,
            t1=t0 + self.horizon, saveat=times, y0=np.repeat(np.asarray(states), n_c, axis=0),
            save_states=False,
        )  # fmt: skip
        bg = np.asarray(traj.observable(self.observable)).reshape(n_p, n_c, -1)
        bad = ~np.isfinite(bg).all(axis=-1)  # failed members count as hypoglycaemic
        risk_pc = np.where(bad, 100.0, np.asarray(kovatchev_risk(np.nan_to_num(bg))).mean(-1))
        hypo_pc = bad | (np.nan_to_num(bg, nan=0.0) < self.hypo).any(-1)
        risk = w @ risk_pc
        p_hypo = w @ hypo_pc.astype(np.float64)
        ok = p_hypo <= self.p_hypo_max
        if ok.any():
            chosen = int(np.flatnonzero(ok)[np.argmin(risk[ok])])
        else:
            chosen = int(np.lexsort((risk, p_hypo))[0])
        return MPCPlan(plans, risk, p_hypo, chosen, bool(ok.any()), n_p)

    def decide(self, obs: PolicyInput) -> Decision:
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
