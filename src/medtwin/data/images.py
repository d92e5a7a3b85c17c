"""Edge: imaging files in and out -- NIfTI volumes (nibabel), folders of scans, radii tables.

A folder of scans holds, per time point, ``day<N>_t1gd.nii[.gz]`` and ``day<N>_t2.nii[.gz]``
(``flair`` is accepted for ``t2``) -- binary segmentations whose equivalent-sphere radii become
the glioma twin's observables -- or a ``radii.csv`` with columns ``day,radius_t1gd_mm,
radius_t2_mm``. Radii are in mm, voxel sizes in mm, days in days.

The mathematics (mask -> volume -> radius, the two-radius estimate, phantoms) is in the core,
:mod:`medtwin.imaging`; this module only turns files into its arrays and back. nibabel is
imported when a NIfTI file is read or written (``pip install 'medtwin[imaging]'``).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..imaging import Phantom, ScanSeries, equivalent_radius, segmentation_volume
from .csvio import write_csv

__all__ = [
    "read_nifti",
    "read_radii_csv",
    "read_scans",
    "write_nifti",
    "write_phantom",
    "write_radii_csv",
]

_HINT = "Install the imaging extra: pip install 'medtwin[imaging]' (it adds nibabel)."
_NAME = re.compile(r"^day(\d+(?:\.\d+)?)_(t1gd|t2|flair)\.nii(\.gz)?$", re.IGNORECASE)


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError:  # pragma: no cover - depends on the environment
        raise DataError(f"Reading and writing NIfTI needs nibabel. {_HINT}") from None
    return nibabel


def read_nifti(path: str | Path) -> tuple[np.ndarray, tuple[float, ...]]:
    """The voxel array (float64) and the voxel size in mm of a NIfTI file (.nii or .nii.gz)."""
    nib = _nibabel()
    p = Path(path)
    if not p.is_file():
        raise DataError(f"No NIfTI file at {str(p)!r}. Expected a .nii or .nii.gz file.")
    try:
        img = nib.load(str(p))
        data = np.asarray(img.get_fdata(), dtype=np.float64)
        zooms = tuple(float(z) for z in img.header.get_zooms()[: data.ndim])
    except Exception as exc:  # nibabel raises several types for broken files
        raise DataError(
            f"Could not read {str(p)!r} as NIfTI ({type(exc).__name__}: {exc}). Expected a "
            ".nii or .nii.gz volume."
        ) from None
    return data, zooms


def write_nifti(path: str | Path, data: np.ndarray, spacing: float | tuple[float, ...]) -> Path:
    """Write ``data`` (2D or 3D) as NIfTI with isotropic or per-axis ``spacing`` in mm."""
    nib = _nibabel()
    arr = np.asarray(data)
    if arr.ndim not in (2, 3):
        raise DataError(f"write_nifti needs a 2D or 3D array. Got shape {arr.shape}.")
    zooms = (
        tuple(spacing) if isinstance(spacing, tuple | list | np.ndarray) else (spacing,) * arr.ndim
    )
    affine = np.diag([*(float(z) for z in zooms), *([1.0] * (4 - arr.ndim))])
    img = nib.Nifti1Image(arr.astype(np.float32 if arr.dtype.kind == "f" else np.uint8), affine)
    img.header.set_xyzt_units("mm", "sec")
    out = Path(path)
    nib.save(img, str(out))
    return out


def read_scans(folder: str | Path) -> ScanSeries:
    """Read a folder of ``day<N>_t1gd`` / ``day<N>_t2`` NIfTI segmentations or a ``radii.csv``."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"--images must be a folder of scans. {str(root)!r} is not a folder.")
    if (root / "radii.csv").is_file():
        return read_radii_csv(root / "radii.csv")
    found: dict[float, dict[str, Path]] = {}
    for f in sorted(root.iterdir()):
        m = _NAME.match(f.name)
        if m:
            kind = "t2" if m.group(2).lower() in ("t2", "flair") else "t1gd"
            found.setdefault(float(m.group(1)), {})[kind] = f
    if not found:
        raise DataError(
            f"No scans in {str(root)!r}. Expected files named day<N>_t1gd.nii.gz and "
            "day<N>_t2.nii.gz (or flair), or a radii.csv with columns day,radius_t1gd_mm,"
            "radius_t2_mm."
        )
    days, r1, r2 = [], [], []
    for day in sorted(found):
        pair = found[day]
        missing = {"t1gd", "t2"} - set(pair)
        if missing:
            raise DataError(
                f"Day {day:g} in {str(root)!r} has no {'/'.join(sorted(missing))} segmentation. "
                "Each time point needs both a T1Gd and a T2/FLAIR mask."
            )
        radii = []
        for kind in ("t1gd", "t2"):
            data, zooms = read_nifti(pair[kind])
            dim = 2 if data.ndim == 2 or (data.ndim == 3 and 1 in data.shape) else 3
            radii.append(equivalent_radius(segmentation_volume(data, zooms), dim))
        days.append(day)
        r1.append(radii[0])
        r2.append(radii[1])
    return ScanSeries(np.array(days), np.array(r1), np.array(r2))


