"""A twin version's ensemble and forecast as bytes (no pickles): what the store keeps as
opaque blobs.

An ensemble is a compressed npz (float64, lossless). A forecast is packed much as a weather
centre packs a field (WMO GRIB2's packing with differencing, template 5.3): per target
(observable, time) its quantiles at :data:`QUANTILES` and at the band edges become whole
multiples of a step ``s`` away from the median, differenced along the levels (quantiles rise
with the level, so the differences are small non-negative integers) and deflated. The median is
kept exactly (float64), so point forecasts and their scores (MARD, RMSE) are the twin's own
numbers, and every other stored quantile is within ``s / 2`` of its true value. The step
follows the Monte Carlo error of the quantiles themselves: ``s = max(IQR, range / 4) /
(2 sqrt(n))`` for ``n`` draws, so the rounding error (standard deviation ``s / sqrt(12)``) is
about 1/6 of the standard error of the median estimated from ``n`` draws of a normal
predictive, adding about 1 % to it (0.26 mg/dL for a glucose forecast with a 25 mg/dL IQR from
200 draws), and more draws give a finer step. A forecast with a non-finite quantile is kept
losslessly (float64 npz) instead. The exact forecast of any version stays recomputable, bit for
bit, from the twin restored at that version (``Store.twin(pid, version=v)``, then
``forecast``).
"""

from __future__ import annotations

import io
import json
import math
import struct
import zlib
from typing import Any

import jax.numpy as jnp
import numpy as np

from ..assimilate import Ensemble
from ..errors import DataError
from ..forecast import Forecast, draw_quantiles

__all__ = [
    "QUANTILES",
    "forecast_model",
    "pack_ensemble",
    "pack_forecast",
    "pack_forecast_exact",
    "unpack_ensemble",
    "unpack_forecast",
]

QUANTILES = np.arange(1, 100) / 100.0  # the quantile levels a stored forecast keeps
_LEVELS = tuple(float(x) for x in QUANTILES)
_MAGIC = b"MTFQ2"  # a packed forecast (else: an npz of float64 arrays, lossless)


