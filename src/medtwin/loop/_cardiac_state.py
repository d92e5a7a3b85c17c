"""A cardiac twin in the loop and its state blob: the patient's tissue (from the version-0
upload), the observations assimilated so far and the exact posterior, as bytes (no pickles).

:class:`CardiacTissue` is what the upload hands the kind (``_cardiac``): tissue labels, voxel
size, the map's pacing site, the prior over ``(cv, ratio, bz)`` and the noise of a mapping
point and of a QRS duration. Its checks are the library's (:class:`~medtwin.models.cardiology.
CardiacTwin`, :func:`~medtwin.models.cardiology.pacing_source`), run before anything is stored.

The blob is a JSON header (format, version, model time, spacing, pacing site, prior, noise,
the arrays' names, dtypes and shapes) followed by the arrays' little-endian bytes, deflated:
the same twin gives the same bytes (no zip timestamps), and restoring gives the same float64
numbers, bit for bit. Every kept version's blob holds the tissue, so any of them restores alone.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError, ModelError, StoreError
from ..models.cardiology import (
    CardiacTwin,
    ConductionPosterior,
    ConductionPrior,
    MappingPoints,
    QRSDuration,
    pacing_source,
)

__all__ = ["CardiacLoopTwin", "CardiacTissue", "pack_cardiac", "unpack_cardiac"]

FORMAT = "medtwin.loop.cardiac/1"
LAT_SD = 5.0  # ms: medtwin's assumed annotation spread of a mapping point (as the CLI's)
QRS_SD = 10.0  # ms: measurement plus model mismatch of a QRS duration (as the CLI's)
MAX_CELLS = 2_000_000  # voxels of a tissue grid the service keeps per version


@dataclass(frozen=True, eq=False)
class CardiacTissue:
    """The tissue a cardiac twin is made from: ``labels`` (2D or 3D grid, 0 outside, 1 healthy,
    2 border zone, 3 scar), ``spacing`` (mm, cubic voxels), ``pace`` (the map's pacing site,
    mm from the first voxel's corner), the ``prior`` of the conduction parameters, and the
    Gaussian noise (ms) of a mapping point's activation time (``lat_sd``) and of a QRS
    duration (``qrs_sd``). Refuses (:class:`~medtwin.errors.DataError`) what the library
    refuses: labels of no known tissue, no conducting tissue, a site off the tissue."""

    labels: np.ndarray
    spacing: float
    pace: tuple[float, ...]
    prior: ConductionPrior = field(default_factory=ConductionPrior)
    lat_sd: float = LAT_SD
    qrs_sd: float = QRS_SD

    def __post_init__(self) -> None:
        lab = np.asarray(self.labels)
        if lab.size > MAX_CELLS:
            raise DataError(
                f"The tissue grid has {lab.size} voxels (shape {lab.shape}); a stored cardiac "
                f"twin takes at most {MAX_CELLS}. Crop the scan to the heart or resample it."
            )
        for name in ("lat_sd", "qrs_sd"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise DataError(f"{name} must be a number > 0 (ms). Got {v!r}.")
        pace = tuple(float(x) for x in np.asarray(self.pace, dtype=np.float64).reshape(-1))
        object.__setattr__(self, "pace", pace)
        object.__setattr__(self, "spacing", float(self.spacing))
        if lab.ndim not in (2, 3):
            raise DataError(f"A cardiac twin needs a 2D or 3D tissue. Got shape {lab.shape}.")
        try:  # the library's checks of the labels and spacing, then of the site
            CardiacTwin(lab, self.spacing, np.ones(lab.shape, bool))
        except ModelError as exc:
            raise DataError(str(exc)) from None
        self.source()
        lab = lab.astype(np.int8)
        lab.flags.writeable = False
        object.__setattr__(self, "labels", lab)

    def source(self) -> np.ndarray:
        """The boolean grid of the pacing site's cell (``DataError`` if it is off tissue)."""
        try:
            return pacing_source(self.labels, self.spacing, np.asarray(self.pace))
        except DataError as exc:
            raise DataError(f"The pacing site: {exc}") from None

    def twin(self) -> CardiacTwin:
        """The library's twin of this tissue, with no observations yet."""
        return CardiacTwin(self.labels, self.spacing, self.source(), prior=self.prior)


@dataclass(frozen=True, eq=False)
class CardiacLoopTwin:
    """A cardiac twin in the loop: the library's :class:`~medtwin.models.cardiology.
    CardiacTwin` (tissue, observations, posterior), the ``tissue`` it was made from, its
    ``version`` and model ``time`` (hours from the configuration's epoch: the latest
    assimilated observation's)."""

    tissue: CardiacTissue
    twin: CardiacTwin
    version: int
    time: float


# -- the blob --------------------------------------------------------------------------------


def _arrays(t: CardiacLoopTwin) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {"labels": np.asarray(t.tissue.labels, np.int8)}
    tw = t.twin
    if tw.points is not None:
        out |= {"points_positions": tw.points.positions, "points_times": tw.points.times,
                "points_sd": np.asarray(tw.points.sd, np.float64)}  # fmt: skip
    if tw.qrs is not None:
        out |= {"qrs_durations": tw.qrs.durations, "qrs_sd": np.asarray(tw.qrs.sd, np.float64)}
    if tw.posterior is not None:
        p = tw.posterior
        out |= {"post_cv": p.cv, "post_ratio": p.ratio, "post_bz": p.bz, "post_weights": p.weights,
                "post_log_evidence": np.asarray(p.log_evidence, np.float64)}  # fmt: skip
    return {k: np.asarray(v, order="C") for k, v in out.items()}  # 0-d stays 0-d


def pack_cardiac(t: CardiacLoopTwin) -> bytes:
    """The twin as bytes (see the module docstring)."""
    arrays = _arrays(t)
    pr = t.tissue.prior
    head = json.dumps({
        "format": FORMAT, "version": t.version, "time": t.time, "spacing": t.tissue.spacing,
        "pace": list(t.tissue.pace), "lat_sd": t.tissue.lat_sd, "qrs_sd": t.tissue.qrs_sd,
        "prior": {"median": pr.median, "log_sd": pr.log_sd, "bounds": list(pr.bounds),
                  "ratio": list(pr.ratio), "bz": list(pr.bz)},
        "arrays": [[k, v.dtype.newbyteorder("<").str, list(v.shape)] for k, v in arrays.items()],
    }, sort_keys=True).encode()  # fmt: skip
    body = b"".join(v.astype(v.dtype.newbyteorder("<"), copy=False).tobytes()
                    for v in arrays.values())  # fmt: skip
    return zlib.compress(struct.pack("<I", len(head)) + head + body, 6)


def unpack_cardiac(blob: bytes, version: int) -> CardiacLoopTwin:
    """The twin a :func:`pack_cardiac` blob holds (``StoreError`` if it holds none, or another
    version)."""
    try:
        raw = zlib.decompress(blob)
        (n,) = struct.unpack_from("<I", raw)
        head = json.loads(raw[4 : 4 + n])
        if head.get("format") != FORMAT:
            raise ValueError(f"format {head.get('format')!r}")
        a: dict[str, np.ndarray] = {}
        at = 4 + n
        for name, dtype, shape in head["arrays"]:
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            a[name] = np.frombuffer(raw[at : at + size], dtype=dtype).reshape(shape).copy()
            at += size
        if at != len(raw):
            raise ValueError("trailing bytes")
        pr = head["prior"]
        prior = ConductionPrior(pr["median"], pr["log_sd"], tuple(pr["bounds"]),
                                tuple(pr["ratio"]), tuple(pr["bz"]))  # fmt: skip
        tissue = CardiacTissue(a["labels"], head["spacing"], tuple(head["pace"]), prior,
                               head["lat_sd"], head["qrs_sd"])  # fmt: skip
        twin = tissue.twin()
        fill: dict[str, Any] = {}
        if "points_times" in a:
            sd = a["points_sd"]
            fill["points"] = MappingPoints(a["points_positions"], a["points_times"],
                                           float(sd) if sd.ndim == 0 else sd)  # fmt: skip
        if "qrs_durations" in a:
            sd = a["qrs_sd"]
            fill["qrs"] = QRSDuration(a["qrs_durations"], float(sd) if sd.ndim == 0 else sd)
        if "post_weights" in a:
            fill["posterior"] = ConductionPosterior(
                a["post_cv"], a["post_ratio"], a["post_bz"], a["post_weights"],
                float(a["post_log_evidence"]),
            )  # fmt: skip
        out = CardiacLoopTwin(tissue, dataclasses.replace(twin, **fill), int(head["version"]),
                              float(head["time"]))  # fmt: skip
    except (ValueError, KeyError, TypeError, zlib.error, struct.error, DataError) as exc:
        raise StoreError(
            f"The stored state of version {version} is not a cardiac twin ({FORMAT}): {exc}."
        ) from None
    if out.version != version:
        raise StoreError(
            f"The stored cardiac twin is version {out.version}, not {version}: the store's "
            "blob does not belong to its row. Restore the store from a backup."
        )
    return out
