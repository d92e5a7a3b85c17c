"""simulate() and advance(): one compiled, vmapped kernel for every model.

The time axis is the model's input grid ``t0 + k * model.input_dt``: inputs are constant over each
step, ``model.on_step`` applies discrete updates at its start, and the state moves over it by the
ODE solver (:class:`~medtwin.simulate.RK4` by default) or by the model's own ``step``. The batch
axis is a ``jax.vmap`` over members, so a cohort of 10,000 is one call; a member whose
integration fails gets a status instead of raising, and its later outputs are NaN.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import IntEnum
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ..errors import ModelError, SimulationError
from ..models._base import AbstractModel, AbstractODEModel, AbstractSteppedModel
from ._regimen import Regimen, applied_inputs, check_inputs, compile_regimens
from ._solvers import RK4, Solver

__all__ = ["Advanced", "Status", "Trajectory", "advance", "simulate"]


class Status(IntEnum):
    """Outcome of one batch member."""

    SUCCESS = 0
    NONFINITE = 1  # the state became NaN or infinite
    SOLVER_FAILED = 2  # the adaptive solver gave up (too many steps)


class Trajectory(eqx.Module):
    """Saved observables (and optionally states) of a simulation, per member."""

    ts: Float[Array, " time"]
    observables: Float[Array, "*batch time n_observables"]
    states: Float[Array, "*batch time n_states"] | None
    status: Int[Array, "*batch"]
    observable_names: tuple[str, ...] = eqx.field(static=True)
    state_names: tuple[str, ...] = eqx.field(static=True)

    def observable(self, name: str) -> Float[Array, "*batch time"]:
        """One observable by name, e.g. ``traj.observable("bg")``."""
        return self.observables[..., _find(self.observable_names, name, "observable")]

    def state(self, name: str) -> Float[Array, "*batch time"]:
        """One state by name (requires ``save_states=True``)."""
        if self.states is None:
            raise SimulationError(
                "This trajectory holds no states. Call simulate(..., save_states=True) to keep "
                "them."
            )
        return self.states[..., _find(self.state_names, name, "state")]

    @property
    def ok(self) -> Array:
        """True for members that completed successfully."""
        return self.status == Status.SUCCESS


class Advanced(eqx.Module):
    """Result of :func:`advance`: the state at ``t_next`` and each member's status."""

    state: Float[Array, "*batch n_states"]
    status: Int[Array, "*batch"]


def _find(names: tuple[str, ...], name: str, what: str) -> int:
    if name not in names:
        raise SimulationError(f"No {what} named {name!r}. Expected one of: {', '.join(names)}.")
    return names.index(name)


# ---------------------------------------------------------------------------------------------
# argument checking (host side, before anything is compiled)


def _time(value: object, name: str) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SimulationError(
            f"The {name!r} argument of simulate() must be a number. Got {value!r} instead."
        ) from None
    if not math.isfinite(x):
        raise SimulationError(
            f"The {name!r} argument of simulate() must be finite. Got {value!r} instead."
        )
    return x


def _grid(model: AbstractModel, t0: object, t1: object) -> tuple[float, float, int]:
    if not isinstance(model, AbstractModel):
        raise ModelError(
            f"simulate() needs a medtwin model instance as 'model' (e.g. "
            f"medtwin.models.get_model('t1d')). Got {type(model).__name__}: {model!r}."
        )
    a, b = _time(t0, "t0"), _time(t1, "t1")
    if not b > a:
        raise SimulationError(
            f"The 't1' argument of simulate() must be > t0 = {a:g}. Got t1 = {b:g} instead."
        )
    dt = float(model.input_dt)
    n = round((b - a) / dt)
    if abs(n * dt - (b - a)) > 1e-9 * max(1.0, abs(b - a)):
        raise SimulationError(
            f"simulate() runs on the input grid of {model.name!r} (steps of {dt:g} "
            f"{model.time_unit}); t1 - t0 must be a multiple of it. Got t1 - t0 = {b - a:g}."
        )
    return a, dt, n


def _batched(x: ArrayLike, width: int, what: str, model: AbstractModel) -> tuple[np.ndarray, bool]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] != width:
        raise ModelError(
            f"{what} for model {model.name!r} must have shape ({width},) or (batch, {width}). "
            f"Got shape {arr.shape}."
        )
    return (arr, True) if arr.ndim == 2 else (arr[None], False)


