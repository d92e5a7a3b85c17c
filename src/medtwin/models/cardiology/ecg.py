"""The pseudo-ECG: the extracellular potential a tissue's activity makes at electrodes in an
unbounded homogeneous volume conductor.

With the transmembrane potential ``V_m`` and the monodomain conduction tensor ``D`` of a
tissue, the current leaving the cells per volume is ``I_m = div(D grad V_m)`` and the
potential at ``x'`` is (Plonsey & Barr, *Bioelectricity*; Gima & Rudy 2002, Circ Res 90:889)::

    phi(x') = 1 / (4 pi sigma_e)  integral  div(D grad V_m) / r  dV                (divergence form)
            = 1 / (4 pi sigma_e)  integral  D grad V_m . grad'(1 / r)  dV          (gradient form)

with ``r = |x' - x|`` and ``grad'(1 / r) = (x - x') / r^3`` its gradient in the electrode
position ``x'`` (Gima & Rudy write ``-grad V_m . grad(1 / r)`` with the gradient in the source
point ``x``: the same). The two are equal by the divergence theorem when no current leaves the
tissue (the tissue's no-flux boundary). Sign: a wavefront approaching an electrode makes a
positive deflection, a receding one a negative. Far from the tissue ``phi`` tends to the field
of the current dipole ``p = integral x I_m dV = -integral D grad V_m dV`` at the tissue's
centre ``x_0``: ``phi ~ p . (x' - x_0) / (4 pi sigma_e |x' - x_0|^3)``, with a relative error of
order (tissue size) / distance.

**Units.** ``D`` and ``sigma_e`` in the same unit (mm^2/ms: conductivities divided by
``chi C_m``; only the ratio ``D / sigma_e``, that is ``sigma_i / sigma_e``, matters) and
lengths in mm, so ``phi`` has the unit of ``V_m`` (the dimensionless ``u`` of Aliev-Panfilov
and Mitchell-Schaeffer: multiply by the model's mV per unit for millivolts). A 1D cable or a
2D sheet lies at 0 in the missing coordinates, one mm thick across them; electrodes may have
the tissue's dimension or 3 coordinates.

**Discretisation.** The gradient form uses the cells' centred gradients over conducting
neighbours (one-sided next to a boundary, zero between two), the tissue's conduction tensor
per cell and ``grad(1 / r)`` exactly at the cell centres; the divergence form uses the
tissue's own finite-volume operator (the one the simulation steps). The two agree to the
discretisation error, which is what the tests measure. Batched over electrodes (one
contraction) and over leading axes of ``V_m`` (time, members).
"""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ...errors import ModelError
from ._tissue import MonodomainTissue

__all__ = ["dipole_moment", "pseudo_ecg"]


def _positions(model: MonodomainTissue) -> np.ndarray:
    """Cell centres ``(n_cells, 3)`` in mm, the missing coordinates 0."""
    grids = np.meshgrid(*model.centres(), indexing="ij")
    pts = np.stack([g.reshape(-1) for g in grids], axis=-1)
    return np.pad(pts, ((0, 0), (0, 3 - pts.shape[1])))


def _electrodes(model: MonodomainTissue, electrodes: ArrayLike) -> np.ndarray:
    e = np.atleast_2d(np.asarray(electrodes, dtype=np.float64))
    dim = len(model.shape)
    if e.ndim != 2 or e.shape[1] not in (dim, 3) or len(e) == 0 or not np.isfinite(e).all():
        raise ModelError(
            f"pseudo_ecg() needs electrodes as finite (n, {dim}) or (n, 3) coordinates in mm, "
            f"n >= 1. Got shape {np.asarray(electrodes).shape}."
        )
    return np.pad(e, ((0, 0), (0, 3 - e.shape[1])))


def _conducting(model: MonodomainTissue, params: Array) -> tuple[list[list[Array]], Array]:
    D = model.conduction(params)
    return D, (D[0][0] > 0).astype(jnp.float64)


def _gradient(u: Array, cond: Array, h: float) -> list[Array]:
    """Per axis, the centred difference of ``u`` over conducting neighbours (one-sided next to
    a boundary, zero between two), per mm; zero in non-conducting cells."""
    dim = u.ndim
    up, cp = jnp.pad(u, 1), jnp.pad(cond, 1)
    out = []
    for b in range(dim):

        def nb(x: Array, lo: int, b: int = b) -> Array:
            idx = [slice(1, -1)] * dim
            idx[b] = slice(lo, lo + u.shape[b])
            return x[tuple(idx)]

        mp, mm = nb(cp, 2), nb(cp, 0)
        num = mp * (nb(up, 2) - u) + mm * (u - nb(up, 0))
        den = mp + mm
        out.append(cond * num / jnp.where(den > 0, den, 1.0) / h)
    return out


