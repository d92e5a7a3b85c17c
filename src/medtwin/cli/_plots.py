"""The PNG images of ``--plot``: one function per command, drawn as users of the field expect.

- ``simulate t1d`` (:func:`plot_simulation`): glucose over clock time, as simglucose draws it --
  plasma glucose and the CGM's interstitial glucose (mg/dL) over the 70-180 mg/dL target range,
  the meals (g) and boluses (U) below.
- ``twin replay`` (:func:`plot_replay`): the readings as points (``LO``/``HI`` as triangles at
  the sensor's limit, gaps marked on the time axis), and the forecast issued ``horizon`` before
  each time: its median and its widest band, broken where the record has a gap.
- ``simulate pneumonia`` (:func:`plot_course`): each observable of an infection model over
  hours, one panel each, with the antibiotic's kill rate as a step below.
- ``trial run`` (:func:`plot_trial`): per endpoint, each arm's distribution over the patients
  (a box of the quartiles, whiskers to 1.5 IQR, and every patient as a point).

:func:`plot_file` checks the path before any work, as ``--out`` is checked. matplotlib is
imported when a figure is drawn, not when the command starts, and is used through its Agg
canvas (no pyplot, no global backend). The target range is the international consensus's
"time in range" (Battelino et al., Diabetes Care 2019, 42:1593-1603).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ._checks import atomic, output_file

__all__ = [
    "GLUCOSE_CODES",
    "GLUCOSE_TARGET",
    "plot_course",
    "plot_file",
    "plot_replay",
    "plot_simulation",
    "plot_trial",
    "target_range",
]

GLUCOSE_TARGET = (70.0, 180.0)  # mg/dL: the consensus's time in range
GLUCOSE_CODES = ("2339-0", "99504-3")  # glucose in blood, in interstitial fluid (CGM)
_DPI = 110


def plot_file(
    path: Path | None, *, overwrite: bool = False, out: Path | None = None
) -> Path | None:
    """``path`` if a PNG can be written there (the checks of ``--out``:
    :func:`~medtwin.cli._checks.output_file`) and it ends in ``.png``, else a one-line
    :class:`~medtwin.errors.DataError`; ``out``, the command's ``--out``, must be another
    file."""
    if path is None:
        return None
    checked = output_file(path, option="--plot", overwrite=overwrite)
    assert checked is not None
    if checked.suffix.lower() != ".png":
        raise DataError(
            f"--plot writes a PNG image, so its path must end in .png. Got {str(path)!r}; "
            f"e.g. --plot {checked.with_suffix('.png').name}."
        )
    if out is not None and Path(out).expanduser().resolve() == checked.resolve():
        raise DataError(
            f"--plot and --out name the same file, {str(path)!r}. Give each its own path."
        )
    if importlib.util.find_spec("matplotlib") is None:  # pragma: no cover - the cli extra
        raise DataError(
            "--plot needs matplotlib, which is not installed: pip install 'medtwin[cli]'."
        )
    return checked


def target_range(loinc: str | None, unit: str) -> tuple[float, float] | None:
    """The target range drawn behind an observable: 70-180 mg/dL for glucose (LOINC 2339-0 in
    blood, 99504-3 from a CGM), else None."""
    return GLUCOSE_TARGET if loinc in GLUCOSE_CODES and unit == "mg/dL" else None


def _figure(rows: int = 1, cols: int = 1, *, size=(10.0, 5.6), heights=None) -> tuple[Any, Any]:
    """A matplotlib Figure on the Agg canvas and its axes (a 2-D array)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    kw = {"height_ratios": heights} if heights else None
    axes = fig.subplots(rows, cols, squeeze=False, sharex=rows > 1, gridspec_kw=kw)
    return fig, axes


def _save(fig: Any, path: Path) -> None:
    """Write ``fig`` as PNG, atomically (nothing is left behind if it fails)."""
    with atomic(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI)


