"""The run behind ``medtwin simulate cardiac``: the tissue (a phantom, or an LGE scan cropped
to its tissue), the pacing site and electrodes in its frame, the paced run and what is read
off it.

**Tissue.** The sheets of :mod:`medtwin.models.cardiology.phantoms` (a size other than the
default 50 x 30 mm scales the scar with it), or the labels :func:`medtwin.data.cardiac.
read_lge_scan` gives (intensity ratio to the blood pool), cropped to the tissue's bounding box
for the run and put back on the scan's grid for ``lat.nii.gz``. Coordinates are mm in the
grid's frame: cell ``(i, j[, k])`` is centred at ``((i + 1/2) h, (j + 1/2) h[, (k + 1/2) h])``
(a scan's: from the corner of its first voxel; :class:`Tissue` ``.origin`` is where the crop
starts).

**The run** (:func:`record`): each stimulus a 2 ms ``Infusion`` on the tissue's ``stimulus``
input at the site (:data:`STIMULUS`: an amplitude and a radius per ionic model, the radius
above the critical one), run by :func:`medtwin.simulate.simulate` in equal chunks of at most
:data:`CHUNK_MS` ms, each from the last state of the one before: only one chunk's states are
held (:func:`chunk_ms` bounds them), and the activation times, the pseudo-ECG every ms
(:func:`~medtwin.models.cardiology.pseudo_ecg`, the bath's conductivity :data:`SIGMA_E_RATIO`
times ``D``) and the movie's frames every :func:`frame_ms` ms are read off each, so the memory
does not grow with the simulated time.

**The first beat** is what happens from the first stimulus to the next one (or the end): a
cell's LAT is its first upward crossing of the model's ``activation_threshold`` in that
window. From it: the conduction velocity along and across the fibres
(:func:`conduction_velocities`, activation times on the lines through the pacing site) and a
QRS-like interval off the ECG (:func:`qrs_interval`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from ..limits import CARDIAC_CELLS

if TYPE_CHECKING:
    from ..models.cardiology import MonodomainTissue
    from ._cardiac_simulate import Request

__all__ = [
    "SIGMA_E_RATIO",
    "STIMULUS",
    "Recording",
    "Tissue",
    "conduction_velocities",
    "electrodes",
    "pacing_site",
    "qrs_interval",
    "record",
    "tissue_of",
]

PULSE_MS = 2.0  # ms: the stimulus pulse, as PESProtocol's
# (amplitude in u's unit per ms, radius in mm in 2D, in 3D). Aliev-Panfilov's critical radius
# is about (d - 1) D / c: 3.6 mm in 2D, 7.3 mm in 3D at the defaults (docs/cardiology.md);
# ten Tusscher's amplitude is Niederer et al. 2011's 50 000 uA/cm^3 over chi C_m (mV/ms).
STIMULUS: dict[str, tuple[float, float, float]] = {
    "aliev-panfilov": (1.0, 4.0, 8.0),
    "mitchell-schaeffer": (1.0, 1.5, 1.5),
    "ten-tusscher": (50_000.0 / 1400.0, 1.5, 1.5),
}
# The bath's conductivity over the monodomain one along the fibres: Niederer et al. 2011's
# extracellular 0.62 S/m over its monodomain 0.1334 S/m.
SIGMA_E_RATIO = 0.62 / (0.17 * 0.62 / (0.17 + 0.62))
CV_CELLS, CV_SPAN = 5, 2.0  # cells and mm a conduction velocity is read from, at least
CV_START = 2.0  # mm: the cells it is read from begin this far beyond the stimulated region
# and end this far from scar or the edge
QRS_LEVEL = 0.1  # of the RMS lead's peak
QRS_QUIET = 10.0  # ms below the level that end the QRS
CHUNK_MS = 50  # ms of potential held at once, at most
CHUNK_VALUES = 20_000_000  # states x saved steps of one chunk, at most (160 MB)


@dataclass(frozen=True, eq=False)
class Tissue:
    """The grid a run uses: labels (cropped), spacing (mm), ``origin`` (mm: where the crop
    starts in the scan's frame), the scan's shape and the crop's slices, a description, and
    the default pacing site (mm, in the crop's frame): a phantom's first site, on a scan the
    excitable cell nearest the excitable tissue's centroid."""

    labels: np.ndarray
    spacing: float
    origin: np.ndarray
    full_shape: tuple[int, ...]
    crop: tuple[slice, ...]
    name: str
    site: np.ndarray


@dataclass(frozen=True, eq=False)
class Recording:
    """A run's results: the first beat's LAT (ms, the cropped grid), the ECG (ms, leads) every
    ms, and the movie's frames (times, 2D cuts of the potential)."""

    lat: np.ndarray
    ecg_times: np.ndarray
    ecg: np.ndarray
    frame_times: np.ndarray
    frames: np.ndarray


# ---- the tissue ----------------------------------------------------------------------------


def tissue_of(req: Request) -> Tissue:
    """The labels of the phantom or of the LGE scan (cropped to its tissue)."""
    from ..models.cardiology import BORDER, HEALTHY, OUTSIDE, homogeneous_sheet
    from ..models.cardiology import scar_channel_sheet as sheet

    if req.lge is None:
        if req.phantom == "homogeneous":
            ph, name = homogeneous_sheet(req.size, req.spacing), "homogeneous sheet"
        else:
            w, h = req.size  # the default scar (34 x 12 mm on 50 x 30) scaled with the sheet
            label = BORDER if req.channel == "border" else HEALTHY
            ph = sheet(req.size, req.spacing, scar=(0.68 * w, 0.4 * h), channel_label=label)
            name = f"scar-channel phantom ({req.channel} channel)"
        shape = ph.labels.shape
        full = tuple(slice(0, n) for n in shape)
        return Tissue(ph.labels, ph.spacing, np.zeros(2), shape, full, name, ph.sites[0])
    from ..data.cardiac import read_lge_scan

    assert req.segmentation is not None  # check_request gives both or neither
    scan = read_lge_scan(req.lge, req.segmentation, myocardium=req.labels[0],
                         blood_pool=req.labels[1])  # fmt: skip
    lab = scan.labels
    where = np.argwhere(lab != OUTSIDE)
    lo = np.maximum(where.min(axis=0) - 1, 0)
    hi = np.minimum(where.max(axis=0) + 2, lab.shape)
    crop = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    CARDIAC_CELLS.check(int(np.prod(hi - lo)), name="the scan's cells (its tissue's bounding box)")
    name = f"LGE scan {req.lge.name} ({lab.ndim}D)"
    cells = np.argwhere(np.isin(lab[crop], (HEALTHY, BORDER)))
    if not len(cells):
        raise DataError(
            f"The LGE scan {req.lge.name!r} labels no excitable tissue: every myocardium voxel "
            "is scar. Expected healthy or border-zone myocardium; check the segmentation."
        )
    near = cells[np.argmin(np.linalg.norm(cells - cells.mean(axis=0), axis=1))]
    return Tissue(lab[crop], scan.spacing, lo * scan.spacing, lab.shape, crop, name,
                  (near + 0.5) * scan.spacing)  # fmt: skip


def pacing_site(tissue: Tissue, req: Request) -> np.ndarray:
    """The pacing site in the tissue's own frame (mm), on excitable tissue: ``--pace`` (mm in
    the scan's or phantom's frame) checked by
    :func:`~medtwin.models.cardiology.pacing_source` on the whole grid, or the tissue's
    default site."""
    from ..models.cardiology import pacing_source

    if req.pace is None:
        return np.asarray(tissue.site, dtype=np.float64)
    dim = tissue.labels.ndim
    if len(req.pace) != dim:
        raise DataError(f"--pace needs {dim} coordinates on this {dim}D grid. Got {req.pace}.")
    whole = np.zeros(tissue.full_shape, np.uint8)  # the crop back on the scan's grid (0-4)
    whole[tissue.crop] = tissue.labels
    try:
        pacing_source(whole, tissue.spacing, np.asarray(req.pace, dtype=np.float64))
    except DataError as exc:
        raise DataError(f"--pace: {exc} A first run's activation.png shows the tissue.") from None
    return np.asarray(req.pace, dtype=np.float64) - tissue.origin


def electrodes(tissue: Tissue, req: Request) -> np.ndarray:
    """The electrodes in the tissue's frame (mm): given, or one beyond each face of the
    tissue's bounding box, a quarter of its largest side away (4 on a sheet, 6 on a slab)."""
    from ..models.cardiology import BORDER, HEALTHY

    lab, h = tissue.labels, tissue.spacing
    if req.electrodes is not None:
        origin = np.pad(tissue.origin, (0, 3 - lab.ndim))
        centres = (np.argwhere(np.isin(lab, (HEALTHY, BORDER))) + 0.5) * h
        out = []
        for p in req.electrodes:
            shown = ", ".join(f"{v:g}" for v in p)
            if len(p) < lab.ndim:
                raise DataError(f"--electrode {shown} needs 3 coordinates on this 3D grid.")
            e = np.pad(np.asarray(p), (0, 3 - len(p))) - origin
            gap = np.abs(np.pad(centres, ((0, 0), (0, 3 - lab.ndim))) - e).max(axis=1)
            if gap.min() <= h / 2:  # inside a voxel (a sheet's are h thick about z = 0)
                raise DataError(
                    f"--electrode {shown} mm lies on the tissue (inside a voxel of excitable "
                    "tissue, where the pseudo-ECG integrand is singular). Place electrodes off "
                    "the tissue: beyond its edge, or above a sheet (a third coordinate)."
                )
            out.append(e)
        return np.array(out)
    cells = np.argwhere(lab != 0)
    lo, hi = cells.min(axis=0) * h, (cells.max(axis=0) + 1) * h
    mid, d = (lo + hi) / 2, 0.25 * float(np.max(hi - lo))
    out = []
    for a in range(lab.ndim):
        for end in (lo[a] - d, hi[a] + d):
            p = mid.copy()
            p[a] = end
            out.append(np.pad(p, (0, 3 - lab.ndim)))
    return np.array(out)


# ---- the run ------------------------------------------------------------------------------


def chunk_ms(n_states: int) -> int:
    """Steps (ms) per chunk: at most CHUNK_MS, and CHUNK_VALUES state values held."""
    return max(1, min(CHUNK_MS, CHUNK_VALUES // max(n_states, 1)))


def frame_ms(ms: float) -> int:
    """The movie's stride (ms): every 2 ms, or coarser to keep about 200 frames."""
    return max(2, math.ceil(ms / 200))


def record(
    model: MonodomainTissue, params: np.ndarray, req: Request, leads: np.ndarray,
    sigma_e: float, cut: tuple[Any, ...],
) -> Recording:  # fmt: skip
    """Run ``model`` chunk by chunk (see the module docstring): LAT of the first beat, the
    ECG every ms and the potential's slice ``cut`` every :func:`frame_ms` ms."""
    import jax.numpy as jnp

    from ..models.cardiology import activation_times, pseudo_ecg
    from ..simulate import Infusion, Regimen, simulate

    amp = STIMULUS[req.ionic][0]
    pulses = [Infusion(t, "stimulus", amp, PULSE_MS, label="stimulus") for t in req.stimuli]
    window = req.stimuli[1] if len(req.stimuli) > 1 else math.inf
    thr = model.activation_threshold
    step = model.input_dt
    chunk = chunk_ms(model.n_states)
    n_chunks = math.ceil(req.ms / (chunk * step))
    chunk = math.ceil(req.ms / (n_chunks * step))  # equal chunks: one compiled kernel
    every = frame_ms(req.ms)
    y = np.asarray(model.initial_state(jnp.asarray(params)))
    u_prev = np.asarray(model.field(y)[0])
    lat = np.full(model.shape, np.nan)
    ecg = [np.asarray(pseudo_ecg(model, params, u_prev, leads, sigma_e=sigma_e))[None]]
    frames, frame_t = [u_prev[cut].astype(np.float32)], [0.0]
    t = 0.0
    for _ in range(n_chunks):
        t1 = t + chunk * step
        regimen = Regimen(tuple(p for p in pulses if p.time < t1))
        ts = t + step * np.arange(1, chunk + 1)
        traj = simulate(model, params, regimen, t0=t, t1=t1, saveat=ts, y0=y)
        if int(traj.status) != 0:
            raise DataError(
                f"The cardiac simulation became non-finite between {t:g} and {t1:g} ms (status "
                f"{int(traj.status)}). Report it with the command that ran."
            )
        states = np.asarray(traj.states)
        y = states[-1]
        u = np.asarray(model.field(states)[0])
        del states
        first = np.asarray(activation_times(np.concatenate([[t], ts]),
                                            np.concatenate([u_prev[None], u]), thr))  # fmt: skip
        new = np.isnan(lat) & (first < window)
        lat[new] = first[new]
        ecg.append(np.asarray(pseudo_ecg(model, params, u, leads, sigma_e=sigma_e)))
        for k, tk in enumerate(ts):
            if round(tk) % every == 0 and tk <= req.ms:
                frames.append(u[k][cut].astype(np.float32))
                frame_t.append(float(tk))
        u_prev, t = u[-1], t1
    n = round(req.ms / step) + 1
    times = step * np.arange(n)
    return Recording(lat, times, np.concatenate(ecg)[:n], np.asarray(frame_t), np.stack(frames))


# ---- what the summary reads -----------------------------------------------------------------


def qrs_interval(
    times: np.ndarray, ecg: np.ndarray, t0: float, t1: float
) -> tuple[float, float] | None:
    """A QRS-like interval (ms) of the beat in ``[t0, t1)``: from the first sample where the
    RMS over the leads reaches :data:`QRS_LEVEL` of its peak in that window to the last one
    before it stays below for :data:`QRS_QUIET` ms; None if it never falls quiet there."""
    inside = (times >= t0) & (times < t1)
    ts, rms = times[inside], np.sqrt(np.mean(ecg[inside] ** 2, axis=1))
    if rms.size < 3 or not rms.max() > 0:
        return None
    above = rms >= QRS_LEVEL * rms.max()
    onset, peak = int(np.argmax(above)), int(np.argmax(rms))
    for k in range(peak + 1, len(ts)):
        if above[k] or ts[-1] < ts[k] + QRS_QUIET:
            continue
        if not above[(ts >= ts[k]) & (ts <= ts[k] + QRS_QUIET)].any():
            return float(ts[onset]), float(ts[k - 1])
    return None


def conduction_velocities(
    lat: np.ndarray, labels: np.ndarray, spacing: float, fibres: float, site: np.ndarray,
    stim_r: float,
) -> tuple[tuple[float, int], tuple[float, int]]:  # fmt: skip
    """The conduction velocity (mm/ms) along and across the fibres (angle ``fibres`` in the
    x-y plane) with the number of cells it is read from: the cells on the line through the
    pacing ``site`` in that direction, both ways, from the site until the first cell that is
    not healthy or not activated, those farther than :data:`CV_START` mm beyond the
    stimulated ball (radius ``stim_r``) and from that end;
    :func:`~medtwin.models.cardiology.plane_wave_speed` of their activation times against
    their distance from the site. NaN with fewer than :data:`CV_CELLS` cells or a span under
    :data:`CV_SPAN` mm (the line meets scar or the edge too soon)."""
    from ..models.cardiology import HEALTHY, plane_wave_speed

    dim, start = lat.ndim, stim_r + CV_START
    along = np.array([math.cos(fibres), math.sin(fibres), 0.0][:dim])
    across = np.array([-math.sin(fibres), math.cos(fibres), 0.0][:dim])
    out = []
    for direction in (along, across):
        cells: dict[tuple[int, ...], float] = {}
        for sense in (1.0, -1.0):
            line: dict[tuple[int, ...], float] = {}
            for k in range(4 * max(lat.shape) + 1):  # half-cell steps across the grid
                cell = tuple(np.floor((site + sense * k * spacing / 2 * direction) / spacing)
                             .astype(int).tolist())  # fmt: skip
                inside = all(0 <= c < n for c, n in zip(cell, lat.shape, strict=True))
                if not inside or labels[cell] != HEALTHY or not np.isfinite(lat[cell]):
                    break
                line[cell] = float(np.dot((np.asarray(cell) + 0.5) * spacing - site,
                                          sense * direction))  # fmt: skip
            end = k * spacing / 2 - CV_START  # a front speeds up as it nears a no-flux edge
            cells.update({c: r for c, r in line.items() if start < r < end})
        n = len(cells)
        x = np.array(list(cells.values()))
        speed = math.nan
        if n >= CV_CELLS and np.ptp(x) >= CV_SPAN:
            t = np.array([lat[c] for c in cells])
            speed = float(plane_wave_speed(x, t))
        out.append((speed, n))
    return out[0], out[1]