def _check_params(params: np.ndarray, model: AbstractModel) -> None:
    bad = ~np.isfinite(params)
    if bad.any():
        member, j = (int(v) for v in np.argwhere(bad)[0])
        raise ModelError(
            f"Parameter {model.parameter_names[j]!r} of batch member {member} is "
            f"{float(params[member, j])}; every parameter must be a finite number "
            f"({int(bad.any(axis=1).sum())} member(s) affected). Fix or drop those members."
        )


def _save_indices(saveat: ArrayLike | None, t0: float, dt: float, n: int) -> np.ndarray:
    if saveat is None:
        return np.arange(n + 1)
    ts = np.atleast_1d(np.asarray(saveat, dtype=np.float64))
    k = np.round((ts - t0) / dt)
    if ts.ndim != 1 or ts.size == 0 or not np.all(np.isfinite(ts)):
        raise SimulationError(
            f"The 'saveat' argument of simulate() must be a non-empty 1-D array of finite times. "
            f"Got {saveat!r}."
        )
    if np.any(np.abs(k * dt + t0 - ts) > 1e-9 * max(1.0, abs(t0) + n * dt)):
        raise SimulationError(
            f"The 'saveat' times must lie on the input grid t0 + k*{dt:g}. Got {ts.tolist()[:5]}..."
        )
    if np.any(k < 0) or np.any(k > n) or np.any(np.diff(k) <= 0):
        raise SimulationError(
            f"The 'saveat' times must be strictly increasing within [t0, t1] = "
            f"[{t0:g}, {t0 + n * dt:g}]. Got {ts.tolist()[:5]}..."
        )
    return k.astype(np.int64)


def _observable_selection(
    model: AbstractModel, observables: Sequence[str] | None
) -> tuple[tuple[str, ...], tuple[int, ...] | None]:
    """The names saved and their positions among the model's observables (None: all)."""
    if observables is None:
        return model.observable_names, None
    names = (observables,) if isinstance(observables, str) else tuple(observables)
    for name in names:
        if name not in model.observable_names:
            raise SimulationError(
                f"The 'observables' argument of simulate() names {name!r}, which model "
                f"{model.name!r} does not observe. Expected some of: "
                f"{', '.join(model.observable_names)}."
            )
    if not names or len(set(names)) != len(names):
        raise SimulationError(
            f"The 'observables' argument of simulate() must name each observable once, at least "
            f"one. Got {list(names)}."
        )
    return names, tuple(model.observable_names.index(k) for k in names)


# ---------------------------------------------------------------------------------------------
# the kernel


def _advance_carried(model, solver, t, y, u, params, dt, key, refine, refine_any, carry):
    """One input step of one member: ``(y_next, ok, finite, solver carry)``."""
    y = model.on_step(t, y, u, params)
    if isinstance(model, AbstractSteppedModel):
        y = model.step(t, y, u, params, dt, key)
        return y, jnp.all(jnp.isfinite(y)), jnp.bool_(True), carry
    y, ok, carry = solver.interval_carried(model.vector_field, t, y, u, params, dt, refine,
                                           refine_any, carry)  # fmt: skip
    return y, ok, jnp.all(jnp.isfinite(y)), carry


def _initial_carry(solver: Solver | None) -> Any:
    return () if solver is None else solver.initial_carry()


def _members_last(fn, in_axes):
    """``fn`` of one member vmapped over the members on the LAST axis of each batched argument
    and result (structure of arrays: a state component of all members is one contiguous
    vector, so the model's arithmetic runs on vectors)."""
    return jax.vmap(fn, in_axes=in_axes, out_axes=-1)


def _advance_members_last(model, solver, t, y, u, params, dt, key, refine, refine_any, carry):
    """:func:`_advance_carried` of many members at once, on the last axis of ``y`` [n, M],
    ``u`` and ``params`` (``key`` [M], ``refine`` [M] or shared, ``carry`` leaves [M, ...]):
    the step of :func:`simulate`'s kernel and of ``integrate_rates(members_last=True)``."""
    y = _members_last(model.on_step, (None, -1, -1, -1))(t, y, u, params)
    if isinstance(model, AbstractSteppedModel):
        key_axis = None if key is None else 0
        y = _members_last(model.step, (None, -1, -1, -1, None, key_axis))(t, y, u, params, dt, key)
        return y, jnp.all(jnp.isfinite(y), axis=0), jnp.bool_(True), carry
    y, ok, carry = solver.interval_members_last(model.vector_field, t, y, u, params, dt, refine,
                                                refine_any, carry)  # fmt: skip
    return y, ok, jnp.all(jnp.isfinite(y), axis=0), carry


