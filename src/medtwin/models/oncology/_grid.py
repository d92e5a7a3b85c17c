"""Finite-volume pieces of the glioma model: grids, the diffusion operator, partial volumes.

Cell-centred finite volumes on a uniform grid of spacing ``h`` (mm):

* **radial** (1D, symmetry dimension ``m`` = 3 for a sphere, 2 for a disk): cell ``i`` spans
  ``[i h, (i+1) h]``; its volume is ``(r_{i+1}^m - r_i^m) / m`` and face ``i`` has area
  ``r_i^(m-1)`` (both up to the constant 4 pi or 2 pi, which cancels). The face at ``r = 0`` has
  zero area and the outer face is closed, so the scheme conserves ``sum(vol * c)`` exactly.
* **Cartesian** (2D, 3D): cell volume ``h^d``; face coefficients between neighbours are the
  harmonic mean of the two cells' diffusivities, and zero where either cell lies outside the
  brain mask (no flux across the mask's boundary, nor across the box's faces).

The flux form telescopes, so with ``rho = 0`` the total mass changes only by round-off.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

__all__ = [
    "cartesian_faces",
    "cartesian_operator",
    "centres",
    "equivalent_radius",
    "gradient_l1",
    "max_diagonal",
    "partial_volume",
    "radial_faces",
    "radial_geometry",
    "radial_operator",
]


def radial_geometry(n: int, h: float, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell volumes ``(n,)`` and face areas ``(n + 1,)`` of a radial grid (constants dropped)."""
    rf = h * np.arange(n + 1, dtype=np.float64)
    vol = (rf[1:] ** m - rf[:-1] ** m) / m
    return vol, rf ** (m - 1)


def centres(shape: tuple[int, ...], h: float) -> list[np.ndarray]:
    """Cell-centre coordinates along each axis, ``(i + 0.5) h``."""
    return [(np.arange(n) + 0.5) * h for n in shape]


def max_diagonal(dim: int, shape: tuple[int, ...], h: float, m: int) -> float:
    """The largest diagonal entry of the discrete Laplacian for unit diffusivity (1/mm^2): the
    explicit step is monotone (and keeps 0 <= c <= K) when ``dt (D_max * this + rho) <= 1``."""
    if dim == 1:
        vol, area = radial_geometry(shape[0], h, m)
        closed = area.copy()
        closed[-1] = 0.0
        return float(np.max((closed[:-1] + closed[1:]) / (h * vol)))
    return 2.0 * dim / h**2


def _harmonic(a: Array, b: Array) -> Array:
    return jnp.where(a + b > 0, 2.0 * a * b / jnp.where(a + b > 0, a + b, 1.0), 0.0)


def radial_faces(Dcell: Float[Array, " n"], vol: Array, area: Array, h: float) -> Array:
    """Interior face coefficients ``area * D_face / h`` ``(n - 1,)``."""
    return area[1:-1] * _harmonic(Dcell[:-1], Dcell[1:]) / h


def radial_operator(c: Float[Array, " n"], faces: Array, inv_vol: Array) -> Array:
    """``div(D grad c)`` on the radial grid with closed faces at both ends."""
    flux = faces * (c[1:] - c[:-1])
    zero = jnp.zeros((1,), dtype=c.dtype)
    return (jnp.concatenate([flux, zero]) - jnp.concatenate([zero, flux])) * inv_vol


def cartesian_faces(Dcell: Array, h: float) -> tuple[Array, ...]:
    """Face coefficients ``D_face / h^2`` of a Cartesian grid, one array per axis ``a``, of the
    grid's shape but ``n_a + 1`` long along ``a``: entry ``j`` belongs to the face between cells
    ``j - 1`` and ``j``. ``D_face`` is the harmonic mean of the two cells' ``D`` (zero where
    either is outside the mask); the box's own faces (``j = 0`` and ``j = n_a``) are zero."""
    out = []
    for a in range(Dcell.ndim):
        n = Dcell.shape[a]
        lo = jax.lax.slice_in_dim(Dcell, 0, n - 1, axis=a)
        hi = jax.lax.slice_in_dim(Dcell, 1, n, axis=a)
        pad = [(0, 0)] * Dcell.ndim
        pad[a] = (1, 1)
        out.append(jnp.pad(_harmonic(lo, hi) / h**2, pad))
    return tuple(out)


