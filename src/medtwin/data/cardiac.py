"""Edge: the cardiac twin's files -- an LGE scan with its segmentation (NIfTI, read by
:func:`medtwin.data.images.read_nifti`) as tissue labels, and the local activation times of an
electro-anatomical map (CSV).

LAT format: a header ``x_mm,y_mm,lat_ms`` (a 2D tissue) or ``x_mm,y_mm,z_mm,lat_ms`` (3D), then one
row per mapping point: its position in mm in the tissue's frame -- from the corner of the
first voxel of the LGE scan along the voxel axes (voxel ``i`` spans ``[i h, (i + 1) h)``), not
scanner coordinates -- and its local activation time in ms after the pacing stimulus. Further
columns after these are ignored. Every value must be a finite number.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..models.cardiology.lge import lge_labels
from ..models.cardiology.personalise import MappingPoints
from ._csvrows import rows
from .images import read_nifti

__all__ = ["LAT_COLUMNS", "LGEScan", "read_lat_csv", "read_lge_scan"]

LAT_COLUMNS = (("x_mm", "y_mm", "lat_ms"), ("x_mm", "y_mm", "z_mm", "lat_ms"))


def read_lat_csv(path: str | Path, sd: float) -> MappingPoints:
    """The mapping points of ``path`` (see the module docstring) with the Gaussian noise ``sd``
    (ms) of every activation time."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"No such file: {str(path)!r}. Expected a CSV with {','.join(LAT_COLUMNS[0])} "
            f"(or {','.join(LAT_COLUMNS[1])})."
        )
    with path.open(newline="") as fh:
        first = fh.readline()
    head = tuple(c.strip() for c in first.strip().split(","))
    columns = LAT_COLUMNS[1] if head[:4] == LAT_COLUMNS[1] else LAT_COLUMNS[0]
    try:
        table = rows(path, columns)
    except DataError:
        raise DataError(
            f"{path.name}: expected the header {','.join(LAT_COLUMNS[0])} or "
            f"{','.join(LAT_COLUMNS[1])}. Got {','.join(head) or '(empty file)'}."
        ) from None
    if not table:
        raise DataError(f"{path.name}: no mapping points below the header. Expected at least one.")
    values = np.empty((len(table), len(columns)))
    for i, row in enumerate(table):
        for j, col in enumerate(columns):
            text = row.get(col, "")
            try:
                v = float(text)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                raise DataError(
                    f"{path.name} line {i + 2}: {col} must be a finite number. Got {text!r}."
                )
            values[i, j] = v
    try:
        return MappingPoints(values[:, :-1], values[:, -1], sd)
    except DataError as exc:
        raise DataError(f"{path.name}: {exc}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class LGEScan:
    """A late-gadolinium-enhancement scan read by :func:`read_lge_scan`: the tissue ``labels``
    (:func:`medtwin.models.cardiology.lge_labels`: 0 outside, 1 healthy, 2 border zone, 3
    scar), the isotropic voxel ``spacing`` (mm), the intensity ``image`` and the masks it
    was labelled with."""

    labels: np.ndarray
    spacing: float
    image: np.ndarray
    myocardium: np.ndarray
    blood_pool: np.ndarray


def read_lge_scan(
    scan: str | Path,
    segmentation: str | Path,
    *,
    myocardium: int = 1,
    blood_pool: int = 2,
    rule: Any = None,
) -> LGEScan:
    """Tissue labels from an LGE NIfTI ``scan`` and its ``segmentation`` (a NIfTI label image
    of the same grid in which the voxels of value ``myocardium`` are the myocardium and those
    of value ``blood_pool`` the blood pool, the intensity reference of the default rule,
    :class:`~medtwin.models.cardiology.IntensityRatio`). ``rule`` is any rule
    :func:`~medtwin.models.cardiology.lge_labels` takes; a rule that needs a remote-myocardium
    mask is used from Python, not here. The tissue models take one spacing, so the voxels
    must be cubes (to 0.1 %)."""
    image, zooms = read_nifti(scan)
    seg, seg_zooms = read_nifti(segmentation)
    if image.ndim not in (2, 3):
        raise DataError(
            f"The LGE scan {str(scan)!r} is {image.ndim}D (shape {image.shape}). Expected a 2D "
            "slice or a 3D volume."
        )
    if seg.shape != image.shape or not np.allclose(seg_zooms, zooms, rtol=1e-3):
        raise DataError(
            f"The segmentation {str(segmentation)!r} (shape {seg.shape}, voxels {seg_zooms} mm) "
            f"is not on the scan's grid (shape {image.shape}, voxels {zooms} mm). Expected "
            "the label image made from this scan."
        )
    if max(zooms) > min(zooms) * 1.001:
        raise DataError(
            f"The LGE scan {str(scan)!r} has voxels of {zooms} mm; the tissue models need cubic "
            "voxels. Resample the scan and its segmentation to isotropic voxels first."
        )
    labels = np.rint(seg).astype(np.int64)
    myo, pool = labels == myocardium, labels == blood_pool
    values = sorted(int(v) for v in np.unique(labels))[:12]
    if not myo.any():
        raise DataError(
            f"The segmentation {str(segmentation)!r} has no voxel of value {myocardium} (the "
            f"myocardium); its values are {values}. Pass the myocardium's label value."
        )
    if not pool.any():
        raise DataError(
            f"The segmentation {str(segmentation)!r} has no voxel of value {blood_pool} (the "
            f"blood pool, the intensity reference); its values are {values}. Pass the blood "
            "pool's label value, or segment the blood pool."
        )
    kwargs = {} if rule is None else {"rule": rule}
    out = lge_labels(image, myo, blood_pool=pool, **kwargs)
    return LGEScan(out, float(zooms[0]), image, myo, pool)
