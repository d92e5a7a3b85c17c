"""Personalised conduction from electro-anatomical mapping: the posterior of the conduction
velocity given activation times at a few points, through the eikonal solver.

**Observations.** Electro-anatomical mapping records a local activation time (LAT, ms after
the pacing stimulus) at each point the catheter touches; a map has tens to hundreds of points.
:class:`MappingPoints` holds the points' positions (mm, in the tissue's frame),
their times and the measurement noise: Gaussian, independent, of standard deviation ``sd``
(ms), which the caller states (it depends on the mapping system and the annotation), one
for all points or one per point (batches joined with :meth:`MappingPoints.join`).

**QRS duration** (:class:`QRSDuration`, a summary observable). The QRS complex of a paced beat
lasts from the stimulus until the last of the ventricles activates: its duration is the
*total activation time* of the tissue (Durrer et al. 1970 measured both in isolated human
hearts). Forward map: the latest eikonal time over the conducting cells the pacing site's
wave reaches, from the map's pacing site -- like every eikonal time it scales exactly as
``1/cv``, so it is one more Gaussian term per ``(ratio, bz)`` node of the quadrature below,
from the same solve. Its ``sd`` (ms) states the measurement's noise plus the mismatch between
the surface ECG and the modelled tissue (a sheet or slab is not the whole heart; the caller
says how far it trusts the number).

**Forward map.** The activation time at a point is the eikonal solution (:mod:`.eikonal`) from
the pacing site at the grid cell that holds the point, for the conduction
velocity ``cv`` along the fibres in healthy tissue, ``cv * ratio`` across them, both scaled by
``bz`` in border zone, no conduction through scar, lesion or outside cells. A deterministic map
from a few parameters to the observations -- no ionic model is run -- because activation
times are what the map measures and the eikonal solution is what they are, far from
curvature and collisions, for a travelling front (Keener 1991; Colli Franzone et al. 1990).

**Why a grid posterior and not the particle filter.** The eikonal solution is homogeneous of
degree -1 in the velocity field: scaling every velocity by ``s`` scales every activation time
by ``1/s`` (the local solver is a minimum of linear combinations of neighbour times plus a
distance in the metric ``V^-1``, which scales by ``1/s^2``). So for each value of the shape
parameters (``ratio``, ``bz``) one solve at unit velocity gives the times for every ``cv``, and
the posterior over ``log cv`` is a one-dimensional integral evaluated on a fine grid --
quadrature, exact up to the grid, with no Monte Carlo error. The shape parameters, when free,
take the values of a stated grid (a discrete prior, uniform over its nodes), one solve per
node. The particle filter of :mod:`medtwin.assimilate` would spend one eikonal solve per
particle (10-20 ms each on a 24 x 24 grid, 2 cores), and with all points at one time it
reduces to importance sampling from the prior, whose effective sample size collapses when 20
points pin ``cv`` to about 1 %. For two or three parameters the grid is both exact and cheaper.
The posterior's :meth:`ConductionPosterior.sample` draws parameter vectors, the input a
forecast over the posterior (programmed stimulation on each draw) takes.

**Prior.** :class:`ConductionPrior`: ``cv`` log-normal, median 0.6 mm/ms (0.6 m/s) and
log standard deviation 0.5, truncated to ``bounds`` -- broad about the longitudinal velocity of
ventricular myocardium, about 0.5-0.6 m/s (Kleber & Rudy 2004); ``bz`` defaults to 0.35, the
border zone's third of healthy conduction in :mod:`.phantoms`.

References
----------
Keener JP. An eikonal-curvature equation for action potential propagation in myocardium.
J Math Biol 29:629-651, 1991.
Colli Franzone P, Guerri L, Rovida S. Wavefront propagation in an activation model of the
anisotropic cardiac tissue. J Math Biol 28:121-176, 1990.
Kleber AG, Rudy Y. Basic mechanisms of cardiac impulse propagation and associated
arrhythmias. Physiol Rev 84:431-488, 2004.
Durrer D, van Dam RT, Freud GE, Janse MJ, Meijler FL, Arzbaecher RC. Total excitation of the
isolated human heart. Circulation 41:899-912, 1970.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from ...errors import DataError, ModelError
from ._tissue import BORDER, HEALTHY
from .eikonal import solve_eikonal

__all__ = [
    "ConductionPosterior",
    "ConductionPrior",
    "MappingPoints",
    "QRSDuration",
    "mapping_times",
    "personalise_conduction",
]

_GRID = 2001  # points of each pass of the log-cv grid


def _noise_sd(owner: str, sd: float | ArrayLike, n: int) -> float | np.ndarray:
    """A noise sd (ms): one number > 0 (kept a float), or ``n`` of them (an array)."""
    arr = np.asarray(sd, dtype=np.float64) if np.ndim(sd) else None
    if arr is None:
        try:
            v = float(sd)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            v = math.nan
        if not (math.isfinite(v) and v > 0):
            raise DataError(f"{owner} needs a noise sd > 0 (ms). Got {sd!r}.")
        return v
    if arr.shape != (n,) or not (np.isfinite(arr).all() and (arr > 0).all()):
        raise DataError(
            f"{owner} needs a noise sd > 0 (ms): one number, or one per value ({n}). Got "
            f"an array of shape {arr.shape} (smallest {float(np.min(arr, initial=np.inf)):g})."
        )
    return arr


def _joined_sd(a: float | np.ndarray, na: int, b: float | np.ndarray, nb: int):
    if np.ndim(a) == 0 and np.ndim(b) == 0 and a == b:
        return a
    return np.concatenate([np.broadcast_to(a, (na,)), np.broadcast_to(b, (nb,))])


def _log_norm(sd: float | np.ndarray, n: int) -> float:
    """``sum log(sd sqrt(2 pi))`` over ``n`` Gaussian terms."""
    if np.ndim(sd) == 0:
        return n * math.log(float(sd) * math.sqrt(2 * math.pi))
    return float(np.sum(np.log(np.asarray(sd) * math.sqrt(2 * math.pi))))


@dataclass(frozen=True)
class MappingPoints:
    """Activation times of an electro-anatomical map: ``positions`` (``[n, dim]``, mm, in the
    tissue's frame: cell ``i`` spans ``[i h, (i + 1) h)``, its centre at ``(i + 0.5) h`` as in
    ``MonodomainTissue.centres()``), ``times`` (``[n]``, ms after the stimulus) and the Gaussian
    measurement noise ``sd`` (ms; one number for every point, or ``[n]``, one per point)."""

    positions: np.ndarray
    times: np.ndarray
    sd: float | np.ndarray

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions, dtype=np.float64)
        t = np.asarray(self.times, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] not in (2, 3) or len(pos) != t.shape[0] or t.ndim != 1:
            raise DataError(
                "MappingPoints needs positions of shape [n, 2] or [n, 3] (mm) and n times (ms). "
                f"Got positions of shape {pos.shape} and times of shape {t.shape}."
            )
        if len(t) == 0 or not (np.isfinite(pos).all() and np.isfinite(t).all()):
            raise DataError(
                "MappingPoints needs at least one point, all positions and times finite. Got "
                f"{len(t)} points, {int((~np.isfinite(t)).sum())} non-finite times."
            )
        object.__setattr__(self, "sd", _noise_sd("MappingPoints", self.sd, len(t)))
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "times", t)

    def join(self, other: MappingPoints) -> MappingPoints:
        """These points followed by ``other``'s (the same number of coordinates); the noise sd
        stays one number if both batches share it, else one per point."""
        if other.positions.shape[1] != self.positions.shape[1]:
            raise DataError(
                f"Cannot join {self.positions.shape[1]}D mapping points with "
                f"{other.positions.shape[1]}D ones: give every batch one coordinate per grid axis."
            )
        n, m = len(self.times), len(other.times)
        return MappingPoints(
            np.concatenate([self.positions, other.positions]),
            np.concatenate([self.times, other.times]),
            _joined_sd(self.sd, n, other.sd, m),
        )


@dataclass(frozen=True)
class QRSDuration:
    """QRS durations (ms) of beats paced at the mapping's pacing site, each from the stimulus
    to the end of the QRS complex: ``durations`` (one number or ``[m]``) and the Gaussian
    noise ``sd`` (ms; one number or ``[m]``). The forward map is the tissue's total activation
    time (see the module docstring)."""

    durations: np.ndarray
    sd: float | np.ndarray

    def __post_init__(self) -> None:
        d = np.atleast_1d(np.asarray(self.durations, dtype=np.float64))
        if d.ndim != 1 or len(d) == 0 or not (np.isfinite(d).all() and (d > 0).all()):
            raise DataError(
                "QRSDuration needs one or more finite durations > 0 (ms). Got "
                f"{np.asarray(self.durations).tolist()!r}."
            )
        object.__setattr__(self, "sd", _noise_sd("QRSDuration", self.sd, len(d)))
        object.__setattr__(self, "durations", d)

    def join(self, other: QRSDuration) -> QRSDuration:
        """These durations followed by ``other``'s."""
        n, m = len(self.durations), len(other.durations)
        return QRSDuration(
            np.concatenate([self.durations, other.durations]),
            _joined_sd(self.sd, n, other.sd, m),
        )


