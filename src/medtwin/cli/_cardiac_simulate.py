"""``medtwin simulate cardiac``: a paced cardiac tissue -- a scar phantom or an LGE scan -- run
with one of the three ionic models and written as the files a cardiac modeller opens.

**Options** (checked by :func:`check_request` before any work, without JAX): the tissue
(``--phantom scar-channel`` or ``homogeneous`` with ``--channel``, ``--phantom-size`` and
``--phantom-spacing``; or ``--lge scan.nii.gz --segmentation seg.nii.gz`` with
``--myocardium-label`` and ``--blood-pool-label``, the option names of ``twin cardiac``), the
ionic model (``--ionic``: its declared defaults, fibres along x, except Mitchell-Schaeffer on
a phantom, which takes :data:`~medtwin.models.cardiology.PHANTOM_PARAMETERS`, the values the
sheet was designed with), the pacing (``--pace``, an S1 train of ``--s1-count`` beats every
``--s1-cycle`` ms, extrastimuli each ``--s2`` ms after the stimulus before, ``--ms``), the
electrodes (``--electrode``) and the output folder. :func:`refuse_cardiac_options` refuses
these options given to another model.

**Outputs** (``--out DIR``, every file written atomically, all renamed into place together):
``activation.png``, ``activation.gif`` (:mod:`._cardiac_figures`), ``ecg.csv`` (``time_ms``
and one column per electrode), ``ecg.png``, and ``lat.nii.gz`` (the first beat's activation
times on the scan's or phantom's grid, NaN where it never arrived). The run and what is read
off it are :mod:`._cardiac_run`; the summary prints the grid, the substep, the cells the
first beat activated, its total activation time, the conduction velocities and the QRS-like
duration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from ..errors import DataError, MedtwinError
from ..limits import (
    CARDIAC_CELLS,
    CARDIAC_CYCLE,
    CARDIAC_ELECTRODES,
    CARDIAC_EXTRASTIMULI,
    CARDIAC_LABEL,
    CARDIAC_PHANTOM_SIDE,
    CARDIAC_PHANTOM_SPACING,
    CARDIAC_S1_BEATS,
    CARDIAC_SPAN,
)
from ._cardiac_run import (
    SIGMA_E_RATIO,
    STIMULUS,
    conduction_velocities,
    electrodes,
    pacing_site,
    qrs_interval,
    record,
    tissue_of,
)
from ._checks import input_file, output_folder, writing

__all__ = ["FILES", "IONIC", "PHANTOMS", "Request", "check_request", "refuse_cardiac_options",
           "simulate_cardiac"]  # fmt: skip

console = Console(width=150)

FILES = ("activation.png", "activation.gif", "ecg.csv", "ecg.png", "lat.nii.gz")
IONIC = ("aliev-panfilov", "mitchell-schaeffer", "ten-tusscher")
PHANTOMS = ("scar-channel", "homogeneous")
CHANNELS = ("border", "healthy")


@dataclass(frozen=True)
class Request:
    """What ``simulate cardiac`` was asked, checked (no JAX loaded): the tissue's source, the
    ionic model's name, the stimulus times (ms), the run's length (ms), the pacing site and
    electrodes as given (mm, or None for the defaults) and the output folder."""

    ionic: str
    phantom: str | None
    channel: str
    size: tuple[float, float]
    spacing: float
    lge: Path | None
    segmentation: Path | None
    labels: tuple[int, int]
    stimuli: tuple[float, ...]
    ms: float
    pace: tuple[float, ...] | None
    electrodes: tuple[tuple[float, ...], ...] | None
    out: Path


_EXAMPLE = {"--pace": "2,15", "--electrode": "-10,15", "--phantom-size": "50,30"}


def _point(text: str, option: str, dims: Sequence[int]) -> tuple[float, ...]:
    """``X,Y[,Z]`` in mm."""
    try:
        xs = tuple(float(v) for v in text.split(","))
    except ValueError:
        xs = ()
    if len(xs) not in dims or not all(math.isfinite(x) for x in xs):
        want = " or ".join({2: "X,Y", 3: "X,Y,Z"}[d] for d in dims)
        example = f"{option} {_EXAMPLE[option]}"
        raise DataError(f"{option} expects {want} in mm, e.g. {example}. Got {text!r}.")
    return xs


def _choice(value: str | None, option: str, allowed: Sequence[str], default: str) -> str:
    v = default if value is None else value
    if v not in allowed:
        raise DataError(f"{option} must be one of {', '.join(allowed)}. Got {v!r}.")
    return v


def _ionic(name: str | None) -> str:
    """The ionic model's declared name (aliases such as tp06 accepted)."""
    from ..models import declaration

    try:
        canonical = declaration(name or IONIC[0]).name
    except MedtwinError:
        canonical = ""
    if canonical not in IONIC:
        raise DataError(
            f"--ionic must name a cardiac ionic model: {', '.join(IONIC)}. Got {name!r}."
        )
    return canonical


