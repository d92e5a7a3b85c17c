"""Scan series: T1Gd and T2/FLAIR segmentations (or a radii table) at several time points.

A folder of scans holds, per time point, ``day<N>_t1gd.nii[.gz]`` and ``day<N>_t2.nii[.gz]``
(``flair`` is accepted for ``t2``) -- binary segmentations whose equivalent-sphere radii become
the glioma twin's observables -- or a ``radii.csv`` with columns ``day,radius_t1gd_mm,
radius_t2_mm``.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..assimilate import Observations
from ..errors import DataError
from ._nifti import equivalent_radius, read_nifti, segmentation_volume

__all__ = ["ScanSeries", "read_radii_csv", "read_scans", "write_radii_csv"]

_NAME = re.compile(r"^day(\d+(?:\.\d+)?)_(t1gd|t2|flair)\.nii(\.gz)?$", re.IGNORECASE)


@dataclass(frozen=True)
class ScanSeries:
    """Radii (mm) of the T1Gd-enhancing and T2/FLAIR-abnormal regions at ``days``."""

    days: np.ndarray
    radius_t1gd: np.ndarray
    radius_t2: np.ndarray

    def __post_init__(self) -> None:
        d, r1, r2 = (np.asarray(x, dtype=np.float64) for x in (self.days, self.radius_t1gd,
                                                                 self.radius_t2))  # fmt: skip
        if not (d.ndim == 1 and d.shape == r1.shape == r2.shape):
            raise DataError(
                f"ScanSeries needs days, radius_t1gd and radius_t2 of one length. Got shapes "
                f"{d.shape}, {r1.shape}, {r2.shape}."
            )
        if len(d) < 1 or not np.all(np.isfinite(d)) or np.any(np.diff(d) <= 0):
            raise DataError(f"ScanSeries days must be finite and increasing. Got {d.tolist()}.")
        if np.any(r1 < 0) or np.any(r2 < 0):
            raise DataError("ScanSeries radii must be >= 0 mm (NaN marks a missing one).")
        for name, v in (("days", d), ("radius_t1gd", r1), ("radius_t2", r2)):
            object.__setattr__(self, name, v)

    def __len__(self) -> int:
        return len(self.days)

    def observations(self, *, offset: float = 0.0) -> Observations:
        """The radii as twin :class:`~medtwin.assimilate.Observations` at ``days + offset``."""
        t = np.concatenate([self.days, self.days]) + offset
        v = np.concatenate([self.radius_t1gd, self.radius_t2])
        names = ("radius_t1gd",) * len(self) + ("radius_t2",) * len(self)
        return Observations(t, names, v, np.zeros(len(t), dtype=np.int8))


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
    """Write a :class:`ScanSeries` as ``day,radius_t1gd_mm,radius_t2_mm`` (plus volumes)."""
    p = Path(path)
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["day", "radius_t1gd_mm", "radius_t2_mm", "volume_t1gd_ml", "volume_t2_ml"])
        for d, a, b in zip(series.days, series.radius_t1gd, series.radius_t2, strict=True):
            va, vb = (4.0 / 3.0 * math.pi * r**3 / 1000.0 for r in (a, b))
            w.writerow([f"{d:g}", f"{a:.4f}", f"{b:.4f}", f"{va:.4f}", f"{vb:.4f}"])
    return p
