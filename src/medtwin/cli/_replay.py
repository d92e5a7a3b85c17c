"""``medtwin twin replay``: run a recorded CGM stream through a T1D twin as if live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from ..assimilate import Observations, Prior, assimilate_with_report
from ..errors import DataError
from ..forecast import Forecast, SkillSummary, forecast, score_forecasts
from ..models import UVAPadova
from ..simulate import Regimen
from ..twin import Twin

__all__ = ["ReplayResult", "forecast_rows", "replay_stream"]


@dataclass(frozen=True)
class ReplayResult:
    twin: Twin
    forecasts: tuple[Forecast, ...]
    skill: SkillSummary
    used: int
    dropped: dict[str, int]


def replay_stream(
    cgm: Observations,
    events: Regimen,
    *,
    horizon: float,
    particles: int,
    seed: int,
    prior: Prior | None = None,
    method: Any = None,
) -> ReplayResult:
    """Assimilate each reading in time order and issue a forecast after each (``method``:
    the T1D twin's filter unless given)."""
    from ..data import T1D_FILTER, t1d_population_prior

    model = UVAPadova()
    finite = np.isfinite(cgm.times)
    times = np.unique(np.round(cgm.times[finite] / model.input_dt) * model.input_dt)
    if not len(times):
        raise DataError("The CGM stream holds no reading with a valid time; nothing to replay.")
    # The twin starts one step before the first reading, so that reading is assimilated too.
    t0 = float(times[0]) - model.input_dt
    prior = prior or t1d_population_prior()
    twin = Twin.create(
        model, prior, key=jax.random.key(seed), n=particles, t0=t0, method=method or T1D_FILTER
    )
    forecasts, used, dropped = [], 0, {}
    upper = -np.inf
    for t in times:  # each reading falls in exactly one window (lower, upper]
        lower, upper = upper, float(t) + 0.5 * model.input_dt
        window = cgm.window(lower, upper)
        out = assimilate_with_report(twin, window, events, until=float(t))
        twin, used = out.twin, used + out.report.data.used
        for why, n in out.report.data.dropped.items():
            dropped[why] = dropped.get(why, 0) + n
        forecasts.append(forecast(twin, horizon))
    rest = cgm._take(np.flatnonzero(~finite))  # readings without a valid time: reported
    if len(rest):
        dropped["without a valid time"] = dropped.get("without a valid time", 0) + len(rest)
    skill = score_forecasts(forecasts, cgm, "sc_glucose")
    return ReplayResult(twin, tuple(forecasts), skill, used, dropped)


def forecast_rows(forecasts: tuple[Forecast, ...]) -> dict[str, np.ndarray]:
    """One row per (forecast, target time) of ``sc_glucose``."""
    cols: dict[str, list[float]] = {"issued_at_min": [], "target_min": [], "horizon_min": []}
    cols["median_mg_dl"] = []
    levels = forecasts[0].levels if forecasts else ()
    for lv in levels:
        cols[f"lower{round(100 * lv)}_mg_dl"] = []
        cols[f"upper{round(100 * lv)}_mg_dl"] = []
    for fc in forecasts:
        j = fc.observable_names.index("sc_glucose")
        for k, t in enumerate(fc.times):
            cols["issued_at_min"].append(fc.issued_at)
            cols["target_min"].append(float(t))
            cols["horizon_min"].append(float(t) - fc.issued_at)
            cols["median_mg_dl"].append(float(fc.median[j, k]))
            for i, lv in enumerate(levels):
                cols[f"lower{round(100 * lv)}_mg_dl"].append(float(fc.lower[i, j, k]))
                cols[f"upper{round(100 * lv)}_mg_dl"].append(float(fc.upper[i, j, k]))
    return {k: np.asarray(v) for k, v in cols.items()}
