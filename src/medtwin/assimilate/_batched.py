"""assimilate_many(): the updates of many twins in one vmapped computation (micro-batching
across patients), with the numbers of one :func:`assimilate_with_report` call per twin.

Twins that share a model, a particle count, a filter method, a free-parameter set and a kind of
key are stacked along a leading patient axis and moved together by one compiled function,
``jax.vmap`` over patients of the particle filter's own steps (``advance``'s per-step code,
:func:`~medtwin.assimilate._filters.pf_drift`, the weighting of ``pf_weight`` and
:func:`~medtwin.assimilate._filters.pf_resample_move`, with the keys ``assimilate`` draws).
Each twin's observation windows are laid end to end on the model's input grid; a twin with
fewer input steps than the longest one is padded with masked (no-op) steps, and every padded
length -- patients, input steps, observation times, readings per observation time -- is rounded
up to a bucket (1, 2, 3, 4, 6, 8, 12, 16, ...) so that compiled shapes are reused from call to
call. Twins whose numbers of input steps differ by more than a factor of two are batched apart.

The host does what ``assimilate`` does on the host (cleaning the data, merging the regimens,
compiling each window's inputs) and assembles the report from the per-step values the
computation returns. The numbers are those of one-by-one calls, bit for bit on CPU (float64;
see ``_batched_kernel`` for how; tests/unit/assimilate/test_batched.py compares them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from ..errors import DataError
from ..models._base import AbstractODEModel
from ..simulate import RK4, Regimen
from ..timeunits import convert
from ._assimilate import Assimilation, AssimilationReport, _merge, assimilate_with_report
from ._batched_kernel import Batch, StaticConfig, bucket, run_batch
from ._ensemble import Ensemble, free_transform
from ._filters import Method, ParticleFilter, bounds
from ._observations import DataReport, Observations, check_readings, prepare
from ._twin import Twin, Update

__all__ = ["assimilate_many", "derived_keys"]


@dataclass(frozen=True)
class _Window:
    """One move of the ensemble: ``n`` input steps from ``t`` to ``t_next``; an observation
    step (``step`` >= 0, its number in the update: the key's) or the final move to ``until``
    (``step`` = -1). ``sd`` is the parameter drift's standard deviation over the window."""

    t: float
    t_next: float
    n: int
    step: int
    sd: float
    obs_idx: tuple[int, ...] = ()
    values: np.ndarray | None = None
    censored: np.ndarray | None = None


@dataclass(frozen=True)
class _Plan:
    """What the host prepared for one twin's update."""

    twin: Twin
    observations: Observations
    regimen: Regimen | None
    method: ParticleFilter
    key: PRNGKeyArray
    until: float | None
    known: Regimen
    data: DataReport
    windows: tuple[_Window, ...]
    t_end: float

    @property
    def steps(self) -> int:
        return sum(w.n for w in self.windows)

    def group(self) -> tuple:
        """Twins with equal groups can share one computation."""
        twin, ens = self.twin, self.twin.ensemble
        return (
            _model_key(twin.model), tuple(ens.params.shape), tuple(ens.states.shape),
            self.method, twin.free, getattr(self.key, "dtype", None), np.shape(self.key),
        )  # fmt: skip


def _model_key(model) -> tuple:
    leaves = jax.tree_util.tree_leaves(model)
    if all(isinstance(x, (bool, int, float, str)) for x in leaves):
        return (type(model), tuple(leaves))
    return (type(model), id(model))


def _n_steps(t: float, t_next: float, dt: float) -> int | None:
    """Input steps from ``t`` to ``t_next`` as ``advance`` counts them; None where ``advance``
    would refuse the interval (it then raises in the one-by-one path) or take no step."""
    a, b = float(t), float(t_next)
    if not (math.isfinite(a) and math.isfinite(b) and b > a):
        return None
    n = round((b - a) / dt)
    if abs(n * dt - (b - a)) > 1e-9 * max(1.0, abs(b - a)) or n < 1:
        return None
    return n


def _plan(
    twin: Twin,
    observations: Observations,
    regimen: Regimen | None,
    method: Method | None,
    key: PRNGKeyArray | None,
    until: float | None,
) -> _Plan | None:
    """The host's half of :func:`assimilate_with_report` for one twin; None if this update
    cannot be batched (it is then run one-by-one, which also raises what it raises)."""
    if not isinstance(observations, Observations):
        return None
    method = method or twin.method or ParticleFilter()
    model, ens = twin.model, twin.ensemble
    if type(method) is not ParticleFilter or model.stochastic or method.sensor is not None:
        return None  # (a sensor error state: one-by-one, which carries it)
    key = jax.random.fold_in(twin.key, twin.version + 1) if key is None else key
    known = _merge(twin.regimen, regimen)
    clean, data = prepare(observations, model.observable_names, ens.time, model.input_dt, twin.t0)
    try:
        check_readings(model, clean)
    except DataError:  # the twin's own assimilate() says what is wrong, for that twin alone
        return None
    dt = float(model.input_dt)
    per_hour = convert(1.0, model.time_unit, "h")
    windows, t = [], ens.time
    for step, t_obs in enumerate(np.unique(clean.times)):
        n = _n_steps(t, float(t_obs), dt)
        if n is None:
            return None
        here = np.flatnonzero(clean.times == t_obs)
        obs_idx = tuple(model.observable_index(clean.observable[i]) for i in here)
        if any(model.observables[j].noise is None for j in obs_idx):
            return None
        sd = 0.0
        if method.drift > 0 and t_obs > t:
            sd = float(np.float64(method.drift * np.sqrt((float(t_obs) - t) * per_hour)))
        windows.append(
            _Window(t, float(t_obs), n, step, sd, obs_idx, clean.values[here],
                    clean.censored[here])
        )  # fmt: skip
        t = float(t_obs)
    if until is not None and until > t:
        n = _n_steps(t, float(until), dt)
        if n is None:
            return None
        windows.append(_Window(t, float(until), n, -1, 0.0))
        t = float(until)
    return _Plan(twin, observations, regimen, method, key, until, known, data, tuple(windows), t)


def _pack(plans: Sequence[_Plan]) -> Batch:
    """Stack the plans of one group into padded arrays (padding rows copy the first twin and
    take no step)."""
    first = plans[0]
    model = first.twin.model
    solver = RK4() if isinstance(model, AbstractODEModel) else None
    k_real = len(plans)
    k_pad = bucket(k_real)
    t_pad = bucket(max(p.steps for p in plans))
    m_pad = bucket(max((len(w.obs_idx) for p in plans for w in p.windows), default=1))
    n_in = len(model.inputs)
    shape = (k_pad, t_pad)
    b = Batch.empty(shape, m_pad, n_in)
    dt = float(model.input_dt)
    for k, plan in enumerate(plans):
        pos = 0
        for w in plan.windows:
            sl, e = slice(pos, pos + w.n), pos + w.n - 1
            c = plan.known.compile(model.input_names, w.t, dt, w.n)
            b.t_start[k, sl] = w.t
            b.k_local[k, sl] = np.arange(w.n)
            b.active[k, sl] = True
            b.start[k, pos] = True
            b.end[k, e] = True
            b.dose[k, sl] = c.dose_rate
            b.override[k, sl] = c.override
            if solver is not None:
                refine = solver.refine_mask(np.any(c.dose_rate != 0, axis=-1))
                if refine is not None:
                    b.refine[k, sl] = refine
            if w.step >= 0:
                m = len(w.obs_idx)
                b.weigh[k, e] = True
                b.t_obs[k, e] = w.t_next
                b.step[k, e] = w.step
                b.sd[k, e] = w.sd
                b.obs_idx[k, e, :m] = w.obs_idx
                b.values[k, e, :m] = w.values
                b.censored[k, e, :m] = w.censored
                b.obs_mask[k, e, :m] = True
            pos += w.n
    rows = [p.twin.ensemble for p in plans] + [first.twin.ensemble] * (k_pad - k_real)
    keys = [p.key for p in plans] + [first.key] * (k_pad - k_real)
    # float64 and not weakly typed (a new twin's uniform weights are), so that a twin's first
    # update and its later ones share one compiled function
    b.params = jnp.stack([jnp.asarray(e.params) for e in rows]).astype(jnp.float64)
    b.states = jnp.stack([jnp.asarray(e.states) for e in rows]).astype(jnp.float64)
    b.log_weights = jnp.stack([jnp.asarray(e.log_weights) for e in rows]).astype(jnp.float64)
    b.keys = jnp.stack([jnp.asarray(k) for k in keys])
    b.refine_any = np.asarray(b.refine[:k_real].any(axis=0))
    b.any_end = np.asarray(b.end[:k_real].any(axis=0))
    return b


def _static(plan: _Plan) -> StaticConfig:
    twin, method = plan.twin, plan.method
    idx, log = free_transform(twin.model, twin.free)
    lo, hi = bounds(twin.model, idx)
    solver = RK4() if isinstance(twin.model, AbstractODEModel) else None
    return StaticConfig(
        model=twin.model, solver=solver, drift=method.drift > 0, temper=method.temper,
        threshold=method.resample_threshold * twin.ensemble.size, shrinkage=method.shrinkage,
        idx=tuple(int(i) for i in idx), log=tuple(bool(v) for v in log),
        lo=tuple(float(v) for v in lo), hi=tuple(float(v) for v in hi),
    )  # fmt: skip


def _finish(plan: _Plan, out: dict, k: int) -> Assimilation | None:
    """Twin ``k`` of a batch's output as ``assimilate_with_report`` returns it; None if the
    one-by-one path would have raised (it is then rerun alone, to raise the same error)."""
    if out["bad"][k]:
        return None
    ess_trace, resampled, degenerate, failed, evidence = [], 0, 0, 0, 0.0
    for e in np.flatnonzero(out["end"][k]):
        failed += int(out["n_failed"][k, e])
        if not out["weigh"][k, e]:
            continue
        degen = bool(out["degenerate"][k, e])
        degenerate += int(degen)
        evidence += float(out["lse"][k, e]) if not degen else 0.0
        ess_trace.append(float(out["ess"][k, e]))
        resampled += int(out["resampled"][k, e])
    report = AssimilationReport(
        plan.data, tuple(ess_trace), resampled, degenerate, failed, evidence
    )
    twin = plan.twin
    ens = Ensemble(out["params"][k], out["states"][k], out["log_weights"][k], plan.t_end)
    new = replace(
        twin,
        ensemble=ens,
        regimen=plan.known,
        updates=(
            *twin.updates,
            Update(plan.observations, plan.regimen or Regimen(), plan.method, plan.key,
                   plan.until, report),
        ),
    )  # fmt: skip
    return Assimilation(new, report)


def _unchanged(plan: _Plan) -> Assimilation:
    """An update that moves nothing (no usable reading, no ``until`` ahead)."""
    report = AssimilationReport(plan.data, (), 0, 0, 0, 0.0)
    twin = plan.twin
    new = replace(
        twin,
        regimen=plan.known,
        updates=(
            *twin.updates,
            Update(plan.observations, plan.regimen or Regimen(), plan.method, plan.key,
                   plan.until, report),
        ),
    )  # fmt: skip
    return Assimilation(new, report)


def assimilate_many(
    twins: Sequence[Twin],
    observations: Sequence[Observations],
    regimens: Sequence[Regimen | None] | None = None,
    *,
    until: Sequence[float | None] | None = None,
    method: Method | None = None,
    keys: Sequence[PRNGKeyArray | None] | None = None,
    errors: Literal["raise", "return"] = "raise",
) -> list[Assimilation | Exception]:
    """:func:`assimilate_with_report` for many twins at once: ``twins[i]`` assimilates
    ``observations[i]`` told ``regimens[i]`` (None: nothing new), moving on to ``until[i]``;
    ``method`` (one for all, default: each twin's own) and ``keys[i]`` (default: derived from
    each twin's root key and version) as in :func:`assimilate`.

    Returns, in order, what ``assimilate_with_report`` returns for each twin -- the same twin
    and the same report (float64; bit for bit on CPU, see the module docstring). Twins may
    differ in everything that is data: how many readings and observation times, censored
    readings, regimens, current times, keys.

    Batched together: twins with the same model, particle count, free parameters, key kind and
    a :class:`ParticleFilter` method. Run one-by-one instead (same results, no speed-up): the
    ensemble Kalman filter (its analysis over a varying set of readings is not a masked
    operation), a particle filter with a sensor error state, stochastic models, observables
    without a noise model, a twin whose parameters are not all finite, and windows ``advance``
    would refuse (not on the input grid) -- these raise the error the one-by-one call raises.

    ``errors="raise"`` (default) raises a failing twin's error and returns nothing;
    ``errors="return"`` puts the exception in that twin's place so that one patient's bad data
    does not hold up the others.
    """
    k = len(twins)
    regimens = [None] * k if regimens is None else list(regimens)
    untils = [None] * k if until is None else list(until)
    keys_ = [None] * k if keys is None else list(keys)
    if not (len(observations) == len(regimens) == len(untils) == len(keys_) == k):
        raise DataError(
            f"assimilate_many() needs one observations, regimen, until and key per twin. Got "
            f"{k} twins, {len(observations)} observations, {len(regimens)} regimens, "
            f"{len(untils)} untils and {len(keys_)} keys."
        )
    if keys is None:
        keys_ = derived_keys(twins, [t.version + 1 for t in twins])
    results: list[Assimilation | Exception | None] = [None] * k
    groups: dict[tuple, list[tuple[int, _Plan]]] = {}
    alone: list[int] = []
    for i in range(k):
        try:
            plan = _plan(twins[i], observations[i], regimens[i], method, keys_[i], untils[i])
        except Exception as exc:
            if errors == "raise":
                raise
            results[i] = exc
            continue
        if plan is None:
            alone.append(i)
        elif not plan.windows:
            results[i] = _unchanged(plan)
        else:
            groups.setdefault(plan.group(), []).append((i, plan))
    for members in groups.values():
        members.sort(key=lambda m: m[1].steps)
        for chunk in _by_length(members):
            plans = [p for _, p in chunk]
            out = run_batch(_static(plans[0]), _pack(plans))
            for j, (i, plan) in enumerate(chunk):
                res = _finish(plan, out, j)
                if res is None:
                    alone.append(i)
                else:
                    results[i] = res
    for i in sorted(alone):
        try:
            results[i] = assimilate_with_report(
                twins[i], observations[i], regimens[i], method=method, key=keys_[i],
                until=untils[i],
            )  # fmt: skip
        except Exception as exc:
            if errors == "raise":
                raise
            results[i] = exc
    return results  # type: ignore[return-value]


def derived_keys(twins: Sequence[Twin], data: Sequence[int]) -> list:
    """``fold_in(twins[i].key, data[i])`` for every twin in one batched call (the same bits
    as one call per twin); one call per twin where the root keys cannot be stacked."""
    try:
        roots = jnp.stack([jnp.asarray(t.key) for t in twins])
    except (TypeError, ValueError):
        return [jax.random.fold_in(t.key, d) for t, d in zip(twins, data, strict=True)]
    out = _fold_in_many(roots, jnp.asarray(data, dtype=jnp.uint32))
    return list(jnp.unstack(out)) if len(twins) > 1 else [out[0]]


_fold_in_many = jax.jit(jax.vmap(jax.random.fold_in))  # integer arithmetic: exact under jit


def _by_length(members: list[tuple[int, _Plan]]) -> list[list[tuple[int, _Plan]]]:
    """Split members sorted by their number of input steps where a twin would more than
    double the padded length of the chunk so far (a twin with a day of data does not make
    twenty twins with five minutes each run a day of masked steps)."""
    chunks: list[list[tuple[int, _Plan]]] = []
    for m in members:
        if chunks and bucket(m[1].steps) <= 2 * bucket(chunks[-1][0][1].steps):
            chunks[-1].append(m)
        else:
            chunks.append([m])
    return chunks
