"""``medtwin twin cardiac``: the cardiac twin from an LGE scan and an activation map.

The scan and its segmentation become tissue labels (:func:`medtwin.data.cardiac.read_lge_scan`),
the mapping points' activation times (and QRS durations) the posterior of the conduction
parameters, the posterior's draws P(inducible) under programmed stimulation, and the candidate
lesion plans a ranking by it (:class:`medtwin.models.cardiology.CardiacTwin`). Outputs:
``posterior.csv`` (the draws the forecast ran), ``plans.csv`` (the ranked plans) and
``plan.png`` (the labels, the recommended lesion, the mapping points and the pacing sites),
written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ..errors import DataError
from ..limits import CARDIAC_TWIN_DRAWS, CARDIAC_TWIN_S1_BEATS, CARDIAC_TWIN_SITES, SEED
from ._checks import OVERWRITE_HELP, input_file, limit, output_folder, writing

console = Console(width=150)

TWIN_FILES = ("posterior.csv", "plans.csv", "plan.png")
LAT_SD = 5.0  # ms: see --lat-sd
QRS_SD = 10.0  # ms: see --qrs-sd
BZ_NODES = "0.2,0.3,0.45,0.7,1"


def _numbers(text: str, option: str, what: str, n: tuple[int, ...] | None = None) -> list[float]:
    """Comma-separated finite numbers; ``n``: the counts allowed."""
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if not vals or not all(math.isfinite(v) for v in vals) or (n and len(vals) not in n):
        count = f"{' or '.join(map(str, n))} " if n else ""
        raise DataError(f"{option} expects {count}comma-separated numbers ({what}). Got {text!r}.")
    return vals


def _positive(value: float | None, option: str, unit: str) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise DataError(f"{option} must be a number > 0 ({unit}). Got {value!r}.")


def _couplings(text: str | None) -> tuple[tuple[float, ...], ...] | None:
    if text is None:
        return None
    stages = tuple(
        tuple(_numbers(s, "--couplings", "ms per extrastimulus, stages separated by ';'"))
        for s in text.split(";")
    )
    if not 1 <= len(stages) <= 3:
        raise DataError(
            f"--couplings expects one to three stages (S2, S3, S4) separated by ';', e.g. "
            f"'340,310,280;300,270'. Got {text!r}."
        )
    return stages


def _png(path: Path, labels: np.ndarray, spacing: float, lesion: np.ndarray, title: str,
         points: np.ndarray | None, pace: list[float], sites: np.ndarray) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    lab, les = (labels, lesion) if labels.ndim == 2 else (
        labels[:, :, labels.shape[2] // 2], lesion[:, :, labels.shape[2] // 2])  # fmt: skip
    extent = (0.0, lab.shape[0] * spacing, 0.0, lab.shape[1] * spacing)
    cmap = ListedColormap(["white", "#f4c7a1", "#c0504d", "#404040", "black"])
    fig, ax = plt.subplots(figsize=(9, 7 * lab.shape[1] / max(lab.shape[0], 1) + 1))
    ax.imshow(lab.T, origin="lower", cmap=cmap, vmin=-0.5, vmax=4.5, extent=extent,
              interpolation="nearest")  # fmt: skip
    if les.any():
        ax.imshow(np.ma.masked_where(~les.T, les.T.astype(float)), origin="lower", cmap="cool",
                  extent=extent, alpha=0.9, interpolation="nearest")  # fmt: skip
    if points is not None:
        ax.scatter(points[:, 0], points[:, 1], s=14, c="tab:blue", label="mapping points")
    ax.scatter([pace[0]], [pace[1]], marker="*", s=120, c="gold", edgecolors="k",
               label="map's pacing site")  # fmt: skip
    ax.scatter(sites[:, 0], sites[:, 1], marker="^", s=50, c="tab:green", edgecolors="k",
               label="stimulation sites")  # fmt: skip
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=cmap(k), label=name) for k, name in
                ((1, "healthy"), (2, "border zone"), (3, "scar"))]  # fmt: skip
    if les.any():
        handles.append(Patch(color="magenta", label="lesion"))
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_title(title, fontsize=9)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def twin_cardiac(
    lge: Path, segmentation: Path, lat: Path | None, pace: str, *, myocardium: int = 1,
    blood_pool: int = 2, lat_sd: float = LAT_SD, qrs: float | None = None,
    qrs_sd: float = QRS_SD, bz: str = BZ_NODES, ratio: str = "1", draws: int = 20,
    sites: str = "4", seed: int = 0, s1_beats: int = 8, couplings: str | None = None,
    vt_sustained: float = 2000.0, out: Path | None = None, overwrite: bool = False,
) -> None:  # fmt: skip
    """Personalise, forecast and rank lesion plans (see the module docstring)."""
    # -- everything a user types, before any file is read or model loaded
    if lat is None and qrs is None:
        raise DataError(
            "medtwin twin cardiac needs observations: --lat points.csv, --qrs MS or both."
        )
    for value, option, unit in ((lat_sd, "--lat-sd", "ms"), (qrs, "--qrs", "ms"),
                                (qrs_sd, "--qrs-sd", "ms"), (vt_sustained, "--vt-sustained",
                                                             "ms")):  # fmt: skip
        _positive(value, option, unit)
    limit(CARDIAC_TWIN_DRAWS, draws, "--draws")
    limit(CARDIAC_TWIN_S1_BEATS, s1_beats, "--s1-beats")
    limit(SEED, seed, "--seed")
    pace_mm = _numbers(pace, "--pace", "the map's pacing site X,Y[,Z] in mm", (2, 3))
    bz_nodes = tuple(_numbers(bz, "--bz", "border-zone / healthy velocity factors in (0, 1]"))
    ratio_nodes = tuple(_numbers(ratio, "--ratio", "transverse / longitudinal factors in (0, 1]"))
    n_sites: int | None = None
    site_list: np.ndarray | None = None
    if ";" not in sites and "," not in sites:
        try:
            n_sites = int(sites)
        except ValueError:
            n_sites = 0
        if not CARDIAC_TWIN_SITES.low <= n_sites <= CARDIAC_TWIN_SITES.high:
            raise DataError(
                f"--sites expects a number of sites ({CARDIAC_TWIN_SITES.range()}) or sites "
                f"'X,Y;X,Y' in mm. Got {sites!r}."
            )
    else:
        site_list = np.array([_numbers(s, "--sites", "X,Y[,Z] mm per site, ';' between sites",
                                       (2, 3)) for s in sites.split(";")])  # fmt: skip
    stages = _couplings(couplings)
    input_file(lge, "an LGE scan (.nii or .nii.gz)")
    input_file(segmentation, "its segmentation (.nii or .nii.gz)")
    if lat is not None:
        input_file(lat, "a CSV with x_mm,y_mm[,z_mm],lat_ms")
    folder = output_folder(out, TWIN_FILES, overwrite=overwrite)

    from ..data.cardiac import read_lat_csv, read_lge_scan
    from ..errors import ModelError
    from ..models.cardiology import (
        CardiacTwin,
        ConductionPrior,
        PESProtocol,
        QRSDuration,
        VTDefinition,
        pacing_source,
        spread_sites,
    )
    from ._progress import spinner

    scan = read_lge_scan(lge, segmentation, myocardium=myocardium, blood_pool=blood_pool)
    labels, h = scan.labels, scan.spacing
    try:
        source = pacing_source(labels, h, np.asarray(pace_mm))
    except DataError as exc:
        raise DataError(f"--pace: {exc}") from None
    points = None if lat is None else read_lat_csv(lat, lat_sd)
    if site_list is not None:
        for s in site_list:
            try:
                pacing_source(labels, h, s)
            except DataError as exc:
                raise DataError(f"--sites: {exc}") from None
    try:
        prior = ConductionPrior(ratio=ratio_nodes, bz=bz_nodes)
        proto_kw: dict[str, Any] = {"n_s1": s1_beats}
        if stages is not None:
            proto_kw["couplings"] = stages
        protocol = PESProtocol(**proto_kw)
        definition = VTDefinition(sustained_ms=vt_sustained)
    except ModelError as exc:
        raise DataError(str(exc)) from None
    twin = CardiacTwin(labels, h, source, prior=prior)
    obs = None if qrs is None else QRSDuration(np.array([qrs]), qrs_sd)
    with spinner() as bar:
        bar.add_task("Personalising conduction (eikonal, one solve per node)")
        try:
            twin = twin.assimilate(points, qrs=obs)
        except DataError as exc:
            raise DataError(f"{lat.name if lat else '--qrs'}: {exc}") from None
    stim_sites = site_list if site_list is not None else spread_sites(labels, h, n_sites or 1)
    kw: dict[str, Any] = {"draws": draws, "seed": seed, "protocol": protocol,
                          "definition": definition}  # fmt: skip

    q = twin.quantiles()
    n_obs = (0 if points is None else len(points.times), 0 if obs is None else 1)
    console.print(
        f"Tissue {labels.shape} voxels of {h:g} mm from {lge.name}; {n_obs[0]} mapping points, "
        f"{n_obs[1]} QRS duration; pacing site {pace_mm} mm."
    )
    table = Table(title="Posterior (median, 90 % interval)")
    for col in ("parameter", "median", "5 %", "95 %"):
        table.add_column(col)
    for name, label in (("cv", "cv (mm/ms)"), ("ratio", "ratio"), ("bz", "bz")):
        lo, med, hi = q[name]
        table.add_row(label, f"{med:.4g}", f"{lo:.4g}", f"{hi:.4g}")
    console.print(table)

    with spinner() as bar:
        bar.add_task(f"Programmed stimulation on {draws} draws x {len(stim_sites)} sites")
        fc = twin.forecast(stim_sites, **kw)
    lo, hi = fc.interval
    console.print(
        f"P(inducible) {fc.probability:.2f} (95 % interval {lo:.2f}-{hi:.2f}) over {draws} "
        f"posterior draws, {len(stim_sites)} stimulation sites."
    )
    with spinner() as bar:
        bar.add_task("Ablation targeting and lesion plans")
        rec = twin.recommend(stim_sites, forecast=fc, **kw)
    plans = Table(title="Lesion plans ranked by P(inducible)")
    for col in ("rank", "plan", "cells", "area mm^2" if labels.ndim == 2 else "volume mm^3",
                "P(inducible)", "95 % interval"):  # fmt: skip
        plans.add_column(col)
    for k, r in enumerate(rec.plans, 1):
        a, b = r.forecast.interval
        plans.add_row(str(k), r.name, str(r.cells), f"{r.area:g}", f"{r.forecast.probability:.2f}",
                      f"{a:.2f}-{b:.2f}")  # fmt: skip
    console.print(plans)
    console.print(f"Recommended: {rec.best.name}.")
    if folder is None:
        return
    from ..data.csvio import write_columns, write_csv

    d = twin.draws(draws, seed)
    with writing(folder, TWIN_FILES) as tmp:
        write_columns(tmp["posterior.csv"], {
            "draw": list(range(draws)), "cv_mm_per_ms": d[:, 0].tolist(),
            "ratio": d[:, 1].tolist(), "bz": d[:, 2].tolist(),
            "inducible": [int(x) for x in fc.induced],
        })  # fmt: skip
        size = "area_mm2" if labels.ndim == 2 else "volume_mm3"
        write_csv(tmp["plans.csv"], ["rank", "plan", "cells", size, "p_inducible", "lower95",
                                     "upper95"],
                  [[k, r.name, r.cells, float(r.area), float(r.forecast.probability),
                    float(r.forecast.interval[0]), float(r.forecast.interval[1])]
                   for k, r in enumerate(rec.plans, 1)])  # fmt: skip
        _png(tmp["plan.png"], labels, h, np.asarray(rec.lesions[rec.best.name], bool),
             f"{rec.best.name}: P(inducible) {rec.best.forecast.probability:.2f}; cv "
             f"{q['cv'][1]:.3g} mm/ms, bz {q['bz'][1]:.3g}",
             None if points is None else points.positions, pace_mm, stim_sites)  # fmt: skip
    console.print(f"Wrote {', '.join(TWIN_FILES)} to {folder}")


def register(twin_app: typer.Typer) -> None:
    """Add ``medtwin twin cardiac`` to the ``twin`` sub-app."""

    @twin_app.command("cardiac")
    def twin_cardiac_command(
        lge: Annotated[Path, typer.Option(help="LGE MR scan (NIfTI, 2D slice or 3D, cubic "
                                          "voxels).")],
        segmentation: Annotated[Path, typer.Option(help="Its label image (NIfTI, same grid): "
                                                   "myocardium and blood pool.")],
        pace: Annotated[str, typer.Option(help="The map's pacing site X,Y[,Z] in mm from the "
                                          "first voxel's corner.")],
        lat: Annotated[Path | None, typer.Option(help="Mapping points CSV: x_mm,y_mm[,z_mm],"
                                                 "lat_ms (ms after the pacing stimulus).")] = None,
        myocardium_label: Annotated[int, typer.Option(help="Segmentation value of the "
                                                      "myocardium.")] = 1,
        blood_pool_label: Annotated[int, typer.Option(help="Segmentation value of the blood "
                                                      "pool (the LGE intensity reference).")] = 2,
        lat_sd: Annotated[float, typer.Option(help="Noise sd of every activation time (ms); "
                                              "5 ms by default (medtwin's assumption for "
                                              "annotation spread; state your system's).")] = LAT_SD,
        qrs: Annotated[float | None, typer.Option(help="QRS duration (ms) of a beat paced at "
                                                  "--pace, stimulus to QRS end.")] = None,
        qrs_sd: Annotated[float, typer.Option(help="Its sd (ms): measurement plus the mismatch "
                                              "between the ECG and the modelled tissue; 10 ms "
                                              "by default (medtwin's assumption).")] = QRS_SD,
        bz: Annotated[str, typer.Option(help="Border-zone / healthy velocity factors to learn "
                                        "among (comma-separated, each in (0, 1]).")] = BZ_NODES,
        ratio: Annotated[str, typer.Option(help="Transverse / longitudinal velocity factors to "
                                           "learn among (1: isotropic).")] = "1",
        draws: Annotated[int, typer.Option(help="Posterior draws the forecast runs (each a "
                                           "whole stimulation protocol).")] = 20,
        sites: Annotated[str, typer.Option(help="Stimulation sites: a number spread over the "
                                           "healthy tissue, or 'X,Y;X,Y' in mm.")] = "4",
        seed: Annotated[int, typer.Option(help="Seed of the posterior draws.")] = 0,
        s1_beats: Annotated[int, typer.Option(help="S1 drive-train beats (600 ms).")] = 8,
        couplings: Annotated[str | None, typer.Option(help="Extrastimulus coupling intervals "
                                                      "(ms): 'S2s;S3s;S4s', each decreasing "
                                                      "(default 400-220, 380-200, 360-200 by "
                                                      "20).")] = None,
        vt_sustained: Annotated[float, typer.Option(help="How long VT must last after the "
                                                    "last stimulus (ms).")] = 2000.0,
        out: Annotated[Path | None, typer.Option(help="Folder for posterior.csv, plans.csv "
                                                 "and plan.png.")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
    ) -> None:  # fmt: skip
        """The cardiac twin: conduction learnt from an activation map (and QRS duration) on
        the tissue of an LGE scan, P(inducible) across the posterior, and lesion plans
        ranked by it."""
        twin_cardiac(
            lge, segmentation, lat, pace, myocardium=myocardium_label,
            blood_pool=blood_pool_label, lat_sd=lat_sd, qrs=qrs, qrs_sd=qrs_sd, bz=bz,
            ratio=ratio, draws=draws, sites=sites, seed=seed, s1_beats=s1_beats,
            couplings=couplings, vt_sustained=vt_sustained, out=out, overwrite=overwrite,
        )  # fmt: skip
