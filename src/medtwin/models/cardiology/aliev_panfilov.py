"""Aliev-Panfilov 1996: a two-variable model of ventricular excitation on a monodomain tissue.

In the model's dimensionless time ``t' = t / t_scale`` (``t_scale`` = 12.9 ms; the potential
``E = 100 u - 80`` mV)::

    du/dt' = div(D' grad u) - k u (u - a)(u - 1) - u v
    dv/dt' = eps(u, v) (-v - k u (u - a - 1)),   eps(u, v) = eps0 + mu1 v / (u + mu2)

with k = 8, a = 0.15, eps0 = 0.002, mu1 = 0.2, mu2 = 0.3 (Aliev & Panfilov 1996). Here time is
in ms, so the reaction is divided by ``t_scale`` and ``D`` is in mm^2/ms. In the border zone
``eps`` is divided by ``bz_apd``: the slow recovery runs that much slower, and the APD, which
the recovery sets, grows by about that factor. Both variables advance by forward Euler within
the operator-split substep of :mod:`._tissue`.

**Front speed** (what the verification tests check). Ahead of a front into resting tissue
``v = 0`` and ``eps0`` is small, so across the upstroke ``v`` stays near 0 (it grows by about
``eps0 k / 4`` per time unit) and the front is that of the bistable equation
``du/dt = D' u_xx + k u (u - a)(1 - u)``, whose travelling front (Nagumo type; McKean 1970,
Adv Math 4:209) is ``u = 1 / (1 + exp(z sqrt(k / (2 D'))))`` moving at
``c' = sqrt(D' k / 2) (1 - 2 a)``. Back in ms and mm (``D' = D t_scale``)::

    c = sqrt(D k / (2 t_scale)) (1 - 2 a)      (mm/ms; 0.551 at the defaults)

The approximation is ``v`` frozen at 0 through the front; :func:`front_speed` returns ``c``
along a fibre (use ``D D_ratio`` across).

References
----------
Aliev RR, Panfilov AV. A simple two-variable model of cardiac excitation. Chaos Solitons
Fractals 7(3):293-301, 1996.
McKean HP. Nagumo's equation. Adv Math 4:209-223, 1970.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array

from .._base import declared
from .._registry import register_model
from ._declarations import ALIEV_PANFILOV
from ._tissue import MonodomainTissue

__all__ = ["AlievPanfilov", "front_speed"]


def front_speed(D: float, k: float = 8.0, a: float = 0.15, t_scale: float = 12.9) -> float:
    """The plane-front speed (mm/ms) of the cubic reaction with ``v`` frozen at 0:
    ``sqrt(D k / (2 t_scale)) (1 - 2 a)`` (see the module docstring)."""
    return math.sqrt(D * k / (2.0 * t_scale)) * (1.0 - 2.0 * a)


@declared(ALIEV_PANFILOV)
class AlievPanfilov(MonodomainTissue):
    """Aliev-Panfilov 1996 on a monodomain tissue. See the module docstring for the equations
    and :class:`~medtwin.models.cardiology.MonodomainTissue` for the grid, labels, fibres,
    stimulus and scheme. Default grid: a 32 x 32 sheet at 0.25 mm."""

    _default_grid: ClassVar[tuple[tuple[int, ...], float]] = ((32, 32), 0.25)
    # the tissue's states (two per cell, per instance), kept over the declaration's empty tuple
    states = MonodomainTissue.states
    _cell_states: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("u", "1", "dimensionless transmembrane potential of a cell"),
        ("v", "1", "recovery variable of a cell"),
    )

    def reaction(
        self, u: Array, ws: tuple[Array, ...], p, dt: float, border: Array
    ) -> tuple[Array, tuple[Array, ...]]:
        (w,) = ws
        s = dt / p.t_scale
        eps = (p.eps0 + p.mu1 * w / (u + p.mu2)) / (1.0 + (p.bz_apd - 1.0) * border)
        du = -p.k * u * (u - p.a) * (u - 1.0) - u * w
        dw = eps * (-w - p.k * u * (u - p.a - 1.0))
        return u + s * du, (w + s * dw,)

    def rest_state(self, params: Array) -> tuple[Array, ...]:
        return jnp.zeros(self.shape), jnp.zeros(self.shape)

    def rate_bound(self) -> float:
        # |d/du| of the cubic on [0, 1] is at most k (1 + a)^2 / 3 + k a <= k, plus v <= ~3
        k_hi = self._spec("k").bounds[1]
        return (k_hi + 3.0) / self._spec("t_scale").bounds[0]


register_model(AlievPanfilov)
