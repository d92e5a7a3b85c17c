"""Treatment schedules for the sepsis twin (Reynolds et al. 2006): rank candidate schedules by
the predicted distribution of outcomes, and search for a better one by the cross-entropy method.

A :class:`Schedule` is an antibiotic course (start, kill rate, duration) and one
anti-inflammatory dose (time, amount, infused over one hour), times in hours after the twin's
present. :func:`rank_schedules` simulates every particle of the twin's posterior under every
schedule in ONE vmapped :func:`~medtwin.simulate.simulate` call (particles x schedules, the same
particles for every schedule: a paired comparison), classifies each settled end state with
:func:`~medtwin.models.inflammation.reynolds2006.outcome_class` and reports the posterior
probability of each outcome; the Monte-Carlo standard error of P(health) is the binomial one with
the effective sample size, ``sqrt(p (1 - p) / ESS)``.

:func:`search_schedule` maximises P(health) over schedules within :class:`DoseLimits` by the
cross-entropy method (Rubinstein & Kroese 2004): Gaussian proposals over (antibiotic start, rate,
anti-inflammatory time, dose) clipped to the limits, refitted to the elite fraction each round;
seeded by ``key``. Ties in P(health) go to the schedule with less drug.

Units: time h, antibiotic kill rate 1/h, anti-inflammatory dose in C_A units (a.u.).

References
----------
Reynolds A et al. J Theor Biol 242(1):220-236, 2006 (model, outcomes, anti-inflammatory
timing). Rubinstein RY, Kroese DP. The Cross-Entropy Method. Springer, 2004.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ..errors import ModelError
from ..models.inflammation.reynolds2006 import OUTCOMES, outcome_class
from ..simulate import Infusion, Regimen, simulate

__all__ = ["DoseLimits", "Schedule", "ScheduleRanking", "rank_schedules", "search_schedule"]


@dataclass(frozen=True)
class Schedule:
    """Antibiotic from ``antibiotic_start`` (h after now) at ``antibiotic_rate`` (1/h, extra
    pathogen kill rate) for ``antibiotic_duration`` h; ``anti_inflammatory_dose`` (a.u.) infused
    over one hour from ``anti_inflammatory_time`` (h after now)."""

    antibiotic_start: float = 0.0
    antibiotic_rate: float = 0.0
    antibiotic_duration: float = 72.0
    anti_inflammatory_time: float = 0.0
    anti_inflammatory_dose: float = 0.0

    def regimen(self, t0: float) -> Regimen:
        """The schedule as regimen events from the twin's time ``t0`` (h)."""
        ev = []
        if self.antibiotic_rate > 0:
            start, rate = t0 + self.antibiotic_start, self.antibiotic_rate
            ev.append(Infusion(start, "antibiotic", rate, self.antibiotic_duration, "antibiotic"))
        if self.anti_inflammatory_dose > 0:
            start, dose = t0 + self.anti_inflammatory_time, self.anti_inflammatory_dose
            ev.append(Infusion(start, "anti_inflammatory", dose, 1.0, "anti-inflammatory"))
        return Regimen(tuple(ev))

    @property
    def drug(self) -> float:
        """Total antibiotic exposure (rate x h) plus anti-inflammatory dose: a tie-breaker."""
        return self.antibiotic_rate * self.antibiotic_duration + self.anti_inflammatory_dose


@dataclass(frozen=True)
class DoseLimits:
    """Bounds of the schedule search: latest start of either drug (h after now), largest
    antibiotic kill rate (1/h), largest anti-inflammatory dose (a.u.), course length (h)."""

    latest_start: float = 24.0
    max_antibiotic_rate: float = 1.0
    max_anti_inflammatory_dose: float = 5.0
    antibiotic_duration: float = 72.0


@dataclass(frozen=True)
class ScheduleRanking:
    """Schedules best first. ``p_outcome[i, k]`` is the posterior probability of ``OUTCOMES[k]``
    under ``schedules[i]``; ``p_health``/``se_health`` its first column and binomial SE."""

    names: tuple[str, ...]
    schedules: tuple[Schedule, ...]
    p_outcome: np.ndarray
    ess: float

    @property
    def p_health(self) -> np.ndarray:
        return self.p_outcome[:, 0]

    @property
    def se_health(self) -> np.ndarray:
        p = self.p_health
        return np.sqrt(p * (1 - p) / self.ess)

    def of(self, name: str) -> float:
        """P(health) of the schedule called ``name``."""
        return float(self.p_health[self.names.index(name)])


