"""The least treatment that keeps a person's LDL cholesterol below target: a chance-constrained
choice of lipid-lowering therapy and re-check interval over the LDL twin's posterior.

For a ``target`` (mg/dL; given, or from the ESC/EAS 2019 risk category,
:data:`~medtwin.models.lipids._declarations.ESC_EAS_2019_TARGETS`) the candidate therapies are
the **ladder** of :func:`therapy_ladder`: no drug, then every monotherapy (each statin's tablet
strengths, ezetimibe 10 mg) from the smallest to the largest typical reduction, then every
statin + ezetimibe 10 mg combination, likewise ordered. Each therapy starts at the decision time
``t0`` (replacing whatever the person takes) and is paired with each re-check interval
``T`` (default 3, 6 and 12 months): the scheduled checks are ``t0 + k T`` over the
``horizon`` (default two years). Every posterior particle is simulated under each therapy
(one vmapped :func:`~medtwin.simulate.simulate` call over the particles per therapy: the
regimen is compiled once per call), and each pair is scored by the posterior probability that
the person's LDL-C is above the target at any of its scheduled checks::

    p(therapy, T) = sum_i w_i 1[ max_k L_i(t0 + k T) > target ]

The choice is :func:`~medtwin.control._mpc.choose_plan`'s (the chance constraint of the
T1D controller): among the pairs with ``p <= max_prob`` (default 10 %) the one of least
intensity -- the lowest therapy of the ladder, then the longest interval (the fewest lab
visits) -- or, if none qualifies, the pair with the smallest ``p`` (and ``feasible`` False).
``L`` is the person's LDL-C (the model's state, the level a lab value scatters around by its
within-person and assay variation), so the probability is about the person, not a reading.

Fewer checks can only lower ``p`` for a given therapy, so the longest interval is taken
whenever the chosen therapy qualifies at it; the guideline's first check after a change
(NICE CG181 1.3.25: non-HDL cholesterol at 3 months) is the caller's to add.

The forecast cone of every therapy (weighted 2.5, 10, 50, 90 and 97.5 % quantiles of ``L`` on
a monthly grid) comes with the recommendation.

References
----------
Vargo R et al. Clin Pharmacol Ther 96:101-109, 2014 (the dose-response; via the model).
Mach F et al. 2019 ESC/EAS Guidelines for the management of dyslipidaemias. Eur Heart J
41:111-188, 2020 (LDL-C goals by risk category).
NICE CG181 (2014, updated 2016), Lipid modification, table of statin intensities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from ..errors import ModelError
from ..models._base import AbstractModel
from ..models.lipids._declarations import DRUGS, ESC_EAS_2019_TARGETS, EZETIMIBE, STATINS, TABLETS
from ..models.lipids.vargo2014 import reduction
from ..simulate import Regimen, SetRate, simulate
from ._mpc import choose_plan

__all__ = [
    "CONE_LEVELS",
    "LipidRecommendation",
    "Therapy",
    "lipid_target",
    "recommend_lipid_therapy",
    "therapy_ladder",
]

MONTH = 365.25 / 12.0  # days
CONE_LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)
# The typical person the ladder is ordered for: Vargo et al.'s reference population.
_REFERENCE_LDL = 180.0


@dataclass(frozen=True)
class Therapy:
    """Daily doses (mg/d) by drug; empty: no lipid-lowering drug."""

    doses: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        for drug, dose in self.doses:
            if drug not in DRUGS or not dose > 0:
                raise ModelError(
                    f"A Therapy takes daily doses > 0 mg of {', '.join(DRUGS)}. Got {dose!r} mg "
                    f"of {drug!r}."
                )

    @property
    def name(self) -> str:
        return " + ".join(f"{d} {v:g} mg" for d, v in self.doses) or "no drug"

    def rates(self) -> np.ndarray:
        """The daily dose of every drug of the model (mg/d), ordered like its inputs."""
        out = np.zeros(len(DRUGS))
        for drug, dose in self.doses:
            out[DRUGS.index(drug)] += dose
        return out

    def regimen(self, t0: float) -> Regimen:
        """This therapy from ``t0`` on, every other drug stopped."""
        return Regimen(
            tuple(SetRate(t0, d, float(r)) for d, r in zip(DRUGS, self.rates(), strict=True))
        )


def _typical_reduction(model: AbstractModel, therapy: Therapy) -> float:
    p = model.named(model.default_params())
    return float(reduction(p, jnp.asarray(therapy.rates()), _REFERENCE_LDL))


def therapy_ladder(
    model: AbstractModel, drugs: Sequence[str] = STATINS, *, ezetimibe: bool = True
) -> tuple[Therapy, ...]:
    """No drug; the monotherapies of ``drugs`` (their tablet strengths, and ezetimibe 10 mg
    when ``ezetimibe``); then each statin strength + ezetimibe 10 mg -- each group ordered by
    the typical reduction (Vargo et al. 2014 at baseline LDL-C 180 mg/dL), least first."""
    unknown = [d for d in drugs if d not in STATINS]
    if unknown or not drugs:
        raise ModelError(
            f"therapy_ladder() takes statins of {', '.join(STATINS)}. Got {list(drugs)!r}."
        )
    mono = [Therapy(((d, s),)) for d in drugs for s in TABLETS[d]]
    combo: list[Therapy] = []
    if ezetimibe:
        mono.append(Therapy(((EZETIMIBE, 10.0),)))
        combo = [Therapy(((d, s), (EZETIMIBE, 10.0))) for d in drugs for s in TABLETS[d]]

    def order(ts: list[Therapy]) -> list[Therapy]:
        return sorted(ts, key=lambda t: _typical_reduction(model, t))

    return (Therapy(), *order(mono), *order(combo))


def lipid_target(target: float | None = None, risk: str | None = None) -> float:
    """The LDL-C target (mg/dL): ``target`` if given, else the ESC/EAS 2019 goal of the risk
    category ``risk`` (``very-high`` 55, ``high`` 70, ``moderate`` 100, ``low`` 116)."""
    if (target is None) == (risk is None):
        raise ModelError("Give either an LDL-C target (mg/dL) or an ESC/EAS 2019 risk category.")
    if risk is not None:
        if risk not in ESC_EAS_2019_TARGETS:
            raise ModelError(
                f"Unknown ESC/EAS 2019 risk category {risk!r}. Expected one of: "
                f"{', '.join(ESC_EAS_2019_TARGETS)}."
            )
        return ESC_EAS_2019_TARGETS[risk]
    assert target is not None
    if not (np.isfinite(target) and 10.0 <= target <= 400.0):
        raise ModelError(f"An LDL-C target must lie in [10, 400] mg/dL. Got {target!r}.")
    return float(target)


@dataclass(frozen=True)
class LipidRecommendation:
    """What :func:`recommend_lipid_therapy` found.

    ``therapy`` and ``interval`` (days) the choice; ``p_above`` its probability of LDL-C above
    ``target`` (mg/dL) at a scheduled check; ``feasible`` whether that is <= ``max_prob``.
    ``therapies`` the ladder, ``intervals`` the candidate intervals (days), ``p`` [therapy,
    interval] the probability of every pair. ``times`` (days) and ``cone`` [therapy, level,
    time] the weighted quantiles ``CONE_LEVELS`` of the person's LDL-C under each therapy."""

    therapy: Therapy
    interval: float
    p_above: float
    feasible: bool
    target: float
    max_prob: float
    therapies: tuple[Therapy, ...]
    intervals: tuple[float, ...]
    p: np.ndarray
    times: np.ndarray
    cone: np.ndarray

    def summary(self) -> str:
        months = self.interval / MONTH
        verdict = "" if self.feasible else " (no option meets the chance constraint)"
        return (
            f"{self.therapy.name}, re-check every {months:.0f} months: P(LDL-C > "
            f"{self.target:g} mg/dL at a check) = {self.p_above:.1%}{verdict}"
        )


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles ``qs`` of ``x`` [n, ...] under weights ``w`` [n] (inverse of the weighted
    empirical CDF), per trailing element."""
    order = np.argsort(x, axis=0)
    xs = np.take_along_axis(x, order, axis=0)
    cw = np.cumsum(w[order], axis=0)
    cw = cw / cw[-1]
    out = np.empty((len(qs), *x.shape[1:]))
    for k, q in enumerate(qs):
        i = np.argmax(cw >= q, axis=0)
        out[k] = np.take_along_axis(xs, i[None], axis=0)[0]
    return out


def recommend_lipid_therapy(
    model: AbstractModel,
    params: ArrayLike,
    states: ArrayLike,
    weights: ArrayLike,
    t0: float,
    *,
    target: float,
    history: Regimen | None = None,
    therapies: Sequence[Therapy] | None = None,
    intervals: Sequence[float] = (3 * MONTH, 6 * MONTH, 12 * MONTH),
    horizon: float = 24 * MONTH,
    max_prob: float = 0.1,
) -> LipidRecommendation:
    """The least therapy and the longest re-check interval that keep P(LDL-C > ``target`` at a
    scheduled check over ``horizon`` days) <= ``max_prob``, over the posterior particles
    ``params`` [n, P], ``states`` [n, S], ``weights`` [n] (summing to 1) of the LDL model at
    time ``t0`` (days). ``history``: the events the person has had (their current doses).
    See the module docstring. A twin's are ``twin.ensemble.params``, ``.states``,
    ``.weights``, ``twin.time`` and ``twin.regimen``."""
    if model.input_names != DRUGS or "ldl" not in model.observable_names:
        raise ModelError(
            f"recommend_lipid_therapy() needs the LDL model (inputs {', '.join(DRUGS)}; "
            f"observable ldl). Got model {model.name!r}."
        )
    if not 0.0 < max_prob < 1.0:
        raise ModelError(f"max_prob must lie in (0, 1). Got {max_prob!r}.")
    if not (horizon > 0 and all(0 < t <= horizon for t in intervals) and intervals):
        raise ModelError(
            f"Re-check intervals must lie in (0, horizon={horizon:g}] days. Got {intervals!r}."
        )
    ladder = tuple(therapies) if therapies is not None else therapy_ladder(model)
    p_all, y_all = np.asarray(params, np.float64), np.asarray(states, np.float64)
    w = np.asarray(weights, np.float64)
    n, m = len(w), len(ladder)
    dt = model.input_dt
    t_end = t0 + np.ceil(horizon / dt) * dt

    def on_grid(times: np.ndarray) -> np.ndarray:
        return t0 + dt * np.round(times / dt)

    monthly = on_grid(np.arange(MONTH, horizon + 1e-9, MONTH))
    checks = [on_grid(np.arange(1, int(horizon // t + 1e-9) + 1) * t) for t in intervals]
    grid = np.unique(np.concatenate([monthly, *checks]))
    past = Regimen(tuple(e for e in (history or Regimen()).events if e.time <= t0))
    ldl = np.empty((n, m, len(grid)))
    for j, th in enumerate(ladder):  # one vmapped call over the particles per therapy
        traj = simulate(model, p_all, past + th.regimen(t0), t0=t0, t1=float(t_end),
                        saveat=grid, y0=y_all, save_states=False)  # fmt: skip
        ok = np.asarray(traj.status).reshape(n, 1) == 0
        ldl[:, j] = np.where(ok, np.asarray(traj.observable("ldl")), np.inf)  # failed: above
    p = np.empty((m, len(intervals)))
    for j, at in enumerate(checks):
        p[:, j] = w @ (ldl[:, :, np.searchsorted(grid, at)].max(axis=2) > target)
    # intensity: the ladder's order, then the longest interval (fewest checks)
    k = len(intervals)
    rank = np.argsort(np.argsort(-np.asarray(intervals)))
    intensity = np.arange(m)[:, None] * k + rank[None, :]
    i, ok = choose_plan(jnp.asarray(intensity.ravel(), jnp.float64), jnp.asarray(p.ravel()),
                        max_prob)  # fmt: skip
    i_t, i_i = divmod(int(i), k)
    month_cols = np.searchsorted(grid, monthly)
    cone = np.stack(
        [_weighted_quantiles(ldl[:, j][:, month_cols], w, CONE_LEVELS) for j in range(m)]
    )
    return LipidRecommendation(
        therapy=ladder[i_t], interval=float(intervals[i_i]), p_above=float(p[i_t, i_i]),
        feasible=bool(ok), target=float(target), max_prob=float(max_prob), therapies=ladder,
        intervals=tuple(float(t) for t in intervals), p=p, times=monthly, cone=cone,
    )  # fmt: skip