def _band(ax: Any, target: tuple[float, float] | None, unit: str) -> None:
    if target is not None:
        lo, hi = target
        ax.axhspan(lo, hi, color="tab:green", alpha=0.12, lw=0,
                   label=f"target {lo:g}-{hi:g} {unit}")  # fmt: skip


def _clock_axis(ax: Any, hours: float) -> None:
    """Ticks at clock times of model hours from midnight of day 1 (``HH:MM``, ``day N`` at
    each midnight after the first)."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    step = next((s for s in (1, 2, 3, 6, 12, 24, 48, 168) if hours / s <= 12), 336)

    def label(h: float, _pos: Any) -> str:
        day, rest = divmod(round(h * 60), 1440)
        clock = f"{rest // 60:02d}:{rest % 60:02d}"
        return f"day {day + 1}\n{clock}" if rest == 0 and hours > 24 else clock

    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(label))
    ax.set_xlim(0, hours)


def plot_simulation(
    path: Path,
    *,
    time_min: np.ndarray,
    traces: Mapping[str, np.ndarray],
    meals: Sequence[tuple[float, float]],
    boluses: Sequence[tuple[float, float]],
    basal_u_per_h: float | None,
    title: str,
) -> None:
    """``simulate t1d``: each glucose trace of ``traces`` (label -> mg/dL at ``time_min``, min
    from midnight of day 1) over the 70-180 mg/dL target range; below, the ``meals``
    ((min, g)) as bars and the ``boluses`` ((min, U)) as stems; ``basal_u_per_h`` in the
    subtitle."""
    fig, axes = _figure(2, 1, size=(11.0, 6.4), heights=(3, 1))
    ax, low = axes[0, 0], axes[1, 0]
    hours = np.asarray(time_min, dtype=float) / 60.0
    _band(ax, GLUCOSE_TARGET, "mg/dL")
    for (label, y), color in zip(traces.items(), ("tab:blue", "tab:orange"), strict=False):
        ax.plot(hours, y, color=color, lw=1.4, label=label)
    for level, style in ((70.0, ":"), (180.0, ":")):
        ax.axhline(level, color="tab:green", lw=0.8, ls=style)
    ax.set_ylabel("glucose (mg/dL)")
    ax.legend(loc="upper right", fontsize=8)
    basal = "basal at the patient's steady state" if basal_u_per_h is None else (
        f"basal {basal_u_per_h:.2f} U/h")  # fmt: skip
    ax.set_title(f"{title}\nmeals and boluses repeated daily; {basal}", fontsize=10)
    ax.grid(alpha=0.3)
    ys = [np.asarray(y, dtype=float) for y in traces.values()]
    top = max([float(np.nanmax(y)) for y in ys if np.isfinite(y).any()], default=200.0)
    bottom = min([float(np.nanmin(y)) for y in ys if np.isfinite(y).any()], default=60.0)
    ax.set_ylim(min(bottom, 60.0) - 5.0, max(top, 200.0) + 10.0)
    if meals:
        t, g = np.array(meals, dtype=float).T
        # a bar as long as the meal is eaten (5 g/min, as simglucose's patients eat)
        low.bar(t / 60.0, g, width=np.maximum(g / 5.0, 10.0) / 60.0, align="edge",
                color="tab:brown", alpha=0.7, label="meal (g carbohydrate)")  # fmt: skip
        for x, v in zip(t / 60.0, g, strict=True):
            low.annotate(f"{v:g} g", (x, v), textcoords="offset points", xytext=(-3, 2),
                         ha="right", fontsize=7, color="tab:brown")  # fmt: skip
    low.set_ylabel("carbs (g)")
    low.set_ylim(0, max([g for _, g in meals], default=10.0) * 1.35)
    right = low.twinx()
    if boluses:
        t, u = np.array(boluses, dtype=float).T
        right.stem(t / 60.0, u, linefmt="tab:purple", markerfmt="v", basefmt=" ",
                   label="bolus (U insulin)")  # fmt: skip
        for x, v in zip(t / 60.0, u, strict=True):
            right.annotate(f"{v:g} U", (x, v), textcoords="offset points", xytext=(4, 2),
                           ha="left", fontsize=7, color="tab:purple")  # fmt: skip
    right.set_ylabel("bolus (U)")
    right.set_ylim(0, max([u for _, u in boluses], default=1.0) * 1.35)
    handles = low.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    if handles:
        low.legend(handles=handles, loc="upper right", fontsize=7)
    low.set_xlabel("clock time (the simulation starts at 00:00 of day 1)")
    _clock_axis(low, float(hours[-1]) if len(hours) else 24.0)
    _save(fig, path)


def plot_course(
    path: Path,
    *,
    hours: np.ndarray,
    traces: Mapping[str, np.ndarray],
    antibiotic: np.ndarray,
    title: str,
) -> None:
    """``simulate pneumonia``: each trace of ``traces`` (label with its unit -> values at
    ``hours``) in its own panel, and below the ``antibiotic`` kill rate (1/h) as a step."""
    n = len(traces)
    fig, axes = _figure(n + 1, 1, size=(10.0, 1.7 * n + 2.4), heights=(*([3] * n), 2))
    t = np.asarray(hours, dtype=float)
    for ax, (label, y) in zip(axes[:n, 0], traces.items(), strict=True):
        ax.plot(t, np.asarray(y, dtype=float), color="tab:blue", lw=1.4)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(title, fontsize=10)
    low = axes[n, 0]
    low.step(t, np.asarray(antibiotic, dtype=float), where="post", color="tab:red", lw=1.4)
    low.set_ylabel("antibiotic\nkill rate (1/h)", fontsize=8)
    low.set_ylim(0, max(float(np.max(antibiotic, initial=0.0)), 0.1) * 1.25)
    low.grid(alpha=0.3)
    low.set_xlabel("time since inoculation (h)")
    low.set_xlim(0, float(t[-1]) if len(t) else 1.0)
    _save(fig, path)


def _broken(x: np.ndarray, *ys: np.ndarray, gap: float) -> tuple[np.ndarray, ...]:
    """``x`` and ``ys`` with a NaN inserted wherever consecutive ``x`` are more than ``gap``
    apart, so a line is broken there."""
    if len(x) < 2:
        return (x, *ys)
    cut = np.flatnonzero(np.diff(x) > gap) + 1
    return tuple(np.insert(np.asarray(a, dtype=float), cut, np.nan) for a in (x, *ys))


def plot_replay(
    path: Path,
    *,
    times: np.ndarray,
    values: np.ndarray,
    censored: np.ndarray,
    rows: Mapping[str, np.ndarray],
    horizon: float,
    time_unit: str,
    observable: str,
    unit: str,
    cadence: float,
    target: tuple[float, float] | None,
    title: str,
) -> None:
    """``twin replay``: the readings of ``observable`` (``times`` in model time ``time_unit``,
    ``values`` in ``unit``; ``censored`` -1/+1 for ``LO``/``HI`` at the sensor's limit, NaN
    values are gaps) and, from the forecast table ``rows`` (:func:`medtwin.loop.forecast_rows`
    columns, unit suffix stripped: ``issued_at``, ``target``, ``horizon``, ``median``,
    ``lower<L>``/``upper<L>``), the forecasts made ``horizon`` ahead: median and the widest
    band, broken where consecutive targets are more than two ``cadence`` apart."""
    fig, axes = _figure(size=(11.0, 5.6))
    ax = axes[0, 0]
    _band(ax, target, unit)
    sel = np.abs(rows["horizon"] - horizon) <= 1e-9 * max(1.0, abs(horizon))
    order = np.argsort(rows["target"][sel])
    x = rows["target"][sel][order]
    widest = max((int(k[5:]) for k in rows if k.startswith("lower")), default=None)
    if widest is not None:
        xb, lo, hi = _broken(x, rows[f"lower{widest}"][sel][order],
                             rows[f"upper{widest}"][sel][order], gap=2 * cadence)  # fmt: skip
        ax.fill_between(xb, lo, hi, color="tab:blue", alpha=0.18, lw=0,
                        label=f"{widest} % band")  # fmt: skip
    xm, med = _broken(x, rows["median"][sel][order], gap=2 * cadence)
    ax.plot(xm, med, color="tab:blue", lw=1.5,
            label=f"forecast median, {horizon:g} {time_unit} ahead")  # fmt: skip
    t, v, c = (np.asarray(a) for a in (times, values, censored))
    ok = np.isfinite(t) & np.isfinite(v)
    plain = ok & (c == 0)
    ax.plot(t[plain], v[plain], "o", ms=3.5, color="black", label="reading")
    for flag, marker, name in ((-1, "v", "LO (below the sensor's range)"),
                               (1, "^", "HI (above the sensor's range)")):  # fmt: skip
        m = ok & (c == flag)
        if m.any():
            ax.plot(t[m], v[m], marker, ms=7, color="tab:red", ls="", label=name)
    gaps = np.isfinite(t) & ~np.isfinite(v)
    if gaps.any():
        ax.plot(t[gaps], np.zeros(int(gaps.sum())), "|", ms=14, mew=2, color="tab:gray",
                transform=ax.get_xaxis_transform(), clip_on=False,
                label="gap (no value)")  # fmt: skip
    ax.set_xlabel(f"time ({time_unit} from the record's start)")
    ax.set_ylabel(f"{observable} ({unit})")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    _save(fig, path)


def plot_trial(
    path: Path,
    *,
    arms: Sequence[str],
    endpoints: Sequence[str],
    units: Sequence[str],
    values: np.ndarray,
    title: str,
    descriptions: Mapping[str, str] | None = None,
) -> None:
    """``trial run``: per endpoint (``values[a, e, i]``, unit ``units[e]``; NaN where a
    patient's simulation failed, left out), each arm's distribution over the patients: a box
    (quartiles, median, whiskers to 1.5 IQR) and every patient as a jittered point; the arm's
    name and number of patients below; ``descriptions`` (endpoint -> words) in the titles."""
    n = len(endpoints)
    cols = min(n, 3)
    nrows = -(-n // cols)
    fig, axes = _figure(nrows, cols, size=(4.0 * cols + 1.0, 3.6 * nrows + 0.6))
    rng = np.random.default_rng(0)  # the jitter only: where the points sit across the box
    for e, (name, unit) in enumerate(zip(endpoints, units, strict=True)):
        ax = axes[e // cols, e % cols]
        data = [np.asarray(values[a, e], dtype=float) for a in range(len(arms))]
        data = [d[np.isfinite(d)] for d in data]
        pos = np.arange(1, len(arms) + 1)
        ax.boxplot([d if len(d) else [np.nan] for d in data], positions=pos, widths=0.5,
                   showfliers=False, medianprops={"color": "tab:red"})  # fmt: skip
        for p, d in zip(pos, data, strict=True):
            ax.plot(p + rng.uniform(-0.18, 0.18, len(d)), d, "o", ms=2.5, alpha=0.45,
                    color="tab:blue")  # fmt: skip
        ax.set_xticks(pos, [f"{a}\n(n={len(d)})" for a, d in zip(arms, data, strict=True)],
                      fontsize=8)  # fmt: skip
        words = (descriptions or {}).get(name)
        ax.set_title(f"{name}: {words}" if words else name, fontsize=10)
        ax.set_ylabel(f"{name} ({unit})" if unit else name)
        ax.grid(axis="y", alpha=0.3)
    for k in range(n, nrows * cols):
        axes[k // cols, k % cols].set_visible(False)
    fig.suptitle(title, fontsize=11)
    _save(fig, path)