@dataclass(frozen=True)
class ConductionPrior:
    """Log-normal prior of the longitudinal conduction velocity ``cv`` (mm/ms): ``median``,
    ``log_sd``, truncated to ``bounds``; ``ratio`` (transverse / longitudinal velocity) and
    ``bz`` (border-zone / healthy velocity): the grid nodes each may take, uniform over them
    (one value: fixed)."""

    median: float = 0.6
    log_sd: float = 0.5
    bounds: tuple[float, float] = (0.05, 3.0)
    ratio: tuple[float, ...] = (1.0,)
    bz: tuple[float, ...] = (0.35,)

    def __post_init__(self) -> None:
        lo, hi = self.bounds
        if not (0 < lo < self.median < hi and math.isfinite(hi) and self.log_sd > 0):
            raise ModelError(
                "ConductionPrior needs 0 < bounds[0] < median < bounds[1] (mm/ms) and log_sd > 0. "
                f"Got median={self.median!r}, bounds={self.bounds!r}, log_sd={self.log_sd!r}."
            )
        for name in ("ratio", "bz"):
            vals = getattr(self, name)
            if not vals or not all(math.isfinite(v) and 0 < v <= 1 for v in vals):
                raise ModelError(
                    f"ConductionPrior.{name} must be a non-empty tuple of values in (0, 1]. Got "
                    f"{vals!r}."
                )


