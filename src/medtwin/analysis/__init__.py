"""Analysis: clinical metrics, global sensitivity, identifiability (later: credibility)."""

from .identifiability import Combination as Combination
from .identifiability import FisherInformation as FisherInformation
from .identifiability import IdentifiabilityReport as IdentifiabilityReport
from .identifiability import Profile as Profile
from .identifiability import ProfileLikelihood as ProfileLikelihood
from .identifiability import fisher_information as fisher_information
from .identifiability import identifiability as identifiability
from .identifiability import profile_likelihood as profile_likelihood
from .identifiability import twin_identifiability as twin_identifiability
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
    "Combination",
    "FisherInformation",
    "GlucoseMetrics",
    "IdentifiabilityReport",
    "MorrisResult",
    "Problem",
    "Profile",
    "ProfileLikelihood",
    "SobolResult",
    "coefficient_of_variation",
    "fisher_information",
    "glucose_metrics",
    "glucose_sd",
    "gmi",
    "hbgi",
    "identifiability",
    "lbgi",
    "mean_glucose",
    "morris",
    "problem_from_model",
    "profile_likelihood",
    "sobol",
    "time_above",
    "time_below",
    "time_in_range",
    "twin_identifiability",
]
