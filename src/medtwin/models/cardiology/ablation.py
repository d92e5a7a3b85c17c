"""Ablation targeting: locate the isthmus of an induced reentry, propose the lesion that
transects it, confirm by re-running the whole stimulation protocol, and compare lesion plans.

**Input**: the last two activation times of every cell at the end of a run in VT
(:class:`~.stimulation.Inducibility` ``activation``). Each cell's own period is the difference;
across a face, activation times more than half a cycle apart (the front in progress at the
end of the recording lies between them) are compared with the earlier cell's next activation,
one of its own periods later.

**The circuit.** A cell is on the reentrant circuit if the wave can be followed forward from it
for ever, through face neighbours activated later. Cells with no later neighbour (where waves
collide, or at the end of a dead-end channel) are removed, over and over, which removes every
bystander path that leads only there; what remains carries the reentry.

**The isthmus as the shortest isochrone.** Every cycle the wavefront passes through the
circuit's narrowest conducting passage. By the coarea formula, the circuit cells activating in
a window ``[s, s + ds)`` have ``sum h^d |grad LAT| = integral over the window of the
isochrone's length``, so ``l(s) = sum h^d |grad LAT| / ds`` is the total length of the circuit's
wavefronts at time ``s`` (mm in 2D). Its minimum (smoothed over three windows) is the isthmus
and ``l`` its width. The activations are complete from the latest "previous" activation to
the end of the recording (at least one cycle). ``ds`` is at least the time the front takes to
cross one cell (95th percentile over the circuit's faces), so a moving front activates cells in
every window.

**The lesion** is the band of circuit cells activating in the minimal window: it spans the
isthmus from one non-conducting boundary to the other. It is widened half a window at a time
while two face-neighbouring circuit cells outside it activate before and after it (the wave
could step over). Its cells become ``LESION`` (non-conducting, non-excitable).

**Iteration** (:func:`ablate`): after each lesion the whole protocol is re-run from every
pacing site; an emergent VT (another circuit, or one around the lesion) is targeted in the
next round, up to ``max_rounds``. :func:`what_if` runs the protocol on the model with each of
several lesion plans and reports each plan's inducibility score, its interval and its size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from ...errors import ModelError
from ._tissue import BORDER, HEALTHY, LESION, MonodomainTissue
from .stimulation import Inducibility, PESProtocol, VTDefinition, programmed_stimulation

__all__ = ["Ablation", "Isthmus", "PlanOutcome", "ablate", "locate_isthmus", "what_if",
           "with_lesion"]  # fmt: skip


@dataclass(frozen=True, eq=False)
class Isthmus:
    """The isthmus of a reentry: ``width`` (mm: the shortest isochrone's length in 2D, area in
    3D), ``time`` (ms into the cycle), ``cells`` (True on the minimal isochrone band) and
    ``lesion`` (True on the cells to ablate: the band, widened until it separates)."""

    width: float
    time: float
    cells: np.ndarray
    lesion: np.ndarray


@dataclass(frozen=True, eq=False)
class Ablation:
    """The result of :func:`ablate`: the cumulative ``lesion`` (True where ablated), the
    ``isthmuses`` targeted in each round, the protocol's result before any lesion
    (``baseline``) and after each round (``rounds``), the ablated ``model``, and why the
    iteration ``stopped``: ``"non-inducible"``, ``"max_rounds"``, ``"no circuit"`` (no induced
    VT had a circuit to cut: e.g. every wave dies within a cycle, as in 2:1 block) or
    ``"nothing new"`` (the isthmus found is already ablated)."""

    lesion: np.ndarray
    isthmuses: tuple[Isthmus, ...]
    baseline: Inducibility
    rounds: tuple[Inducibility, ...]
    model: MonodomainTissue
    stopped: str

    @property
    def final(self) -> Inducibility:
        """The protocol's result with the whole lesion."""
        return self.rounds[-1] if self.rounds else self.baseline


@dataclass(frozen=True, eq=False)
class PlanOutcome:
    """One lesion plan in :func:`what_if`: its ``name``, ``cells`` and ``area`` (mm^2 in 2D,
    mm^3 in 3D) ablated and the protocol's ``inducibility`` with it."""

    name: str
    cells: int
    area: float
    inducibility: Inducibility