@dataclass(frozen=True)
class ConductionPosterior:
    """The posterior over ``(cv, ratio, bz)``: ``weights[k, i]`` is the probability of shape
    node ``k`` (``ratio[k]``, ``bz[k]``) and the ``i``-th cell of the log-``cv`` grid ``cv``
    (mm/ms); ``log_evidence`` the log marginal likelihood of the points."""

    cv: np.ndarray
    ratio: np.ndarray
    bz: np.ndarray
    weights: np.ndarray
    log_evidence: float

    def quantiles(self, qs: tuple[float, ...] = (0.05, 0.5, 0.95)) -> dict[str, tuple]:
        """Posterior quantiles of each parameter (``cv`` interpolated within the grid; ``ratio``
        and ``bz`` the smallest node whose cumulative probability reaches ``q``)."""
        out = {"cv": tuple(float(v) for v in _grid_quantiles(self.cv, self.weights.sum(0), qs))}
        for name in ("ratio", "bz"):
            vals = getattr(self, name)
            order = np.unique(vals)
            p = np.array([self.weights[vals == v].sum() for v in order])
            cum = np.cumsum(p)
            idx = [min(int(np.searchsorted(cum, q - 1e-12)), len(order) - 1) for q in qs]
            out[name] = tuple(float(order[i]) for i in idx)
        return out

    def sample(self, seed: int, n: int) -> np.ndarray:
        """``n`` draws ``[n, 3]`` of ``(cv, ratio, bz)`` (``cv`` uniform within its grid cell on
        the log scale), from ``numpy.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        flat = self.weights.ravel() / self.weights.sum()
        pick = rng.choice(flat.size, size=n, p=flat)
        k, i = np.unravel_index(pick, self.weights.shape)
        step = np.log(self.cv[1] / self.cv[0])
        cv = self.cv[i] * np.exp(step * (rng.random(n) - 0.5))
        return np.stack([cv, self.ratio[k], self.bz[k]], axis=1)


def _grid_quantiles(x: np.ndarray, w: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles of the distribution with mass ``w`` spread evenly over the log-grid cells
    centred on ``x``: the cumulative mass is linear in ``log x`` within a cell."""
    lx = np.log(x)
    h = lx[1] - lx[0]
    edges = np.concatenate([[lx[0] - h / 2], lx + h / 2])
    cum = np.concatenate([[0.0], np.cumsum(w / w.sum())])
    return np.exp(np.interp(np.asarray(qs), cum, edges))


