"""The figures of ``medtwin simulate cardiac``, drawn as cardiac electrophysiologists read them.

- :func:`activation_map`: the local activation time of one beat as a colour map, red earliest
  to purple latest (the convention of clinical mapping systems), isochrones every round
  number of ms, scar and lesions grey, the border zone outlined, the pacing site and the
  electrodes marked.
- :func:`potential_movie`: the transmembrane potential over time (an animated GIF written by
  matplotlib's ``PillowWriter``, one draw per frame), the same tissue overlay, one frame per
  stored time.
- :func:`ecg_traces`: the pseudo-ECG leads stacked one above the other, the stimuli marked and
  the QRS-like interval shaded.

A 3D grid is drawn in the plane through the pacing site (the caller cuts it). matplotlib is
imported when a figure is drawn, on its Agg canvas (no pyplot), and every file is written to the
temporary path the caller hands (the command renames them into place).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._plots import _figure

__all__ = ["activation_map", "ecg_traces", "isochrone_step", "potential_movie"]

_DPI = 100
_MOVIE_DPI = 80
_SCAR, _LESION, _BORDER = 3, 4, 2


def isochrone_step(span: float) -> float:
    """A round step (ms) giving at most about 12 isochrones over ``span`` ms."""
    for step in (1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 500.0):
        if span / step <= 12:
            return step
    return 1000.0


def _tissue(ax: Any, labels: np.ndarray, extent: tuple[float, ...]) -> None:
    """Scar and lesions grey, outside white, the border zone outlined in magenta."""
    from matplotlib.colors import ListedColormap

    shade = np.full(labels.shape, np.nan)
    shade[labels == 0] = 0.0
    shade[labels == _SCAR] = 1.0
    shade[labels == _LESION] = 2.0
    cmap = ListedColormap(["white", "0.6", "0.3"])
    ax.imshow(np.ma.masked_invalid(shade).T, origin="lower", extent=extent, cmap=cmap, vmin=0,
              vmax=2, interpolation="nearest")  # fmt: skip
    if (labels == _BORDER).any():
        x = np.linspace(extent[0], extent[1], labels.shape[0] + 1)
        y = np.linspace(extent[2], extent[3], labels.shape[1] + 1)
        xc, yc = (x[:-1] + x[1:]) / 2, (y[:-1] + y[1:]) / 2
        ax.contour(xc, yc, (labels == _BORDER).T.astype(float), levels=[0.5], colors="magenta",
                   linewidths=1.2)  # fmt: skip


def _extent(
    shape: Sequence[int], spacing: float, origin: np.ndarray
) -> tuple[float, float, float, float]:
    x, y = float(origin[0]), float(origin[1])
    return (x, x + shape[0] * spacing, y, y + shape[1] * spacing)


def activation_map(
    path: Path, lat: np.ndarray, labels: np.ndarray, spacing: float, origin: np.ndarray,
    site: np.ndarray, leads: np.ndarray, title: str,
) -> None:  # fmt: skip
    """Write the activation map of ``lat`` (ms, a 2D cut, NaN where not activated) to
    ``path`` (PNG); ``origin``, ``site`` and ``leads`` in mm (x, y first)."""
    fig, axes = _figure(size=(7.0, 5.0))
    ax = axes[0, 0]
    ext = _extent(lat.shape, spacing, origin)
    done = np.isfinite(lat)
    lo, hi = (float(np.min(lat[done])), float(np.max(lat[done]))) if done.any() else (0.0, 1.0)
    im = ax.imshow(np.ma.masked_invalid(lat).T, origin="lower", extent=ext, cmap="rainbow_r",
                   vmin=lo, vmax=max(hi, lo + 1e-9), interpolation="nearest")  # fmt: skip
    _tissue(ax, labels, ext)
    if done.sum() > 3 and hi > lo:
        step = isochrone_step(hi - lo)
        levels = np.arange(math.ceil(lo / step) * step, hi, step)
        if levels.size:
            x = origin[0] + (np.arange(lat.shape[0]) + 0.5) * spacing
            y = origin[1] + (np.arange(lat.shape[1]) + 0.5) * spacing
            cs = ax.contour(x, y, lat.T, levels=levels, colors="black", linewidths=0.6)
            ax.clabel(cs, fmt="%g", fontsize=7)
    ax.plot(site[0], site[1], marker="*", color="white", markeredgecolor="black", markersize=14,
            linestyle="none", label="pacing site")  # fmt: skip
    ax.plot(leads[:, 0], leads[:, 1], marker="s", color="black", linestyle="none",
            label="electrodes")  # fmt: skip
    at: dict[tuple[float, float], list[str]] = {}  # a slab's leads above and below coincide
    for i, p in enumerate(leads):
        at.setdefault((round(float(p[0]), 6), round(float(p[1]), 6)), []).append(f"e{i + 1}")
    for (x, y), names in at.items():
        ax.annotate(", ".join(names), (x, y), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)  # fmt: skip
    xs = [ext[0], ext[1], *leads[:, 0]]
    ys = [ext[2], ext[3], *leads[:, 1]]
    pad = 0.03 * max(max(xs) - min(xs), max(ys) - min(ys))
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - pad, max(ys) + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    fig.colorbar(im, ax=ax, label="activation time (ms)", shrink=0.85)
    fig.savefig(path, format="png", dpi=_DPI)


def potential_movie(
    path: Path, times: np.ndarray, frames: np.ndarray, labels: np.ndarray, spacing: float,
    origin: np.ndarray, unit: str, title: str, fps: int = 20,
) -> None:  # fmt: skip
    """Write the frames (time, x, y) of the potential as an animated GIF to ``path``."""
    from matplotlib.animation import PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # no constrained layout: it would be redone every frame
    fig = Figure(figsize=(5.0, 3.6), dpi=_MOVIE_DPI)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ext = _extent(frames.shape[1:], spacing, origin)
    live = np.isin(labels, (1, _BORDER))
    vals = frames[:, live] if live.any() else frames.reshape(len(frames), -1)
    lo, hi = float(np.min(vals)), float(np.percentile(vals, 99.5))  # not the stimulus's peak
    show = np.where(live, frames[0], np.nan)
    im = ax.imshow(np.ma.masked_invalid(show).T, origin="lower", extent=ext, cmap="inferno",
                   vmin=lo, vmax=max(hi, lo + 1e-9), interpolation="nearest")  # fmt: skip
    _tissue(ax, labels, ext)
    ax.set_aspect("equal")
    ax.set_axis_off()  # a scale bar instead of tick labels: they were most of each frame's cost
    width = ext[1] - ext[0]
    bar = max(b for b in (1.0, 2.0, 5.0, 10.0, 20.0, 50.0) if b <= max(1.0, 0.3 * width))
    y0 = ext[2] - 0.04 * (ext[3] - ext[2])
    ax.plot([ext[0], ext[0] + bar], [y0, y0], color="black", linewidth=2, clip_on=False)
    ax.text(ext[0] + bar / 2, y0, f"{bar:g} mm", ha="center", va="top", fontsize=8)
    ax.set_ylim(y0 - 0.08 * (ext[3] - ext[2]), ext[3])
    fig.colorbar(im, ax=ax, label=f"potential ({unit})", shrink=0.85)
    label = ax.set_title(f"{title}   t = {times[-1]:g} ms", fontsize=10)
    fig.tight_layout()

    writer = PillowWriter(fps=fps)  # one draw per frame (FuncAnimation.save draws three)
    with writer.saving(fig, str(path), dpi=_MOVIE_DPI):
        for k in range(len(frames)):
            im.set_data(np.ma.masked_invalid(np.where(live, frames[k], np.nan)).T)
            label.set_text(f"{title}   t = {times[k]:g} ms")
            writer.grab_frame()


def ecg_traces(
    path: Path, times: np.ndarray, ecg: np.ndarray, stimuli: Sequence[float],
    qrs: tuple[float, float] | None, unit: str, title: str,
) -> None:  # fmt: skip
    """Write the leads (time, lead) stacked, e1 on top, to ``path`` (PNG)."""
    n = ecg.shape[1]
    fig, axes = _figure(size=(9.0, 1.0 + 0.9 * min(n, 12)))
    ax = axes[0, 0]
    span = float(np.max(np.ptp(ecg, axis=0))) or 1.0
    gap = 1.2 * span
    for i in range(n):
        ax.plot(times, ecg[:, i] - i * gap, color="black", linewidth=0.9)
    ax.set_yticks([-i * gap for i in range(n)], [f"e{i + 1}" for i in range(n)])
    for t in stimuli:
        ax.axvline(t, color="tab:blue", linestyle=":", linewidth=1)
    if qrs is not None:
        ax.axvspan(*qrs, color="tab:orange", alpha=0.2, label="QRS-like")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlim(times[0], times[-1])
    ax.set_xlabel("time (ms)   (dotted: stimuli)")
    ax.set_ylabel(f"pseudo-ECG ({unit}; leads offset by {gap:.2g})")
    ax.set_title(title, fontsize=10)
    fig.savefig(path, format="png", dpi=_DPI)
