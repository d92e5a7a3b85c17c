"""``medtwin simulate glioma`` and ``medtwin twin glioma``: the glioma twin on the command line.

Outputs are readable by common tools: NIfTI for density fields and probability maps, CSV for
radii, volumes and forecasts, and a PNG of the central slices with the predicted margin.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ..errors import DataError
from ..limits import SEED, SIMULATION_SPAN, UNSTORED_PARTICLES
from ._checks import OVERWRITE_HELP, limit, output_folder, writing

console = Console(width=150)

LOW = 0.02  # the invisible margin: cells above 2 % of K but below the T2/FLAIR threshold


SIMULATE_FILES = ("radii.csv", "slices.png")  # and density_day<N>.nii.gz
TWIN_FILES = ("forecast.csv", "margin_probability.nii.gz", "visible_probability.nii.gz",
              "slices.png")  # fmt: skip


def _volume_of_profile(profile: np.ndarray, h: float, n: int = 96, voxel: float = 1.0):
    """A radial profile placed on an n^3 grid of ``voxel`` mm (for NIfTI and slices)."""
    x = (np.arange(n) + 0.5 - n / 2) * voxel
    r = np.sqrt(x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2)
    return np.interp(r, (np.arange(len(profile)) + 0.5) * h, profile, right=0.0)


def _png(path: Path, field: np.ndarray, title: str, thr_t1: float, thr_t2: float,
         margin: np.ndarray | None = None) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vol = field if field.ndim == 3 else field[..., None]
    marg = None if margin is None else (margin if margin.ndim == 3 else margin[..., None])
    mid = [s // 2 for s in vol.shape]
    cuts = [(vol[mid[0]], "sagittal"), (vol[:, mid[1]], "coronal"), (vol[:, :, mid[2]], "axial")]
    mcuts = None if marg is None else [marg[mid[0]], marg[:, mid[1]], marg[:, :, mid[2]]]
    n = 3 if field.ndim == 3 else 1
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.2), squeeze=False)
    for k in range(n):
        ax = axes[0, k]
        img, name = cuts[k] if n == 3 else (vol[:, :, 0], "slice")
        ax.imshow(img.T, origin="lower", cmap="gray", vmin=0, vmax=1)
        m = mcuts[k] if (mcuts is not None and n == 3) else (None if marg is None else marg[..., 0])
        if m is not None:
            ax.imshow(np.ma.masked_less(m.T, 0.05), origin="lower", cmap="autumn", alpha=0.5,
                      vmin=0, vmax=1)  # fmt: skip
        ax.contour(img.T, levels=[thr_t2, thr_t1], colors=["cyan", "red"], linewidths=1)
        ax.set_title(name)
        ax.set_axis_off()
    fig.suptitle(title + "  (red: T1Gd edge, cyan: T2 edge, orange: invisible margin)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def simulate_glioma(D: float, rho: float, dim: int, days: int, out: Path | None,
                    R0: float = 10.0, *, overwrite: bool = False) -> None:  # fmt: skip
    """Simulate the PI model and write radii.csv, density NIfTI and slices.png into ``out``."""
    if out is None:
        raise DataError("medtwin simulate glioma needs --out DIR (a folder for the outputs).")
    if dim not in (1, 2, 3):
        raise DataError(f"--dim must be 1 (radial), 2 or 3. Got {dim}.")
    if days < 1:
        raise DataError(f"--days must be >= 1. Got {days}.")
    limit(SIMULATION_SPAN, days, "--days", "d")
    names = (*SIMULATE_FILES, f"density_day{days}.nii.gz")
    folder = output_folder(out, names, overwrite=overwrite)
    assert folder is not None

    from ..data import write_nifti
    from ..data.csvio import write_csv
    from ..models.oncology import Glioma, synthetic_brain
    from ..simulate import simulate

    if dim == 1:
        model = Glioma(1, (200,), 0.5)
    else:
        shape = (96, 96) if dim == 2 else (64, 64, 64)
        mask, white = synthetic_brain(shape, 1.0)
        model = Glioma(dim, shape, 1.0, mask=mask, white=white)
    for name, v in (("D", D), ("rho", rho), ("R0", R0)):
        lo, hi = model.parameters[model.param_index(name)].bounds
        if not lo <= v <= hi:
            raise DataError(f"--{name} must lie in [{lo:g}, {hi:g}]. Got {v:g}.")
    params = model.make_params(D=D, rho=rho, R0=R0)
    traj = simulate(model, params, t1=float(days))
    if int(traj.status) != 0:
        raise DataError(f"The glioma simulation failed (status {int(traj.status)}).")
    ts, r = np.asarray(traj.ts), np.asarray(traj.observables)
    unit, rows = "mm2" if dim == 2 else "ml", []
    for t, (a, b) in zip(ts, r, strict=True):
        vols = [math.pi * x**2 if dim == 2 else 4 / 3 * math.pi * x**3 / 1000 for x in (a, b)]
        rows.append([f"{t:g}", f"{a:.4f}", f"{b:.4f}", f"{vols[0]:.4f}", f"{vols[1]:.4f}"])
    final = np.asarray(traj.states)[-1]
    if dim == 1:
        field = _volume_of_profile(final, model.spacing)
        spacing = 1.0
    else:
        field = np.asarray(model.field(final))
        spacing = model.spacing
    margin = ((field >= LOW) & (field < 0.16)).astype(float)
    with writing(folder, names) as tmp:
        write_csv(tmp["radii.csv"], ["day", "radius_t1gd_mm", "radius_t2_mm",
                                     f"volume_t1gd_{unit}", f"volume_t2_{unit}"], rows)  # fmt: skip
        write_nifti(tmp[f"density_day{days}.nii.gz"], field, spacing)
        _png(tmp["slices.png"], field, f"glioma, D={D:g}, rho={rho:g}, day {days}", 0.8, 0.16,
             margin)  # fmt: skip
    console.print(
        f"Day {days}: T1Gd radius {r[-1, 0]:.1f} mm, T2 radius {r[-1, 1]:.1f} mm. Wrote "
        f"radii.csv, density_day{days}.nii.gz and slices.png to {folder}"
    )


def twin_glioma(images: Path, particles: int, horizon: int, seed: int, out: Path | None,
                *, overwrite: bool = False) -> None:  # fmt: skip
    """Calibrate the glioma twin on a scan series, forecast, and compare RT schedules."""
    if particles < 2:
        raise DataError(f"--particles must be >= 2. Got {particles}.")
    if horizon < 1:
        raise DataError(f"--horizon must be >= 1 day. Got {horizon}.")
    limit(UNSTORED_PARTICLES, particles, "--particles")
    limit(SIMULATION_SPAN, horizon, "--horizon", "d")
    limit(SEED, seed, "--seed")
    folder = output_folder(out, TWIN_FILES, overwrite=overwrite)

    import jax

    from ..assimilate import SpecPrior, assimilate
    from ..data import read_scans, write_nifti
    from ..data.csvio import write_csv
    from ..forecast import forecast, what_if
    from ..imaging import (
        days_gained,
        invisible_margin,
        posterior_draws,
        radiotherapy,
        two_radius_estimate,
    )
    from ..models.oncology import Glioma
    from ..simulate import Regimen
    from ..twin import Twin

    series = read_scans(images)
    if len(series) < 2:
        raise DataError(f"The glioma twin needs scans at two or more days. Got {len(series)}.")
    day0 = float(series.days[0])
    model = Glioma(1, (200,), 0.5)
    twin = Twin.create(model, SpecPrior(("D", "rho", "R0")), key=jax.random.key(seed),
                       n=particles, t0=-1.0)  # fmt: skip
    twin = assimilate(twin, series.observations(offset=-day0))
    console.print(f"{len(series)} scans (days {', '.join(f'{d:g}' for d in series.days)}): "
                  f"{twin.updates[-1].report}")  # fmt: skip
    table = Table(title="Posterior (5 %, 50 %, 95 %)")
    for col in ("parameter", "median", "5 %", "95 %"):
        table.add_column(col)
    for k, (lo, med, hi) in twin.parameter_quantiles().items():
        table.add_row(k, f"{med:.4g}", f"{lo:.4g}", f"{hi:.4g}")
    console.print(table)
    try:
        est = two_radius_estimate(series)
        console.print(f"Two-radius estimate: D {est.D:.4g} mm^2/day, rho {est.rho:.4g} /day "
                      f"(speed {est.speed:.3g} mm/day, gap {est.gap:.3g} mm)")  # fmt: skip
    except DataError as exc:
        console.print(f"Two-radius estimate not available: {exc}")
    fc = forecast(twin, float(horizon), every=float(horizon) / 4 if horizon % 4 == 0 else 1.0)
    t_rt = twin.time + 1.0
    schedules = {"none": Regimen(), "30x2Gy": radiotherapy(t_rt, 30, 2.0),
                 "15x2.67Gy": radiotherapy(t_rt, 15, 2.67)}  # fmt: skip
    wi = what_if(twin, schedules, float(horizon), every=float(horizon))
    p, y = posterior_draws(twin, min(200, particles), jax.random.key(seed + 1))
    dg = days_gained(model, p, schedules["30x2Gy"], t0=twin.time, t_end=twin.time + 60.0, y0=y)
    res = Table(title=f"Radiotherapy from day {t_rt + day0:g}: T2 radius at +{horizon} days")
    for col in ("schedule", "median mm", "95 % band mm"):
        res.add_column(col)
    for name, f in zip(wi.options, wi.forecasts, strict=True):
        lo, hi = f.band("radius_t2", 0.95)
        res.add_row(name, f"{f.observable('radius_t2')[-1]:.1f}", f"{lo[-1]:.1f}-{hi[-1]:.1f}")
    console.print(res)
    lo_dg, hi_dg = np.percentile(dg, [5, 95])
    console.print(
        f"Days gained by 30 x 2 Gy (60 days after start): median {np.median(dg):.0f}, "
        f"90 % interval {lo_dg:.0f}-{hi_dg:.0f}"
    )
    if folder is not None:
        rows = []
        for j, name in enumerate(fc.observable_names):
            lo, hi = fc.band(name, 0.95)
            for i, t in enumerate(fc.times):
                rows.append([f"{t + day0:g}", name, f"{fc.median[j, i]:.4f}",
                             f"{lo[i]:.4f}", f"{hi[i]:.4f}"])  # fmt: skip
        header = ["day", "observable", "median", "lower95", "upper95"]
        mm = invisible_margin(twin, float(horizon), low=LOW, draws=min(200, particles))
        inv = _volume_of_profile(mm.invisible, model.spacing)
        vis = _volume_of_profile(mm.visible, model.spacing)
        with writing(folder, TWIN_FILES) as tmp:
            write_csv(tmp["forecast.csv"], header, rows)
            write_nifti(tmp["margin_probability.nii.gz"], inv, 1.0)
            write_nifti(tmp["visible_probability.nii.gz"], vis, 1.0)
            _png(tmp["slices.png"], vis, f"twin forecast, day {mm.time + day0:g}", 0.95, 0.5,
                 inv)  # fmt: skip
        console.print(f"Wrote forecast.csv, margin_probability.nii.gz, visible_probability.nii.gz"
                      f" and slices.png to {folder}")  # fmt: skip


def register(twin_app: typer.Typer) -> None:
    """Add ``medtwin twin glioma`` to the ``twin`` sub-app."""

    @twin_app.command("glioma")
    def twin_glioma_command(
        images: Annotated[Path, typer.Option(help="Folder of day<N>_t1gd/_t2 NIfTI masks or a "
                                             "radii.csv (day,radius_t1gd_mm,radius_t2_mm).")],
        particles: Annotated[int, typer.Option(help="Particles of the twin's ensemble.")] = 1000,
        horizon: Annotated[int, typer.Option(help="Forecast horizon in days.")] = 120,
        seed: Annotated[int, typer.Option(help="Seed of the twin's random numbers.")] = 0,
        out: Annotated[Path | None, typer.Option(help="Folder for forecast CSV, NIfTI maps "
                                                 "and a PNG.")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
    ) -> None:  # fmt: skip
        """Calibrate the glioma twin on T1Gd/T2 scans, forecast with bands and the invisible
        margin, and compare radiotherapy schedules (30 x 2 Gy vs 15 x 2.67 Gy)."""
        twin_glioma(images, particles, horizon, seed, out, overwrite=overwrite)
