"""How an ODE model is advanced over one input step (inputs constant within it).

* :class:`RK4` -- classic fourth-order Runge-Kutta with ``substeps`` equal steps per input step,
  and ``dose_substeps`` in the steps where a dose is being given and ``dose_window`` steps after
  (meals and boluses make the dynamics change fastest there: the UVA/Padova gastric emptying
  rate switches within the first minute of a meal). Which steps are refined is decided on the
  host from each member's own regimen, so a member's numbers do not depend on its batch; the
  extra substeps are run for the batch only where some member needs them (a loop whose trip
  count is the member's own, or a branch on an unbatched flag for members on the last axis).
  The substeps are a loop over one RK4 step, never copies of it: a compiled program holds the
  vector field once per stage, which halves the compile time of a first call.
  Fast, fixed cost, the default; verified against :class:`Adaptive` at tight tolerance.
* :class:`Adaptive` -- diffrax ``Dopri5`` (or any diffrax solver) with a PID step-size
  controller, restarted at every input step so discontinuities in the inputs are exact. The
  reference integrator.
* :class:`~medtwin.simulate.AdaptiveRK` (``_erk.py``) -- an embedded explicit Runge-Kutta
  pair (Dormand-Prince 8(7) by default) laid out for large batches, its step size carried from
  one input step to the next: the fast way to tight tolerances over many members.

Both return ``(y_next, ok)``; ``ok`` is False where the step failed (the member's status).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

__all__ = ["RK4", "Adaptive", "Solver"]

VectorField = Callable[[Any, Array, Array, Array], Array]


class Solver:
    """Base class of ODE solvers used by :func:`medtwin.simulate.simulate`."""

    def interval(
        self,
        f: VectorField,
        t: Array,
        y: Array,
        u: Array,
        params: Array,
        dt: float,
        refine: Bool[Array, ""] | bool = False,
        refine_any: Bool[Array, ""] | bool = False,
    ) -> tuple[Float[Array, " n"], Bool[Array, ""]]:
        """Advance ``y`` over one input step. ``refine`` marks a step near a dose of this member,
        ``refine_any`` (never batched) one near a dose of any member of the batch."""
        raise NotImplementedError

    def members_per_call(self) -> int | None:
        """At most this many members per compiled call on the CPU (a batch is split into
        chunks run one after another on each core's thread); None: one call per core."""
        return None

    def initial_carry(self) -> Any:
        """What this solver hands from one input step to the next for one member (an
        adaptive solver's proposed step size); ``()`` for none."""
        return ()

    def interval_carried(
        self,
        f: VectorField,
        t: Array,
        y: Array,
        u: Array,
        params: Array,
        dt: float,
        refine: Bool[Array, ""] | bool = False,
        refine_any: Bool[Array, ""] | bool = False,
        carry: Any = None,
    ) -> tuple[Float[Array, " n"], Bool[Array, ""], Any]:
        """:meth:`interval` continuing from the ``carry`` of the previous input step
        (:meth:`initial_carry` at the first); returns ``(y_next, ok, carry)``. The kernels of
        :func:`~medtwin.simulate.simulate` call this one; a solver with nothing to carry
        need not override it."""
        y, ok = self.interval(f, t, y, u, params, dt, refine, refine_any)
        return y, ok, carry

    def interval_members_last(
        self,
        f: VectorField,
        t: Array,
        y: Float[Array, "n members"],
        u: Float[Array, "m members"],
        params: Float[Array, "q members"],
        dt: float,
        refine: Bool[Array, " members"] | Bool[Array, ""] | bool = False,
        refine_any: Bool[Array, ""] | bool = False,
        carry: Any = None,
    ) -> tuple[Float[Array, "n members"], Bool[Array, " members"], Any]:
        """:meth:`interval_carried` of many members at once, the members on the last axis of
        ``y``, ``u``, ``params`` (and of ``refine`` when it is per member; ``carry`` leaves
        have them first): the step :func:`~medtwin.simulate.simulate`'s kernel takes. By
        default the per-member step vmapped, so each member gets the numbers it gets alone; a
        solver may override it with a layout of its own that gives the same numbers."""
        r_axis = 0 if jnp.ndim(refine) == 1 else None

        def one(y, u, p, r, c):
            return self.interval_carried(f, t, y, u, p, dt, r, refine_any, c)

        return jax.vmap(one, in_axes=(-1, -1, -1, r_axis, 0), out_axes=(-1, 0, 0))(
            y, u, params, refine, carry
        )

    def refine_mask(self, dosing: np.ndarray) -> np.ndarray | None:
        """Which steps to refine, from ``dosing[..., k]`` (a dose is given in step k, per member
        or shared); None: none."""
        return None

    def refine_mask_traced(self, dosing: Array) -> Array | None:
        """:meth:`refine_mask` inside a traced computation (``dosing`` a JAX array [..., n]);
        None when this solver never refines."""
        return None


@dataclass(frozen=True)
class RK4(Solver):
    """Classic RK4: ``substeps`` steps per input step, ``dose_substeps`` while a dose is given
    and for ``dose_window`` input steps after it.

    Forward-mode derivatives (``jax.jvp``, ``jax.jacfwd``: the identifiability analysis) go
    through it; reverse mode does not go through :meth:`interval`, whose substep loop runs the
    member's own number of steps (a ``while_loop``): use :class:`Adaptive` for ``jax.grad``."""

    substeps: int = 1
    dose_substeps: int = 4
    dose_window: int = 5

    def __post_init__(self) -> None:
        for name in ("substeps", "dose_substeps"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"RK4.{name} must be an integer >= 1. Got {value!r}.")
        if self.dose_substeps < self.substeps:
            raise ValueError(
                f"RK4.dose_substeps must be >= substeps. Got dose_substeps="
                f"{self.dose_substeps}, substeps={self.substeps}."
            )
        if not (isinstance(self.dose_window, int) and self.dose_window >= 0):
            raise ValueError(f"RK4.dose_window must be an integer >= 0. Got {self.dose_window!r}.")

    def refine_mask(self, dosing: np.ndarray) -> np.ndarray | None:
        if self.dose_substeps == self.substeps or not dosing.any():
            return None
        # step k is refined if a dose is given in any of steps k - dose_window .. k
        count = np.cumsum(dosing, axis=-1)
        lagged = np.zeros_like(count)
        lagged[..., self.dose_window + 1 :] = count[..., : -self.dose_window - 1]
        return (count - lagged) > 0

    def refine_mask_traced(self, dosing: Array) -> Array | None:
        if self.dose_substeps == self.substeps:
            return None
        count = jnp.cumsum(dosing.astype(jnp.int32), axis=-1)
        w = self.dose_window + 1
        pad = jnp.zeros((*count.shape[:-1], w), count.dtype)
        lagged = jnp.concatenate([pad, count[..., :-w]], axis=-1)[..., : count.shape[-1]]
        return (count - lagged) > 0

    def interval(self, f, t, y, u, params, dt, refine=False, refine_any=False):
        if self.dose_substeps == self.substeps:
            y = _rk4_steps(f, t, y, u, params, dt, self.substeps)
            return y, jnp.all(jnp.isfinite(y))
        # One loop for the coarse and the refined substeps, so the compiled program holds the
        # step once. Each member takes its own number of substeps, so its numbers do not
        # depend on which other members share the batch (a vmapped loop runs as long as its
        # longest member, the others keep their state).
        n = jnp.where(jnp.logical_and(refine_any, refine), self.dose_substeps, self.substeps)
        y = _rk4_steps(f, t, y, u, params, dt, n)
        return y, jnp.all(jnp.isfinite(y))

    def interval_members_last(self, f, t, y, u, params, dt, refine=False, refine_any=False,
                              carry=None):  # fmt: skip
        """The substeps of :meth:`interval` on every member at once, the vector field seeing
        each state as a vector over the members. A shared ``refine`` (a scalar: the loop's
        model-predictive control) refines all members or none. A per-member one ([members]:
        :func:`~medtwin.simulate.simulate`'s kernel) refines only the members near a dose:
        every member takes the coarse step, then the refined ones (gathered ``BLOCK`` at a
        time, the block loop as long as this step needs) take the ``dose_substeps`` fine
        steps, which replace theirs, so the cost near doses grows with the members dosing,
        not the batch. A member's numbers are those of :meth:`interval` (the same substeps
        with the same step sizes) and do not depend on its batch."""
        fb = jax.vmap(f, in_axes=(None, -1, -1, -1), out_axes=-1)
        if self.dose_substeps == self.substeps or jnp.ndim(refine) == 0:
            y, _ = self.interval(fb, t, y, u, params, dt, refine, refine_any)
            return y, jnp.all(jnp.isfinite(y), axis=0), carry
        size = y.shape[-1]

        def refine_blocks(out):
            blocks = -(-size // BLOCK)
            # the refined members first, the rest of each block pointing past the end
            idx = jnp.nonzero(refine, size=blocks * BLOCK, fill_value=size)[0]

            def block(i, out):
                sel = jax.lax.dynamic_slice(idx, (i * BLOCK,), (BLOCK,))
                g = jnp.minimum(sel, size - 1)
                fine = _rk4_steps(fb, t, y[:, g], u[:, g], params[:, g], dt, self.dose_substeps)
                return out.at[:, sel].set(fine, mode="drop")

            n_blocks = (jnp.sum(refine) + BLOCK - 1) // BLOCK
            return jax.lax.fori_loop(0, n_blocks, block, out)

        # every member's coarse step is the same computation whether or not others refine,
        # so a member's numbers do not depend on its batch
        coarse = _rk4_steps(fb, t, y, u, params, dt, self.substeps)
        out = jax.lax.cond(refine_any, refine_blocks, lambda out: out, coarse)
        return out, jnp.all(jnp.isfinite(out), axis=0), carry


BLOCK = 64  # members refined together near doses (RK4.interval_members_last)


def _rk4_steps(f: VectorField, t: Array, y: Array, u: Array, params: Array, dt: float,
               n: int | Array) -> Array:  # fmt: skip
    """``n`` equal RK4 steps over ``dt`` from ``t``: a loop, not ``n`` copies of the step,
    so the compiled program holds the vector field once per stage whatever ``n``: half the
    compile time of a first call (4.8 -> 2.3 s for a day of UVA/Padova), with the numbers of
    the copies to round-off (XLA compiles a loop's body apart: 1e-13 mg/dL here). ``n`` may
    be traced (each member's own count, :meth:`RK4.interval`): the loop is then a
    ``while_loop``; a static ``n == 1`` is the plain step."""
    h = dt / n
    if isinstance(n, int) and n == 1:
        return _rk4_step(f, t, y, u, params, h)
    return jax.lax.fori_loop(0, n, lambda j, y: _rk4_step(f, t + j * h, y, u, params, h), y)


def _rk4_step(f: VectorField, s: Array, y: Array, u: Array, params: Array,
              h: float | Array) -> Array:  # fmt: skip
    k1 = f(s, y, u, params)
    k2 = f(s + h / 2, y + (h / 2) * k1, u, params)
    k3 = f(s + h / 2, y + (h / 2) * k2, u, params)
    k4 = f(s + h, y + h * k3, u, params)
    return y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


@dataclass(frozen=True)
class Adaptive(Solver):
    """diffrax adaptive integration within each input step (reference accuracy)."""

    rtol: float = 1e-8
    atol: float = 1e-8
    max_steps: int = 4096
    solver: Any = field(default_factory=diffrax.Dopri5)

    def interval(self, f, t, y, u, params, dt, refine=False, refine_any=False):
        term = diffrax.ODETerm(lambda s, x, args: f(s, x, args[0], args[1]))
        sol = diffrax.diffeqsolve(
            term,
            self.solver,
            t0=t,
            t1=t + dt,
            dt0=None,
            y0=y,
            args=(u, params),
            saveat=diffrax.SaveAt(t1=True),
            stepsize_controller=diffrax.PIDController(rtol=self.rtol, atol=self.atol),
            max_steps=self.max_steps,
            throw=False,
        )
        ok = (sol.result == diffrax.RESULTS.successful) & jnp.all(jnp.isfinite(sol.ys[-1]))
        return sol.ys[-1], ok
