"""How an ODE model is advanced over one input step (inputs constant within it).

* :class:`RK4` -- classic fourth-order Runge-Kutta with ``substeps`` equal steps per input step.
  Fast, fixed cost, the default; verified against :class:`Adaptive` at tight tolerance.
* :class:`Adaptive` -- diffrax ``Dopri5`` (or any diffrax solver) with a PID step-size
  controller, restarted at every input step so discontinuities in the inputs are exact. The
  reference integrator.

Both return ``(y_next, ok)``; ``ok`` is False where the step failed (the member's status).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import diffrax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

__all__ = ["RK4", "Adaptive", "Solver"]

VectorField = Callable[[Any, Array, Array, Array], Array]


class Solver:
    """Base class of ODE solvers used by :func:`medtwin.simulate.simulate`."""

    def interval(
        self, f: VectorField, t: Array, y: Array, u: Array, params: Array, dt: float
    ) -> tuple[Float[Array, " n"], Bool[Array, ""]]:
        raise NotImplementedError


@dataclass(frozen=True)
class RK4(Solver):
    """Classic RK4 with ``substeps`` steps per input step."""

    substeps: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.substeps, int) and self.substeps >= 1):
            raise ValueError(f"RK4.substeps must be an integer >= 1. Got {self.substeps!r}.")

    def interval(self, f, t, y, u, params, dt):
        h = dt / self.substeps
        for j in range(self.substeps):
            s = t + j * h
            k1 = f(s, y, u, params)
            k2 = f(s + h / 2, y + (h / 2) * k1, u, params)
            k3 = f(s + h / 2, y + (h / 2) * k2, u, params)
            k4 = f(s + h, y + h * k3, u, params)
            y = y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        return y, jnp.all(jnp.isfinite(y))


@dataclass(frozen=True)
class Adaptive(Solver):
    """diffrax adaptive integration within each input step (reference accuracy)."""

    rtol: float = 1e-8
    atol: float = 1e-8
    max_steps: int = 4096
    solver: Any = field(default_factory=diffrax.Dopri5)

    def interval(self, f, t, y, u, params, dt):
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
