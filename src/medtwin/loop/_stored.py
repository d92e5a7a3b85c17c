"""A stored forecast as the loop reads it back, and the skill ledger over stored forecasts:
what was forecast, scored against what was observed later (mapped like the twin maps it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ..assimilate import Observations
from ..forecast import Forecast, score_forecasts
from ..models import get_model
from ..models._base import AbstractModel
from ._mapping import from_model_time, to_model_time

__all__ = ["StoredForecast", "stored_observations", "stored_skill"]


@dataclass(frozen=True)
class StoredForecast:
    """The forecast issued with twin ``version`` by ``model`` (its registry name; None on rows
    stored before forecasts recorded it). ``forecast.draws`` holds the predictive quantiles at
    ``forecast.quantile_levels`` (1..99 %), enough for ``score_forecasts`` and the alert rules;
    ``forecast.times`` and ``issued_at`` are model times, :meth:`target_times` the same as UTC
    datetimes."""

    id: int
    pid: str
    version: int
    issued_at: datetime
    horizon: float
    forecast: Forecast
    epoch: datetime
    time_unit: str
    model: str | None = None
    # the applicability flag of the version's report (``medtwin.credibility.applicability``:
    # ``inside`` and what is ``outside``); None for a model without a validated domain
    applicability: dict[str, Any] | None = None

    @property
    def outside_domain(self) -> bool:
        """The forecast was issued for a twin outside its model's validated domain."""
        return self.applicability is not None and not self.applicability.get("inside", True)

    def target_times(self) -> list[datetime]:
        return [from_model_time(t, self.epoch, self.time_unit) for t in self.forecast.times]

    def model_spec(self) -> AbstractModel | None:
        """The registered model that issued the forecast (None if unknown or unregistered)."""
        if self.model is None:
            return None
        try:
            return get_model(self.model)
        except Exception:  # a model no longer registered, or one needing configuration
            return None


def stored_observations(
    forecasts: Sequence[StoredForecast], observed: Sequence[tuple[datetime, str, float, int]]
) -> Observations | None:
    """``observed`` records (time, LOINC code, value, censored) as the model that issued
    ``forecasts`` (newest first, one twin) sees them, ready to be matched to the forecasts'
    target times: in model time snapped to the model's input grid (as the twin saw them), each
    code mapped to the observable the model measures with it (records of other codes left
    out). None when there are no forecasts or their model is not registered."""
    if not forecasts:
        return None
    f0 = forecasts[0]
    model = f0.model_spec()
    if model is None:
        return None
    rows = [(to_model_time(t, f0.epoch, f0.time_unit), model.observable_for_code(code), v, c)
            for t, code, v, c in observed]  # fmt: skip
    rows = [r for r in rows if r[1] is not None]
    names: tuple[str, ...] = tuple(str(r[1]) for r in rows)
    step = model.input_dt
    return Observations(
        np.round(np.array([r[0] for r in rows], dtype=np.float64) / step) * step,
        names,
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=np.int8),
    )  # fmt: skip


def stored_skill(
    forecasts: Sequence[StoredForecast], observed: Sequence[tuple[datetime, str, float, int]]
) -> dict[str, Any]:
    """The skill of ``forecasts`` (newest first, one twin) against later ``observed`` records
    (time, LOINC code, value, censored), per observable the model maps the codes to, by
    horizon: coverage per band, CRPS, MARD, RMSE and the drift flag. The records are matched
    to the forecasts' targets by :func:`stored_observations`."""
    out: dict[str, Any] = {"scored": 0, "by_observable": {}}
    if not forecasts:
        return out
    stream = stored_observations(forecasts, observed)
    if stream is None:
        return {**out, "unavailable": f"model {forecasts[0].model!r} is not registered"}
    fcs = [f.forecast for f in reversed(forecasts)]
    for name in sorted(set(stream.observable)):
        s = score_forecasts(fcs, stream, name)
        out["scored"] += s.scored
        out["by_observable"][name] = {
            "scored": s.scored, "drifting": s.drifting, "recent_coverage": s.recent_coverage,
            "by_horizon": [{"horizon": h.horizon, "n": h.n, "coverage": h.coverage,
                            "crps": h.crps, "mard": h.mard, "rmse": h.rmse}
                           for h in s.by_horizon],
        }  # fmt: skip
    return out