def _kernel_step(model, solver, t, y, u, params, dt, key, refine, refine_any, carry):
    """One step of :func:`simulate`'s kernel, :func:`_advance_members_last` on ``y`` [n, M]
    with ``u`` [inputs, M] (or [inputs, 1], shared) and ``refine`` [M] (or a scalar, shared;
    None: no flags, a stepped model); the batched assimilation and forecast kernels take it
    too. A member's numbers do not depend on its batch by construction: the inputs and flags
    are made [.., M], and what goes in (time, state, inputs, parameters, flags, the solver's
    carry) passes one optimization barrier and what comes out another, so the step between is
    one program for every M members whatever surrounds it (what the batch shares or doses,
    the save grid: a loop of one step, a ``fori_loop``). XLA's CPU backend contracts a multiply
    and an add into an FMA where both fall in one fused loop, so the same arithmetic fused
    with its surroundings otherwise would round 1 ulp apart."""
    size = y.shape[-1]
    u = jnp.broadcast_to(u, (u.shape[0], size))
    flags = () if refine is None or refine_any is None else (jnp.broadcast_to(refine, (size,)),)
    t, y, u, params, carry, *flags = jax.lax.optimization_barrier((t, y, u, params, carry, *flags))
    refine = flags[0] if flags else False
    refine_any = refine_any if flags else False
    out = _advance_members_last(model, solver, t, y, u, params, dt, key, refine, refine_any, carry)
    return jax.lax.optimization_barrier(out)


