"""Activation maps in milliseconds: an anisotropic eikonal solver on a voxel grid, in JAX.

The activation time ``T(x)`` of a front travelling at the conduction-velocity tensor ``V(x) =
c_l^2 f f^T + c_t^2 (I - f f^T)`` (fibre direction ``f``: in the x-y plane at angle ``theta``,
or a 3D unit vector per cell, the fibre fields of :mod:`._fibres` that the tissue takes;
mm/ms) from sources ``T = T_s`` solves the anisotropic eikonal equation
``sqrt(grad T^T V grad T) = 1``. Between two points the travel time along a straight segment
``e`` is ``sqrt(e^T V^-1 e)``, and in a homogeneous medium the solution from a point source is
exactly that: ``T(x) = sqrt((x - s)^T V^-1 (x - s))`` (the check in the tests).

**Scheme.** Every cell's time is updated from the triangles it forms with pairs of adjacent
neighbours of its 8-cell (2D) or 26-cell (3D) neighbourhood (:func:`_segments`): on the
segment between neighbours ``A`` and ``B`` the time is interpolated linearly, and the update
is ``min over lambda in [0, 1] of (1 - lambda) T_A + lambda T_B + |x - P(lambda)|_{V^-1}`` with
the cell's own ``V`` -- the local solver of the fast iterative method on simplices (Jeong &
Whitaker 2008, SIAM J Sci Comput 30:2512; Fu, Kirby & Whitaker 2013, SIAM J Sci Comput
35:C473), whose minimiser has a closed form (the root of a quadratic, then the two ends as
candidates). All cells update at once (Jacobi), ``T = min(T, update)``, sources held fixed,
cells outside ``mask`` never reached; the iteration count is static, and the result reports the
last iteration's largest change (``residual``: 0 at the fixed point). Error: O(h) near a point
source, where T is a cone that linear interpolation cannot follow, smaller elsewhere.

**Derivatives.** The iterations are a ``lax.scan`` of a fixed length, so reverse- and
forward-mode derivatives go through them. At the fixed point an update is ``(1 - lambda) T_A
+ lambda T_B + d(lambda)`` with ``lambda`` optimal, and its derivative (the envelope theorem:
``lambda`` moves the value only at second order) propagates back along the causal chain of
active updates; once the iteration count exceeds the longest chain (the residual is 0) the
derivative of the scan is that of the fixed point. Use :func:`solve_eikonal`'s ``iterations``
large enough that ``residual == 0``.
"""

from __future__ import annotations

import functools
import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from ...errors import ModelError
from . import _fibres

__all__ = ["Eikonal", "solve_eikonal"]

_FAR = 1e9  # ms: "not reached"; finite so that derivatives stay finite


class Eikonal(eqx.Module):
    """The result of :func:`solve_eikonal`: ``times`` (ms, ``_FAR`` = 1e9 where no path from a
    source reaches) and ``residual``, the largest change of the last iteration (0 at the fixed
    point)."""

    times: Float[Array, "*shape"]
    residual: Float[Array, ""]


