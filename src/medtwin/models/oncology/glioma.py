"""Proliferation-invasion (PI) model of glioma growth (Swanson), with radiotherapy.

The tumour is a density field c(x, t) of glioma cells, here scaled by the carrying capacity K
(the state is c/K in [0, 1]; t in days, x in mm)::

    dc/dt = div(D(x) grad c) + rho c (1 - c)                 (Swanson et al. 2000, 2008)

with no flux through the boundary of the brain mask. Cells move faster in white matter:
``D(x) = D`` in white and ``D / D_ratio`` in grey matter (Swanson et al. 2000: D_white = 5
D_grey); a cell with white-matter fraction w gets ``D (w + (1 - w) / D_ratio)`` and faces take
the harmonic mean of their two cells. Far from boundaries a front moves at ``2 sqrt(D rho)``
and decays over ``sqrt(D / rho)`` (the Fisher-KPP travelling wave).

Radiotherapy (input ``radiation``, a ``Dose`` of ``d`` Gy on a day) kills by the linear-quadratic
model: the cells present at the start of that day survive with ``S = exp(-alpha d - beta d^2)``,
``beta = alpha / alpha_beta`` (alpha/beta = 10 Gy for glioma, as in Rockne et al. 2010). The
kill is applied once per input step (a day), so a day carries at most one fraction; a dose given
as an ``Infusion`` counts as the day's total.

Geometry (instance configuration): ``dim=1`` a radially symmetric tumour on a grid of shells
(``radial_dim=3`` a sphere, ``2`` a disk), ``dim=2`` or ``3`` a Cartesian grid with a brain
``mask`` and a white-matter fraction map ``white``. The state is the flattened field (C order).

Scheme: cell-centred finite volumes (see :mod:`._grid`; exactly conservative) with explicit
forward-Euler substeps, ``substeps`` per day. With ``L`` the largest diagonal entry of the unit
Laplacian (``2 d / h^2`` on a d-dimensional Cartesian grid, ``3 / h^2`` at the centre shell of a
sphere) the step ``dt_s`` keeps the scheme monotone and 0 <= c <= 1 when
``dt_s (D_max L + rho_max) <= 1`` -- the classic ``dt_s <= h^2 / (2 d D_max)`` plus the growth
term. ``substeps`` is fixed from the upper bounds of ``D`` and ``rho`` (with a 5 % margin), so
every parameter set within the bounds is stable and a member's numbers never depend on the
others in its batch. Explicit was chosen over semi-implicit because at brain resolutions
(h = 0.5-1 mm, D <= 0.5 mm^2/day) it needs only 4-10 substeps per day, each a fused stencil that
runs the same on CPU and GPU, with no linear solve. The error is O(h^2 + dt_s) = O(h^2).
Implementation: the face coefficients (harmonic means) are computed once per step from the
parameters; each substep is then one pass over the zero-padded field with the neighbours taken as
plain slices (:func:`._grid.cartesian_operator`), and the day's radiotherapy kill is folded into
the first substep, so XLA compiles a substep to two fused loops (pad, update) of float64 FMAs.

Observables: ``radius_t1gd`` and ``radius_t2``, the radius of the sphere (2D: disk) with the
volume where c exceeds the T1-gadolinium threshold ``thr_t1`` (0.8) or the T2/FLAIR threshold
``thr_t2`` (0.16) (Swanson et al. 2008; Harpold et al. 2007), with partial volumes at the edge so
the radius is continuous in the parameters. Noise: Gaussian, sd 1.0 mm (T1Gd) and 1.5 mm
(T2/FLAIR) -- a medtwin assumption of about one voxel of segmentation uncertainty, more for the
fuzzier FLAIR edge.

The initial state is an established front of radius ``R0`` (mm, where c = 1/2): the
minimal-speed travelling wave ``U`` of ``U'' + 2 U' + U (1 - U) = 0`` (:func:`wave_profile`),
``c0(x) = U((|x - center| - R0) sqrt(rho / D))``, so the tumour starts with the T1Gd/T2 gap of
an established front rather than relaxing towards it for months.

References
----------
Swanson KR, Alvord EC Jr, Murray JD. A quantitative model for differential motility of gliomas
in grey and white matter. Cell Prolif 33(5):317-329, 2000.
Swanson KR, Rostomily RC, Alvord EC Jr. A mathematical modelling tool for predicting survival
of individual patients following resection of glioblastoma: a proof of principle. Br J Cancer
98(1):113-119, 2008.
Harpold HLP, Alvord EC Jr, Swanson KR. The evolution of mathematical modeling of glioma
proliferation and invasion. J Neuropathol Exp Neurol 66(1):1-9, 2007.
Rockne R, Rockhill JK, Mrugala M, et al. Predicting the efficacy of radiotherapy in individual
glioblastoma patients in vivo: a mathematical modeling approach. Phys Med Biol
55(12):3271-3285, 2010.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray
from scipy.integrate import solve_ivp

from ...errors import ModelError
from .._base import AbstractSteppedModel, StateSpec, declared
from .._registry import register_model
from . import _grid
from ._declarations import GLIOMA

__all__ = ["Glioma", "synthetic_brain", "wave_profile"]


_DEFAULT_GRID = {1: ((160,), 0.5), 2: ((96, 96), 1.0), 3: ((64, 64, 64), 1.0)}
_CFL = 0.95


@functools.cache
def wave_profile() -> tuple[np.ndarray, np.ndarray]:
    """The minimal-speed (c = 2) travelling wave of the scaled PI model, ``U'' + 2 U' + U (1 - U)
    = 0`` with ``U(-inf) = 1``, ``U(+inf) = 0``: tables ``(z, U(z))`` with ``U(0) = 1/2``, z in
    units of ``sqrt(D / rho)``. Integrated from the saddle at U = 1 along its unstable direction
    ``1 - U ~ exp((sqrt 2 - 1) z)`` (Fisher 1937; Kolmogorov, Petrovsky & Piskunov 1937)."""
    mu, eps = math.sqrt(2.0) - 1.0, 1e-9

    def rhs(_z, y):
        return [y[1], -2.0 * y[1] - y[0] * (1.0 - y[0])]

    def small(_z, y):
        return y[0] - 1e-10

    small.terminal = True  # type: ignore[attr-defined]
    sol = solve_ivp(rhs, (0.0, 200.0), [1.0 - eps, -eps * mu], rtol=1e-10, atol=1e-13,
                    events=small, dense_output=True)  # fmt: skip
    z = np.linspace(0.0, sol.t[-1], 8001)
    u = np.clip(sol.sol(z)[0], 0.0, 1.0)
    z_half = float(np.interp(-0.5, -u, z))
    return z - z_half, u


class _CellStates(Sequence):
    """The state declaration of a grid: one density per cell, built on demand."""

    def __init__(self, n: int) -> None:
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return StateSpec(f"c{i % self._n}", "1", "tumour cell density / K in one grid cell")


def synthetic_brain(
    shape: tuple[int, ...], spacing: float, *, cortex: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """A simple brain phantom for 2D/3D grids: an ellipsoid filling 90 % of the box (the mask)
    whose outer ``cortex`` mm are grey matter and whose inside is white matter. Returns
    ``(mask, white)`` as float arrays of ``shape``."""
    x = np.meshgrid(*_grid.centres(shape, spacing), indexing="ij")
    semi = [0.45 * n * spacing for n in shape]
    ctr = [0.5 * n * spacing for n in shape]
    rho = np.sqrt(sum(((xi - c) / s) ** 2 for xi, c, s in zip(x, ctr, semi, strict=True)))
    mask = (rho <= 1.0).astype(np.float64)
    depth = (1.0 - rho) * min(semi)
    white = mask * (depth > cortex)
    return mask, white.astype(np.float64)


@declared(GLIOMA)
class Glioma(AbstractSteppedModel):
    """Swanson proliferation-invasion glioma model on a 1D radial, 2D or 3D grid. See the module
    docstring for equations, scheme, stability and references.

    ``Glioma(dim=1 | 2 | 3, shape=..., spacing=mm, mask=..., white=..., center=mm, radial_dim=3,
    substeps=None)``; ``mask`` (brain, 1 inside) and ``white`` (white-matter fraction) are arrays
    of ``shape`` (default: all brain, all white). ``substeps=None`` chooses the stable count."""

    dim: int = eqx.field(static=True)
    shape: tuple[int, ...] = eqx.field(static=True)
    spacing: float = eqx.field(static=True)
    center: tuple[float, ...] = eqx.field(static=True)
    radial_dim: int = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    mask: Array | None
    white: Array | None
    input_dt: float = eqx.field(static=True)  # one day; set in __init__

    def __init__(
        self,
        dim: int = 1,
        shape: tuple[int, ...] | None = None,
        spacing: float | None = None,
        *,
        mask: ArrayLike | None = None,
        white: ArrayLike | None = None,
        center: tuple[float, ...] | None = None,
        radial_dim: int = 3,
        substeps: int | None = None,
    ) -> None:
        if dim not in (1, 2, 3):
            raise ModelError(f"Glioma needs dim 1 (radial), 2 or 3. Got dim={dim!r}.")
        d_shape, d_h = _DEFAULT_GRID[dim]
        shape = d_shape if shape is None else tuple(int(n) for n in shape)
        h = d_h if spacing is None else float(spacing)
        if len(shape) != dim or min(shape) < 3:
            raise ModelError(
                f"Glioma(dim={dim}) needs a shape of {dim} sizes, each >= 3. Got {shape!r}."
            )
        if not (math.isfinite(h) and h > 0):
            raise ModelError(f"Glioma needs a spacing > 0 (mm). Got {spacing!r}.")
        if radial_dim not in (2, 3):
            raise ModelError(f"Glioma needs radial_dim 2 or 3. Got {radial_dim!r}.")
        self.dim, self.shape, self.spacing, self.radial_dim = dim, shape, h, radial_dim
        self.input_dt = 1.0
        if center is None:
            center = (0.0,) if dim == 1 else tuple(0.5 * n * h for n in shape)
        if len(center) != dim:
            raise ModelError(f"Glioma center needs {dim} coordinates (mm). Got {center!r}.")
        self.center = tuple(float(c) for c in center)
        self.mask = _field(mask, shape, "mask")
        self.white = _field(white, shape, "white")
        if substeps is None:
            d_up = self.parameters[0].bounds[1]
            r_up = self.parameters[2].bounds[1]
            lap = _grid.max_diagonal(dim, shape, h, radial_dim)
            substeps = math.ceil(1.0 * (d_up * lap + r_up) / _CFL)
        if not (isinstance(substeps, int) and substeps >= 1):
            raise ModelError(f"Glioma substeps must be an integer >= 1. Got {substeps!r}.")
        self.substeps = substeps

    # ---- grid declaration ----------------------------------------------------------------
    @property
    def states(self) -> _CellStates:  # type: ignore[override]
        return _CellStates(self.n_states)

    @property
    def n_states(self) -> int:
        return math.prod(self.shape)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(f"c{i}" for i in range(self.n_states))

    def cell_volumes(self) -> np.ndarray:
        """Volume of each cell in mm^3 (2D: area in mm^2), shaped like the grid."""
        if self.dim == 1:
            vol, _ = _grid.radial_geometry(self.shape[0], self.spacing, self.radial_dim)
            return vol * (4.0 * math.pi if self.radial_dim == 3 else 2.0 * math.pi)
        return np.full(self.shape, self.spacing**self.dim)

    def distance(self) -> np.ndarray:
        """Distance of each cell centre from ``center`` (mm), shaped like the grid."""
        x = np.meshgrid(*_grid.centres(self.shape, self.spacing), indexing="ij")
        return np.sqrt(sum((xi - c) ** 2 for xi, c in zip(x, self.center, strict=True)))

    def field(self, y: Float[ArrayLike, "*batch n_states"]) -> Array:
        """The state(s) as a grid (``(*batch, *shape)``)."""
        y = jnp.asarray(y)
        return y.reshape((*y.shape[:-1], *self.shape))

    def mass(self, y: Float[ArrayLike, "*batch n_states"]) -> Array:
        """Total tumour burden ``sum(volume * c/K)`` (mm^3 of cells at capacity)."""
        vol = jnp.asarray(self.cell_volumes().reshape(-1))
        return jnp.sum(jnp.asarray(y) * vol, axis=-1)

    def _mask(self) -> Array:
        return jnp.ones(self.shape) if self.mask is None else self.mask

    # ---- dynamics ------------------------------------------------------------------------
    def initial_state(self, params: Float[Array, " n_params"]) -> Float[Array, " n_states"]:
        p = self.named(params)
        lam = jnp.sqrt(p.rho / p.D)
        r = jnp.asarray(self.distance())
        z, u = wave_profile()
        c = jnp.interp((r - p.R0) * lam, jnp.asarray(z), jnp.asarray(u), left=1.0, right=0.0)
        c = c * self._mask()
        return c.reshape(-1)

    def step(
        self,
        t: Float[ArrayLike, ""],
        y: Float[Array, " n_states"],
        u: Float[Array, " n_inputs"],
        params: Float[Array, " n_params"],
        dt: float,
        key: PRNGKeyArray | None,
    ) -> Float[Array, " n_states"]:
        p = self.named(params)
        dose = u[0] * dt  # Gy delivered this day
        beta = p.alpha / p.alpha_beta
        survival = jnp.exp(-p.alpha * dose - beta * dose**2)
        w = jnp.ones(self.shape) if self.white is None else self.white
        Dcell = p.D * (w + (1.0 - w) / p.D_ratio) * self._mask()
        h = self.spacing
        faces: Array | tuple[Array, ...]  # radial: one array; Cartesian: one per axis
        if self.dim == 1:
            vol, area = _grid.radial_geometry(self.shape[0], h, self.radial_dim)
            faces = _grid.radial_faces(Dcell, jnp.asarray(vol), jnp.asarray(area), h)
            inv_vol = jnp.asarray(1.0 / vol)

            def diffusion(c, faces):
                return _grid.radial_operator(c, faces, inv_vol)
        else:
            faces = _grid.cartesian_faces(Dcell, h)
            diffusion = _grid.cartesian_operator

        hs = dt / self.substeps

        def sub(i, c):
            # The kill acts on the cells present at the start of the day; applied inside the
            # first substep it fuses into the stencil instead of costing a pass of its own.
            c = c * jnp.where(i == 0, survival, 1.0)
            # Tie the faces to this substep's field: otherwise XLA hoists the two slices of
            # each Cartesian face array out of the loop as loop invariants and stores them as
            # six arrays, so every substep streams twice the face data from memory (a third
            # slower on a CPU). The barrier computes nothing.
            f, c = jax.lax.optimization_barrier((faces, c))
            return c + hs * (diffusion(c, f) + p.rho * c * (1.0 - c))

        c = jax.lax.fori_loop(0, self.substeps, sub, y.reshape(self.shape))
        return c.reshape(-1)

    def observe(
        self, t: Float[ArrayLike, ""], y: Float[Array, " n_states"], params: Float[Array, " p"]
    ) -> Float[Array, " n_observables"]:
        p = self.named(params)
        c = y.reshape(self.shape)
        vol: Array | float
        if self.dim == 1:
            vol = jnp.asarray(
                _grid.radial_geometry(self.shape[0], self.spacing, self.radial_dim)[0]
            )
        else:
            vol = self.spacing**self.dim
        m = self._mask()
        g = _grid.gradient_l1(c)
        radii = [
            _grid.equivalent_radius(
                jnp.sum(_grid.partial_volume(c, thr, self.spacing, g) * m * vol),
                self.dim,
                self.radial_dim,
            )
            for thr in (p.thr_t1, p.thr_t2)
        ]
        return jnp.stack(radii)


def _field(x: ArrayLike | None, shape: tuple[int, ...], what: str) -> Array | None:
    if x is None:
        return None
    a = np.asarray(x, dtype=np.float64)
    if a.shape != shape:
        raise ModelError(f"Glioma {what} must have the grid's shape {shape}. Got {a.shape}.")
    if not (np.all(np.isfinite(a)) and a.min() >= 0.0 and a.max() <= 1.0):
        raise ModelError(f"Glioma {what} values must lie in [0, 1]. Fix the {what} array.")
    return jnp.asarray(a)


register_model(Glioma)
