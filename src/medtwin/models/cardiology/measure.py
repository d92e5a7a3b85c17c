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
* **Every crossing** of a level (:func:`crossing_times`, up to a stated number per trace) and
  from them the **cycle length** of a recording site: the median interval between successive
  activations (upward crossings) at or after a time.
* **S1-S2 restitution** (:func:`restitution`): with one level ``threshold`` for activation and
  repolarisation (0.1 on a dimensionless ``u``: about APD90), the beat an S2 stimulus evokes is
  the first upward crossing at or after the S2 time; its diastolic interval ``DI`` is that time
  minus the previous downward crossing, its APD the time to its own downward crossing, so that
  ``APD_prev + DI`` is the local coupling interval (Nolasco & Dahlen 1968, J Appl Physiol
  25:191). The conduction velocity of the S2 wave is :func:`plane_wave_speed` of its activation
  times along a line. A site must have seen its last S1 beat rise before the S2 time.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ...errors import ModelError

__all__ = [
    "Restitution",
    "action_potential_duration",
    "activation_times",
    "crossing_times",
    "cycle_length",
    "local_conduction_velocity",
    "plane_wave_speed",
    "restitution",
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


def crossing_times(
    ts: Float[ArrayLike, " time"],
    u: Float[ArrayLike, " time *cells"],
    threshold: float = 0.5,
    *,
    up: bool = True,
    max_count: int = 16,
) -> Float[Array, "*cells max_count"]:
    """Every upward (``up``) or downward crossing of ``threshold`` per trace, in order,
    linearly interpolated (ms): the first ``max_count``, NaN-padded."""
    if not (isinstance(max_count, int) and max_count >= 1):
        raise ModelError(f"crossing_times() needs max_count >= 1. Got {max_count!r}.")
    ts, u = jnp.asarray(ts), jnp.asarray(u)
    if ts.ndim != 1 or u.shape[:1] != ts.shape:
        raise ModelError(
            f"crossing_times() needs u with the time axis first, as long as ts "
            f"({ts.shape[0] if ts.ndim == 1 else ts.shape}). Got u of shape {u.shape}."
        )
    thr = jnp.asarray(threshold, dtype=u.dtype)

    def one(trace: Array) -> Array:
        a, b = trace[:-1], trace[1:]
        hit = (a < thr) & (b >= thr) if up else (a >= thr) & (b < thr)
        idx = jnp.nonzero(hit, size=max_count, fill_value=-1)[0]
        i = jnp.maximum(idx, 0)
        ua, ub = a[i], b[i]
        frac = (thr - ua) / jnp.where(ub != ua, ub - ua, 1.0)
        return jnp.where(idx >= 0, ts[i] + frac * (ts[i + 1] - ts[i]), jnp.nan)

    flat = u.reshape(u.shape[0], -1).T
    return jax.vmap(one)(flat).reshape(*u.shape[1:], max_count)


def cycle_length(
    ts: Float[ArrayLike, " time"],
    u: Float[ArrayLike, " time *cells"],
    threshold: float = 0.5,
    *,
    after: float = -jnp.inf,
    max_count: int = 64,
) -> Float[Array, " *cells"]:
    """The cycle length (ms) at each recording site: the median interval between successive
    activations (upward crossings of ``threshold``) at or after ``after``; NaN with fewer than
    two. ``max_count`` bounds the activations read per trace."""
    t = crossing_times(ts, u, threshold, up=True, max_count=max_count)
    t = jnp.where(t >= after, t, jnp.nan)
    return jnp.nanmedian(jnp.diff(t, axis=-1), axis=-1)


class Restitution(eqx.Module):
    """One S1-S2 measurement per recording site (ms; NaN where the S2 beat is missing, i.e. not
    captured, or not yet repolarised): ``activation`` the S2 beat's upward crossing, ``di`` the
    diastolic interval before it, ``apd`` its APD, ``previous_apd`` the APD of the beat before."""

    activation: Float[Array, " *cells"]
    di: Float[Array, " *cells"]
    apd: Float[Array, " *cells"]
    previous_apd: Float[Array, " *cells"]


def restitution(
    ts: Float[ArrayLike, " time"],
    u: Float[ArrayLike, " time *cells"],
    s2: float,
    *,
    threshold: float = 0.1,
    max_count: int = 32,
) -> Restitution:
    """Diastolic interval and APD of the beat an S2 stimulus at time ``s2`` evokes at each
    recording site, from one level ``threshold`` (see the module docstring). Run a batch of
    coupling intervals through ``simulate`` and ``jax.vmap`` this over it (``s2`` traced)."""
    ups = crossing_times(ts, u, threshold, up=True, max_count=max_count)
    downs = crossing_times(ts, u, threshold, up=False, max_count=max_count)
    is_s2 = ups >= s2
    k = jnp.argmax(is_s2, axis=-1)
    found = jnp.any(is_s2, axis=-1)
    t2 = jnp.where(found, jnp.take_along_axis(ups, k[..., None], -1)[..., 0], jnp.nan)
    t1 = jnp.where(k > 0, jnp.take_along_axis(ups, (k - 1)[..., None], -1)[..., 0], jnp.nan)
    inf = jnp.inf

    def first_after(t: Array) -> Array:  # the first downward crossing after t (per site)
        d = jnp.where(downs > t[..., None], downs, inf)
        m = jnp.min(d, axis=-1)
        return jnp.where(jnp.isfinite(m), m, jnp.nan)

    def last_before(t: Array) -> Array:
        d = jnp.where(downs < t[..., None], downs, -inf)
        m = jnp.max(d, axis=-1)
        return jnp.where(jnp.isfinite(m), m, jnp.nan)

    down2, down1 = first_after(t2), last_before(t2)
    return Restitution(
        activation=t2,
        di=t2 - down1,
        apd=down2 - t2,
        previous_apd=jnp.where(down1 > t1, down1 - t1, jnp.nan),
    )