def _npz(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    packed: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
    np.savez_compressed(buf, **packed)
    return buf.getvalue()


def _load(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def pack_ensemble(ens: Ensemble) -> bytes:
    """The ensemble as a compressed npz blob (params, states, log_weights, time; float64; the
    sensor error state and its time when the ensemble has one)."""
    extra = (
        {}
        if ens.sensor is None
        else {"sensor": np.asarray(ens.sensor), "sensor_time": np.float64(ens.sensor_time)}
    )
    return _npz(
        params=np.asarray(ens.params),
        states=np.asarray(ens.states),
        log_weights=np.asarray(ens.log_weights),
        time=np.float64(ens.time),
        **extra,
    )


def unpack_ensemble(blob: bytes) -> Ensemble:
    a = _load(blob)
    has = "sensor" in a
    return Ensemble(
        jnp.asarray(a["params"]),
        jnp.asarray(a["states"]),
        jnp.asarray(a["log_weights"]),
        float(a["time"]),
        jnp.asarray(a["sensor"]) if has else None,
        float(a["sensor_time"]) if has else None,
    )


def _edges(levels: tuple[float, ...]) -> list[float]:
    """The quantile levels of the central ``levels`` bands: lower edges, then upper edges."""
    return [(1 - lv) / 2 for lv in levels] + [(1 + lv) / 2 for lv in levels]


def _extra_levels(levels: tuple[float, ...]) -> list[float]:
    """The band edges of ``levels`` not among :data:`QUANTILES`."""
    return [q for q in _edges(levels) if not np.isclose(QUANTILES, q, rtol=0, atol=1e-12).any()]


def _grid(extra: list[float]) -> np.ndarray:
    """:data:`QUANTILES` and the ``extra`` levels, ascending: the levels a packed forecast
    keeps."""
    return np.unique(np.concatenate([QUANTILES, np.asarray(extra, dtype=float)]))


def _at(grid: np.ndarray, level: float) -> int:
    return int(np.argmin(np.abs(grid - level)))


def _deflate(data: bytes) -> bytes:
    # Huffman coding alone: the integers are small and rarely repeat in runs, so string
    # matching adds little and costs time; the floats do not compress either way.
    z = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_HUFFMAN_ONLY)
    return z.compress(data) + z.flush()


def pack_forecast_exact(fc: Forecast, model: str) -> bytes:
    """The forecast losslessly: times, median, bands and the quantiles at :data:`QUANTILES` as
    float64 arrays of an npz (about 30 KB for 3 observables at 12 times; what a store wrote for
    every forecast before they were packed, and writes now for one with a non-finite
    quantile)."""
    return _npz(
        issued_at=np.float64(fc.issued_at), times=np.asarray(fc.times, dtype=np.float64),
        median=fc.median, lower=fc.lower, upper=fc.upper,
        quantiles=draw_quantiles(fc.draws, QUANTILES), quantile_levels=QUANTILES,
        model=np.str_(model),
    )  # fmt: skip


def pack_forecast(fc: Forecast, model: str) -> bytes:
    """The forecast issued by ``model`` (its registry name): times, the exact median, and the
    quantiles at :data:`QUANTILES` and the band edges to the step of the module docstring
    (lossless float64 if a quantile is not finite)."""
    extra = _extra_levels(fc.levels)
    grid = _grid(extra)
    q = draw_quantiles(fc.draws, grid)  # (levels, observables, times)
    times = np.asarray(fc.times, dtype=np.float64)
    issued = float(fc.issued_at)
    med = q[_at(grid, 0.5)]
    with np.errstate(all="ignore"):
        iqr, spread = q[_at(grid, 0.75)] - q[_at(grid, 0.25)], q[-1] - q[0]
        step = np.maximum(iqr, spread / 4) / (2 * math.sqrt(max(fc.draws.shape[0], 1)))
        step = np.where(step > 0, step, 1.0).astype(np.float32)
        step = np.maximum(step, np.finfo(np.float32).tiny)
        k = np.rint((q - med) / step.astype(np.float64))
    if not (np.isfinite(q).all() and np.isfinite(k).all() and np.abs(k).max() < 2**31):
        return pack_forecast_exact(fc, model)
    k = np.maximum.accumulate(k.astype(np.int64), axis=0)  # rounding keeps them rising
    rises = np.diff(k, axis=0)
    width = 1 if rises.max(initial=0) < 2**8 else 2 if rises.max() < 2**16 else 4
    every = float(times[0] - issued) if len(times) else 0.0
    regular = np.array_equal(times, issued + every * np.arange(1, len(times) + 1))
    head = json.dumps({
        "model": model, "issued_at": issued, "every": every if regular else None,
        "extra": extra, "shape": list(q.shape), "width": width,
    }).encode()  # fmt: skip
    body = b"".join([
        struct.pack("<I", len(head)), head, b"" if regular else times.tobytes(),
        med.astype(np.float64).tobytes(), step.tobytes(), k[0].astype(np.int32).tobytes(),
        rises.astype(f"<u{width}").view(np.uint8).reshape(-1, width).T.tobytes(),
    ])  # fmt: skip
    return _MAGIC + _deflate(body)


def _unpack_packed(blob: bytes) -> dict[str, Any]:
    body = zlib.decompress(blob[len(_MAGIC) :], -15)
    (n,) = struct.unpack_from("<I", body)
    head = json.loads(body[4 : 4 + n])
    n_l, n_o, n_t = head["shape"]
    cols, at = n_o * n_t, 4 + n

    def take(dtype: str, count: int) -> np.ndarray:
        nonlocal at
        size = np.dtype(dtype).itemsize * count
        out = np.frombuffer(body[at : at + size], dtype=dtype).copy()
        at += size
        return out

    issued, every = float(head["issued_at"]), head["every"]
    if every is None:
        times = take("<f8", n_t)
    else:
        times = issued + float(every) * np.arange(1, n_t + 1)
    med = take("<f8", cols).reshape(n_o, n_t)
    step = take("<f4", cols).astype(np.float64).reshape(n_o, n_t)
    first = take("<i4", cols).astype(np.int64).reshape(n_o, n_t)
    width = int(head["width"])
    raw = np.frombuffer(body[at:], dtype=np.uint8).reshape(width, -1).T.copy()
    rises = raw.view(f"<u{width}").astype(np.int64).reshape(n_l - 1, n_o, n_t)
    k = np.concatenate([first[None], first[None] + np.cumsum(rises, axis=0)])
    q = med + step * k  # k is 0 at the 50 % level: exactly the median there
    return {"head": head, "times": times, "median": med, "quantiles": q,
            "levels": _grid(head["extra"])}  # fmt: skip


def forecast_model(blob: bytes) -> str | None:
    """The model a packed forecast records (None for blobs written before it was recorded)."""
    if blob.startswith(_MAGIC):  # inflate the header only
        z = zlib.decompressobj(-15)
        start = z.decompress(blob[len(_MAGIC) :], 4)
        (n,) = struct.unpack("<I", start)
        return str(json.loads(z.decompress(z.unconsumed_tail, n))["model"])
    a = _load(blob)
    return str(a["model"]) if "model" in a else None


def unpack_forecast(
    blob: bytes, version: int, names: tuple[str, ...], levels: tuple[float, ...]
) -> Forecast:
    """The stored forecast: ``draws`` holds its quantiles, ``quantile_levels`` their levels
    (:data:`QUANTILES`, 1..99 %); ``median`` exactly as issued, ``lower``/``upper`` and the
    quantiles to the step of the module docstring."""
    if blob.startswith(_MAGIC):
        p = _unpack_packed(blob)
        grid, q = p["levels"], p["quantiles"]
        if q.shape[1] != len(names):
            raise DataError(
                f"A stored forecast holds {q.shape[1]} observables; its row names {len(names)}."
            )
        edges = [q[_at(grid, e)] for e in _edges(levels)]
        n_l = len(levels)
        body = np.abs(grid[None, :] - QUANTILES[:, None]).argmin(axis=1)  # QUANTILES' rows
        return Forecast(
            issued_at=float(p["head"]["issued_at"]), twin_version=version, times=p["times"],
            observable_names=names, levels=levels, median=p["median"],
            lower=np.stack(edges[:n_l]) if n_l else np.zeros((0, *q.shape[1:])),
            upper=np.stack(edges[n_l:]) if n_l else np.zeros((0, *q.shape[1:])),
            draws=q[body], quantile_levels=_LEVELS,
        )  # fmt: skip
    a = _load(blob)
    q_levels = a.get("quantile_levels", QUANTILES)
    return Forecast(
        issued_at=float(a["issued_at"]),
        twin_version=version,
        times=a["times"],
        observable_names=names,
        levels=levels,
        median=a["median"],
        lower=a["lower"],
        upper=a["upper"],
        draws=a["quantiles"],
        quantile_levels=tuple(float(x) for x in q_levels),
    )
