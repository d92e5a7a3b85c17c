"""Scan series: the radii of the T1Gd and T2/FLAIR segmentations at several time points.

Reading them from a folder of NIfTI masks or a radii table is the edge's job:
:func:`medtwin.data.read_scans` and :func:`medtwin.data.read_radii_csv` return a
:class:`ScanSeries`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..assimilate import Observations
from ..errors import DataError

__all__ = ["ScanSeries"]


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
