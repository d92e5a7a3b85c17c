"""Replaying a recorded stream through a twin as if live: each reading assimilated in time
order, a forecast issued after each, all forecasts scored against the readings that followed.
Any registered model: the twin is made as the model's ``twin_defaults`` say."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jax
import numpy as np

from ..assimilate import Observations, Prior, assimilate_with_report
from ..errors import DataError
from ..forecast import Forecast, SkillSummary, forecast, score_forecasts
from ..simulate import Regimen
from ..twin import Twin
from ._config import TwinConfig, build_twin, model_of

__all__ = ["ReplayResult", "forecast_rows", "replay_stream"]


@dataclass(frozen=True)
class ReplayResult:
    """The twin after the last reading, every forecast issued, the skill per observable
    observed (``skill``: that of the first, e.g. ``sc_glucose`` for a CGM stream), the readings
    assimilated, those dropped (by reason), and how many of the assimilated were censored
    (``LO``/``HI``: below or above a sensor's range; counted as the assimilation reports count
    them, as ``medtwin identifiability`` does)."""

    twin: Twin
    forecasts: tuple[Forecast, ...]
    skill: SkillSummary
    used: int
    dropped: dict[str, int]
    skills: dict[str, SkillSummary]
    censored: int = 0


def replay_stream(
    data: Observations,
    events: Regimen,
    *,
    horizon: float,
    particles: int,
    seed: int,
    model: str = "t1d",
    prior: Prior | None = None,
    method: Any = None,
    free: tuple[str, ...] | None = None,
    sensor: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Assimilate each reading of ``data`` (model time) in time order and issue a forecast
    ``horizon`` ahead after each. The twin of ``model`` is made as a stored twin would be
    (:class:`TwinConfig` with the model's defaults: ``particles``, ``seed``, ``free``; the
    work bounds of ``medtwin.limits`` apply); ``prior`` and ``method`` override its prior and
    filter; ``sensor`` the observable read by a continuous sensor (``TwinConfig.sensor``: its
    readings carry the sensor's autocorrelated error as every particle's state, as in the
    closed loop and in a stored twin so configured). ``progress(done, total)`` is called after
    each reading time's forecast."""
    spec = model_of(model)
    config = TwinConfig(
        model, datetime(2000, 1, 1, tzinfo=UTC), prior=spec.twin_defaults.prior, free=free,
        n=particles, seed=seed, horizon=horizon, sensor=sensor,
    )  # fmt: skip
    m, default_prior, default_method = build_twin(config)
    finite = np.isfinite(data.times)
    times = np.unique(np.round(data.times[finite] / m.input_dt) * m.input_dt)
    if not len(times):
        raise DataError("The stream holds no reading with a valid time; nothing to replay.")
    # The twin starts one step before the first reading, so that reading is assimilated too.
    t0 = float(times[0]) - m.input_dt
    twin = Twin.create(
        m, prior or default_prior, key=jax.random.key(seed), n=particles, t0=t0,
        method=method or default_method,
    )  # fmt: skip
    forecasts, used, censored = [], 0, 0
    dropped: dict[str, int] = {}
    upper = -np.inf
    for t in times:  # each reading falls in exactly one window (lower, upper]
        lower, upper = upper, float(t) + 0.5 * m.input_dt
        window = data.window(lower, upper)
        out = assimilate_with_report(twin, window, events, until=float(t))
        twin, used = out.twin, used + out.report.data.used
        censored += out.report.data.censored
        for why, n in out.report.data.dropped.items():
            dropped[why] = dropped.get(why, 0) + n
        forecasts.append(forecast(twin, horizon))
        if progress is not None:
            progress(len(forecasts), len(times))
    rest = data._take(np.flatnonzero(~finite))  # readings without a valid time: reported
    if len(rest):
        dropped["without a valid time"] = dropped.get("without a valid time", 0) + len(rest)
    observed = [o for o in dict.fromkeys(data.observable) if o in m.observable_names]
    skills = {name: score_forecasts(forecasts, data, name) for name in observed}
    if not skills:
        raise DataError(
            f"The stream observes none of {m.name!r}'s observables "
            f"({', '.join(m.observable_names)}); nothing to score."
        )
    return ReplayResult(
        twin, tuple(forecasts), skills[observed[0]], used, dropped, skills, censored
    )


def forecast_rows(
    forecasts: tuple[Forecast, ...],
    observable: str = "sc_glucose",
    unit: str = "mg_dl",
    time_unit: str = "min",
) -> dict[str, np.ndarray]:
    """One row per (forecast, target time) of ``observable``; column names carry the model's
    ``time_unit`` (``_min``) and the observable's ``unit`` (``_mg_dl``)."""
    tu = time_unit
    cols: dict[str, list[float]] = {f"issued_at_{tu}": [], f"target_{tu}": [], f"horizon_{tu}": []}
    cols[f"median_{unit}"] = []
    levels = forecasts[0].levels if forecasts else ()
    for lv in levels:
        cols[f"lower{round(100 * lv)}_{unit}"] = []
        cols[f"upper{round(100 * lv)}_{unit}"] = []
    for fc in forecasts:
        j = fc.observable_names.index(observable)
        for k, t in enumerate(fc.times):
            cols[f"issued_at_{tu}"].append(fc.issued_at)
            cols[f"target_{tu}"].append(float(t))
            cols[f"horizon_{tu}"].append(float(t) - fc.issued_at)
            cols[f"median_{unit}"].append(float(fc.median[j, k]))
            for i, lv in enumerate(levels):
                cols[f"lower{round(100 * lv)}_{unit}"].append(float(fc.lower[i, j, k]))
                cols[f"upper{round(100 * lv)}_{unit}"].append(float(fc.upper[i, j, k]))
    return {k: np.asarray(v) for k, v in cols.items()}
