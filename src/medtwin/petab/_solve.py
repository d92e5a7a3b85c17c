"""Simulating the experiments of a PEtab problem: one vmapped diffrax solve over them.

An *experiment* is a pair (pre-equilibration condition, simulation condition). Each member of
the batch:

1. (with pre-equilibration) starts from the model's initial state under the pre-equilibration
   parameters and integrates until steady state, ``|f| <= atol_ss + rtol_ss |x|`` (RMS norms;
   diffrax ``steady_state_event``), then resets the species the simulation condition sets
   (``reinit``) to their initial values under the simulation parameters and keeps the others;
2. integrates from time 0 under the simulation parameters and saves the states at the
   measurement times ``ts`` (padded with the last time).

The model's right-hand side is the imported model's own (``SBMLModel.vector_field``). Time
discontinuities of ``piecewise`` (a relation between ``time`` and a time-free expression,
``time - a < 0`` or ``time <= a``) are handed to the step-size controller as ``jump_ts``, so the
solver stops at them instead of stepping over them; the measurement times are ``step_ts``, so
the states saved there are step ends, not the solver's interpolation (Kvaerno5's dense output
is a cubic Hermite polynomial: on a test problem its error at rtol 1e-8 did not shrink with
tighter tolerances). The default solver is diffrax's ``Kvaerno5`` (L-stable ESDIRK, for the
stiff signalling models of the benchmark collection) with a full Newton root finder and a PID
controller; gradients flow by diffrax's ``RecursiveCheckpointAdjoint`` (differentiating the
solver's operations).

A member whose solve fails (too many steps, non-finite state) reports ``ok = False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import Array, Bool, Float

from ..sbml import SBMLModel
from ..sbml._jaxmath import emit
from ..sbml._mathml import Apply, Expr, Time, free_symbols, has_time

__all__ = ["SolverSettings", "jump_expressions", "solve_experiments"]


@dataclass(frozen=True)
class SolverSettings:
    """How the experiments are integrated: the diffrax ``solver`` (None: ``Kvaerno5`` with a
    full Newton root finder at ``rtol``/``atol``), its tolerances ``rtol`` and ``atol``,
    ``max_steps`` per solve, and the steady-state test of pre-equilibration (``ss_rtol``,
    ``ss_atol``; at most ``ss_t_max`` model time units).

    The default's Newton iteration (a fresh Jacobian per iteration) matters: with diffrax's
    default chord iteration (one Jacobian per step) a stiff benchmark model (Fujita 2010 at
    high EGF) took ~22,000 steps, 60 % of them rejected, instead of ~260."""

    solver: Any = None
    rtol: float = 1e-8
    atol: float = 1e-10
    max_steps: int = 100_000
    ss_rtol: float = 1e-10
    ss_atol: float = 1e-12
    ss_t_max: float = 1e9


def _root_of(a: Expr, b: Expr) -> Expr | None:
    """The time at which relation ``a ? b`` can switch, where it is ``time ? x``, ``x ? time``
    or ``time - x ? c`` with ``x`` and ``c`` free of time."""
    for lhs, rhs in ((a, b), (b, a)):
        if has_time(rhs):
            continue
        if isinstance(lhs, Time):
            return rhs
        if (isinstance(lhs, Apply) and lhs.op == "minus" and len(lhs.args) == 2
                and isinstance(lhs.args[0], Time) and not has_time(lhs.args[1])):  # fmt: skip
            return Apply("plus", (lhs.args[1], rhs))
    return None


def jump_expressions(exprs: list[Expr], constants: frozenset[str]) -> tuple[Expr, ...]:
    """The switching times of the time relations in ``exprs`` whose other side reads only
    ``constants`` (identifiers fixed over a simulation)."""
    out: list[Expr] = []

    def walk(e: Expr) -> None:
        if isinstance(e, Apply):
            if e.op in ("lt", "gt", "leq", "geq", "eq", "neq") and len(e.args) == 2:
                root = _root_of(*e.args)
                if root is not None and free_symbols(root) <= constants and root not in out:
                    out.append(root)
            for x in e.args:
                walk(x)

    for e in exprs:
        walk(e)
    return tuple(out)


def _jumps(model: SBMLModel, exprs: tuple[Expr, ...], x0: Array, p: Array) -> Array | None:
    if not exprs:
        return None
    names = tuple(sorted(set().union(*(free_symbols(e) for e in exprs))))
    values = model.quantities(0.0, x0, p, names) if names else jnp.zeros(0)
    env = {n: values[i] for i, n in enumerate(names)}
    t0 = jnp.float64(0.0)
    return jnp.stack([jnp.asarray(emit(e, env, t0), jnp.float64) for e in exprs])


def _solver(s: SolverSettings) -> Any:
    if s.solver is not None:
        return s.solver
    return diffrax.Kvaerno5(root_finder=optx.Newton(rtol=s.rtol, atol=s.atol))


def _controller(s: SolverSettings, jumps: Array | None, steps: Array | None = None) -> Any:
    pid = diffrax.PIDController(rtol=s.rtol, atol=s.atol)
    if jumps is None and steps is None:
        return pid
    return diffrax.ClipStepSizeController(pid, step_ts=steps, jump_ts=jumps)


def _term(model: SBMLModel) -> diffrax.ODETerm:
    u = jnp.zeros(0)
    return diffrax.ODETerm(lambda t, x, p: model.vector_field(t, x, u, p))


def _steady_state(model: SBMLModel, x0: Array, p: Array, jump_exprs: tuple[Expr, ...],
                  s: SolverSettings) -> tuple[Array, Array]:  # fmt: skip
    cond = diffrax.steady_state_event(rtol=s.ss_rtol, atol=s.ss_atol, norm=optx.rms_norm)
    sol = diffrax.diffeqsolve(
        _term(model), _solver(s), t0=0.0, t1=s.ss_t_max, dt0=None, y0=x0, args=p,
        saveat=diffrax.SaveAt(t1=True), event=diffrax.Event(cond),
        stepsize_controller=_controller(s, _jumps(model, jump_exprs, x0, p)),
        max_steps=s.max_steps, throw=False,
    )  # fmt: skip
    assert sol.ys is not None
    x = sol.ys[-1]
    ok = (sol.result == diffrax.RESULTS.event_occurred) & jnp.all(jnp.isfinite(x))
    return x, ok


def solve_experiments(
    model: SBMLModel,
    p_sim: Float[Array, "e n_params"],
    p_pre: Float[Array, "e n_params"] | None,
    reinit: Bool[Array, "e n_states"] | None,
    ts: Float[Array, "e n_times"],
    jump_exprs: tuple[Expr, ...],
    settings: SolverSettings,
) -> tuple[Float[Array, "e n_times n_states"], Bool[Array, " e"]]:
    """The states at ``ts`` of every experiment and whether its solve succeeded (see the
    module docstring); ``p_pre``/``reinit`` are None where no experiment pre-equilibrates."""

    def member(p, pp, re, t_save):
        x0 = model.initial_state(p)
        ok = jnp.bool_(True)
        if pp is not None:
            x_ss, ok = _steady_state(model, model.initial_state(pp), pp, jump_exprs, settings)
            x0 = jnp.where(re, x0, x_ss)
        t1 = t_save[-1]
        sol = diffrax.diffeqsolve(
            _term(model), _solver(settings), t0=0.0, t1=t1, dt0=None, y0=x0, args=p,
            saveat=diffrax.SaveAt(ts=t_save),
            stepsize_controller=_controller(settings, _jumps(model, jump_exprs, x0, p), t_save),
            max_steps=settings.max_steps, throw=False,
        )  # fmt: skip
        ys = sol.ys
        assert ys is not None
        ok = ok & (sol.result == diffrax.RESULTS.successful) & jnp.all(jnp.isfinite(ys))
        return ys, ok

    if p_pre is None:
        return jax.vmap(lambda p, t: member(p, None, None, t))(p_sim, ts)
    return jax.vmap(member)(p_sim, p_pre, reinit, ts)
