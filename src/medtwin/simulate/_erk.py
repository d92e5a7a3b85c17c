"""AdaptiveRK: adaptive explicit Runge-Kutta built for large vmapped batches.

The same job as :class:`~medtwin.simulate.Adaptive` (an embedded explicit Runge-Kutta pair,
error control per member, each input step integrated exactly from its start to its end), laid
out for the throughput of a batch on the CPU:

* **the step size carries over**: the step a member's controller proposes at the end of one
  input step starts the next (:meth:`AdaptiveRK.interval_carried`), so a smooth solution takes
  one step per input step where the accuracy allows it instead of restarting from a small one;
  only the first step (or the stateless :meth:`AdaptiveRK.interval`) estimates a starting step
  (Hairer, Norsett & Wanner 1993, *Solving Ordinary Differential Equations I*, 2nd ed.,
  section II.4, "Starting step size"), at the price of one right-hand-side evaluation;
* **structure of arrays**: under ``jax.vmap`` a batching rule integrates the members together
  with each state component of all members in one contiguous vector (``[n_states, members]``),
  so the right-hand side runs on vectors. :func:`~medtwin.simulate.simulate` hands it the
  members ``chunk`` at a time on the CPU (:meth:`AdaptiveRK.members_per_call`; 64 measured
  best on BIOMD0000000379: fewer pay XLA's fixed cost per kernel more often, more leave the
  cache), each chunk's loop running until its slowest member is done -- the others idle,
  their numbers unchanged, so a member's result does not depend on its batch;
* **the pair**: Dormand-Prince 8(7) by default (``diffrax.Dopri8``, Prince & Dormand 1981,
  J. Comp. Appl. Math. 7:67-75), whose few large steps pay off at tight tolerances; any
  explicit diffrax solver with an embedded error estimate and the first-same-as-last property
  lends its Butcher tableau (``diffrax.Tsit5()``, ``diffrax.Dopri5()``).

Error control as in diffrax's ``PIDController`` with integral control: the error of each
component scaled by ``atol + rtol * max(|y0|, |y1|)``, its root mean square ``r``; the step is
accepted when ``r <= 1`` and the next is ``h * clip(0.9 r^(-1/p), 0.2, 10)`` (``p`` the
order, at most 0.9 after a rejection). A member fails (``ok`` False, the simulation's
``SOLVER_FAILED``) when an input step needs more than ``max_steps`` steps or its step size
underflows; a member whose state is not finite does no work.

Forward-mode derivatives (``jax.jvp``, ``jax.jacfwd``) go through it; reverse mode does not
(the step loop is a ``while_loop``): use :class:`~medtwin.simulate.Adaptive` for ``jax.grad``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._solvers import Solver, VectorField

__all__ = ["AdaptiveRK"]

SAFETY, FACTOR_MIN, FACTOR_MAX = 0.9, 0.2, 10.0  # diffrax PIDController's defaults


@dataclass(frozen=True)
class AdaptiveRK(Solver):
    """Adaptive explicit Runge-Kutta for batches (see the module docstring): ``rtol`` and
    ``atol`` per member and component, ``method`` a diffrax explicit Runge-Kutta solver
    (default Dormand-Prince 8(7)), ``max_steps`` per input step, ``chunk`` members integrated
    together on the CPU (the whole batch on an accelerator)."""

    rtol: float = 1e-8
    atol: float = 1e-8
    max_steps: int = 10_000
    method: Any = field(default_factory=diffrax.Dopri8)
    chunk: int = 64

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0 and np.isfinite(value)):
                raise ValueError(f"AdaptiveRK.{name} must be a number > 0. Got {value!r}.")
        for name in ("max_steps", "chunk"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"AdaptiveRK.{name} must be an integer >= 1. Got {value!r}.")
        tab = getattr(self.method, "tableau", None)
        ok = (
            isinstance(tab, diffrax.ButcherTableau)
            and tab.b_error is not None
            and not tab.implicit
            and tab.fsal
            and np.allclose(tab.a_lower[-1], tab.b_sol[:-1], rtol=0, atol=1e-15)
        )
        if not ok:
            raise ValueError(
                "AdaptiveRK.method must be an explicit diffrax Runge-Kutta solver with an "
                "embedded error estimate whose last stage is the solution (first same as "
                f"last), e.g. diffrax.Dopri8(), diffrax.Tsit5(), diffrax.Dopri5(). Got "
                f"{self.method!r}."
            )

    # -- the Solver interface ------------------------------------------------------------

    def members_per_call(self) -> int | None:
        return self.chunk

    def initial_carry(self) -> Array:
        # the step size to try first: NaN estimates one; 0 marks a member that has failed
        # (it does no more work)
        return jnp.float64(jnp.nan)

    def interval(self, f, t, y, u, params, dt, refine=False, refine_any=False):
        y, ok, _ = self.interval_carried(f, t, y, u, params, dt, refine, refine_any,
                                         self.initial_carry())  # fmt: skip
        return y, ok

    def interval_carried(self, f, t, y, u, params, dt, refine=False, refine_any=False,
                         carry=None):  # fmt: skip
        h = jnp.asarray(self.initial_carry() if carry is None else carry, jnp.float64)
        t, y, u, params = (jnp.asarray(x, jnp.float64) for x in (t, y, u, params))
        return self._member(f, dt, y.shape[0])(t, y, u, params, h)

    def _member(self, f: VectorField, dt: float, n_err: int):
        """One member's integration over ``[t, t + dt]``, ``(t, y, u, params, h) -> (y, ok,
        h)``, error-controlled on the first ``n_err`` components of ``y``. Under ``vmap`` the
        members run together in structure-of-arrays layout; its forward-mode derivative is
        the same steps taken on the variational system."""

        def solo(t, y, u, params, h):
            ys, ok, hs = self._batch(f, dt, n_err, t[None], y[:, None], u[:, None],
                                     params[:, None], h[None])  # fmt: skip
            return ys[:, 0], ok[0], hs[0]

        batchable = jax.custom_batching.custom_vmap(solo)

        @batchable.def_vmap
        def batched(size, in_batched, t, y, u, params, h):
            args = [
                x if b else jnp.broadcast_to(x, (size, *jnp.shape(x)))
                for x, b in zip((t, y, u, params, h), in_batched, strict=True)
            ]
            t, y, u, params, h = (jnp.moveaxis(x, 0, -1) for x in args)  # members last
            ys, ok, hs = self._batch(f, dt, n_err, t, y, u, params, h)
            return (jnp.moveaxis(ys, -1, 0), ok, hs), (True, True, True)

        member = jax.custom_jvp(batchable)

        @member.defjvp
        def tangents(primals, dots):
            # The state and its tangent integrated together, the step sizes chosen by the
            # state's error alone: the derivative of the steps the primal run takes.
            t, y, u, params, h = primals
            _, dy, du, dp, _ = dots
            n, m, q = y.shape[0], u.shape[0], params.shape[0]

            def variational(s, z, w, r):
                primal, tangent = (z[:n], w[:m], r[:q]), (z[n:], w[m:], r[q:])
                return jnp.concatenate(jax.jvp(lambda x, v, p: f(s, x, v, p), primal, tangent))

            cat = jnp.concatenate
            z, _, _ = self._member(variational, dt, n_err)(t, cat([y, dy]), cat([u, du]),
                                                             cat([params, dp]), h)  # fmt: skip
            # the primal run alone, so that its outputs do not depend on the tangents (as
            # jax.jacfwd requires)
            y1, ok, h1 = batchable(t, y, u, params, h)
            no_tangent = np.zeros(ok.shape, dtype=jax.dtypes.float0)
            return (y1, ok, h1), (z[n:], no_tangent, jnp.zeros_like(h1))

        return member

    # -- the batch --------------------------------------------------------------------------

    def _batch(self, f: VectorField, dt: float, n_err: int, t, y, u, params, h):
        """Integrate members on the last axis: ``t`` [B], ``y`` [n, B], ``u`` [m, B],
        ``params`` [q, B], ``h`` [B] (NaN: estimate; 0: failed before, stays idle) over
        ``[t, t + dt]``, the error measured on ``y[:n_err]``."""
        tab = self.method.tableau
        order = float(self.method.order(None))
        a_rows = [np.asarray(r, np.float64) for r in tab.a_lower]
        c = np.asarray(tab.c, np.float64)
        e = np.asarray(tab.b_error, np.float64)
        rhs = jax.vmap(f, in_axes=(0, -1, -1, -1), out_axes=-1)
        t_end = t + dt
        k1 = rhs(t, y, u, params)
        alive = jnp.all(jnp.isfinite(y), axis=0) & jnp.all(jnp.isfinite(k1), axis=0) & (h != 0)

        def scaled_rms(x, scale):
            return jnp.sqrt(jnp.mean((x[:n_err] / scale[:n_err]) ** 2, axis=0))

        def estimate(h):  # Hairer, Norsett & Wanner, section II.4
            scale = self.atol + self.rtol * jnp.abs(y)
            d0, d1 = scaled_rms(y, scale), scaled_rms(k1, scale)
            g0 = jnp.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6 * dt, 0.01 * d0 / d1)
            g0 = jnp.minimum(g0, dt)
            k2 = rhs(t + g0, y + g0 * k1, u, params)
            d2 = scaled_rms(k2 - k1, scale) / g0
            big = jnp.maximum(d1, d2)
            g1 = jnp.where(big <= 1e-15, jnp.maximum(1e-6 * dt, g0 * 1e-3),
                           (0.01 / big) ** (1.0 / order))  # fmt: skip
            return jnp.where(jnp.isnan(h), jnp.minimum(100 * g0, g1), h)

        h = jax.lax.cond(jnp.any(jnp.isnan(h)), estimate, lambda h: h, h)
        h = jax.lax.stop_gradient(jnp.where(alive, h, dt))

        def combine(base, hh, coeffs, ks):
            terms = [float(a) * k for a, k in zip(coeffs, ks, strict=False) if a != 0.0]
            return base + hh * sum(terms[1:], terms[0])

        def body(state):
            t, y, h, k1, steps, active, ok = state
            left = t_end - t
            last = h >= left
            hh = jnp.where(last, left, h)
            ks, y1 = [k1], y
            for i, row in enumerate(a_rows):
                y1 = combine(y, hh, row, ks)  # the last stage's is the solution (FSAL)
                ks.append(rhs(t + c[i] * hh, y1, u, params))
            err = hh * sum((float(w) * k for w, k in zip(e, ks, strict=True) if w != 0.0))
            r = scaled_rms(err, self.atol + self.rtol * jnp.maximum(jnp.abs(y), jnp.abs(y1)))
            finite = jnp.isfinite(r) & jnp.all(jnp.isfinite(ks[-1]), axis=0)
            accept = active & finite & (r <= 1.0)
            factor = jnp.clip(SAFETY * r ** (-1.0 / order), FACTOR_MIN,
                              jnp.where(r <= 1.0, FACTOR_MAX, SAFETY))  # fmt: skip
            factor = jax.lax.stop_gradient(jnp.where(finite, factor, FACTOR_MIN))
            h_next = hh * factor
            # a step shortened to end the input step keeps the longer proposal it had
            h_next = jnp.where(accept & last, jnp.maximum(h_next, h), h_next)
            t_new = jnp.where(accept, jnp.where(last, t_end, t + hh), t)
            steps = steps + active
            stuck = active & ~accept & (t + h_next == t)
            failed = stuck | (active & (steps >= self.max_steps) & ~(accept & last))
            return (
                t_new,
                jnp.where(accept, y1, y),
                jnp.where(active, h_next, h),
                jnp.where(accept, ks[-1], k1),
                steps,
                active & ~(accept & last) & ~failed,
                ok & ~failed,
            )

        zeros = jnp.zeros(t.shape, jnp.int32)
        state = (t, y, h, k1, zeros, alive, alive)
        state = jax.lax.while_loop(lambda s: jnp.any(s[5]), body, state)
        ok = state[6]
        return state[1], ok, jnp.where(ok, state[2], 0.0)  # a failed member stays idle
