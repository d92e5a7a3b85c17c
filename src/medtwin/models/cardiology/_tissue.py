"""The monodomain tissue every cardiac ionic model runs on: labels, fibres, the anisotropic
finite-volume diffusion step, the stability bound and the operator-split substep.

Monodomain equation (time in ms, space in mm, ``u`` the potential in the ionic model's unit:
dimensionless for Aliev-Panfilov and Mitchell-Schaeffer, mV for ten Tusscher-Panfilov)::

    du/dt = div(D(x) grad u) + f(u, w) + I_stim(x, t),     dw/dt = g(u, w)

with no flux through the boundary of the tissue (any mask: the box, scar, lesions). ``w`` is
the ionic model's per-cell states other than ``u`` (any number: one recovery variable for the
two-variable models, gates and concentrations for ten Tusscher-Panfilov), declared by the
subclass's ``_cell_states``; ``f, g`` are its :meth:`MonodomainTissue.reaction`. In physical
units ``D = sigma / (chi C_m)`` (conductivity over surface-to-volume ratio times membrane
capacitance) and ``I_stim`` is the stimulus current density over ``chi C_m``.

**Tissue labels** (an integer array of the grid's shape): ``0`` outside, ``1`` healthy, ``2``
border zone (diffusivity times ``bz_D``, recovery slowed by ``bz_apd``), ``3`` scar and ``4``
ablation lesion (both non-conducting and non-excitable: no flux into them, ``u`` stays 0).

**Conduction tensor.** Each cell has a fibre (unit vector ``f``): either in the x-y plane at
angle ``theta`` (radians from the x axis; :func:`rotating_fibres` gives the rule-based
transmural rotation) or a full 3D vector field ``(dim, *shape)`` (the LV shell's helix fibres,
which leave the x-y plane; see :mod:`._fibres`). ``D = sigma (D_t I + (D_l - D_t) f f^T)``,
every entry including the x-z and y-z cross terms, with ``D_l = D``, ``D_t = D D_ratio`` and
``sigma`` 1 (healthy), ``bz_D`` (border zone), 0 (not conducting). A 1D cable has ``D = sigma
D``.

**Diffusion** (cell-centred finite volumes on the glioma twin's conventions,
:mod:`medtwin.models.oncology._grid`): the flux through the face between cells ``j - 1`` and
``j`` along axis ``a`` is ``D_aa^f (u_j - u_{j-1}) / h + sum_{b != a} D_ab^f g_b^f`` with
``D_aa^f`` the harmonic mean of the two cells (zero if either does not conduct: no flux through
any mask boundary), ``D_ab^f`` the arithmetic mean of the two cells' off-diagonal entries (zero
unless both conduct) and ``g_b^f`` the mean of the two cells' gradients along ``b``, each a
centred difference over conducting neighbours (one-sided next to a boundary, zero between
two); every ordered pair ``a != b`` (x-y, x-z, y-z in 3D) has its own face coefficients. The
flux form telescopes, so ``sum(u)`` changes only through the reaction and the stimulus. On a
grid whose fibres lie along an axis everywhere the cross terms are zero and are not computed.
The error is O(h^2) in the interior.

**Stability bound.** For constant coefficients the discrete operator's Fourier symbol is at most
``(4 / h^2) sum_{a,b} |D_ab|`` (the cross differences are bounded by the centred ones), so a
forward-Euler substep ``dt`` is stable when ``dt (4 S / h^2 + r) <= 2`` with ``S`` the largest
``sum_{a,b} |D_ab|`` over the cells at the largest diffusivity ``D_max`` and ``r`` a bound on
the ionic model's reaction rate. :func:`stability_bound` computes it; the default substep is half
of it (the monotone limit of the isotropic scheme) and a ``dt`` above it is refused.

**Operator splitting** (Godunov, first order): each substep first advances the ionic model at
every node by ``dt`` (with the stimulus), then takes one explicit diffusion step of ``u``. A
step of the twin (``input_dt`` = 1 ms, inputs constant over it) is ``substeps`` substeps.

**Stimulus region**: the excitable cells within ``stim_r`` of the site (``stimulus="ball"``,
the default), or (``stimulus="box"``) the cube of half-side ``stim_r`` centred on the site,
each cell weighted by the fraction of its volume inside the cube (the Niederer et al. 2011
benchmark's 1.5 mm cube at a corner is the site at the corner with ``stim_r`` = 1.5 mm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ...errors import ModelError
from .._base import AbstractSteppedModel, StateSpec
from .._spec import ParameterSpec
from ..oncology import _grid
from . import _fibres

__all__ = [
    "BORDER",
    "HEALTHY",
    "LESION",
    "OUTSIDE",
    "SCAR",
    "MonodomainTissue",
    "rotating_fibres",
    "stability_bound",
]

OUTSIDE, HEALTHY, BORDER, SCAR, LESION = 0, 1, 2, 3, 4
_INPUT_DT = 1.0  # ms: the stimulus is piecewise constant over this


def rotating_fibres(
    shape: tuple[int, ...], *, endo_deg: float = 60.0, epi_deg: float = -60.0, axis: int = -1
) -> np.ndarray:
    """Rule-based fibre angles (radians, in the x-y plane) rotating linearly through the wall
    along ``axis`` (the transmural direction, endocardium at index 0): ``endo_deg`` to
    ``epi_deg``, by default +60 to -60 degrees (Streeter et al. 1969, Circ Res 24:339; the same
    rule as Bayer et al. 2012, Ann Biomed Eng 40:2243, on a slab)."""
    n = shape[axis]
    frac = (np.arange(n) + 0.5) / n
    ang = np.deg2rad(endo_deg + (epi_deg - endo_deg) * frac)
    view = [1] * len(shape)
    view[axis] = n
    return np.broadcast_to(ang.reshape(view), shape).astype(np.float64)


def stability_bound(spacing: float, abs_sum: float, rate: float) -> float:
    """The largest stable substep (ms): ``2 / (4 abs_sum / h^2 + rate)``, with ``abs_sum`` the
    largest ``sum_{a,b} |D_ab|`` of a cell (mm^2/ms) and ``rate`` a bound on the reaction's
    rate (1/ms). See the module docstring."""
    return 2.0 / (4.0 * abs_sum / spacing**2 + rate)


class _CellStates(Sequence):
    """The state declaration of a tissue: each per-cell state of the ionic model in turn
    (``u`` first), every cell's value of it: ``u0 .. u{n-1}``, then the next state's."""

    def __init__(self, n: int, specs: tuple[tuple[str, str, str], ...]) -> None:
        self._n, self._specs = n, specs

    def __len__(self) -> int:
        return len(self._specs) * self._n

    def __getitem__(self, i):
        size = len(self)
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(size))]
        if not -size <= i < size:
            raise IndexError(i)
        k, cell = divmod(i % size, self._n)
        name, unit, description = self._specs[k]
        return StateSpec(f"{name}{cell}", unit, description)


class MonodomainTissue(AbstractSteppedModel):
    """A monodomain tissue on a 1D, 2D or 3D voxel grid (see the module docstring). A subclass
    is one ionic model: it declares its parameters and its per-cell states (``_cell_states``:
    name, unit and description of ``u`` and of each further state) and gives :meth:`reaction`,
    :meth:`rest_state` and :meth:`rate_bound`; ``activation_threshold`` is the potential (in
    ``u``'s unit) above which a cell counts as excited.

    ``Model(shape, spacing, *, labels=None, fibres=0.0, dt=None, D_max=None)``: ``labels`` an
    integer array of ``shape`` (default: all healthy), ``fibres`` the fibre angle in the x-y
    plane (radians; a number or an array of ``shape``) or unit fibre vectors ``(dim, *shape)``
    (checked in the healthy and border-zone cells, ignored and stored as zero elsewhere; see
    :mod:`._fibres`), ``dt`` the substep in ms (default: half the stability
    bound), ``D_max`` the largest ``D`` the instance will be run with (default: the upper bound
    of ``D``), which the bound is computed for, ``input_dt`` the step over which the stimulus is
    constant and at which ``simulate`` can save (default 1 ms), ``stimulus`` the shape of the
    stimulated region (``"ball"`` or ``"box"``, see the module docstring). A member run with
    ``D`` above ``D_max`` may be unstable: ``simulate`` reports it as ``Status.NONFINITE``."""

    shape: tuple[int, ...] = eqx.field(static=True)
    spacing: float = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    cross: bool = eqx.field(static=True)
    labels: Array
    fibres: Array
    input_dt: float = eqx.field(static=True)
    stimulus: str = eqx.field(static=True)

    _default_grid: ClassVar[tuple[tuple[int, ...], float]] = ((32, 32), 0.25)
    # (name, unit, description) of each per-cell state, u first
    _cell_states: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("u", "1", "dimensionless transmembrane potential of a cell"),
        ("w", "1", "recovery variable of a cell"),
    )
    activation_threshold: ClassVar[float] = 0.5

    def __init__(
        self,
        shape: tuple[int, ...] | None = None,
        spacing: float | None = None,
        *,
        labels: ArrayLike | None = None,
        fibres: ArrayLike = 0.0,
        dt: float | None = None,
        D_max: float | None = None,
        input_dt: float = _INPUT_DT,
        stimulus: str = "ball",
    ) -> None:
        name = type(self).__name__
        d_shape, d_h = self._default_grid
        shape = d_shape if shape is None else tuple(int(n) for n in shape)
        h = d_h if spacing is None else float(spacing)
        if not 1 <= len(shape) <= 3 or min(shape) < 1:
            raise ModelError(f"{name} needs a shape of 1, 2 or 3 positive sizes. Got {shape!r}.")
        if not (math.isfinite(h) and h > 0):
            raise ModelError(f"{name} needs a spacing > 0 (mm). Got {spacing!r}.")
        lab = np.full(shape, HEALTHY, np.int32) if labels is None else np.asarray(labels)
        if lab.shape != shape or not np.isin(lab, (0, 1, 2, 3, 4)).all():
            raise ModelError(
                f"{name} labels must be an integer array of the grid's shape {shape} with "
                f"values 0 (outside), 1 (healthy), 2 (border zone), 3 (scar), 4 (lesion). Got "
                f"shape {lab.shape} with values {np.unique(lab)[:8].tolist()}."
            )
        if not np.isin(lab, (HEALTHY, BORDER)).any():
            raise ModelError(
                f"{name} labels mark no excitable tissue: every cell is outside, scar or "
                "lesion. Expected at least one healthy (1) or border-zone (2) cell; check the "
                "mask (a segmentation with the wrong label values, or an empty crop?)."
            )
        fib = _fibres.fibre_field(fibres, shape, np.isin(lab, (HEALTHY, BORDER)), name)
        if not (isinstance(input_dt, float | int) and math.isfinite(input_dt) and input_dt > 0):
            raise ModelError(f"{name} needs an input_dt > 0 (ms). Got {input_dt!r}.")
        if stimulus not in ("ball", "box"):
            raise ModelError(
                f"{name} stimulus must be 'ball' (cells within stim_r of the site) or 'box' "
                f"(the cube of half-side stim_r around it). Got {stimulus!r}."
            )
        self.shape, self.spacing, self.input_dt = shape, h, float(input_dt)
        self.stimulus = stimulus
        self.labels = jnp.asarray(lab.astype(np.int32))
        self.fibres = jnp.asarray(np.array(fib))
        self.cross = _fibres.has_cross(np.asarray(fib), len(shape))
        bound = self.stability_dt(D_max)
        if dt is None:
            substeps = math.ceil(self.input_dt / (0.5 * bound))
        else:
            if not (isinstance(dt, float | int) and math.isfinite(dt) and dt > 0):
                raise ModelError(f"{name} needs a substep dt > 0 (ms). Got {dt!r}.")
            if dt > bound:
                raise ModelError(
                    f"{name} substep dt = {dt:g} ms is above the stability bound {bound:.4g} "
                    f"ms for spacing {h:g} mm and D up to {self._d_max(D_max):g} mm^2/ms. "
                    f"Expected dt <= {bound:.4g} ms: pass a smaller dt (or dt=None for half "
                    "the bound), a coarser spacing, or D_max= the largest D you will run."
                )
            substeps = max(1, round(self.input_dt / dt))
            if abs(substeps * dt - self.input_dt) > 1e-9 * self.input_dt:
                raise ModelError(
                    f"{name} substep dt must divide the {self.input_dt:g} ms input step. Got "
                    f"dt = {dt:g} ms; use input_dt / n, e.g. {self.input_dt / substeps:.6g}."
                )
        self.substeps = substeps
        self.dt = self.input_dt / substeps

    # ---- what a subclass gives -------------------------------------------------------------
    def reaction(
        self, u: Array, w: tuple[Array, ...], p, dt: float, border: Array
    ) -> tuple[Array, tuple[Array, ...]]:  # pragma: no cover - abstract
        """One reaction substep of length ``dt`` at every node: ``(u, w) -> (u', w')`` with
        ``w`` the tuple of the further per-cell states (grids, in ``_cell_states`` order);
        ``border`` is 1.0 in border-zone cells (recovery slowed by ``p.bz_apd``)."""
        raise NotImplementedError

    def rest_state(self, params: Array) -> tuple[ArrayLike, ...]:  # pragma: no cover - abstract
        """Every per-cell state at rest (``u`` first; each a grid or a number)."""
        raise NotImplementedError

    def inert_state(self, params: Array) -> tuple[ArrayLike, ...]:
        """The per-cell states in cells that are not excitable (outside, scar, lesion), which
        never change: 0 by default. A model whose reaction is not finite at 0 (logarithms of
        concentrations) keeps its rest state there."""
        return tuple(0.0 for _ in self._cell_states)

    def rate_bound(self) -> float:  # pragma: no cover - abstract
        """A bound (1/ms) on the reaction's rate over the parameter bounds."""
        raise NotImplementedError

    # ---- grid declaration ------------------------------------------------------------------
    @property
    def states(self) -> _CellStates:  # type: ignore[override]
        return _CellStates(self.n_cells, self._cell_states)

    @property
    def n_cells(self) -> int:
        return math.prod(self.shape)

    @property
    def n_states(self) -> int:
        return len(self._cell_states) * self.n_cells

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    def _spec(self, name: str) -> ParameterSpec:
        return self.parameters[self.param_index(name)]

    def _d_max(self, D_max: float | None) -> float:
        hi = self._spec("D").bounds[1]
        return hi if D_max is None else float(D_max)

    def stability_dt(self, D_max: float | None = None) -> float:
        """The stability bound (ms) of this grid at diffusivity ``D_max`` (default: the upper
        bound of ``D``), the worst anisotropy ratio within its bounds and the largest
        conduction factor of any label."""
        fib = np.asarray(self.fibres)
        worst = 0.0
        for ratio in self._spec("D_ratio").bounds:
            d = self._d_max(D_max)
            t = _fibres.tensor(fib, len(self.shape), d, d * ratio, xp=np)
            worst = max(worst, float(np.max(sum(np.abs(e) for row in t for e in row))))
        return stability_bound(self.spacing, worst, self.rate_bound())

    def centres(self) -> list[np.ndarray]:
        """Cell-centre coordinates (mm) along each axis."""
        return _grid.centres(self.shape, self.spacing)

    def excitable(self) -> Array:
        """1.0 in healthy and border-zone cells, else 0.0."""
        return ((self.labels == HEALTHY) | (self.labels == BORDER)).astype(jnp.float64)

    def field(self, y: Float[ArrayLike, "*batch n_states"]) -> tuple[Array, ...]:
        """The state(s) as one grid per per-cell state (``u`` first: ``(u, w)`` for the
        two-variable models), each ``(*batch, *shape)``."""
        y = jnp.asarray(y)
        n = self.n_cells
        lead = y.shape[:-1]
        return tuple(
            y[..., k * n : (k + 1) * n].reshape((*lead, *self.shape))
            for k in range(len(self._cell_states))
        )

    # ---- stimulus sites -----------------------------------------------------------------
    def stimulus_region(self, params: Float[Array, " n_params"]) -> Array:
        """The weight of the stimulus in each cell: 1.0 in the excitable cells within ``stim_r``
        of the site (``stimulus="ball"``), or the fraction of an excitable cell inside the cube
        of half-side ``stim_r`` around it (``"box"``); else 0.0."""
        p = self.named(params)
        site = (p.stim_x, p.stim_y, p.stim_z)
        x = jnp.meshgrid(*[jnp.asarray(c) for c in self.centres()], indexing="ij")
        if self.stimulus == "box":
            h = self.spacing
            inside = [
                jnp.clip(
                    (jnp.minimum(xi + h / 2, s + p.stim_r) - jnp.maximum(xi - h / 2, s - p.stim_r))
                    / h,
                    0.0,
                    1.0,
                )
                for xi, s in zip(x, site, strict=False)
            ]
            return math.prod(inside) * self.excitable()
        r2 = sum((xi - s) ** 2 for xi, s in zip(x, site, strict=False))
        return (r2 <= p.stim_r**2).astype(jnp.float64) * self.excitable()

    def pacing_params(
        self, sites: ArrayLike, base: ArrayLike | None = None, **values: float
    ) -> Float[Array, "n_sites n_params"]:
        """One parameter vector per pacing site (``sites``: ``(n, dim)`` coordinates in mm), from
        ``base`` (default: the defaults) with ``values`` replaced; refuses a site that would
        stimulate no excitable cell."""
        s = np.atleast_2d(np.asarray(sites, dtype=np.float64))
        dim = len(self.shape)
        if s.ndim != 2 or s.shape[1] != dim or not np.isfinite(s).all():
            raise ModelError(
                f"pacing_params() needs sites as finite (n, {dim}) coordinates in mm. Got "
                f"shape {np.asarray(sites).shape}."
            )
        vec = np.array(self.make_params(base, **values))
        out = np.repeat(vec[None], len(s), axis=0)
        for j, axis in enumerate(("stim_x", "stim_y", "stim_z")[:dim]):
            out[:, self.param_index(axis)] = s[:, j]
        regions = np.asarray(jax.vmap(self.stimulus_region)(jnp.asarray(out)))
        for i, reg in enumerate(regions):
            if not reg.any():
                r = out[i, self.param_index("stim_r")]
                raise ModelError(
                    f"Pacing site {i} at {tuple(s[i].round(3).tolist())} mm stimulates no "
                    f"tissue: no healthy or border-zone cell lies within stim_r = {r:g} mm "
                    "(it is outside the mask, in scar or in a lesion). Expected a site on "
                    "excitable tissue; move the site or enlarge stim_r."
                )
        return jnp.asarray(out)

    # ---- dynamics ----------------------------------------------------------------------
    def initial_state(self, params: Float[Array, " n_params"]) -> Float[Array, " n_states"]:
        live = self.excitable() > 0
        rest, inert = self.rest_state(params), self.inert_state(params)
        grids = [jnp.where(live, r, i) for r, i in zip(rest, inert, strict=True)]
        return jnp.concatenate([g.reshape(-1) for g in grids])

    def conduction(self, params: Float[Array, " n_params"]) -> list[list[Array]]:
        """The cells' conduction tensor entries ``D[a][b]`` (mm^2/ms), zero where the tissue
        does not conduct."""
        p = self.named(params)
        lab = self.labels
        sigma = jnp.where(lab == HEALTHY, 1.0, jnp.where(lab == BORDER, p.bz_D, 0.0))
        t = _fibres.tensor(self.fibres, len(self.shape), p.D, p.D * p.D_ratio)
        return [[sigma * e for e in row] for row in t]

    def _operator(self, params: Array) -> tuple[tuple[Array, ...], tuple]:
        """The per-step pieces of the diffusion operator: diagonal face coefficients (the
        glioma grid's harmonic-mean faces, per axis) and, when fibres are oblique, the
        cross-term face coefficients ``D_ab^f / h`` and the conducting mask."""
        D = self.conduction(params)
        h = self.spacing
        diag = tuple(_grid.cartesian_faces(D[a][a], h)[a] for a in range(len(self.shape)))
        if not self.cross:
            return diag, ()
        cond = (D[0][0] > 0).astype(jnp.float64)
        dim = len(self.shape)
        cross = []
        for a in range(dim):
            n = self.shape[a]
            for b in range(dim):
                if a == b:
                    continue
                lo = jax.lax.slice_in_dim(D[a][b] * cond, 0, n - 1, axis=a)
                hi = jax.lax.slice_in_dim(D[a][b] * cond, 1, n, axis=a)
                both = jax.lax.slice_in_dim(cond, 0, n - 1, axis=a) * jax.lax.slice_in_dim(
                    cond, 1, n, axis=a
                )
                pad = [(0, 0)] * dim
                pad[a] = (1, 1)
                cross.append(jnp.pad(0.5 * (lo + hi) * both / h**2, pad))
        return diag, (tuple(cross), cond)

    def diffusion(self, u: Array, ops: tuple[tuple[Array, ...], tuple]) -> Array:
        """``div(D grad u)`` (1/ms) with the pieces of :meth:`_operator`."""
        diag, extra = ops
        out = _grid.cartesian_operator(u, diag)
        if extra:
            out = out + _cross_terms(u, *extra)
        return out

    def step(
        self,
        t: Float[ArrayLike, ""],
        y: Float[Array, " n_states"],
        u_in: Float[Array, " n_inputs"],
        params: Float[Array, " n_params"],
        dt: float,
        key: PRNGKeyArray | None,
    ) -> Float[Array, " n_states"]:
        p = self.named(params)
        n = self.n_cells
        ops = self._operator(params)
        stim = u_in[0] * self.stimulus_region(params)
        border = (self.labels == BORDER).astype(jnp.float64)
        live = self.excitable()
        hs = dt / self.substeps

        def sub(_i, c):
            u, w = c
            # As in the glioma model: keep XLA from hoisting the face slices out of the loop.
            o, u = jax.lax.optimization_barrier((ops, u))
            u1, w1 = self.reaction(u, w, p, hs, border)
            u = u + live * (u1 - u + hs * stim)
            w = tuple(a + live * (b - a) for a, b in zip(w, w1, strict=True))
            return u + hs * self.diffusion(u, o), w

        k = len(self._cell_states)
        u0 = y[:n].reshape(self.shape)
        w0 = tuple(y[j * n : (j + 1) * n].reshape(self.shape) for j in range(1, k))
        u, w = jax.lax.fori_loop(0, self.substeps, sub, (u0, w0))
        return jnp.concatenate([u.reshape(-1), *(a.reshape(-1) for a in w)])

    def observe(
        self, t: Float[ArrayLike, ""], y: Float[Array, " n_states"], params: Float[Array, " p"]
    ) -> Float[Array, " n_observables"]:
        live = self.excitable()
        u = y[: self.n_cells].reshape(self.shape)
        excited = u > self.activation_threshold
        return jnp.stack([jnp.sum(live * excited) / jnp.sum(live)])


def _cross_terms(u: Array, faces: tuple[Array, ...], cond: Array) -> Array:
    """The off-diagonal part of ``div(D grad u)``: for each ordered pair ``a != b`` the
    divergence along ``a`` of ``D_ab^f`` times the face mean of the cells' gradients along
    ``b`` (centred over conducting neighbours, one-sided at a boundary)."""
    dim = u.ndim  # the face arrays carry 1/h^2, so the gradients are differences per cell
    up, cp = jnp.pad(u, 1), jnp.pad(cond, 1)

    def nb(x: Array, ax: int, lo: int) -> Array:
        idx = [slice(1, -1)] * dim
        idx[ax] = slice(lo, lo + u.shape[ax])
        return x[tuple(idx)]

    grads = []
    for b in range(dim):
        mp, mm = nb(cp, b, 2), nb(cp, b, 0)
        num = mp * (nb(up, b, 2) - u) + mm * (u - nb(up, b, 0))
        den = mp + mm
        grads.append(cond * num / jnp.where(den > 0, den, 1.0))
    out = jnp.zeros_like(u)
    k = 0
    for a in range(dim):
        n = u.shape[a]
        for b in range(dim):
            if a == b:
                continue
            g = grads[b]
            gp = jnp.pad(g, [(1, 1) if i == a else (0, 0) for i in range(dim)])
            gface = 0.5 * (
                jax.lax.slice_in_dim(gp, 0, n + 1, axis=a)
                + jax.lax.slice_in_dim(gp, 1, n + 2, axis=a)
            )
            flux = faces[k] * gface  # (n_a + 1) faces along a
            out = out + (
                jax.lax.slice_in_dim(flux, 1, n + 1, axis=a)
                - jax.lax.slice_in_dim(flux, 0, n, axis=a)
            )
            k += 1
    return out