@eqx.filter_jit
def _kernel(
    model: AbstractModel,
    solver: Solver | None,  # None for a stepped model (it has its own step)
    params: Array,
    y0: Array,
    keys: Array | None,
    dose: Array,
    override: Array,
    refine: Array | None,
    refine_any: Array | None,
    t0: Array,
    dt: float,
    segments: tuple[int, ...],
    save_states: bool,
    save_obs: bool = True,
    chunk: int | None = None,
    obs_index: tuple[int, ...] | None = None,
):
    """Batched run: ``segments[j]`` steps then a save, for each j. A save holds the
    observables (``save_obs``; those at ``obs_index``, None: all) and then the states
    (``save_states``), in that order, each ``[members, saves, width]``.

    Members come first in ``params`` [B, p], ``y0`` [B, n] and ``keys`` [B]; the inputs are
    time-major with the members last: ``dose``/``override`` [steps, inputs, B] (or [steps,
    inputs], shared), ``refine`` [steps, B] (or [steps], shared), ``refine_any`` [steps]. The
    state is carried as [n, B] (structure of arrays) and one step of every member is one call
    of :func:`_advance_members_last` (the solver's ``interval_members_last``): a member's
    numbers do not depend on its batch. ``chunk``: the members are run ``chunk`` at a time,
    one chunk after another (B a multiple of it); None: all at once."""
    uniform = len(set(segments[1:])) <= 1 and segments[0] in (0, segments[-1])
    per_member_inputs = dose.ndim == 3
    per_member_refine = refine is not None and refine.ndim == 2
    observe = _members_last(model.observe, (None, -1, -1))

    def members(p, y, key, dose_b, override_b, refine_b):
        # p [p, C], y [n, C], key [C] | None, inputs members last
        size = p.shape[-1]
        base = _members_last(model.baseline_inputs, (-1,))(p)  # [inputs, C]

        def inputs_at(k):
            if per_member_inputs:
                return applied_inputs(override_b[k], dose_b[k], base)
            return applied_inputs(override_b[k][:, None], dose_b[k][:, None], base)

        def step(carry, k):
            y, ok, finite, sc = carry
            t = t0 + k * dt
            flags = (
                (None, None)
                if refine_b is None or refine_any is None
                else (refine_b[k], refine_any[k])
            )
            # Keys depend on the absolute step, so chained advance() calls match simulate().
            sub = None if key is None else jax.vmap(
                lambda kk: jax.random.fold_in(kk, k + jnp.round(t0 / dt)))(key)  # fmt: skip
            y, ok_k, fin_k, sc = _kernel_step(model, solver, t, y, inputs_at(k), p, dt, sub,
                                              flags[0], flags[1], sc)  # fmt: skip
            return (y, ok & ok_k, finite & fin_k, sc), None

        def save(carry, t):  # t: the saved time
            y, ok = carry[0], carry[1]
            out: tuple[Array, ...] = ()
            if save_obs:
                obs = observe(t, y, p)
                obs = obs if obs_index is None else obs[jnp.asarray(obs_index)]
                out = (jnp.where(ok, obs, jnp.nan),)
            return (*out, jnp.where(ok, y, jnp.nan)) if save_states else out

        sc0 = jax.tree.map(lambda x: jnp.broadcast_to(x, (size, *jnp.shape(x))),
                           _initial_carry(solver))  # fmt: skip
        carry0 = (y, jnp.ones(size, bool), jnp.ones(size, bool), sc0)
        if uniform:
            stride = segments[-1]
            first = segments[0]
            out0 = save(carry0, t0) if first == 0 else None

            def segment(carry, ks):
                carry, _ = jax.lax.scan(step, carry, ks)
                return carry, save(carry, t0 + (ks[-1] + 1) * dt)

            n_seg = len(segments) - (1 if first == 0 else 0)
            ks = jnp.arange(n_seg * stride).reshape(n_seg, stride)
            carry, outs = jax.lax.scan(segment, carry0, ks)
            if out0 is not None:
                outs = tuple(jnp.concatenate([a[None], b]) for a, b in zip(out0, outs, strict=True))
        else:
            starts = jnp.asarray(np.cumsum((0, *segments[:-1])))
            stops = jnp.asarray(np.cumsum(segments))

            def segment(carry, bounds):
                a, b = bounds
                carry = jax.lax.fori_loop(a, b, lambda k, c: step(c, k)[0], carry)
                return carry, save(carry, t0 + b * dt)

            carry, outs = jax.lax.scan(segment, carry0, (starts, stops))
        ok, finite = carry[1], carry[2]
        status = jnp.where(
            ok, Status.SUCCESS, jnp.where(finite, Status.SOLVER_FAILED, Status.NONFINITE)
        )
        # [saves, width, C] -> [C, saves, width]
        return tuple(jnp.moveaxis(o, -1, 0) for o in outs), status

    args = (
        params.T,
        y0.T,
        keys,
        dose if per_member_inputs else None,
        override if per_member_inputs else None,
        refine if per_member_refine else None,
    )
    shared = (
        None if per_member_inputs else dose,
        None if per_member_inputs else override,
        None if per_member_refine else refine,
    )

    def run(chunk_args):
        c_p, c_y, c_key, c_dose, c_override, c_refine = chunk_args
        d, o, r = shared
        return members(
            c_p,
            c_y,
            c_key,
            d if c_dose is None else c_dose,
            o if c_override is None else c_override,
            r if c_refine is None else c_refine,
        )

    b = params.shape[0]
    if chunk is None or b <= chunk:
        return run(args)
    # one chunk after another: the chunk's working set stays in cache (a solver's choice)
    n_chunks = b // chunk

    def split(a):  # members on the last axis (keys: the only one) -> [n_chunks, ..., chunk]
        if a is None:
            return None
        if a is keys and keys is not None:
            return keys.reshape(n_chunks, chunk)
        return jnp.moveaxis(a.reshape(*a.shape[:-1], n_chunks, chunk), -2, 0)

    outs, status = jax.lax.map(run, tuple(split(a) for a in args))
    return tuple(o.reshape(b, *o.shape[2:]) for o in outs), status.reshape(b)