def refuse_cardiac_options(model: str, given: dict[str, Any]) -> None:
    """Refuse the options of ``simulate cardiac`` (``given``: keyword -> value, None if not
    given) when ``model`` is another model: they would be ignored."""
    used = ["--" + k.replace("_", "-") for k, v in given.items() if v not in (None, [])]
    if model != "cardiac" and used:
        raise DataError(
            f"{used[0]} is an option of `medtwin simulate cardiac`, not of {model}. Drop it, or "
            "run simulate cardiac."
        )


def check_request(
    *,
    ionic: str | None,
    phantom: str | None,
    channel: str | None,
    phantom_size: str | None,
    phantom_spacing: float | None,
    lge: Path | None,
    segmentation: Path | None,
    myocardium_label: int | None,
    blood_pool_label: int | None,
    pace: str | None,
    s1_cycle: float | None,
    s1_count: int | None,
    s2: list[float] | None,
    ms: float | None,
    electrode: list[str] | None,
    out: Path | None,
    overwrite: bool,
) -> Request:
    """Every option checked, and the output folder, before any work (see the module
    docstring)."""
    if out is None:
        raise DataError("medtwin simulate cardiac needs --out DIR (a folder for the outputs).")
    name = _ionic(ionic)
    if lge is not None or segmentation is not None:
        for opt, v in (
            ("--phantom", phantom),
            ("--channel", channel),
            ("--phantom-size", phantom_size),
            ("--phantom-spacing", phantom_spacing),
        ):
            if v is not None:
                raise DataError(f"{opt} describes a phantom; it cannot go with --lge. Drop one.")
        if lge is None or segmentation is None:
            raise DataError(
                "An LGE scan needs --lge scan.nii.gz and --segmentation seg.nii.gz (its label "
                "image with the myocardium and the blood pool, the intensity reference). Got "
                f"only {'--lge' if lge is not None else '--segmentation'}."
            )
        lge = input_file(lge, "an LGE scan (.nii or .nii.gz)")
        segmentation = input_file(segmentation, "the scan's segmentation (.nii or .nii.gz)")
    else:
        for opt, v in (("--myocardium-label", myocardium_label),
                       ("--blood-pool-label", blood_pool_label)):  # fmt: skip
            if v is not None:
                raise DataError(f"{opt} labels --segmentation; it needs --lge and --segmentation.")
        phantom = _choice(phantom, "--phantom", PHANTOMS, PHANTOMS[0])
        if channel is not None and phantom != "scar-channel":
            raise DataError("--channel goes with --phantom scar-channel, not homogeneous.")
    labels = (1 if myocardium_label is None else myocardium_label,
              2 if blood_pool_label is None else blood_pool_label)  # fmt: skip
    for v in labels:
        CARDIAC_LABEL.check(v)
    if labels[0] == labels[1]:
        raise DataError(f"--myocardium-label and --blood-pool-label must differ. Got {labels[0]}.")
    size = (50.0, 30.0)
    if phantom_size is not None:
        size = _point(phantom_size, "--phantom-size", (2,))  # type: ignore[assignment]
        for side in size:
            CARDIAC_PHANTOM_SIDE.check(side)
    spacing = 0.5 if phantom_spacing is None else CARDIAC_PHANTOM_SPACING.check(phantom_spacing)
    if lge is None:
        CARDIAC_CELLS.check(
            round(size[0] / spacing) * round(size[1] / spacing), name="the phantom's cells"
        )
    cycle = CARDIAC_CYCLE.check(600.0 if s1_cycle is None else s1_cycle, name="--s1-cycle")
    count = CARDIAC_S1_BEATS.check(1 if s1_count is None else s1_count)
    extra = list(s2 or [])
    CARDIAC_EXTRASTIMULI.check(len(extra))
    times = [k * cycle for k in range(count)]
    for c in extra:
        times.append(times[-1] + CARDIAC_CYCLE.check(c, name="--s2"))
    length = CARDIAC_SPAN.check(times[-1] + 500.0 if ms is None else ms)
    if times[-1] >= length:
        raise DataError(
            f"--ms {length:g} ends at or before the last stimulus at {times[-1]:g} ms. Expected "
            f"--ms above {times[-1]:g}, e.g. {times[-1] + 500:g}."
        )
    dims = (2, 3)
    where = None if pace is None else _point(pace, "--pace", dims)
    leads = None
    if electrode:
        CARDIAC_ELECTRODES.check(len(electrode))
        leads = tuple(_point(e, "--electrode", dims) for e in electrode)
    folder = output_folder(out, FILES, overwrite=overwrite)
    assert folder is not None
    return Request(name, phantom if lge is None else None, _choice(channel, "--channel",
                   CHANNELS, CHANNELS[0]), size, spacing, lge, segmentation, labels,
                   tuple(times), float(length), where, leads, folder)  # fmt: skip