def cartesian_operator(c: Array, faces: tuple[Array, ...]) -> Array:
    """``div(D grad c)`` on a Cartesian grid: ``sum_a f_a[j+1] (c[j+1] - c[j]) + f_a[j]
    (c[j-1] - c[j])`` with the face arrays of :func:`cartesian_faces` (zero faces give no flux
    through the box and the mask). ``c`` is padded once by one zero cell and every neighbour
    is a plain slice of the padded array, so XLA fuses the stencil into one branch-free,
    vectorised loop (shifting with a per-axis pad puts a select on every element instead;
    recomputing the harmonic means in every substep costs divisions that dominate on a CPU)."""
    d = c.ndim
    cp = jnp.pad(c, 1)
    out = jnp.zeros_like(c)
    for a, f in enumerate(faces):
        n = c.shape[a]

        def nb(lo: int, a: int = a, n: int = n) -> Array:
            idx = [slice(1, -1)] * d
            idx[a] = slice(lo, lo + n)
            return cp[tuple(idx)]

        f_hi = jax.lax.slice_in_dim(f, 1, n + 1, axis=a)
        f_lo = jax.lax.slice_in_dim(f, 0, n, axis=a)
        out = out + f_hi * (nb(2) - c) + f_lo * (nb(0) - c)
    return out


def gradient_l1(c: Array) -> Array:
    """``sum_i |d_i c|`` per cell with centred differences (one-sided at the box's ends), in
    units of c per cell. Each difference is ``a c[j+1] + b c[j] + e c[j-1]`` on the zero-padded
    field with per-axis weights ((1/2, 0, -1/2) inside, (1, -1, 0) and (0, 1, -1) at the two
    ends; exact in floating point): plain slices and broadcasts, which XLA fuses into one loop
    (an edge-mode pad or a gather would be copied several times over)."""
    d = c.ndim
    cp = jnp.pad(c, 1)
    g = jnp.zeros_like(c)
    for ax in range(d):
        n = c.shape[ax]
        a, b, e = np.full(n, 0.5), np.zeros(n), np.full(n, -0.5)
        a[0], b[0], e[0] = 1.0, -1.0, 0.0
        a[-1], b[-1], e[-1] = 0.0, 1.0, -1.0
        shape = [-1 if i == ax else 1 for i in range(d)]

        def nb(lo: int, ax: int = ax, n: int = n) -> Array:
            idx = [slice(1, -1)] * d
            idx[ax] = slice(lo, lo + n)
            return cp[tuple(idx)]

        g = g + jnp.abs(a.reshape(shape) * nb(2) + b.reshape(shape) * c + e.reshape(shape) * nb(0))
    return g


def partial_volume(c: Array, thr: Array, h: float, grad: Array | None = None) -> Array:
    """Fraction of each cell above the level ``thr``, from a linear ramp across the cell:
    ``clip(1/2 + (c - thr) / (h * sum_i |d_i c|), 0, 1)`` with centred differences. For a planar
    level set this is the cell's share on the high side (the L1 norm of the gradient is the
    cell's extent along the normal); it makes the volume above a threshold a continuous function
    of the field, unlike a hard voxel count. ``grad``: :func:`gradient_l1` of ``c`` if already
    computed (several thresholds share it)."""
    g = gradient_l1(c) if grad is None else grad
    ramp = (c - thr) / jnp.maximum(g, 1e-12)
    return jnp.clip(0.5 + ramp, 0.0, 1.0)


def equivalent_radius(volume: Array, dim: int, m: int) -> Array:
    """Radius of the sphere (3D, radial m = 3) or disk (2D, radial m = 2) of this volume; for a
    radial grid ``volume`` is ``sum(vol * f)`` without the 4 pi (or 2 pi) factor."""
    if dim == 1:
        return (m * volume) ** (1.0 / m)
    if dim == 2:
        return jnp.sqrt(volume / math.pi)
    return jnp.cbrt(3.0 * volume / (4.0 * math.pi))