def with_lesion(model: MonodomainTissue, lesion: ArrayLike) -> MonodomainTissue:
    """``model`` with the excitable cells of ``lesion`` (a boolean grid) labelled ``LESION``;
    every other setting (grid, fibres, substep) unchanged."""
    mask = np.asarray(lesion)
    if mask.shape != model.shape or mask.dtype != bool:
        raise ModelError(
            f"A lesion must be a boolean array of the grid's shape {model.shape}. Got "
            f"{mask.dtype} of shape {mask.shape}."
        )
    labels = np.asarray(model.labels)
    new = np.where(mask & np.isin(labels, (HEALTHY, BORDER)), LESION, labels).astype(np.int32)
    if not np.isin(new, (HEALTHY, BORDER)).any():
        raise ModelError(
            "This lesion would ablate every excitable cell of the tissue. Expected a lesion "
            "that leaves tissue to pace; check the mask."
        )
    return eqx.tree_at(lambda m: m.labels, model, jnp.asarray(new))


def _faces(last: np.ndarray, period: np.ndarray, axis: int, cycle: float) -> np.ndarray:
    """Activation-time differences across the faces along ``axis`` (upper minus lower cell),
    unwrapped: where the two last activations are more than half a cycle apart (the front in
    progress at the end of the recording runs between them) the earlier cell's next activation,
    one of its own periods later, is the one to compare. NaN where a side has none."""
    n = last.shape[axis]
    lo, hi = (np.take(last, np.arange(n - 1), axis=axis), np.take(last, np.arange(1, n), axis=axis))
    p_lo = np.take(period, np.arange(n - 1), axis=axis)
    p_hi = np.take(period, np.arange(1, n), axis=axis)
    d = hi - lo
    return np.where(d < -0.5 * cycle, d + p_hi, np.where(d > 0.5 * cycle, d - p_lo, d))


def _pad(x: np.ndarray, axis: int, before: int, value: float | bool) -> np.ndarray:
    pad = [(0, 0)] * x.ndim
    pad[axis] = (before, 1 - before)
    return np.pad(x, pad, constant_values=value)


def _grad_norm(last: np.ndarray, period: np.ndarray, h: float, cycle: float) -> np.ndarray:
    """``|grad LAT|`` (ms/mm): per axis the mean of the valid face differences on both sides."""
    total = np.zeros(last.shape)
    for a in range(last.ndim):
        f = _faces(last, period, a, cycle)
        both = np.stack([_pad(f, a, 1, np.nan), _pad(f, a, 0, np.nan)])
        cnt = np.isfinite(both).sum(0)
        g = np.where(cnt > 0, np.nansum(both, 0) / np.maximum(cnt, 1), 0.0) / h
        total += g**2
    return np.sqrt(total)


def _circuit(last: np.ndarray, period: np.ndarray, live: np.ndarray, cycle: float) -> np.ndarray:
    """The cells of the reentrant circuit: those from which the wave can be followed forward
    for ever, through face neighbours activated later. Cells with no later neighbour (where
    waves collide or a dead-end channel ends) are removed over and over, which removes every
    bystander path that only leads there."""
    faces = [_faces(last, period, a, cycle) for a in range(last.ndim)]
    alive = live.copy()
    for _ in range(int(live.sum())):
        succ = np.zeros(last.shape, bool)
        for a, d in enumerate(faces):
            n = last.shape[a]
            both = np.take(alive, np.arange(n - 1), axis=a) & np.take(
                alive, np.arange(1, n), axis=a
            )
            succ |= _pad(both & (d > 0), a, 0, False)  # the lower cell's later neighbour
            succ |= _pad(both & (d < 0), a, 1, False)
        new = alive & succ
        if (new == alive).all():
            break
        alive = new
    return alive