def _flux(model: MonodomainTissue, params: Array, u: Array) -> Array:
    """``D grad V_m`` per cell, ``(dim, *shape)``."""
    D, cond = _conducting(model, params)
    g = _gradient(u, cond, model.spacing)
    dim = len(model.shape)
    return jnp.stack([sum(D[a][b] * g[b] for b in range(dim)) for a in range(dim)])


def _batched(fn, u: Array, shape: tuple[int, ...]) -> Array:
    lead = u.shape[: u.ndim - len(shape)]
    if u.shape[len(lead) :] != shape:
        raise ModelError(
            f"pseudo_ecg() needs V_m grids of the tissue's shape {shape} (after any leading "
            f"time or member axes). Got shape {u.shape}."
        )
    out = jax.vmap(fn)(u.reshape((-1, *shape)))
    return out.reshape(*lead, *out.shape[1:])


def pseudo_ecg(
    model: MonodomainTissue,
    params: Float[ArrayLike, " n_params"],
    vm: Float[ArrayLike, "*lead *shape"],
    electrodes: Float[ArrayLike, "n_electrodes coords"],
    *,
    sigma_e: float,
    form: Literal["gradient", "divergence"] = "gradient",
) -> Float[Array, "*lead n_electrodes"]:
    """The pseudo-ECG (the unit of ``vm``) at each electrode from transmembrane potentials
    ``vm`` on ``model``'s grid (any leading axes: time, members), for one parameter vector
    (its ``D``, ``D_ratio`` and border-zone factor set the conduction tensor) and the bath's
    ``sigma_e`` (mm^2/ms, the unit of ``D``). ``form``: ``"gradient"`` or ``"divergence"``
    (see the module docstring). An electrode within half a cell of a tissue cell's centre is
    refused (the integrand is singular there)."""
    if not (isinstance(sigma_e, float | int) and math.isfinite(sigma_e) and sigma_e > 0):
        raise ModelError(f"pseudo_ecg() needs sigma_e > 0 (mm^2/ms). Got {sigma_e!r}.")
    if form not in ("gradient", "divergence"):
        raise ModelError(f"pseudo_ecg() form must be 'gradient' or 'divergence'. Got {form!r}.")
    e = _electrodes(model, electrodes)
    params = jnp.asarray(params)
    x = _positions(model)
    live = np.asarray(model.conduction(params)[0][0] > 0).reshape(-1)
    rvec = e[:, None, :] - x[None, :, :]  # (n_e, n_cells, 3): x' - x
    r = np.sqrt(np.sum(rvec**2, axis=-1))
    near = (r < 0.5 * model.spacing) & live[None]
    if near.any():
        i = int(np.argwhere(near.any(axis=1))[0, 0])
        raise ModelError(
            f"Electrode {i} at {tuple(e[i].round(3).tolist())} mm lies within half a cell of "
            "a tissue cell's centre, where the pseudo-ECG integrand is singular. Expected "
            "electrodes off the tissue (above a sheet or outside a slab); move it."
        )
    dim = len(model.shape)
    dv = model.spacing**dim
    scale = dv / (4.0 * math.pi * float(sigma_e))
    vm = jnp.asarray(vm)
    if form == "gradient":
        # grad'(1 / r) = (x - x') / r^3 at every cell: (n_e, n_cells, dim)
        lead = jnp.asarray(-rvec[..., :dim] / r[..., None] ** 3 * scale)

        def one(v: Array) -> Array:
            j = _flux(model, params, v).reshape(dim, -1)
            return jnp.einsum("ecd,dc->e", lead, j)

    else:
        inv = jnp.asarray(scale / r)  # (n_e, n_cells)
        ops = model._operator(params)

        def one(v: Array) -> Array:
            return inv @ model.diffusion(v, ops).reshape(-1)

    return _batched(one, vm, model.shape)


def dipole_moment(
    model: MonodomainTissue,
    params: Float[ArrayLike, " n_params"],
    vm: Float[ArrayLike, "*lead *shape"],
) -> Float[Array, "*lead dim"]:
    """The current dipole ``p = integral x div(D grad V_m) dV = -integral D grad V_m dV``
    (unit of ``vm`` x mm^2/ms x mm^dim) of the tissue, per leading index of ``vm``; the far
    field of :func:`pseudo_ecg` is ``p . (x' - x_0) / (4 pi sigma_e |x' - x_0|^3)``."""
    params = jnp.asarray(params)
    dv = model.spacing ** len(model.shape)

    def one(v: Array) -> Array:
        return -jnp.sum(_flux(model, params, v).reshape(len(model.shape), -1), axis=-1) * dv

    return _batched(one, jnp.asarray(vm), model.shape)
