"""NIfTI volumes in and out (nibabel), and segmentation masks -> volumes and radii."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["equivalent_radius", "read_nifti", "segmentation_volume", "write_nifti"]

_HINT = "Install the imaging extra: pip install 'medtwin[imaging]' (it adds nibabel)."


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
    zooms = (spacing,) * arr.ndim if np.isscalar(spacing) else tuple(spacing)  # type: ignore[arg-type]
    affine = np.diag([*(float(z) for z in zooms), *([1.0] * (4 - arr.ndim))])
    img = nib.Nifti1Image(arr.astype(np.float32 if arr.dtype.kind == "f" else np.uint8), affine)
    img.header.set_xyzt_units("mm", "sec")
    out = Path(path)
    nib.save(img, str(out))
    return out


def segmentation_volume(mask: np.ndarray, spacing: tuple[float, ...] | float) -> float:
    """Volume (mm^3; in 2D, area in mm^2) of the voxels > 0.5 of a segmentation mask."""
    m = np.asarray(mask)
    zooms = (spacing,) * m.ndim if np.isscalar(spacing) else tuple(spacing)  # type: ignore[arg-type]
    if len(zooms) != m.ndim:
        raise DataError(f"segmentation_volume: {len(zooms)} voxel sizes for a {m.ndim}-D mask.")
    return float(np.count_nonzero(m > 0.5) * math.prod(zooms))


def equivalent_radius(volume: float, dim: int = 3) -> float:
    """Radius (mm) of the sphere (``dim=3``) or disk (``dim=2``) of this volume (area)."""
    if dim == 2:
        return math.sqrt(volume / math.pi)
    return (3.0 * volume / (4.0 * math.pi)) ** (1.0 / 3.0)