def _xyz(p: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in p) + ")"


def _summary(req, tissue, model, site, leads, rec, cvs, qrs, sigma_e) -> list[str]:
    """The lines the command prints."""
    from ..models.cardiology import BORDER, HEALTHY

    live = np.isin(tissue.labels, (HEALTHY, BORDER))
    reached = live & np.isfinite(rec.lat)
    grid = " x ".join(str(n) for n in model.shape)
    origin = np.pad(tissue.origin, (0, 3 - tissue.labels.ndim))
    lines = [
        f"Tissue: {tissue.name}, {grid} cells of {tissue.spacing:g} mm; {req.ionic}, substep "
        f"{model.dt:.4g} ms ({model.substeps} per {model.input_dt:g} ms step).",
        f"Pacing at {_xyz(site + tissue.origin)} mm: stimuli at "
        f"{', '.join(f'{t:g}' for t in req.stimuli)} ms; {req.ms:g} ms simulated.",
    ]
    if reached.any():
        tat = float(np.nanmax(rec.lat[reached]) - np.nanmin(rec.lat[reached]))
        lines.append(
            f"First beat: {int(reached.sum())} of {int(live.sum())} excitable cells activated "
            f"({100 * reached.sum() / live.sum():.1f} %), total activation time {tat:.1f} ms."
        )
    else:
        lines.append("First beat: no cell activated (the stimulus did not capture).")
    (along, na), (across, nx) = cvs
    if math.isfinite(along) or math.isfinite(across):
        named = (("along the fibres", along, na), ("across", across, nx))
        parts = [f"{w} {v:.3g} m/s ({n} cells)" if math.isfinite(v) else f"{w} not measurable"
                 for w, v, n in named]  # fmt: skip
        lines.append("Conduction velocity in healthy tissue through the pacing site: "
                     + ", ".join(parts) + ".")  # fmt: skip
    else:
        lines.append("Conduction velocity: not measurable (scar or the edge too near the "
                     "pacing site along and across the fibres).")  # fmt: skip
    flat = tissue.labels.ndim == 2 and not leads[:, 2].any()  # on a sheet's plane: x, y
    where = "; ".join(f"e{i + 1} {_xyz((p + origin)[:2] if flat else p + origin)}"
                      for i, p in enumerate(leads))  # fmt: skip
    q = (f"{qrs[1] - qrs[0]:.0f} ms ({qrs[0]:g}-{qrs[1]:g} ms)" if qrs is not None
         else "not measurable (no quiet segment after it)")  # fmt: skip
    lines.append(f"Pseudo-ECG (sigma_e {sigma_e:.3g} mm^2/ms) at {where} mm: QRS-like "
                 f"duration {q}.")  # fmt: skip
    return lines


