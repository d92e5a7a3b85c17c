"""Mitchell-Schaeffer 2003: a two-current model of cardiac membrane on a monodomain tissue.

Time in ms, ``u`` the dimensionless potential (0 at rest, 1 at the peak), ``h`` the gate of the
inward current::

    du/dt = div(D grad u) + h u^2 (1 - u) / tau_in - u / tau_out
    dh/dt = (1 - h) / tau_open   if u < v_gate,    -h / tau_close   if u >= v_gate

with tau_in = 0.3, tau_out = 6, tau_open = 120, tau_close = 150 ms, v_gate = 0.13 (Mitchell &
Schaeffer 2003). In the border zone ``tau_close`` is multiplied by ``bz_apd`` (the APD is
roughly ``tau_close ln(tau_out / (4 tau_in))``, so it grows by that factor). ``u`` advances by
forward Euler and ``h`` exactly for the substep's ``u`` (Rush-Larsen: ``h`` relaxes
exponentially to 1 or 0) within the operator-split substep of :mod:`._tissue`.

**Front speed.** Ahead of a front the tissue is recovered (``h = 1``) and ``tau_close`` is long
against the upstroke, so ``h`` stays near 1 through the front. The reaction is then the cubic
``u^2 (1 - u) / tau_in - u / tau_out = (1 / tau_in) u (u - u_-)(u_+ - u)`` with
``u_+- = (1 +- sqrt(1 - 4 tau_in / tau_out)) / 2``. With ``u = u_+ s`` it is
``ds/dt = D s_xx + k s (s - alpha)(1 - s)``, ``k = u_+^2 / tau_in``, ``alpha = u_- / u_+``, whose
front moves at (McKean 1970)::

    c = sqrt(D k / 2) (1 - 2 alpha)        (mm/ms; 0.344 at the defaults, D = 0.1 mm^2/ms)

The approximation is ``h`` frozen at 1 through the front; :func:`front_speed` returns ``c``.

References
----------
Mitchell CC, Schaeffer DG. A two-current model for the dynamics of cardiac membrane. Bull Math
Biol 65(5):767-793, 2003.
McKean HP. Nagumo's equation. Adv Math 4:209-223, 1970.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array

from .._base import declared
from .._registry import register_model
from ._declarations import MITCHELL_SCHAEFFER
from ._tissue import MonodomainTissue

__all__ = ["MitchellSchaeffer", "front_speed"]


def front_speed(D: float, tau_in: float = 0.3, tau_out: float = 6.0) -> float:
    """The plane-front speed (mm/ms) of the cubic reaction with ``h`` frozen at 1 (see the
    module docstring)."""
    root = math.sqrt(1.0 - 4.0 * tau_in / tau_out)
    up, um = 0.5 * (1.0 + root), 0.5 * (1.0 - root)
    return math.sqrt(D * up**2 / tau_in / 2.0) * (1.0 - 2.0 * um / up)


@declared(MITCHELL_SCHAEFFER)
class MitchellSchaeffer(MonodomainTissue):
    """Mitchell-Schaeffer 2003 on a monodomain tissue. See the module docstring for the
    equations and :class:`~medtwin.models.cardiology.MonodomainTissue` for the grid, labels,
    fibres, stimulus and scheme. Default grid: a 32 x 32 sheet at 0.1 mm."""

    _default_grid: ClassVar[tuple[tuple[int, ...], float]] = ((32, 32), 0.1)
    # the tissue's states (two per cell, per instance), kept over the declaration's empty tuple
    states = MonodomainTissue.states
    _cell_states: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("u", "1", "dimensionless transmembrane potential of a cell"),
        ("h", "1", "recovery variable of a cell"),
    )

    def reaction(
        self, u: Array, ws: tuple[Array, ...], p, dt: float, border: Array
    ) -> tuple[Array, tuple[Array, ...]]:
        (w,) = ws
        du = w * u * u * (1.0 - u) / p.tau_in - u / p.tau_out
        closing = u >= p.v_gate
        tau = jnp.where(closing, p.tau_close * (1.0 + (p.bz_apd - 1.0) * border), p.tau_open)
        target = jnp.where(closing, 0.0, 1.0)
        return u + dt * du, (target + (w - target) * jnp.exp(-dt / tau),)

    def rest_state(self, params: Array) -> tuple[Array, ...]:
        return jnp.zeros(self.shape), jnp.ones(self.shape)

    def rate_bound(self) -> float:
        # |d/du (h u^2 (1 - u))| <= 1.5 on [0, 1.1], plus 1 / tau_out
        lo_in = self._spec("tau_in").bounds[0]
        lo_out = self._spec("tau_out").bounds[0]
        return 1.5 / lo_in + 1.0 / lo_out


register_model(MitchellSchaeffer)
