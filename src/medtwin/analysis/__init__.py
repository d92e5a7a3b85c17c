"""Analysis: clinical metrics (and later sensitivity, identifiability, credibility)."""

from .metrics import GlucoseMetrics as GlucoseMetrics
from .metrics import coefficient_of_variation as coefficient_of_variation
from .metrics import glucose_metrics as glucose_metrics
from .metrics import glucose_sd as glucose_sd
from .metrics import gmi as gmi
from .metrics import hbgi as hbgi
from .metrics import lbgi as lbgi
from .metrics import mean_glucose as mean_glucose
from .metrics import time_above as time_above
from .metrics import time_below as time_below
from .metrics import time_in_range as time_in_range
from .sensitivity import MorrisResult as MorrisResult
from .sensitivity import Problem as Problem
from .sensitivity import SobolResult as SobolResult
from .sensitivity import morris as morris
from .sensitivity import problem_from_model as problem_from_model
from .sensitivity import sobol as sobol

__all__ = [
    "GlucoseMetrics",
    "MorrisResult",
    "Problem",
    "SobolResult",
    "coefficient_of_variation",
    "glucose_metrics",
    "glucose_sd",
    "gmi",
    "hbgi",
    "lbgi",
    "mean_glucose",
    "morris",
    "problem_from_model",
    "sobol",
    "time_above",
    "time_below",
    "time_in_range",
]
