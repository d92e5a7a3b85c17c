"""Synthetic phantom scans from known D and rho, with imaging noise.

The truth is the spherically symmetric PI model on a fine radial grid (``radial_spacing`` mm,
finer than any twin's grid, so the twin does not see its own discretisation), sampled at the
voxel centres of a Cartesian volume. Imaging noise: a smooth Gaussian random field (white noise
blurred over ``blur`` voxels, rescaled to sd ``noise`` in units of K) is added to the density
before it is thresholded at the T1Gd and T2/FLAIR levels; as a segmentation tool would, only the
connected component holding the tumour centre is kept.

Writing a phantom to disk as NIfTI scans is the edge's job: :func:`medtwin.data.write_phantom`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import DataError
from ..models.oncology import Glioma
from ..simulate import Regimen, simulate
from ._scans import ScanSeries
from ._segmentation import equivalent_radius, segmentation_volume

__all__ = ["Phantom", "synthetic_phantom"]


@dataclass(frozen=True)
class Phantom:
    """Segmentations ``t1gd[k]``/``t2[k]`` (bool volumes) at ``days[k]``, voxel size ``spacing``
    mm, the true parameter vector and the true (noise-free, continuum) radii."""

    days: np.ndarray
    t1gd: tuple[np.ndarray, ...]
    t2: tuple[np.ndarray, ...]
    spacing: float
    params: np.ndarray
    true_radii: np.ndarray  # (days, 2): T1Gd, T2

    def series(self) -> ScanSeries:
        """Radii measured from the segmentations (what a reader of the images gets)."""
        dim = self.t1gd[0].ndim
        r = [
            [equivalent_radius(segmentation_volume(m, self.spacing), dim) for m in pair]
            for pair in zip(self.t1gd, self.t2, strict=True)
        ]
        a = np.asarray(r)
        return ScanSeries(self.days, a[:, 0], a[:, 1])


def synthetic_phantom(
    D: float,
    rho: float,
    days: np.ndarray | list[float],
    *,
    R0: float = 10.0,
    shape: tuple[int, ...] = (72, 72, 72),
    spacing: float = 1.0,
    noise: float = 0.05,
    blur: float = 1.0,
    seed: int = 0,
    regimen: Regimen | None = None,
    radial_spacing: float = 0.1,
) -> Phantom:
    """Scans of a tumour grown from an established front of radius ``R0`` (mm) at day 0 with
    diffusion ``D`` (mm^2/day) and proliferation ``rho`` (1/day), at integer ``days`` >= 0."""
    t = np.asarray(days, dtype=np.float64)
    if t.ndim != 1 or len(t) < 1 or np.any(t < 0) or np.any(np.diff(t) <= 0):
        raise DataError(f"synthetic_phantom needs increasing days >= 0. Got {t.tolist()}.")
    if np.any(t != np.round(t)):
        raise DataError(f"synthetic_phantom scans on whole days. Got {t.tolist()}.")
    if len(shape) not in (2, 3) or not (noise >= 0 and spacing > 0):
        raise DataError(
            f"synthetic_phantom needs a 2D or 3D shape, noise >= 0 and spacing > 0. Got shape "
            f"{shape}, noise {noise}, spacing {spacing}."
        )
    half_diag = 0.5 * spacing * math.sqrt(sum(n * n for n in shape))
    n = math.ceil(half_diag / radial_spacing) + 4
    truth = Glioma(1, (n,), radial_spacing, radial_dim=len(shape))
    params = np.asarray(truth.make_params(D=D, rho=rho, R0=R0))
    t1 = max(float(t[-1]), 1.0)
    traj = simulate(truth, params, regimen, t1=t1, saveat=np.unique(np.r_[t, t1]))
    keep = np.isin(np.asarray(traj.ts), t)
    profiles = np.asarray(traj.states)[keep]
    radii = np.asarray(traj.observables)[keep]
    x = np.meshgrid(*[(np.arange(k) + 0.5) * spacing for k in shape], indexing="ij")
    ctr = [0.5 * k * spacing for k in shape]
    dist = np.sqrt(sum((xi - c) ** 2 for xi, c in zip(x, ctr, strict=True)))
    r_cells = (np.arange(n) + 0.5) * radial_spacing
    rng = np.random.default_rng(seed)
    centre = tuple(k // 2 for k in shape)
    t1_masks, t2_masks = [], []
    for prof in profiles:
        img = np.interp(dist, r_cells, prof)
        if noise > 0:
            field = ndimage.gaussian_filter(rng.standard_normal(shape), blur)
            img = img + noise * field / field.std()
        masks = []
        for thr in (0.8, 0.16):
            lab, _ = ndimage.label(img >= thr)
            masks.append(lab == lab[centre] if lab[centre] > 0 else np.zeros(shape, bool))
        t1_masks.append(masks[0])
        t2_masks.append(masks[1])
    return Phantom(t, tuple(t1_masks), tuple(t2_masks), float(spacing), params, radii)
