"""Segmentation masks -> volumes and equivalent radii (arrays in, numbers out; no file I/O).

Reading and writing NIfTI volumes is the edge's job: :mod:`medtwin.data` (``read_nifti``,
``write_nifti``, ``read_scans``).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DataError

__all__ = ["equivalent_radius", "segmentation_volume"]


def segmentation_volume(mask: np.ndarray, spacing: tuple[float, ...] | float) -> float:
    """Volume (mm^3; in 2D, area in mm^2) of the voxels > 0.5 of a segmentation mask."""
    m = np.asarray(mask)
    zooms = (
        tuple(spacing) if isinstance(spacing, tuple | list | np.ndarray) else (spacing,) * m.ndim
    )
    if len(zooms) != m.ndim:
        raise DataError(f"segmentation_volume: {len(zooms)} voxel sizes for a {m.ndim}-D mask.")
    return float(np.count_nonzero(m > 0.5) * math.prod(zooms))


def equivalent_radius(volume: float, dim: int = 3) -> float:
    """Radius (mm) of the sphere (``dim=3``) or disk (``dim=2``) of this volume (area)."""
    if dim == 2:
        return math.sqrt(volume / math.pi)
    return (3.0 * volume / (4.0 * math.pi)) ** (1.0 / 3.0)