def _evaluate(twin, schedules, horizon, particles, key) -> tuple[np.ndarray, float]:
    ens = twin.ensemble
    t0 = float(ens.time)
    if particles is None:
        params, states, w = np.asarray(ens.params), np.asarray(ens.states), np.asarray(ens.weights)
    else:
        idx = np.asarray(jax.random.choice(key, ens.size, (particles,), p=ens.weights))
        params, states = np.asarray(ens.params)[idx], np.asarray(ens.states)[idx]
        w = np.full(particles, 1.0 / particles)
    n_p, n_s = len(w), len(schedules)
    regs = [s.regimen(t0) for s in schedules]
    end = simulate(twin.model, np.repeat(params, n_s, 0), regs * n_p, t0=t0, t1=t0 + horizon,
                   saveat=np.array([t0 + horizon]), y0=np.repeat(states, n_s, 0))  # fmt: skip
    assert end.states is not None  # save_states=True, simulate's default
    cls = np.asarray(outcome_class(np.asarray(end.states[:, -1]))).reshape(n_p, n_s)
    p = np.stack([w @ (cls == o) for o in OUTCOMES], axis=1)
    return p, float(1.0 / np.sum(w**2))


def rank_schedules(
    twin,
    schedules: Mapping[str, Schedule],
    *,
    horizon: float = 500.0,
    particles: int | None = None,
    key: PRNGKeyArray | None = None,
) -> ScheduleRanking:
    """Rank ``schedules`` by posterior P(health) ``horizon`` h ahead (long enough to settle),
    best first (ties: less drug). ``particles`` resamples that many by weight (needs ``key``);
    None uses every particle with its weight."""
    if not schedules:
        raise ModelError("rank_schedules() needs at least one schedule. Got none.")
    if particles is not None and key is None:
        raise ModelError("rank_schedules(particles=...) resamples: pass key=jax.random.key(s).")
    names = tuple(schedules)
    p, ess = _evaluate(twin, [schedules[n] for n in names], horizon, particles, key)
    order = sorted(range(len(names)), key=lambda i: (-p[i, 0], schedules[names[i]].drug))
    return ScheduleRanking(
        tuple(names[i] for i in order), tuple(schedules[names[i]] for i in order), p[order], ess
    )


def search_schedule(
    twin,
    *,
    key: PRNGKeyArray,
    limits: DoseLimits | None = None,
    samples: int = 12,
    elite: int = 3,
    rounds: int = 3,
    horizon: float = 500.0,
    particles: int | None = 50,
) -> tuple[Schedule, float]:
    """Cross-entropy search for the schedule of highest P(health) within ``limits``; returns it
    and its P(health) on the search's particles. ``samples`` schedules per round, the best
    ``elite`` refit the Gaussian proposal; the same particles in every round (paired)."""
    lim = DoseLimits() if limits is None else limits
    if not (0 < elite <= samples and rounds >= 1):
        raise ModelError(
            f"search_schedule() needs 0 < elite <= samples and rounds >= 1. Got elite={elite}, "
            f"samples={samples}, rounds={rounds}."
        )
    hi = np.array([lim.latest_start, lim.max_antibiotic_rate, lim.latest_start,
                   lim.max_anti_inflammatory_dose])  # fmt: skip
    mean, sd = hi / 2, hi / 2
    k_part, k_draw = jax.random.split(key)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_draw)).ravel())
    best: tuple[float, float, Schedule] | None = None

    def make(x: np.ndarray) -> Schedule:
        return Schedule(float(x[0]), float(x[1]), lim.antibiotic_duration, float(x[2]), float(x[3]))

    for _ in range(rounds):
        xs = np.clip(mean + sd * rng.standard_normal((samples, 4)), 0.0, hi)
        cands = [make(x) for x in xs]
        p, _ = _evaluate(twin, cands, horizon, particles, k_part)
        score = [(float(p[i, 0]), -cands[i].drug, i) for i in range(samples)]
        score.sort(reverse=True)
        top = xs[[i for _, _, i in score[:elite]]]
        mean, sd = top.mean(0), np.maximum(top.std(0), 0.02 * hi)
        ph, neg_drug, i = score[0]
        if best is None or (ph, neg_drug) > (best[0], best[1]):
            best = (ph, neg_drug, cands[i])
    assert best is not None
    return best[2], best[0]