def read_radii_csv(path: str | Path) -> ScanSeries:
    """Read ``day,radius_t1gd_mm,radius_t2_mm`` rows (a header line is required)."""
    p = Path(path)
    try:
        with open(p, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DataError(f"Could not read the radii table {str(p)!r}: {exc}.") from None
    need = ("day", "radius_t1gd_mm", "radius_t2_mm")
    if not rows or any(k not in rows[0] for k in need):
        raise DataError(
            f"{str(p)!r} needs a header with columns {', '.join(need)} and one row per scan."
        )
    out: dict[str, list[float]] = {k: [] for k in need}
    for i, row in enumerate(rows, start=2):
        for k in need:
            try:
                v = float(row[k]) if row[k] not in ("", None) else math.nan
            except ValueError:
                raise DataError(
                    f"{str(p)!r} line {i}: column {k!r} must be a number. Got {row[k]!r}."
                ) from None
            out[k].append(v)
    return ScanSeries(*(np.array(out[k]) for k in need))


def write_radii_csv(path: str | Path, series: ScanSeries) -> Path:
    """Write a :class:`~medtwin.imaging.ScanSeries` as ``day,radius_t1gd_mm,radius_t2_mm``
    (plus the equivalent-sphere volumes in ml)."""
    rows = []
    for d, a, b in zip(series.days, series.radius_t1gd, series.radius_t2, strict=True):
        va, vb = (4.0 / 3.0 * math.pi * r**3 / 1000.0 for r in (a, b))
        rows.append([f"{d:g}", f"{a:.4f}", f"{b:.4f}", f"{va:.4f}", f"{vb:.4f}"])
    header = ["day", "radius_t1gd_mm", "radius_t2_mm", "volume_t1gd_ml", "volume_t2_ml"]
    return write_csv(path, header, rows)


def write_phantom(phantom: Phantom, folder: str | Path) -> Path:
    """Write a :class:`~medtwin.imaging.Phantom` as a folder of scans that :func:`read_scans`
    reads: ``day<N>_t1gd.nii.gz`` and ``day<N>_t2.nii.gz`` (uint8 masks, voxel size
    ``phantom.spacing`` mm) per scan day, and ``measured_radii.csv`` (the radii of
    ``phantom.series()``; not named ``radii.csv``, so :func:`read_scans` reads the masks)."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    for d, a, b in zip(phantom.days, phantom.t1gd, phantom.t2, strict=True):
        write_nifti(root / f"day{d:g}_t1gd.nii.gz", a.astype(np.uint8), phantom.spacing)
        write_nifti(root / f"day{d:g}_t2.nii.gz", b.astype(np.uint8), phantom.spacing)
    write_radii_csv(root / "measured_radii.csv", phantom.series())
    return root