def _cells(points: MappingPoints, shape: tuple[int, ...], spacing: float, live: np.ndarray):
    if points.positions.shape[1] != len(shape):
        raise DataError(
            f"The mapping points are {points.positions.shape[1]}D but the tissue grid is "
            f"{len(shape)}D ({shape}). Give positions with one coordinate per grid axis."
        )
    idx = np.floor(points.positions / spacing).astype(int)
    out = (idx < 0).any(1) | (idx >= np.asarray(shape)).any(1)
    bad = np.flatnonzero(out)
    if not len(bad):
        bad = np.flatnonzero(~live[tuple(idx.T)])
    if len(bad):
        raise DataError(
            f"Mapping point {int(bad[0])} at {points.positions[bad[0]].tolist()} mm is not on "
            "conducting tissue (outside the grid, or in scar, lesion or outside cells). Remove "
            "it or check the positions' origin (the first cell's centre) and units (mm)."
        )
    return tuple(idx.T)


def mapping_times(
    labels: ArrayLike,
    spacing: float,
    sources: ArrayLike,
    cv: float,
    ratio: float = 1.0,
    bz: float = 0.35,
    fibres: ArrayLike = 0.0,
    *,
    iterations: int | None = None,
) -> np.ndarray:
    """The activation-time map (ms) for tissue ``labels`` (``HEALTHY`` and ``BORDER`` conduct)
    paced at the cells where ``sources`` is true, with velocity ``cv`` (mm/ms) along the
    fibres, ``cv * ratio`` across, both times ``bz`` in border zone; ``numpy.inf`` where no
    path reaches. The forward map of :func:`personalise_conduction`."""
    lab = np.asarray(labels)
    live = (lab == HEALTHY) | (lab == BORDER)
    if not live.any():
        raise ModelError(
            "mapping_times() needs tissue that conducts (HEALTHY or BORDER labels). Got none."
        )
    speed = np.where(lab == BORDER, bz, 1.0) * cv
    r = solve_eikonal(
        sources, spacing, speed, speed * ratio, fibres, mask=live, iterations=iterations,
        near_source=0,
    )  # fmt: skip
    if float(r.residual) > 1e-9:
        raise ModelError(
            f"The eikonal solve did not converge (last change {float(r.residual):.3g} ms). "
            "Pass more iterations."
        )
    t = np.asarray(r.times)
    return np.where(live & (t < 1e8), t, np.inf)