def integrate_rates(
    model: AbstractModel,
    solver: Solver,
    params: Float[Array, " n_params"],
    y: Float[Array, " n_states"],
    t0: Float[ArrayLike, ""],
    rates: Float[Array, "steps n_inputs"],
    refine: Array | None,
    refine_any: Array | None,
    *,
    dt: float,
    save_every: int,
    first: int = 0,
    members_last: bool = False,
) -> tuple[Float[Array, "saves n_obs"], Float[Array, " n_states"], Array]:
    """Advance ONE member of a deterministic model over ``len(rates)`` input steps inside a
    traced computation (vmap it; the closed loop and model-predictive control call it under
    ``jit``): ``rates[k]`` are the input rates the model receives in step k (background and
    doses already added, see :func:`~medtwin.simulate.applied_inputs`). Saves the observables
    after every ``save_every`` steps. ``refine`` (per member, [steps]) and ``refine_any`` (one
    for the whole batch: keep it out of ``vmap``) are the solver's dose refinement flags, as
    :meth:`~medtwin.simulate.Solver.refine_mask` gives them; None: no refinement.
    ``first`` > 0 starts at step ``first`` (``y`` the state there, the time ``t0 + first * dt``
    as the whole run has it): a run split in two gives the numbers of one run.
    ``members_last``: many members in one call, on the last axis of ``params`` [n_params, M],
    ``y`` [n_states, M] and ``rates`` [steps, n_inputs, M] (``refine`` [steps] shared), the
    layout the CPU computes fastest (each state a contiguous vector); every member gets the
    numbers it gets alone. Returns ``(observables [saves, n_obs, M], states [n_states, M],
    ok [M])``. Only for ODE models (a stepped model's step is per member).
    The same scheme as :func:`simulate` (the same numbers to round-off: ``simulate`` refines
    a batch's members near doses in gathered groups).
    Returns ``(observables [(steps - first) // save_every, n_obs], final state, ok)``; a failed
    member has NaN observables from the failure on and ``ok`` False."""
    n = rates.shape[0] - first
    if first < 0 or n < 0 or n % save_every:
        raise SimulationError(
            f"integrate_rates() needs a number of steps after first={first} that is >= 0 and "
            f"divisible by save_every. Got {n} steps and save_every={save_every}."
        )

    advance, observe = _advance_carried, model.observe
    ok0, carry0 = jnp.bool_(True), _initial_carry(solver)
    if members_last:
        if isinstance(model, AbstractSteppedModel):
            raise SimulationError(
                f"integrate_rates(members_last=True) needs an ODE model; {model.name!r} has its "
                "own step. Call it per member (vmap) instead."
            )
        advance, observe = _advance_members_last, _members_last(model.observe, (None, -1, -1))
        size = y.shape[-1]
        ok0 = jnp.ones(size, bool)
        carry0 = jax.tree.map(lambda c: jnp.broadcast_to(c, (size, *jnp.shape(c))), carry0)

    def step(carry, k):
        y, ok, sc = carry
        flags = (
            (False, False) if refine is None or refine_any is None else (refine[k], refine_any[k])
        )
        y_new, ok_k, _, sc = advance(model, solver, t0 + k * dt, y, rates[k], params, dt, None,
                                     flags[0], flags[1], sc)  # fmt: skip
        return (y_new, ok & ok_k, sc), None

    def segment(carry, ks):
        carry, _ = jax.lax.scan(step, carry, ks)
        y, ok, _ = carry
        t = t0 + (ks[-1] + 1) * dt
        return carry, jnp.where(ok, observe(t, y, params), jnp.nan)

    ks = (first + jnp.arange(n)).reshape(n // save_every, save_every)
    (y_end, ok, _), obs = jax.lax.scan(segment, (y, ok0, carry0), ks)
    return obs, y_end, ok


MIN_CHUNK = 256  # members per thread below which one thread runs the batch
CACHE_CHUNK = 1024  # members per compiled call on the CPU: their working set stays in cache
MIN_MEMBERS = 2  # members per compiled call at least (a lone member runs beside its copy)


def _workers(batch: int) -> int:
    """Threads for one batch: one per CPU core on the CPU backend (XLA runs one batch on one
    core; members are independent, so chunks on several cores give the same numbers)."""
    if jax.default_backend() != "cpu":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, batch // MIN_CHUNK))


def _chunking(b: int, multiple: int) -> tuple[int, int, int]:
    """``(threads, chunks, members per chunk)`` for a batch of ``b``: on the CPU, chunks of at
    most about :data:`CACHE_CHUNK` members (a multiple of ``multiple``), as many per thread;
    on an accelerator one call for all."""
    workers = _workers(b)
    n = max(workers, -(-b // CACHE_CHUNK)) if jax.default_backend() == "cpu" else 1
    n = -(-n // workers) * workers
    # at least MIN_MEMBERS a call: XLA compiles a members axis of length 1 to other code,
    # whose last bits differ, and a member's numbers must not depend on its batch
    size = max(-(-b // n), MIN_MEMBERS)
    size = -(-size // multiple) * multiple
    return workers, -(-b // size), size


def _run(
    model: AbstractModel,
    params: ArrayLike,
    regimen: Regimen | Sequence[Regimen] | None,
    *,
    t0: float,
    dt: float,
    n: int,
    save_idx: np.ndarray,
    solver: Solver | None,
    y0: ArrayLike | None,
    key: PRNGKeyArray | None,
    save_states: bool,
    save_obs: bool = True,
    obs_index: tuple[int, ...] | None = None,
) -> tuple[Any, Array, bool]:
    """Run the batch in chunks (one compiled call each, several threads on the CPU); a chunk's
    inputs are compiled from its members' regimens just before it runs, so the host holds the
    inputs of the running chunks only and memory grows with the saved outputs."""
    p, batched = _batched(params, model.n_params, "params", model)
    _check_params(p, model)
    b = p.shape[0]
    y: Array | np.ndarray
    if y0 is None:
        y = np.asarray(jax.vmap(model.initial_state)(jnp.asarray(p)))
    else:
        y_arr, y_batched = _batched(y0, model.n_states, "y0 (the initial state)", model)
        y = np.broadcast_to(y_arr, (b, model.n_states))  # a view: large states copy once
        batched = batched or y_batched
    if model.stochastic and key is None:
        raise SimulationError(
            f"Model {model.name!r} is stochastic: pass key=jax.random.key(seed) to simulate()."
        )
    # Member i draws from fold_in(key, i): a member's numbers do not depend on the batch size.
    keys = None if key is None else jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(b))

    m = len(model.inputs)
    regimens: Sequence[Regimen] | None = None
    if isinstance(regimen, Sequence):
        regimens = regimen
        if len(regimens) != b:
            raise SimulationError(
                f"simulate() got {len(regimens)} regimens for {b} parameter sets; pass one regimen "
                "for all or exactly one per member."
            )
        check_inputs(regimens, model.input_names)  # before any work (a chunk compiles its own)
        batched = True
        shared_inputs = None
    else:
        c = (regimen or Regimen()).compile(model.input_names, t0, dt, n)
        shared_inputs = (c.dose_rate, c.override)

    if isinstance(model, AbstractODEModel):
        solver = solver or RK4()
    segments = tuple(int(s) for s in np.diff(np.concatenate([[0], save_idx])))
    # a solver may run the members a few at a time on the CPU (its working set in cache)
    per_call = None if solver is None else solver.members_per_call()
    if per_call is not None and (jax.default_backend() != "cpu" or b <= per_call):
        per_call = None
    workers, n_chunks, size = _chunking(b, per_call or 1)
    shared_refine = None
    if shared_inputs is not None and solver is not None:
        shared_refine = solver.refine_mask(np.any(shared_inputs[0] != 0, axis=-1))
    # With an ODE solver the kernel always gets refinement flags (all False where no member
    # doses), so a batch with doses and one without run the same compiled step: a member's
    # numbers do not depend on whether others in its batch dose.
    no_refine = None if solver is None else np.zeros(n, bool)

    def run_chunk(i: int) -> tuple:
        idx = np.minimum(np.arange(i * size, (i + 1) * size), b - 1)  # pad with the last member
        if regimens is None:
            assert shared_inputs is not None
            dose, override = shared_inputs
            refine = no_refine if shared_refine is None else shared_refine
            refine_any = refine
        else:
            dose = np.zeros((n, m, size))  # time-major, members last (the kernel's layout)
            override = np.full((n, m, size), np.nan)
            compile_regimens([regimens[j] for j in idx], model.input_names, t0, dt, n,
                             dose=np.moveaxis(dose, -1, 0),
                             override=np.moveaxis(override, -1, 0))  # fmt: skip
            mask = None if solver is None else solver.refine_mask(np.any(dose != 0, axis=1).T)
            refine = no_refine if mask is None else np.ascontiguousarray(mask.T)
            refine_any = refine if mask is None else np.any(refine, axis=-1)
        return _kernel(
            model,
            solver,
            jnp.asarray(p[idx]),
            jnp.asarray(y[idx]),
            None if keys is None else keys[idx],
            jnp.asarray(dose),
            jnp.asarray(override),
            None if refine is None else jnp.asarray(refine),
            None if refine_any is None else jnp.asarray(refine_any),
            jnp.float64(t0),
            dt,
            segments,
            save_states,
            save_obs,
            None if per_call is None or size <= per_call else per_call,
            obs_index,
        )

    if n_chunks == 1 and size == b:
        outs, status = run_chunk(0)
        return outs, status, batched
    if workers == 1:
        parts = [run_chunk(i) for i in range(n_chunks)]
    else:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(run_chunk, range(n_chunks)))
    outs = tuple(jnp.concatenate([q[0][j] for q in parts])[:b] for j in range(len(parts[0][0])))
    return outs, jnp.concatenate([q[1] for q in parts])[:b], batched


def simulate(
    model: AbstractModel,
    params: Float[ArrayLike, "*batch n_params"],
    regimen: Regimen | Sequence[Regimen] | None = None,
    *,
    t0: float = 0.0,
    t1: float,
    saveat: Float[ArrayLike, " time"] | None = None,
    solver: Solver | None = None,
    y0: Float[ArrayLike, "*batch n_states"] | None = None,
    key: PRNGKeyArray | None = None,
    save_states: bool = True,
    observables: Sequence[str] | None = None,
) -> Trajectory:
    """Simulate ``model`` from ``t0`` to ``t1`` under ``regimen``.

    ``params`` is one parameter vector or a batch ``(B, n_params)``; ``regimen`` one regimen for
    all members or a sequence of ``B``. ``saveat`` defaults to every input step (t0 and t1
    included) and must lie on that grid. Events must start before ``t1`` and, unless ``y0`` is
    given (a state with a history), at or after ``t0``; with ``y0``, earlier events count for
    what they still deliver after ``t0`` (a meal being eaten).
    ``observables`` names the observables to save (default: all); with ``save_states=False``
    the memory a run holds grows with what it saves (members x saved times x observables), not
    with the states or the steps.
    Returns a :class:`Trajectory`; a member that fails has a non-zero ``status`` and NaN outputs
    from the failure on, the others are unaffected.
    """
    t0_, dt, n = _grid(model, t0, t1)
    obs_names, obs_index = _observable_selection(model, observables)
    regs = regimen if isinstance(regimen, Sequence) else [regimen or Regimen()]
    for r in regs:
        if not isinstance(r, Regimen):
            raise SimulationError(
                f"The 'regimen' argument of simulate() must be a Regimen (or one per member). "
                f"Got {type(r).__name__}."
            )
        r.check_horizon(t0_, t0_ + n * dt, history=y0 is not None)
    idx = _save_indices(saveat, t0_, dt, n)
    outs, status, batched = _run(
        model,
        params,
        regimen,
        t0=t0_,
        dt=dt,
        n=n,
        save_idx=idx,
        solver=solver,
        y0=y0,
        key=key,
        save_states=save_states,
        obs_index=obs_index,
    )
    obs = outs[0]
    states = outs[1] if save_states else None
    if not batched:
        obs, status = obs[0], status[0]
        states = None if states is None else states[0]
    return Trajectory(
        ts=jnp.asarray(t0_ + dt * idx),
        observables=obs,
        states=states,
        status=status,
        observable_names=obs_names,
        state_names=model.state_names,
    )


def advance(
    model: AbstractModel,
    state: Float[ArrayLike, "*batch n_states"],
    params: Float[ArrayLike, "*batch n_params"],
    regimen: Regimen | Sequence[Regimen] | None,
    t: float,
    t_next: float,
    *,
    solver: Solver | None = None,
    key: PRNGKeyArray | None = None,
) -> Advanced:
    """Move ``state`` from ``t`` to ``t_next`` (the streaming step of the twin loop).

    Unlike :func:`simulate`, ``regimen`` may hold the patient's whole history and plan: events
    before ``t`` count for what they still deliver after it (a meal being eaten), events after
    ``t_next`` are ignored. Chained calls give the same result as one :func:`simulate`.
    """
    t0_, dt, n = _grid(model, t, t_next)
    outs, status, batched = _run(
        model,
        params,
        regimen,
        t0=t0_,
        dt=dt,
        n=n,
        save_idx=np.array([n]),
        solver=solver,
        y0=state,
        key=key,
        save_states=True,
        save_obs=False,  # the twin loop observes the states itself; a grid's observation is dear
    )
    if not batched:
        return Advanced(state=outs[0][0, -1], status=status[0])
    return Advanced(state=outs[0][:, -1], status=status)
