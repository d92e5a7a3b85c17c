"""Measurements on recorded potentials: local activation times, action-potential duration,
conduction velocity. Arrays in, arrays out (JAX); the time axis is the first axis of ``u``.

* **Local activation time** (LAT): the first time ``u`` crosses ``threshold`` upwards, linearly
  interpolated between the two samples around the crossing; NaN where it never does.
* **APD at a repolarisation level** (``level = 0.9`` is APD90): with ``u_rest`` the first sample
  and ``u_peak`` the largest after it, the threshold is ``u_rest + (1 - level) (u_peak -
  u_rest)``; the APD is the time from its upward to its next downward crossing, both
  interpolated. (Measured from a level crossing rather than from the steepest upstroke: on a
  dimensionless model the two differ by well under the sampling step.)
* **Conduction velocity**: locally ``1 / |grad LAT|`` (centred differences), or for a plane wave
  the inverse slope of the least-squares line of LAT against position.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "action_potential_duration",
    "activation_times",
    "local_conduction_velocity",
    "plane_wave_speed",
]


def _crossing(ts: Array, u: Array, thr: Array, up: bool, start: Array) -> Array:
    """Interpolated time of the first crossing of ``thr`` (upward or downward) at a sample
    index >= ``start`` (per trace), NaN if none. ``u``: ``(time, ...)``."""
    a, b = u[:-1], u[1:]
    hit = (a < thr) & (b >= thr) if up else (a >= thr) & (b < thr)
    k = jnp.arange(1, u.shape[0]).reshape((-1,) + (1,) * (u.ndim - 1))
    hit = hit & (k >= start)
    first = jnp.argmax(hit, axis=0)
    found = jnp.any(hit, axis=0)
    ua = jnp.take_along_axis(a, first[None], axis=0)[0]
    ub = jnp.take_along_axis(b, first[None], axis=0)[0]
    ta, tb = ts[first], ts[first + 1]
    frac = (thr - ua) / jnp.where(ub != ua, ub - ua, 1.0)
    return jnp.where(found, ta + frac * (tb - ta), jnp.nan)


def activation_times(
    ts: Float[ArrayLike, " time"],
    u: Float[ArrayLike, " time *cells"],
    threshold: float = 0.5,
    *,
    after: float = -jnp.inf,
) -> Float[Array, " *cells"]:
    """Local activation times (ms): the first upward crossing of ``threshold`` at or after
    ``after``, linearly interpolated; NaN where none."""
    ts, u = jnp.asarray(ts), jnp.asarray(u)
    start = jnp.searchsorted(ts, after)
    return _crossing(ts, u, jnp.asarray(threshold), True, start)


def action_potential_duration(
    ts: Float[ArrayLike, " time"],
    u: Float[ArrayLike, " time *cells"],
    level: float = 0.9,
    *,
    after: float = -jnp.inf,
) -> Float[Array, " *cells"]:
    """APD (ms) at repolarisation ``level`` (0.9: APD90) of the first action potential at or
    after ``after``: the time between the upward and the next downward crossing of ``u_rest +
    (1 - level) (u_peak - u_rest)``; NaN where the trace does not both rise and fall through it."""
    ts, u = jnp.asarray(ts), jnp.asarray(u)
    start = jnp.searchsorted(ts, after)
    rest = u[jnp.minimum(start, u.shape[0] - 1)]
    later = jnp.arange(u.shape[0]).reshape((-1,) + (1,) * (u.ndim - 1)) >= start
    peak = jnp.max(jnp.where(later, u, -jnp.inf), axis=0)
    thr = rest + (1.0 - level) * (peak - rest)
    t_up = _crossing(ts, u, thr, True, start)
    k_up = jnp.searchsorted(ts, jnp.nan_to_num(t_up, nan=jnp.inf))
    t_down = _crossing(ts, u, thr, False, k_up)
    return t_down - t_up


def local_conduction_velocity(
    lat: Float[ArrayLike, "*shape"], spacing: float
) -> Float[Array, "*shape"]:
    """``1 / |grad LAT|`` (mm/ms) with centred differences (one-sided at the ends); NaN where
    a LAT it needs is NaN."""
    lat = jnp.asarray(lat)
    grads = jnp.gradient(lat, spacing)
    grads = grads if isinstance(grads, list | tuple) else [grads]
    return 1.0 / jnp.sqrt(sum(g**2 for g in grads))


def plane_wave_speed(x: Float[ArrayLike, " n"], lat: Float[ArrayLike, " n"]) -> Array:
    """The speed (mm/ms) of a plane wave from LATs at positions ``x`` (mm) along its direction:
    the inverse slope of the least-squares line ``lat = t0 + x / c``."""
    x, lat = jnp.asarray(x), jnp.asarray(lat)
    xc, tc = x - jnp.mean(x), lat - jnp.mean(lat)
    return jnp.sum(xc * xc) / jnp.sum(xc * tc)
