"""Fibre fields and the tensor they give: one place for the tissue's conduction tensor
(:mod:`._tissue`, which the pseudo-ECG of :mod:`.ecg` reads) and the eikonal solver's metric
(:mod:`.eikonal`).

A fibre field is one of

* **angles** (radians from the x axis, a number or an array broadcasting to the grid's
  ``shape``): the fibre ``f = (cos theta, sin theta, 0)`` lies in the x-y plane (on a 1D cable
  the angle is ignored);
* **vectors**: an array of shape ``(dim, *shape)`` (``dim`` the grid's dimension; size-1 grid
  axes broadcast), ``f[:, cell]`` the cell's unit fibre vector, which may leave the x-y plane
  (the LV shell's helix fibres, :func:`medtwin.models.cardiology.lv_shell`). Only the cells
  that conduct are read: there the vectors must be finite and of unit length (within
  ``UNIT_TOL``); elsewhere they are ignored and stored as zero.

The angle or vector array tells the two apart (an angle array has at most ``dim`` axes). With
``f`` a cell's fibre, :func:`tensor` gives ``A_t I + (A_l - A_t) f f^T``, every entry including
the x-z and y-z cross terms: the conduction tensor for ``(A_l, A_t) = (D_l, D_t)``, the
eikonal metric ``V^-1`` for ``(1 / c_l^2, 1 / c_t^2)``. For angles the entries are computed
exactly as before vectors were accepted (the z entries are ``0 * theta``), so angle inputs give
the same numbers bit for bit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ...errors import ModelError

__all__ = ["UNIT_TOL", "fibre_field", "has_cross", "is_vectors", "tensor"]

UNIT_TOL = 1e-6  # largest | |f| - 1 | accepted in a conducting cell


def is_vectors(fibres: np.ndarray | Array, dim: int) -> bool:
    """True when ``fibres`` is a vector field ``(dim, *shape)``, False for angles."""
    return jnp.ndim(fibres) == dim + 1


def fibre_field(
    fibres: ArrayLike, shape: tuple[int, ...], live: np.ndarray, who: str
) -> np.ndarray | Array:
    """The validated fibre field of a grid of ``shape`` whose conducting cells are ``live``:
    angles broadcast to ``shape`` (finite everywhere), or vectors broadcast to ``(dim,
    *shape)``, checked to be finite unit vectors in the live cells and zero elsewhere. A traced
    (differentiated) vector field is masked but not checked. ``who`` names the caller in the
    error messages."""
    dim = len(shape)
    if isinstance(fibres, jax.core.Tracer):
        if not is_vectors(fibres, dim):
            return jnp.broadcast_to(fibres, shape)
        traced = jnp.broadcast_to(fibres, (dim, *shape))
        return jnp.where(jnp.asarray(live)[None], traced, 0.0)
    arr = np.asarray(fibres, dtype=np.float64)
    if arr.ndim <= dim:
        try:
            theta = np.broadcast_to(arr, shape)
        except ValueError:
            raise ModelError(
                f"{who} fibres must be angles (radians) broadcasting to the grid's shape "
                f"{shape}, or unit vectors of shape {(dim, *shape)}. Got shape {arr.shape}."
            ) from None
        if not np.isfinite(theta).all():
            raise ModelError(f"{who} fibre angles must be finite (radians).")
        return theta
    if arr.ndim != dim + 1 or arr.shape[0] != dim:
        raise ModelError(
            f"{who} fibre vectors must have shape (dim, *shape) = {(dim, *shape)}: one "
            f"{dim}-component unit vector per cell. Got shape {arr.shape}; pass angles "
            f"(radians, broadcasting to {shape}) for fibres in the x-y plane."
        )
    try:
        f = np.broadcast_to(arr, (dim, *shape))
    except ValueError:
        raise ModelError(
            f"{who} fibre vectors must have shape {(dim, *shape)} (the grid's shape after the "
            f"component axis). Got shape {arr.shape}."
        ) from None
    live = np.broadcast_to(np.asarray(live, dtype=bool), shape)
    with np.errstate(invalid="ignore"):
        norm = np.sqrt(np.sum(f**2, axis=0))
    bad = live & ~(np.abs(norm - 1.0) <= UNIT_TOL)  # NaN norms are bad too
    if bad.any():
        cell = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ModelError(
            f"{who} fibre vectors must be finite unit vectors (|f| = 1 within {UNIT_TOL:g}) "
            f"in every conducting cell. Got |f| = {norm[cell]:.6g} at cell {cell} "
            f"({int(bad.sum())} such cells); normalise them (f / np.linalg.norm(f, axis=0)) "
            "or mark the cells as not conducting."
        )
    return np.where(live[None], f, 0.0)


def tensor(fibres: np.ndarray | Array, dim: int, a_l, a_t, xp=jnp) -> list[list]:
    """Entries ``T[a][b]`` (arrays of the grid's shape) of ``a_t I + (a_l - a_t) f f^T`` for a
    fibre field (angles or vectors, see the module docstring); ``[[a_l]]`` on a 1D cable."""
    vec = is_vectors(fibres, dim)
    if dim == 1:
        return [[a_l + 0.0 * (fibres[0] if vec else fibres)]]
    if vec:
        f = [fibres[a] for a in range(dim)]
    else:
        f = [xp.cos(fibres), xp.sin(fibres)] + [0.0 * fibres] * (dim - 2)
    return [[(a == b) * a_t + (a_l - a_t) * f[a] * f[b] for b in range(dim)] for a in range(dim)]


def has_cross(fibres: np.ndarray, dim: int) -> bool:
    """Whether any cell's fibre is oblique to the grid (a non-zero off-diagonal entry)."""
    if dim == 1:
        return False
    if not is_vectors(fibres, dim):
        return bool(np.any(np.abs(np.sin(fibres) * np.cos(fibres)) > 1e-15))
    return any(
        bool(np.any(np.abs(fibres[a] * fibres[b]) > 1e-15))
        for a in range(dim)
        for b in range(a + 1, dim)
    )