def personalise_conduction(
    points: MappingPoints | None,
    labels: ArrayLike,
    spacing: float,
    sources: ArrayLike,
    *,
    prior: ConductionPrior | None = None,
    fibres: ArrayLike = 0.0,
    iterations: int | None = None,
    qrs: QRSDuration | None = None,
) -> ConductionPosterior:
    """The posterior of ``(cv, ratio, bz)`` given the mapping ``points`` and/or the paced
    beats' ``qrs`` durations on tissue ``labels`` (grid of ``spacing`` mm) paced from
    ``sources`` (see the module docstring): one eikonal solve per ``(ratio, bz)`` node of
    ``prior``, then the exact posterior over ``log cv`` on a grid refined to where its mass
    lies."""
    if points is None and qrs is None:
        raise DataError(
            "personalise_conduction() needs observations: mapping points, QRS durations or "
            "both. Got neither."
        )
    prior = prior or ConductionPrior()
    lab = np.asarray(labels)
    live = (lab == HEALTHY) | (lab == BORDER)
    cells = None if points is None else _cells(points, lab.shape, spacing, live)
    nodes = list(itertools.product(prior.ratio, prior.bz))
    unit, total = [], []
    for ratio, bz in nodes:
        t1 = mapping_times(lab, spacing, sources, 1.0, ratio, bz, fibres, iterations=iterations)
        total.append(np.max(t1[np.isfinite(t1)]))  # the total activation time at cv = 1
        if cells is None:
            continue
        at = t1[cells]
        if not np.isfinite(at).all():
            bad = int(np.flatnonzero(~np.isfinite(at))[0])
            raise DataError(
                f"Mapping point {bad} is on tissue the pacing site's wave cannot reach (walled "
                "off by scar). Remove it or check the labels."
            )
        unit.append(at)
    T1 = None if cells is None else jnp.asarray(np.stack(unit))  # [nodes, points] at cv = 1
    Q1 = jnp.asarray(np.array(total))  # [nodes]: total activation time at cv = 1 mm/ms

    def log_post(lcv: np.ndarray) -> np.ndarray:
        g = jnp.asarray(lcv)
        terms = []
        if points is not None and T1 is not None:
            pred = T1[:, None, :] * jnp.exp(-g)[None, :, None]
            terms.append(-0.5 * jnp.sum(((points.times - pred) / points.sd) ** 2, axis=-1))
        if qrs is not None:
            q = Q1[:, None, None] * jnp.exp(-g)[None, :, None]
            terms.append(-0.5 * jnp.sum(((qrs.durations - q) / qrs.sd) ** 2, axis=-1))
        ll = terms[0] if len(terms) == 1 else terms[0] + terms[1]
        lp = -0.5 * ((g - math.log(prior.median)) / prior.log_sd) ** 2
        return np.asarray(ll + lp[None, :])

    lo, hi = (math.log(b) for b in prior.bounds)
    grid = np.linspace(lo, hi, _GRID)
    lp = log_post(grid)
    keep = np.flatnonzero((lp.max(0) - lp.max()) > -40.0)  # mass beyond: below e^-40
    a, b = grid[max(keep[0] - 1, 0)], grid[min(keep[-1] + 1, _GRID - 1)]
    h = (b - a) / _GRID
    fine = np.linspace(a + h / 2, b - h / 2, _GRID)
    lp = log_post(fine)
    top = lp.max()
    w = np.exp(lp - top)
    norm = 0.0 if points is None else _log_norm(points.sd, len(points.times))
    if qrs is not None:
        norm += _log_norm(qrs.sd, len(qrs.durations))
    const = -norm - math.log(prior.log_sd * math.sqrt(2 * math.pi))
    # the truncated prior's mass within the bounds normalises it; the node prior is uniform
    mass = 0.5 * (
        math.erf((hi - math.log(prior.median)) / (prior.log_sd * math.sqrt(2)))
        - math.erf((lo - math.log(prior.median)) / (prior.log_sd * math.sqrt(2)))
    )
    log_ev = top + math.log(w.sum() * h / len(nodes) / mass) + const
    return ConductionPosterior(
        cv=np.exp(fine),
        ratio=np.array([r for r, _ in nodes]),
        bz=np.array([z for _, z in nodes]),
        weights=w / w.sum(),
        log_evidence=float(log_ev),
    )