def locate_isthmus(
    model: MonodomainTissue,
    activation: ArrayLike,
    cycle_length: float,
    t_end: float,
    *,
    window: float | None = None,
) -> Isthmus:
    """The isthmus of the reentry whose last two activation times per cell are ``activation``
    ((2, *grid) ms, as :class:`~.stimulation.Inducibility` holds them), with cycle length
    ``cycle_length`` ms, recorded until ``t_end``. ``window``: the isochrone window (ms;
    default the largest of cycle / 60, the input step and the longest time the front takes
    across one cell). See the module docstring."""
    act = np.asarray(activation, dtype=np.float64)
    if act.shape != (2, *model.shape):
        raise ModelError(
            f"locate_isthmus() needs activation times of shape (2, *grid) = (2, "
            f"{', '.join(map(str, model.shape))}). Got {act.shape}."
        )
    if not (math.isfinite(cycle_length) and cycle_length > 0):
        raise ModelError(
            f"locate_isthmus() needs the reentry's cycle length (> 0 ms). Got {cycle_length!r}: "
            "pass the cycle length of an induced VT (Inducibility.cycle_length of an induced site)."
        )
    last, prev = act
    # the cells taking part in the rhythm: activated twice, the last within 1.5 cycles
    live = (
        np.isfinite(last)
        & np.isfinite(prev)
        & (last > t_end - 1.5 * cycle_length)
        & (np.asarray(model.excitable()) > 0)
    )
    if live.sum() < 3:
        raise ModelError(
            "locate_isthmus() found fewer than 3 cells activating in the last cycles: this "
            "recording holds no reentry. Pass the activation of a site where VT was induced."
        )
    period = np.where(live, last - prev, np.nan)
    cyc = float(np.median(period[live]))
    last = np.where(live, last, np.nan)
    loop = _circuit(last, period, live, cyc)
    if not loop.any():
        raise ModelError(
            "locate_isthmus() found no reentrant circuit: every wave in this activation ends "
            "(collides or dies out) within the cycle. Pass the activation of a site where VT "
            "was induced."
        )
    if window is None:
        # at least the longest time the front takes across one cell, so that a moving front
        # activates cells in every window (no empty window in a slow isthmus)
        both = [_faces(np.where(loop, last, np.nan), period, a, cyc) for a in range(last.ndim)]
        steps = np.concatenate([np.abs(f[np.isfinite(f)]) for f in both])
        step = float(np.percentile(steps, 95)) if steps.size else 0.0
        ds = max(model.input_dt, cyc / 60.0, step)
    else:
        ds = float(window)
    # every activation of a circuit cell after the latest "previous" one is recorded (the
    # recording keeps two per cell): the isochrones are complete over [s0, t_end]
    s0 = float(np.max(prev[loop]))
    nb = max(3, int((t_end - s0) // ds))
    ds = (t_end - s0) / nb
    gn = _grad_norm(last, period, model.spacing, cyc)
    w = model.spacing ** len(model.shape) * gn
    length = np.zeros(nb)
    count = np.zeros(nb)
    bins = []
    for t in (last, prev):
        k = np.floor((np.nan_to_num(t, nan=-np.inf) - s0) / ds)
        sel = loop & (k >= 0) & (k < nb)
        length += np.bincount(k[sel].astype(int), weights=w[sel], minlength=nb)
        count += np.bincount(k[sel].astype(int), minlength=nb)
        bins.append(np.where(sel, k, -1))
    length /= ds
    smooth = np.convolve(np.pad(length, 1, mode="edge"), np.ones(3) / 3.0, mode="valid")
    j = int(np.argmin(np.where(count > 0, smooth, np.inf)))
    band = loop & ((bins[0] == j) | (bins[1] == j))
    lo, hi = s0 + j * ds, s0 + (j + 1) * ds
    lesion = band
    for _ in range(nb):
        if not _bypassed(last, prev, period, loop, lesion, lo, hi, cyc):
            break
        lo, hi = lo - 0.5 * ds, hi + 0.5 * ds
        lesion = loop & (((last >= lo) & (last < hi)) | ((prev >= lo) & (prev < hi)))
    return Isthmus(width=float(smooth[j]), time=float(s0 + (j + 0.5) * ds), cells=band,
                   lesion=lesion)  # fmt: skip


def _bypassed(last, prev, period, loop, band, lo: float, hi: float, cycle: float) -> bool:
    """Whether two face-neighbouring circuit cells outside ``band`` activate before ``lo``
    and after ``hi`` (from the first cell's activation nearest the window and the unwrapped
    difference across the face): the wave could step over the band there, so the band does
    not yet cut the circuit."""
    c = 0.5 * (lo + hi)
    tau = np.where(np.abs(last - c) <= np.abs(prev - c), last, prev)
    out = loop & ~band
    for a in range(tau.ndim):
        n = tau.shape[a]
        d = _faces(last, period, a, cycle)
        ta, oa = np.take(tau, np.arange(n - 1), axis=a), np.take(out, np.arange(n - 1), axis=a)
        ob = np.take(out, np.arange(1, n), axis=a)
        t0, t1 = np.minimum(ta, ta + d), np.maximum(ta, ta + d)
        if (oa & ob & (t0 < lo) & (t1 >= hi)).any():
            return True
    return False


def ablate(
    model: MonodomainTissue,
    params: ArrayLike,
    sites: ArrayLike,
    *,
    protocol: PESProtocol | None = None,
    definition: VTDefinition | None = None,
    recording_sites: ArrayLike | None = None,
    max_rounds: int = 3,
    baseline: Inducibility | None = None,
) -> Ablation:
    """Target the induced VTs of ``model`` (see the module docstring): locate the isthmus of the
    first induced site's VT (the next site's if that VT has no circuit), ablate it, re-run the
    protocol from every site, and repeat while VT is inducible, at most ``max_rounds`` times.
    ``baseline``: the protocol's result on ``model`` if already computed (the same sites and
    settings)."""
    if not (isinstance(max_rounds, int) and max_rounds >= 1):
        raise ModelError(f"ablate() max_rounds must be an integer >= 1. Got {max_rounds!r}.")

    def run(tissue: MonodomainTissue) -> Inducibility:
        return programmed_stimulation(
            tissue, params, sites, protocol=protocol, definition=definition,
            recording_sites=recording_sites,
        )  # fmt: skip

    base = baseline or run(model)
    lesion = np.zeros(model.shape, bool)
    current, res = model, base
    isthmuses: list[Isthmus] = []
    rounds: list[Inducibility] = []
    stopped = "max_rounds"
    for _ in range(max_rounds + 1):
        if not res.induced.any():
            stopped = "non-inducible"
            break
        if len(rounds) == max_rounds:
            break
        isthmus = _first_isthmus(current, res)
        if isthmus is None:
            stopped = "no circuit"
            break
        isthmuses.append(isthmus)
        if not (isthmus.lesion & ~lesion).any():
            stopped = "nothing new"
            break
        lesion |= isthmus.lesion
        current = with_lesion(model, lesion)
        res = run(current)
        rounds.append(res)
    return Ablation(lesion, tuple(isthmuses), base, tuple(rounds), current, stopped)


def _first_isthmus(model: MonodomainTissue, res: Inducibility) -> Isthmus | None:
    """The isthmus of the first induced site whose VT has a circuit (None if none has)."""
    for i in np.flatnonzero(res.induced):
        try:
            return locate_isthmus(model, res.activation[i], float(res.cycle_length[i]),
                                  float(res.t_end[i]))  # fmt: skip
        except ModelError:
            continue
    return None


def what_if(
    model: MonodomainTissue,
    params: ArrayLike,
    sites: ArrayLike,
    plans: Mapping[str, ArrayLike],
    *,
    protocol: PESProtocol | None = None,
    definition: VTDefinition | None = None,
    recording_sites: ArrayLike | None = None,
) -> tuple[PlanOutcome, ...]:
    """Each lesion plan (name -> boolean grid; an all-False grid is "no ablation") run through
    the whole protocol from every site: its inducibility score, interval and size."""
    if not plans:
        raise ModelError("what_if() needs at least one lesion plan (name -> boolean grid).")
    out = []
    vol = model.spacing ** len(model.shape)
    for name, plan in plans.items():
        ablated = with_lesion(model, plan)
        n = int((np.asarray(ablated.labels) != np.asarray(model.labels)).sum())
        res = programmed_stimulation(
            ablated, params, sites, protocol=protocol, definition=definition,
            recording_sites=recording_sites,
        )  # fmt: skip
        out.append(PlanOutcome(str(name), n, n * vol, res))
    return tuple(out)
