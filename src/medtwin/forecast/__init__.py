"""Forecasting: predictive distributions from a twin (forecast, what_if), the scores of
probabilistic forecasts (CRPS, intervals, coverage, PIT, errors) and the skill ledger."""

from ._batched import forecast_many as forecast_many
from ._forecast import LEVELS as LEVELS
from ._forecast import Forecast as Forecast
from ._forecast import WhatIf as WhatIf
from ._forecast import draw_quantiles as draw_quantiles
from ._forecast import forecast as forecast
from ._forecast import outcome_metrics as outcome_metrics
from ._forecast import what_if as what_if
from ._ledger import HorizonSkill as HorizonSkill
from ._ledger import ScoredTargets as ScoredTargets
from ._ledger import SkillSummary as SkillSummary
from ._ledger import score_forecasts as score_forecasts
from ._ledger import scored_targets as scored_targets
from .scoring import Coverage as Coverage
from .scoring import central_interval as central_interval
from .scoring import coverage as coverage
from .scoring import coverage_drift as coverage_drift
from .scoring import coverage_interval as coverage_interval
from .scoring import crps_ensemble as crps_ensemble
from .scoring import interval_covered as interval_covered
from .scoring import interval_score as interval_score
from .scoring import mae as mae
from .scoring import mard as mard
from .scoring import pit as pit
from .scoring import rmse as rmse

__all__ = [
    "LEVELS",
    "Coverage",
    "Forecast",
    "HorizonSkill",
    "ScoredTargets",
    "SkillSummary",
    "WhatIf",
    "central_interval",
    "coverage",
    "coverage_drift",
    "coverage_interval",
    "crps_ensemble",
    "draw_quantiles",
    "forecast",
    "forecast_many",
    "interval_covered",
    "interval_score",
    "mae",
    "mard",
    "outcome_metrics",
    "pit",
    "rmse",
    "score_forecasts",
    "scored_targets",
    "what_if",
]
