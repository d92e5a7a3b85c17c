"""Treatment schedules for the infection and sepsis twins: rank candidate schedules by the
predicted distribution of outcomes (and of an organ score), and search for a better one by the
cross-entropy method.

Any model whose declaration says what a schedule acts on and how its outcome is read
(:class:`~medtwin.models.DecisionSpec` in its ``TwinDefaults.decision``) is ranked by the same
code: Reynolds 2006 (``sepsis``), Smith 2011 (``pneumonia``) and the composed
``pneumonia-sepsis``. A :class:`Schedule` is an antibiotic course (start, kill rate, duration)
and one anti-inflammatory dose (time, amount, infused over one hour), times after the twin's
present, on the inputs the model declares for them.

:func:`rank_schedules` simulates every particle of the twin's posterior under every schedule in
ONE vmapped :func:`~medtwin.simulate.simulate` call (particles x schedules, the same particles
for every schedule: a paired comparison), classifies each settled end state with the model's
declared outcome classifier and reports the posterior probability of each outcome. With a
score threshold (the model's declared one, or ``threshold=``) it also reads the declared
ordinal score along the horizon -- the expected score ``E[score | state, params]`` of the
:class:`~medtwin.models.OrdinalNoise` at every ``every`` time units -- and reports the
probability that it stays below the threshold throughout, and that the good outcome and the
score's staying below happen together (``p_success``, what ranks). Each probability ``p`` has
the binomial Monte-Carlo standard error with the effective sample size, ``sqrt(p (1 - p) /
ESS)``.

:func:`search_schedule` maximises ``p_success`` over schedules within :class:`DoseLimits` by the
cross-entropy method (Rubinstein & Kroese 2004): Gaussian proposals over (antibiotic start,
rate, anti-inflammatory time, dose) clipped to the limits (a model without an anti-inflammatory
input searches none), refitted to the elite fraction each round; seeded by ``key``. Ties go to
the schedule with less drug.

Units: time in the model's unit (h for these models), antibiotic kill rate 1/h,
anti-inflammatory dose in the model's input unit times one hour (C_A units, a.u., for Reynolds).

References
----------
Reynolds A et al. J Theor Biol 242(1):220-236, 2006 (model, outcomes, anti-inflammatory
timing). Rubinstein RY, Kroese DP. The Cross-Entropy Method. Springer, 2004.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ..errors import ModelError
from ..models import DecisionSpec, noise_theta
from ..simulate import Infusion, Regimen, simulate

__all__ = [
    "DoseLimits",
    "Schedule",
    "ScheduleRanking",
    "decision_of",
    "rank_schedules",
    "search_schedule",
]


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

    def regimen(
        self,
        t0: float,
        antibiotic: str = "antibiotic",
        anti_inflammatory: str | None = "anti_inflammatory",
    ) -> Regimen:
        """The schedule as regimen events from the twin's time ``t0`` (h), on the inputs named
        ``antibiotic`` and ``anti_inflammatory`` (the model's :class:`DecisionSpec` names
        them; the defaults are Reynolds 2006's)."""
        ev = []
        if self.antibiotic_rate > 0:
            start, rate = t0 + self.antibiotic_start, self.antibiotic_rate
            ev.append(Infusion(start, antibiotic, rate, self.antibiotic_duration, "antibiotic"))
        if self.anti_inflammatory_dose > 0:
            if anti_inflammatory is None:
                raise ModelError(
                    "This schedule gives an anti-inflammatory dose, but the model declares no "
                    "anti-inflammatory input. Use anti_inflammatory_dose=0."
                )
            start, dose = t0 + self.anti_inflammatory_time, self.anti_inflammatory_dose
            ev.append(Infusion(start, anti_inflammatory, dose, 1.0, "anti-inflammatory"))
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
    """Schedules best first. ``p_outcome[i, k]`` is the posterior probability of
    ``outcomes[k]`` under ``schedules[i]``; ``p_health``/``se_health`` its first column (the
    model's good outcome: ``"health"``, ``"cleared"``) and binomial SE. With a ``threshold`` on
    the ordinal ``score``: ``p_below`` the probability that the expected score stays below it
    over the horizon, ``p_success`` that the good outcome and that happen together (without
    one, ``p_success`` is ``p_health``); what ranks is ``p_success``. ``ess``: the effective
    sample size of the particles the probabilities are taken over."""

    names: tuple[str, ...]
    schedules: tuple[Schedule, ...]
    p_outcome: np.ndarray
    ess: float
    outcomes: tuple[str, ...]
    score: str | None = None
    threshold: float | None = None
    p_below: np.ndarray | None = None
    p_joint: np.ndarray | None = None

    def _se(self, p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 0.0, 1.0)  # weights summing to 1 + 1e-16 must not give sqrt(-1e-16)
        return np.sqrt(p * (1 - p) / self.ess)

    @property
    def p_health(self) -> np.ndarray:
        return self.p_outcome[:, 0]

    @property
    def se_health(self) -> np.ndarray:
        return self._se(self.p_health)

    @property
    def p_success(self) -> np.ndarray:
        return self.p_health if self.p_joint is None else self.p_joint

    @property
    def se_success(self) -> np.ndarray:
        return self._se(self.p_success)

    @property
    def se_below(self) -> np.ndarray | None:
        return None if self.p_below is None else self._se(self.p_below)

    def of(self, name: str) -> float:
        """P(good outcome) of the schedule called ``name``."""
        return float(self.p_health[self.names.index(name)])

    def success_of(self, name: str) -> float:
        """``p_success`` of the schedule called ``name``."""
        return float(self.p_success[self.names.index(name)])


def decision_of(model: Any) -> DecisionSpec:
    """The model's :class:`~medtwin.models.DecisionSpec`, or a :class:`ModelError` naming the
    models that declare one."""
    dec = model.twin_defaults.decision
    if dec is None:
        raise ModelError(
            f"Model {model.name!r} declares no treatment decision (TwinDefaults.decision: the "
            "inputs a schedule acts on and the outcome read-out); schedules rank for models "
            "that do, e.g. sepsis, pneumonia and pneumonia-sepsis."
        )
    return dec


def _classifier(dec: DecisionSpec) -> Callable[[np.ndarray], Any]:
    module, _, name = dec.outcome.partition(":")
    fn: Callable[[np.ndarray], Any] = getattr(importlib.import_module(module), name)
    return fn


@dataclass(frozen=True)
class _Read:
    """What one ranking reads: the decision, the horizon and the score threshold (or None)."""

    dec: DecisionSpec
    horizon: float
    threshold: float | None


_Evaluated = tuple[np.ndarray, np.ndarray | None, np.ndarray | None, float]


def _evaluate(twin, read: _Read, schedules, particles, key) -> _Evaluated:
    """(p_outcome, p_below or None, p_joint or None, ESS) over the twin's posterior."""
    model, dec, ens = twin.model, read.dec, twin.ensemble
    t0 = float(ens.time)
    if particles is None:
        params, states, w = np.asarray(ens.params), np.asarray(ens.states), np.asarray(ens.weights)
    else:
        idx = np.asarray(jax.random.choice(key, ens.size, (particles,), p=ens.weights))
        params, states = np.asarray(ens.params)[idx], np.asarray(ens.states)[idx]
        w = np.full(particles, 1.0 / particles)
    n_p, n_s = len(w), len(schedules)
    regs = [s.regimen(t0, dec.antibiotic, dec.anti_inflammatory) for s in schedules]
    if read.threshold is None:
        saveat = np.array([t0 + read.horizon])
    else:
        saveat = t0 + dec.every * np.arange(1, round(read.horizon / dec.every) + 1)
    p_all = np.repeat(params, n_s, 0)
    run = simulate(model, p_all, regs * n_p, t0=t0, t1=float(saveat[-1]), saveat=saveat,
                   y0=np.repeat(states, n_s, 0))  # fmt: skip
    assert run.states is not None  # save_states=True, simulate's default
    cls = np.asarray(_classifier(dec)(np.asarray(run.states[:, -1]))).reshape(n_p, n_s)
    p = np.stack([w @ (cls == o) for o in dec.outcomes], axis=1)
    ess = float(1.0 / np.sum(w**2))
    if read.threshold is None:
        return p, None, None, ess
    assert dec.score is not None  # DecisionSpec refuses a threshold without a score
    j = model.observable_index(dec.score)
    noise = model.observables[j].noise
    latent = np.asarray(run.observables[..., j])  # (members, times)
    theta = np.asarray(noise_theta(model, noise, p_all))[:, None, :]  # (members, 1, reads)
    expected = np.asarray(noise.expected(latent, theta))
    below = np.all(expected < read.threshold, axis=-1).reshape(n_p, n_s)  # NaN: not below
    good = cls == dec.outcomes[0]
    return p, w @ below, w @ (below & good), ess


def _read(model, horizon: float | None, threshold: float | None) -> _Read:
    dec = decision_of(model)
    thr = dec.threshold if threshold is None else float(threshold)
    if thr is not None and dec.score is None:
        raise ModelError(
            f"Model {model.name!r} declares no ordinal score for a threshold (DecisionSpec.score)."
        )
    h = dec.horizon if horizon is None else float(horizon)
    if not (h >= dec.every and np.isfinite(h)):
        raise ModelError(
            f"The schedule horizon must be a finite number >= {dec.every:g} ({model.time_unit}). "
            f"Got {horizon!r}."
        )
    return _Read(dec, h, thr)


def rank_schedules(
    twin,
    schedules: Mapping[str, Schedule],
    *,
    horizon: float | None = None,
    particles: int | None = None,
    key: PRNGKeyArray | None = None,
    threshold: float | None = None,
) -> ScheduleRanking:
    """Rank ``schedules`` by the posterior probability of success ``horizon`` ahead (default:
    the model's declared horizon, long enough to settle): the good outcome, and with a score
    threshold (``threshold``, default the model's declared one) the expected score staying below
    it throughout. Best first (ties: less drug). ``particles`` resamples that many by weight
    (needs ``key``); None uses every particle with its weight."""
    if not schedules:
        raise ModelError("rank_schedules() needs at least one schedule. Got none.")
    if particles is not None and key is None:
        raise ModelError("rank_schedules(particles=...) resamples: pass key=jax.random.key(s).")
    read = _read(twin.model, horizon, threshold)
    names = tuple(schedules)
    p, below, joint, ess = _evaluate(twin, read, [schedules[n] for n in names], particles, key)
    success = p[:, 0] if joint is None else joint
    order = sorted(range(len(names)), key=lambda i: (-success[i], schedules[names[i]].drug))
    return ScheduleRanking(
        tuple(names[i] for i in order), tuple(schedules[names[i]] for i in order), p[order], ess,
        read.dec.outcomes, read.dec.score, read.threshold,
        None if below is None else below[order], None if joint is None else joint[order],
    )  # fmt: skip


def search_schedule(
    twin,
    *,
    key: PRNGKeyArray,
    limits: DoseLimits | None = None,
    samples: int = 12,
    elite: int = 3,
    rounds: int = 3,
    horizon: float | None = None,
    particles: int | None = 50,
    threshold: float | None = None,
) -> tuple[Schedule, float]:
    """Cross-entropy search for the schedule of highest ``p_success`` (see
    :func:`rank_schedules`) within ``limits``; returns it and its ``p_success`` on the search's
    particles. ``samples`` schedules per round, the best ``elite`` refit the Gaussian proposal;
    the same particles in every round (paired)."""
    lim = DoseLimits() if limits is None else limits
    if not (0 < elite <= samples and rounds >= 1):
        raise ModelError(
            f"search_schedule() needs 0 < elite <= samples and rounds >= 1. Got elite={elite}, "
            f"samples={samples}, rounds={rounds}."
        )
    read = _read(twin.model, horizon, threshold)
    anti = lim.max_anti_inflammatory_dose if read.dec.anti_inflammatory is not None else 0.0
    hi = np.array([lim.latest_start, lim.max_antibiotic_rate, lim.latest_start, anti])
    mean, sd = hi / 2, hi / 2
    k_part, k_draw = jax.random.split(key)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_draw)).ravel())
    best: tuple[float, float, Schedule] | None = None

    def make(x: np.ndarray) -> Schedule:
        return Schedule(float(x[0]), float(x[1]), lim.antibiotic_duration, float(x[2]), float(x[3]))

    for _ in range(rounds):
        xs = np.clip(mean + sd * rng.standard_normal((samples, 4)), 0.0, hi)
        cands = [make(x) for x in xs]
        p, _, joint, _ = _evaluate(twin, read, cands, particles, k_part)
        success = p[:, 0] if joint is None else joint
        score = [(float(success[i]), -cands[i].drug, i) for i in range(samples)]
        score.sort(reverse=True)
        top = xs[[i for _, _, i in score[:elite]]]
        mean, sd = top.mean(0), np.maximum(top.std(0), 0.02 * hi)
        ph, neg_drug, i = score[0]
        if best is None or (ph, neg_drug) > (best[0], best[1]):
            best = (ph, neg_drug, cands[i])
    assert best is not None
    return best[2], best[0]
