"""A cardiac patient's files for the service and dashboard tests: the scar-channel phantom
(``models/cardiology/phantoms.py`` scaled down to 20 x 12 mm at 0.5 mm: a 12 x 6 mm scar
crossed by a 1 mm border-zone channel) as an LGE scan and its segmentation (NIfTI bytes) with
a 2 mm blood-pool strip above it, and mapping-point CSVs whose activation times are the
eikonal's at cv = 0.49 mm/ms (border zone 0.3 of it) from the pacing site (1, 6) mm, plus
1 ms noise.

LGE intensities: 100 in blood pool and healthy tissue (IIR 1.0), 125 in border zone, 150 in
scar, so the default intensity-ratio rule (1.20 / 1.32) gives back the phantom's labels (as
tests/unit/cli/test_cardiac_twin_cli.py)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from medtwin.data.images import write_nifti
from medtwin.models.cardiology import (
    BORDER,
    HEALTHY,
    SCAR,
    mapping_times,
    pacing_source,
    scar_channel_sheet,
)

H, CV, BZ = 0.5, 0.49, 0.3
PACE = (1.0, 6.0)


@dataclass(frozen=True)
class CardiacCase:
    labels: np.ndarray  # what the scan gives: the phantom and the blood-pool strip (0)
    lge: bytes
    segmentation: bytes
    no_pool: bytes  # a segmentation without the blood pool

    @cached_property
    def truth(self) -> np.ndarray:
        """The activation times (ms), solved on first use."""
        return mapping_times(self.labels, H, pacing_source(self.labels, H, PACE), CV, bz=BZ)

    def csv(self, seed: int, n: int, *, scar: bool = False) -> bytes:
        """``n`` mapping points (and one in the scar if ``scar``) as a LAT CSV."""
        rng = np.random.default_rng(seed)
        ok = np.argwhere(np.isfinite(self.truth) & (self.truth > 0))
        cells = ok[rng.choice(len(ok), n, replace=False)]
        t = self.truth[tuple(cells.T)] + rng.standard_normal(n)
        rows = [f"{(i + 0.5) * H:g},{(j + 0.5) * H:g},{v:.3f}"
                for (i, j), v in zip(cells, t, strict=True)]  # fmt: skip
        if scar:
            rows.append("10.25,4.25,30.0")
        return ("x_mm,y_mm,lat_ms\n" + "\n".join(rows) + "\n").encode()


def cardiac_case() -> CardiacCase:
    sheet = scar_channel_sheet((20.0, 12.0), H, scar=(12.0, 6.0), channel_width=1.0)
    lab = sheet.labels
    nx, ny = lab.shape
    img = np.full((nx, ny + 4), 100.0)
    img[:, :ny] = np.select([lab == HEALTHY, lab == BORDER, lab == SCAR], [100.0, 125.0, 150.0])
    seg = np.full((nx, ny + 4), 2, np.uint8)
    seg[:, :ny] = 1
    full = np.zeros((nx, ny + 4), np.int32)
    full[:, :ny] = lab
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_nifti(folder / "scan.nii.gz", img, H)
        write_nifti(folder / "seg.nii.gz", seg, H)
        write_nifti(folder / "nopool.nii.gz", np.where(seg == 2, 0, seg).astype(np.uint8), H)
        files = [(folder / n).read_bytes() for n in ("scan.nii.gz", "seg.nii.gz", "nopool.nii.gz")]
    return CardiacCase(full, files[0], files[1], files[2])