def _segments(dim: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Pairs of neighbour offsets on the same ring (the border of the (2r+1)^dim box, ``r`` = 1,
    and in 2D also ``r`` = 2) that differ by one step along one axis: the far edges of the
    triangles a cell is updated from. The second ring in 2D halves the angle between stencil
    directions, which an anisotropic metric needs (without it the error of a 2:1 rotated
    metric stays near 5 % away from the source)."""
    pairs = []
    for r in (1, 2) if dim == 2 else (1,):
        ring = [o for o in itertools.product(range(-r, r + 1), repeat=dim) if max(map(abs, o)) == r]
        for i, a in enumerate(ring):
            for b in ring[i + 1 :]:
                if sum(abs(x - y) for x, y in zip(a, b, strict=True)) == 1:
                    pairs.append((a, b))
    return pairs


def _metric(c_l: Array, c_t: Array, fibres: Array, dim: int) -> list[list[Array]]:
    """``V^-1`` entries (ms^2/mm^2): ``f f^T / c_l^2 + (I - f f^T) / c_t^2`` (the tissue's
    tensor of :mod:`._fibres` with ``1 / c^2`` for ``D``)."""
    return _fibres.tensor(fibres, dim, 1.0 / c_l**2, 1.0 / c_t**2)


def _quad(G: list[list[Array]], x: tuple[float, ...], y: tuple[float, ...]) -> Array:
    out = jnp.zeros(())
    for a in range(len(x)):
        for b in range(len(y)):
            if x[a] * y[b]:
                out = out + G[a][b] * (x[a] * y[b])
    return out


def _safe_sqrt(q: Array) -> Array:
    pos = q > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, q, 1.0)), 0.0)


def _shift(T: Array, off: tuple[int, ...]) -> Array:
    """``T`` at cell ``x + off`` for every ``x`` (``_FAR`` beyond the box)."""
    return _shift_far(T, off, max(map(abs, off)))


def _faces(dim: int) -> list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """3D only: the far faces ``(s1 e_i, s1 e_i + s2 e_j, s1 e_i + s2 e_j + s3 e_k)`` of the 48
    tetrahedra of the Freudenthal (Kuhn) subdivision around a cell, over axis orders ``(i, j,
    k)`` and signs ``s``; their union covers every direction, which the triangles alone miss."""
    if dim != 3:
        return []
    out = []
    for order in itertools.permutations(range(3)):
        for signs in itertools.product((-1, 1), repeat=3):
            pts, cur = [], [0, 0, 0]
            for ax, sg in zip(order, signs, strict=True):
                cur[ax] += sg
                pts.append(tuple(cur))
            out.append((pts[0], pts[1], pts[2]))
    return out


def _segment(TA: Array, TB: Array, G, a_vec, d_vec) -> Array:
    """``min over lambda in [0, 1] of TA + lambda (TB - TA) + |a + lambda d|_G``."""
    c = _quad(G, a_vec, a_vec)
    bq = _quad(G, a_vec, d_vec)
    aq = _quad(G, d_vec, d_vec)
    delta = TB - TA
    # interior minimiser: (aq lam + bq)^2 = delta^2 q(lam), with opposite signs
    disc = aq * c - bq**2
    room = aq - delta**2
    ok = room > 0
    s = -delta * _safe_sqrt(jnp.where(ok, disc / jnp.where(ok, room, 1.0), 0.0))
    lam = jnp.clip((s - bq) / aq, 0.0, 1.0)
    mid = TA + lam * delta + _safe_sqrt(aq * lam**2 + 2 * bq * lam + c)
    ends = jnp.minimum(TA + _safe_sqrt(c), TB + _safe_sqrt(aq + 2 * bq + c))
    return jnp.where(ok, jnp.minimum(mid, ends), ends)


def _triangle(TA: Array, TB: Array, TC: Array, G, a_vec, e1, e2) -> Array:
    """The interior minimum over the triangle ``A + l1 e1 + l2 e2`` (``l >= 0``, ``l1 + l2 <=
    1``) of the linearly interpolated time plus ``|a + E l|_G``; ``_FAR`` where the minimiser
    is not interior (the edges are :func:`_segment`'s). With ``M = E^T G E``, ``b = E^T G a``,
    ``K = a^T G a - b^T M^-1 b`` and ``rho = delta^T M^-1 delta``, the stationary point has
    ``|a + E l|_G = sqrt(K / (1 - rho))`` and ``l = -M^-1 (b + s delta)``."""
    d1, d2 = TB - TA, TC - TA
    m11, m12, m22 = _quad(G, e1, e1), _quad(G, e1, e2), _quad(G, e2, e2)
    b1, b2 = _quad(G, e1, a_vec), _quad(G, e2, a_vec)
    c = _quad(G, a_vec, a_vec)
    det = m11 * m22 - m12**2
    i11, i12, i22 = m22 / det, -m12 / det, m11 / det
    K = c - (i11 * b1 * b1 + 2 * i12 * b1 * b2 + i22 * b2 * b2)
    rho = i11 * d1 * d1 + 2 * i12 * d1 * d2 + i22 * d2 * d2
    ok = rho < 1.0
    s = _safe_sqrt(jnp.where(ok, K / jnp.where(ok, 1.0 - rho, 1.0), 0.0))
    l1 = -(i11 * (b1 + s * d1) + i12 * (b2 + s * d2))
    l2 = -(i12 * (b1 + s * d1) + i22 * (b2 + s * d2))
    inside = ok & (l1 >= 0) & (l2 >= 0) & (l1 + l2 <= 1)
    return jnp.where(inside, TA + l1 * d1 + l2 * d2 + s, _FAR)


def _via(off: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The cells a straight step to ``off`` passes between: per axis the component halved,
    rounded down and up in magnitude (``(2, 1)``: ``(1, 0)`` and ``(1, 1)``)."""
    opts = [sorted({int(math.copysign(abs(o) // 2, o)), int(math.copysign(-(-abs(o) // 2), o))})
            for o in off]  # fmt: skip
    return [v for v in itertools.product(*opts) if any(v) and v != off]


def _open(live: Array, offs) -> dict[tuple[int, ...], Array]:
    """Per neighbour offset, where a cell may take its time from that neighbour: the neighbour
    conducts, and the step does not jump a non-conducting cell (a two-cell step needs every
    cell it passes between to conduct; a diagonal step at least one of its two)."""
    out = {}
    for off in offs:
        ok = _shift_far(live, off, max(map(abs, off)), fill=False)
        via = [_shift_far(live, v, 1, fill=False) for v in _via(off)]
        if via and max(map(abs, off)) == 2:
            ok = ok & functools.reduce(jnp.logical_and, via)
        elif via:
            ok = ok & functools.reduce(jnp.logical_or, via)
        out[off] = ok
    return out


def _update(T: Array, G: list[list[Array]], h: float, segs, faces, open_) -> Array:
    def at(off):
        return jnp.where(open_[off], _shift(T, off), _FAR)

    best = T
    for A, B in segs:
        a_vec = tuple(h * o for o in A)
        d_vec = tuple(h * (b - a) for a, b in zip(A, B, strict=True))
        best = jnp.minimum(best, _segment(at(A), at(B), G, a_vec, d_vec))
    for A, B, C in faces:
        TA, TB, TC = at(A), at(B), at(C)
        a_vec = tuple(h * o for o in A)
        e1 = tuple(h * (b - a) for a, b in zip(A, B, strict=True))
        e2 = tuple(h * (c - a) for a, c in zip(A, C, strict=True))
        best = jnp.minimum(best, _triangle(TA, TB, TC, G, a_vec, e1, e2))
        best = jnp.minimum(best, _segment(TA, TC, G, a_vec, e2))  # the edge not in segs
    return best


def _near_source(t_src: Array, s_mask: Array, G, h: float, dim: int, k: int) -> Array:
    """Times within ``k`` cells of a source: ``min over sources of T_s + |x - s|_G`` with the
    cell's metric, the exact solution of a homogeneous neighbourhood; removes the O(h) error of
    interpolating the cone at a point source."""
    T = jnp.where(s_mask, t_src, _FAR)
    best = T
    for off in itertools.product(range(-k, k + 1), repeat=dim):
        if not any(off):
            continue
        e = tuple(h * o for o in off)
        best = jnp.minimum(best, _shift_far(T, off, k) + _safe_sqrt(_quad(G, e, e)))
    return best


def _shift_far(T: Array, off: tuple[int, ...], k: int, fill: object = _FAR) -> Array:
    pad = jnp.pad(T, k, constant_values=fill)
    idx = tuple(slice(k + o, k + o + n) for o, n in zip(off, T.shape, strict=True))
    return pad[idx]


def solve_eikonal(
    sources: Bool[ArrayLike, "*shape"],
    spacing: float,
    c_l: Float[ArrayLike, "*shape"],
    c_t: Float[ArrayLike, "*shape"] | None = None,
    fibres: ArrayLike = 0.0,
    *,
    mask: Bool[ArrayLike, "*shape"] | None = None,
    source_times: Float[ArrayLike, "*shape"] = 0.0,
    iterations: int | None = None,
    near_source: int = 3,
) -> Eikonal:
    """Activation times (ms) on a 2D or 3D grid of ``spacing`` mm from the cells where
    ``sources`` is true (at ``source_times``), with conduction velocities ``c_l`` along and
    ``c_t`` across the fibres (mm/ms; ``c_t=None``: isotropic) and ``fibres``: angles (radians
    in the x-y plane) or unit vectors ``(dim, *shape)`` (checked in the mask, ignored outside
    it; the tissue's fibre fields, :mod:`._fibres`). ``mask``: the cells that conduct (default:
    all).
    ``iterations``: Jacobi sweeps (default ``3 * sum(shape)``, static); ``near_source``: the
    radius (cells) initialised with the homogeneous solution around each source (0: none; it
    assumes that neighbourhood conducts throughout, so use 0 for a source beside a wall).
    Differentiable in
    ``c_l``, ``c_t``, ``fibres`` and ``source_times``; see the module docstring."""
    src = np.asarray(sources, dtype=bool)
    dim = src.ndim
    if dim not in (2, 3):
        raise ModelError(
            f"solve_eikonal() needs a 2D or 3D grid. Got sources of shape {src.shape}."
        )
    if not (math.isfinite(spacing) and spacing > 0):
        raise ModelError(f"solve_eikonal() needs a spacing > 0 (mm). Got {spacing!r}.")
    live = np.ones(src.shape, bool) if mask is None else np.asarray(mask, dtype=bool)
    if live.shape != src.shape:
        raise ModelError(
            f"solve_eikonal() needs mask and sources of the same shape. Got {live.shape} and "
            f"{src.shape}."
        )
    if not (src & live).any():
        raise ModelError(
            "solve_eikonal() needs at least one source cell inside the mask. Got none: mark a "
            "source on conducting tissue."
        )
    shape = src.shape
    cl = jnp.broadcast_to(jnp.asarray(c_l, dtype=jnp.float64), shape)
    ct = cl if c_t is None else jnp.broadcast_to(jnp.asarray(c_t, dtype=jnp.float64), shape)
    th = jnp.asarray(_fibres.fibre_field(fibres, shape, live, "solve_eikonal()"), jnp.float64)
    n_it = 3 * sum(shape) if iterations is None else int(iterations)
    if n_it < 1:
        raise ModelError(f"solve_eikonal() needs iterations >= 1. Got {iterations!r}.")
    s_mask, l_mask = jnp.asarray(src & live), jnp.asarray(live)
    t_src = jnp.broadcast_to(jnp.asarray(source_times, dtype=jnp.float64), shape)
    return _solve(s_mask, l_mask, t_src, cl, ct, th, float(spacing), n_it, int(near_source))


@functools.partial(jax.jit, static_argnums=(6, 7, 8))
def _solve(s_mask, l_mask, t_src, cl, ct, th, spacing: float, n_it: int, near: int) -> Eikonal:
    dim = s_mask.ndim
    G = _metric(cl, ct, th, dim)
    segs, faces = _segments(dim), _faces(dim)
    T0 = jnp.where(l_mask, _near_source(t_src, s_mask, G, spacing, dim, near), _FAR)
    offs = {o for pair in segs for o in pair} | {o for tri in faces for o in tri}
    open_ = _open(l_mask, sorted(offs))

    def body(T, _):
        new = _update(T, G, spacing, segs, faces, open_)
        new = jnp.where(s_mask, t_src, jnp.where(l_mask, jnp.minimum(new, _FAR), _FAR))
        return new, jnp.max(jnp.abs(new - T))

    T, changes = jax.lax.scan(body, T0, None, length=n_it)
    return Eikonal(times=T, residual=changes[-1])
