"""A twin version's ensemble and forecast as bytes (compressed npz, float64, no pickles): what
the store keeps as opaque blobs."""

from __future__ import annotations

import io
from typing import Any

import jax.numpy as jnp
import numpy as np

from ..assimilate import Ensemble
from ..forecast import Forecast, draw_quantiles

__all__ = [
    "QUANTILES",
    "forecast_model",
    "pack_ensemble",
    "pack_forecast",
    "unpack_ensemble",
    "unpack_forecast",
]

QUANTILES = np.arange(1, 100) / 100.0  # the quantile levels a stored forecast keeps


def _npz(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    packed: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
    np.savez_compressed(buf, **packed)
    return buf.getvalue()


def _load(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def pack_ensemble(ens: Ensemble) -> bytes:
    """The ensemble as a compressed npz blob (params, states, log_weights, time; float64)."""
    return _npz(
        params=np.asarray(ens.params),
        states=np.asarray(ens.states),
        log_weights=np.asarray(ens.log_weights),
        time=np.float64(ens.time),
    )


def unpack_ensemble(blob: bytes) -> Ensemble:
    a = _load(blob)
    return Ensemble(
        jnp.asarray(a["params"]),
        jnp.asarray(a["states"]),
        jnp.asarray(a["log_weights"]),
        float(a["time"]),
    )


def pack_forecast(fc: Forecast, model: str) -> bytes:
    """Times, median, band edges and the predictive quantiles at :data:`QUANTILES` (1..99 %)
    per observable, with those levels (``quantile_levels``) and the ``model`` that issued the
    forecast (its registry name) stored beside them."""
    quantiles = draw_quantiles(fc.draws, QUANTILES)
    return _npz(
        issued_at=np.float64(fc.issued_at),
        times=fc.times,
        median=fc.median,
        lower=fc.lower,
        upper=fc.upper,
        quantiles=quantiles,
        quantile_levels=QUANTILES,
        model=np.str_(model),
    )


def forecast_model(blob: bytes) -> str | None:
    """The model a packed forecast records (None for blobs written before it was recorded)."""
    a = _load(blob)
    return str(a["model"]) if "model" in a else None


def unpack_forecast(
    blob: bytes, version: int, names: tuple[str, ...], levels: tuple[float, ...]
) -> Forecast:
    """The stored forecast: ``draws`` holds its quantiles, ``quantile_levels`` their levels
    (blobs written before the levels were stored hold :data:`QUANTILES`)."""
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
