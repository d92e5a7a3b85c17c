"""The compiled half of :func:`~medtwin.assimilate.assimilate_many`: a particle filter over
many patients' padded observation windows, ``jax.vmap`` over patients.

Each patient's windows lie end to end on one axis of input steps (padded with masked steps).
An *event* is a step where some patient's window ends. A ``lax.scan`` over the events runs,
for all patients at once, the moves up to the event (``advance``'s step, ``simulate``'s
kernel step on a patient's particles laid out members last as there: the model's ``on_step``
and the solver's ``interval_members_last``, same time, inputs and refinement flags; a masked
step leaves the particles as they were), then, for the patients whose window ends there, what
``assimilate`` does after ``advance``: failed particles keep their state and lose their weight;
for observation windows the parameters drift, the particles are weighted by the readings
(masked readings add nothing), and where the effective sample size falls below the threshold
they are resampled and moved.

Same numbers as one-by-one calls, bit for bit on CPU. XLA contracts a multiply feeding an add
into one fused multiply-add (one rounding instead of two) wherever both land in one fused
kernel, so the numbers depend on how the operations are grouped, not only on which they are.
The computation is therefore laid out as the one-by-one path's: the moves run in a loop of
their own; a window without doses takes the solver's plain step and one with doses its
refining branch, as each ``advance`` call would; ``optimization_barrier`` stands where the
one-by-one path crosses from one compiled function (or one eager operation) to the next; and
the end-of-window work runs one patient at a time (``lax.map``; it is cheap beside the moves),
since XLA sums the rows of a large batch (log-sum-exp, effective sample size) and multiplies
batched matrices (the resampling move) in another order than one row or one matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from ..models._noise import censored_log_likelihood, noise_theta
from ..simulate import applied_inputs
from ..simulate._simulate import _kernel_step, _members_last
from ._filters import pf_drift, pf_resample_move

__all__ = ["Batch", "StaticConfig", "bucket", "run_batch"]


def bucket(n: int) -> int:
    """The padded size of ``n``: the next of 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (powers of two
    and one and a half times them), so a padded axis wastes at most a third and few shapes are
    compiled."""
    n = max(int(n), 1)
    p = 1
    while p < n:
        if p >= 2 and p * 3 // 2 >= n:
            return p * 3 // 2
        p *= 2
    return p


@dataclass(frozen=True)
class StaticConfig:
    """What the compiled function is specialised on (hashable): the model, its solver, the
    filter's settings and the free parameters' indices, scales and bounds."""

    model: Any
    solver: Any
    drift: bool
    temper: float
    threshold: float  # resample below this effective sample size (threshold * n)
    shrinkage: float
    idx: tuple[int, ...]
    log: tuple[bool, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]


@dataclass
class Batch:
    """Padded inputs of one batch: leading axes (patients, flat input steps) unless said."""

    t_start: np.ndarray  # start time of the step's window
    k_local: np.ndarray  # the step's index within its window
    active: np.ndarray  # a real step (False: padding)
    start: np.ndarray  # first step of a window
    end: np.ndarray  # last step of a window
    weigh: np.ndarray  # ... of an observation window (else: the move to ``until``)
    t_obs: np.ndarray  # observation time (at ends of observation windows)
    step: np.ndarray  # observation step number (the keys')
    sd: np.ndarray  # parameter drift sd of the window
    dose: np.ndarray  # (..., inputs)
    override: np.ndarray  # (..., inputs)
    refine: np.ndarray
    obs_idx: np.ndarray  # (..., readings) observable index of each reading
    values: np.ndarray  # (..., readings)
    censored: np.ndarray  # (..., readings)
    obs_mask: np.ndarray  # (..., readings) a real reading
    params: Any = None  # (patients, n, n_params)
    states: Any = None
    log_weights: Any = None
    keys: Any = None  # (patients, ...)
    refine_any: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (steps,)
    any_end: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (steps,)

    @classmethod
    def empty(cls, shape: tuple[int, int], readings: int, inputs: int) -> Batch:
        z = np.zeros
        return cls(
            t_start=z(shape), k_local=z(shape, np.int64), active=z(shape, bool),
            start=z(shape, bool), end=z(shape, bool), weigh=z(shape, bool), t_obs=z(shape),
            step=z(shape, np.int64), sd=z(shape), dose=z((*shape, inputs)),
            override=np.full((*shape, inputs), np.nan), refine=z(shape, bool),
            obs_idx=z((*shape, readings), np.int64), values=z((*shape, readings)),
            censored=z((*shape, readings), np.int8), obs_mask=z((*shape, readings), bool),
        )  # fmt: skip


def _log_likelihood(model, t, states, params, obs_idx, values, censored, mask):
    """``pf_weight``'s log-likelihood with each reading's observable a traced index and
    masked readings adding nothing (the same operations for the readings that count)."""
    y = jax.vmap(model.observe, in_axes=(None, 0, 0))(t, states, params)
    total = jnp.zeros(states.shape[0])
    for m in range(obs_idx.shape[0]):
        term = None
        for j, spec in enumerate(model.observables):
            if spec.noise is None:
                continue
            theta = noise_theta(model, spec.noise, params)
            t_j = censored_log_likelihood(spec.noise, values[m], y[:, j], censored[m], theta)
            term = t_j if term is None else jnp.where(obs_idx[m] == j, t_j, term)
        if term is not None:
            total = jnp.where(mask[m], total + term, total)
    return jnp.where(jnp.isfinite(total), total, -jnp.inf)


_barrier = jax.lax.optimization_barrier


def _move(cfg: StaticConfig, carry, x, refine_any):
    """One input step of one patient's particles, as ``advance`` takes it: ``simulate``'s
    kernel step (``_kernel_step``) on the particles laid out as that kernel lays them
    (members last: a state component of all particles is one vector; XLA contracts multiplies
    and adds otherwise in another layout), with the patient's own refinement flag and the
    batch's ``refine_any`` (shared): that step gives a member the same numbers whether or not
    other members refine."""
    model, solver = cfg.model, cfg.solver
    dt = float(model.input_dt)
    params, lw, y, ok, y_start, bad = carry
    y_start = jnp.where(x["start"], y, y_start)
    ok = ok | x["start"]  # each window's status starts afresh, as each advance() call's
    bad = bad | (x["start"] & ~jnp.all(jnp.isfinite(params)))
    t = x["t_start"] + x["k_local"] * dt
    p_m = params.T  # [p, particles]
    base = _members_last(model.baseline_inputs, (-1,))(p_m)
    u = applied_inputs(x["override"][:, None], x["dose"][:, None], base)

    refine = None if solver is None else x["refine"]  # (a stepped model: no flags)
    y_new, ok_new = _kernel_step(model, solver, t, y.T, u, p_m, dt, None, refine, refine_any,
                                 ())[:2]  # fmt: skip
    y = jnp.where(x["active"], y_new.T, y)
    ok = ok & (ok_new | ~x["active"])
    return params, lw, y, ok, y_start, bad


def _failed(lw, y, ok, y_start):
    """``_move``'s bookkeeping after ``advance``: failed particles keep their state and lose
    their weight."""
    n_failed = jnp.sum(~ok)
    lw_f = jnp.where(ok, lw, -jnp.inf)
    lw_f = lw_f - logsumexp(lw_f)
    return jnp.where(n_failed > 0, lw_f, lw), jnp.where(ok[:, None], y, y_start), n_failed


def _weigh(cfg: StaticConfig, lw, y, params, x):
    """``pf_weight`` (its own compiled unit there, so fenced off here)."""
    lw, y, params = _barrier((lw, y, params))
    n = lw.shape[0]
    loglik = _log_likelihood(cfg.model, x["t_obs"], y, params, x["obs_idx"], x["values"],
                             x["censored"], x["obs_mask"])  # fmt: skip
    lw = lw + cfg.temper * loglik
    lse = logsumexp(lw)
    degenerate = ~jnp.isfinite(lse)
    return _barrier((jnp.where(degenerate, -jnp.log(n), lw - lse), degenerate, lse))


def _ess(lw):
    """``effective_sample_size`` (eager, one operation at a time, there)."""
    return 1.0 / _barrier(jnp.sum(_barrier(_barrier(jnp.exp(lw)) ** 2)))


def _window_end_one(cfg: StaticConfig, key, params, lw, y, ok, y_start, x):
    """What ``assimilate`` does between two ``advance`` calls, for one patient (left as it
    was unless its window ends at this step)."""
    idx, log = np.asarray(cfg.idx, np.int64), np.asarray(cfg.log, bool)
    lo, hi = np.asarray(cfg.lo), np.asarray(cfg.hi)
    lw1, y1, n_failed = _barrier(_failed(lw, y, ok, y_start))
    p1 = params
    if cfg.drift:
        p_d, sd = _barrier((params, x["sd"]))
        k_drift = jax.random.fold_in(key, 2**30 + x["step"])
        p1 = _barrier(pf_drift(k_drift, p_d, idx, log, lo, hi, sd))
    lw2, degenerate, lse = _weigh(cfg, lw1, y1, p1, x)
    ess = _ess(lw2)
    k_step = jax.random.fold_in(key, x["step"])
    p_b, y_b, lw_b = _barrier((p1, y1, lw2))
    p_r, y_r, lw_r = _barrier(
        pf_resample_move(k_step, p_b, y_b, lw_b, idx, log, lo, hi, cfg.shrinkage)[:3]
    )
    weigh, end = x["weigh"], x["end"]
    go = weigh & (ess < cfg.threshold)
    p_new = jnp.where(weigh, jnp.where(go, p_r, p1), params)
    y_new = jnp.where(go, y_r, y1)
    lw_new = jnp.where(weigh, jnp.where(go, lw_r, lw2), lw1)
    new = (jnp.where(end, p_new, params), jnp.where(end, lw_new, lw), jnp.where(end, y_new, y))
    return new, (ess, lse, degenerate, n_failed, go)


def _window_end(cfg: StaticConfig, keys, carry, x):
    """:func:`_window_end_one` for every patient, one at a time (``lax.map``): XLA sums the
    rows of a batch (log-sum-exp, effective sample size) and multiplies batched matrices (the
    resampling move) in another order than one row or one matrix, and this is cheap beside
    the moves."""
    params, lw, y, ok, y_start, bad = carry

    def one(args):
        return _window_end_one(cfg, *args)

    (params, lw, y), outs = jax.lax.map(one, (keys, params, lw, y, ok, y_start, x))
    return (params, lw, y, ok, y_start, bad), outs


@eqx.filter_jit
def _kernel(cfg: StaticConfig, params, states, lw, keys, xs: dict, refine_any, events,
            valid):  # fmt: skip
    """``xs`` per (step, patient); ``refine_any`` per step; ``events`` the
    steps where some window ends (``valid``: not padding), in order."""
    k, n = params.shape[:2]

    def move(i, carry):
        x = jax.tree.map(lambda a: a[i], xs)
        return jax.vmap(lambda c, xi: _move(cfg, c, xi, refine_any[i]))(carry, x)

    def no_end(carry, x):
        zf, zb = jnp.zeros(k), jnp.zeros(k, bool)
        return carry, (zf, zf, zb, jnp.zeros(k, jnp.int64), zb)

    def event(state, inputs):
        carry, first = state
        e, ok = inputs
        # The moves up to the event in a loop of their own: a loop body holding the end-of-
        # window work as well is fused (and rounded) otherwise than ``advance``'s.
        carry = jax.lax.fori_loop(first, e + 1, move, carry)
        x = jax.tree.map(lambda a: a[e], xs)
        carry, out = jax.lax.cond(ok, lambda c, xi: _window_end(cfg, keys, c, xi), no_end,
                                  carry, x)  # fmt: skip
        return (carry, jnp.where(ok, e + 1, first)), out

    carry0 = (params, lw, states, jnp.ones((k, n), bool), states, jnp.zeros(k, bool))
    ((params, lw, y, _, _, bad), _), outs = jax.lax.scan(event, (carry0, jnp.int64(0)),
                                                          (events, valid))  # fmt: skip
    return params, y, lw, bad, outs


_STEP_FIELDS = (
    "t_start", "k_local", "active", "start", "end", "weigh", "t_obs", "step", "sd", "dose",
    "override", "refine", "obs_idx", "values", "censored", "obs_mask",
)  # fmt: skip


def run_batch(cfg: StaticConfig, b: Batch) -> dict:
    """Run one padded batch; host arrays of the per-window outputs and the new ensembles."""
    xs = {f: jnp.asarray(np.swapaxes(getattr(b, f), 0, 1)) for f in _STEP_FIELDS}
    ends = np.flatnonzero(b.any_end)
    events = np.zeros(bucket(len(ends)), np.int64)
    events[: len(ends)] = ends
    valid = np.arange(len(events)) < len(ends)
    params, states, lw, bad, outs = _kernel(
        cfg, b.params, b.states, b.log_weights, b.keys, xs, jnp.asarray(b.refine_any),
        jnp.asarray(events), jnp.asarray(valid),
    )  # fmt: skip
    per_event = [np.swapaxes(a, 0, 1)[:, : len(ends)] for a in jax.device_get(outs)]
    per_step = []  # back onto the step axis, as the plans index them
    for a in per_event:
        full = np.zeros(b.end.shape, a.dtype)
        full[:, ends] = a
        per_step.append(full)
    ess, lse, degenerate, n_failed, resampled = per_step
    k = b.params.shape[0]
    return {
        "params": list(jnp.unstack(params)) if k > 1 else [params[0]],
        "states": list(jnp.unstack(states)) if k > 1 else [states[0]],
        "log_weights": list(jnp.unstack(lw)) if k > 1 else [lw[0]],
        "bad": np.asarray(bad), "ess": ess, "lse": lse, "degenerate": degenerate,
        "n_failed": n_failed, "resampled": resampled, "end": b.end, "weigh": b.weigh,
    }  # fmt: skip
