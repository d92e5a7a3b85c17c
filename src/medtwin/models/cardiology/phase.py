"""Phase maps and phase singularities: where a rotating wave (a spiral in a sheet) pivots.

**Phase.** Each site's state is given an angle in ``(-pi, pi]`` that runs once around per
beat. Two ways, both common in the literature:

* :func:`state_phase`: the angle of the state around a point ``(u_c, w_c)`` inside the
  action potential's loop in the ``(u, w)`` plane (potential and recovery variable),
  ``atan2((w - w_c) / s_w, (u - u_c) / s_u)`` (Gray et al. 1998, Nature 392:75, with the
  delay-embedded ``V(t - tau)`` in place of the recovery variable; Bray & Wikswo 2002, IEEE
  Trans Biomed Eng 49:1086). The centre must lie inside every site's loop: state it.
* :func:`hilbert_phase`: the angle of the analytic signal of a trace minus its mean
  (Bray & Wikswo 2002), by the FFT along the time axis; valid away from the trace's two ends.

**Singularities.** Around a closed loop the phase changes by ``2 pi n``; ``n`` (the
topological charge) is 0 unless the loop encloses a phase singularity, the pivot of a spiral
(``+1`` counter-clockwise, ``-1`` clockwise; Iyer & Gray 2001, Ann Biomed Eng 29:47). On a 2D
grid (axes x, y) :func:`topological_charge` sums the wrapped phase differences, each in
``[-pi, pi)``, around every plaquette of four adjacent sites, counter-clockwise
``(i, j) -> (i+1, j) -> (i+1, j+1) -> (i, j+1)``; a plaquette with a site outside the mask is
0. :func:`singularities` lists the nonzero plaquettes' centres (mm) and charges.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ...errors import ModelError

__all__ = ["hilbert_phase", "singularities", "state_phase", "topological_charge"]


def state_phase(
    u: Float[ArrayLike, "*shape"],
    w: Float[ArrayLike, "*shape"],
    centre: tuple[float, float],
    scale: tuple[float, float] = (1.0, 1.0),
) -> Float[Array, "*shape"]:
    """The angle (radians) of ``((u - u_c) / s_u, (w - w_c) / s_w)``; ``centre = (u_c, w_c)``
    inside the action potential's loop in the ``(u, w)`` plane, ``scale = (s_u, s_w)`` its
    rough extent along each variable."""
    uc, wc = centre
    su, sw = scale
    if not (su > 0 and sw > 0):
        raise ModelError(f"state_phase() needs positive scales (s_u, s_w). Got {scale!r}.")
    u, w = jnp.asarray(u), jnp.asarray(w)
    return jnp.arctan2((w - wc) / sw, (u - uc) / su)


def hilbert_phase(u: Float[ArrayLike, " time *cells"]) -> Float[Array, " time *cells"]:
    """The angle (radians) of the analytic signal of each trace minus its mean along the first
    (time) axis: ``x + i H[x]`` with the Hilbert transform by the FFT."""
    u = jnp.asarray(u)
    n = u.shape[0]
    if n < 4:
        raise ModelError(f"hilbert_phase() needs at least 4 time samples. Got {n}.")
    x = u - jnp.mean(u, axis=0)
    spec = jnp.fft.fft(x, axis=0)
    h = np.zeros(n)
    h[0] = 1.0
    if n % 2 == 0:
        h[n // 2] = 1.0
        h[1 : n // 2] = 2.0
    else:
        h[1 : (n + 1) // 2] = 2.0
    analytic = jnp.fft.ifft(spec * jnp.asarray(h).reshape((n,) + (1,) * (u.ndim - 1)), axis=0)
    return jnp.angle(analytic)


def _wrap(d: Array) -> Array:
    return (d + math.pi) % (2.0 * math.pi) - math.pi


def topological_charge(
    phase: Float[ArrayLike, "*batch nx ny"], mask: ArrayLike | None = None
) -> Int[Array, "*batch nx-1 ny-1"]:
    """The winding number of the phase around each plaquette of the last two (x, y) axes: the
    sum of the wrapped differences counter-clockwise, over ``2 pi``, rounded; 0 where a corner
    is outside ``mask`` (an ``(nx, ny)`` boolean array; default all sites)."""
    p = jnp.asarray(phase)
    if p.ndim < 2 or min(p.shape[-2:]) < 2:
        raise ModelError(
            f"topological_charge() needs a phase map with two spatial axes of at least 2 sites "
            f"(last two axes). Got shape {p.shape}."
        )
    a, b = p[..., :-1, :-1], p[..., 1:, :-1]
    c, d = p[..., 1:, 1:], p[..., :-1, 1:]
    total = _wrap(b - a) + _wrap(c - b) + _wrap(d - c) + _wrap(a - d)
    n = jnp.round(total / (2.0 * math.pi)).astype(jnp.int32)
    if mask is None:
        return n
    m = np.asarray(mask, dtype=bool)
    if m.shape != p.shape[-2:]:
        raise ModelError(
            f"topological_charge() needs a mask of the phase map's spatial shape "
            f"{p.shape[-2:]}. Got {m.shape}."
        )
    ok = m[:-1, :-1] & m[1:, :-1] & m[1:, 1:] & m[:-1, 1:]
    return jnp.where(jnp.asarray(ok), n, 0)


def singularities(
    charge: Int[ArrayLike, "nx-1 ny-1"], spacing: float, origin: tuple[float, float] = (0.0, 0.0)
) -> tuple[np.ndarray, np.ndarray]:
    """The phase singularities of one charge map (:func:`topological_charge`): their
    positions ``(n, 2)`` in mm, the centres of the plaquettes, for sites at ``origin + index *
    spacing`` (a tissue's cell centres: ``origin = (spacing / 2, spacing / 2)``), and their
    charges ``(n,)``."""
    q = np.asarray(charge)
    if q.ndim != 2:
        raise ModelError(f"singularities() needs one 2D charge map. Got shape {q.shape}.")
    idx = np.argwhere(q != 0)
    pos = (idx + 0.5) * float(spacing) + np.asarray(origin, dtype=np.float64)
    return pos, q[q != 0].astype(np.int64)