# ---- the command ------------------------------------------------------------------------------


def simulate_cardiac(*, out: Path | None, overwrite: bool = False, **options: Any) -> None:
    """``medtwin simulate cardiac``: check, run, summarise, write (see the module docstring).
    ``options``: the keyword arguments of :func:`check_request` other than ``out``."""
    req = check_request(out=out, overwrite=overwrite, **options)
    tissue = tissue_of(req)
    site = pacing_site(tissue, req)
    leads = electrodes(tissue, req)

    from ..data.csvio import write_csv
    from ..data.images import write_nifti
    from ..models import declaration, get_model
    from ..models.cardiology import PHANTOM_PARAMETERS, MonodomainTissue
    from . import _cardiac_figures as figures

    on_phantom = req.lge is None and req.ionic == "mitchell-schaeffer"
    values = dict(PHANTOM_PARAMETERS) if on_phantom else {}
    decl = declaration(req.ionic)
    d = values.get("D", decl.parameters[decl.param_index("D")].default)
    dim = tissue.labels.ndim
    model = get_model(req.ionic, shape=tissue.labels.shape, spacing=tissue.spacing,
                      labels=tissue.labels, D_max=d)  # fmt: skip
    assert isinstance(model, MonodomainTissue)
    values["stim_r"] = STIMULUS[req.ionic][1 if dim == 2 else 2]
    params = np.asarray(model.pacing_params(site[None], **values)[0])
    sigma_e = SIGMA_E_RATIO * d
    cut: tuple[Any, ...] = (slice(None), slice(None))
    if dim == 3:  # the figures show the plane through the pacing site
        cut = (*cut, int(site[2] // tissue.spacing))
    rec = record(model, params, req, leads, sigma_e, cut)
    window = req.stimuli[1] if len(req.stimuli) > 1 else math.inf
    cvs = conduction_velocities(rec.lat, tissue.labels, tissue.spacing, 0.0, site,
                                values["stim_r"])  # fmt: skip
    qrs = qrs_interval(rec.ecg_times, rec.ecg, req.stimuli[0], window)
    for line in _summary(req, tissue, model, site, leads, rec, cvs, qrs, sigma_e):
        console.print(line, markup=False, highlight=False)

    unit = model.states[0].unit if model.states[0].unit != "1" else "units of u"
    origin2 = tissue.origin[:2]
    lat_full = np.full(tissue.full_shape, np.nan)
    lat_full[tissue.crop] = rec.lat
    header = ["time_ms", *(f"e{i + 1}" for i in range(len(leads)))]
    rows = [[f"{t:g}", *(f"{v:.6g}" for v in row)] for t, row in zip(rec.ecg_times, rec.ecg,
                                                                      strict=True)]  # fmt: skip
    plane = ""
    if dim == 3:
        plane = f", plane z = {(cut[2] + 0.5) * tissue.spacing + tissue.origin[2]:g} mm"
    with writing(req.out, FILES) as tmp:
        figures.activation_map(tmp["activation.png"], rec.lat[cut], tissue.labels[cut],
                               tissue.spacing, origin2, (site + tissue.origin)[:2],
                               (leads[:, :dim] + tissue.origin)[:, :2],
                               f"{req.ionic}: first beat's activation{plane}")  # fmt: skip
        figures.potential_movie(tmp["activation.gif"], rec.frame_times, rec.frames,
                                tissue.labels[cut], tissue.spacing, origin2, unit,
                                f"{req.ionic}{plane}")  # fmt: skip
        write_csv(tmp["ecg.csv"], header, rows)
        figures.ecg_traces(tmp["ecg.png"], rec.ecg_times, rec.ecg, req.stimuli, qrs, unit,
                           f"{req.ionic}: pseudo-ECG, {len(leads)} electrodes")  # fmt: skip
        write_nifti(tmp["lat.nii.gz"], lat_full, tissue.spacing)
    console.print(f"Wrote {', '.join(FILES[:-1])} and {FILES[-1]} to {req.out}", markup=False,
                  highlight=False)  # fmt: skip
