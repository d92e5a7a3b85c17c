"""Analysis: clinical metrics, clinical scores of organ failure, global sensitivity,
identifiability (later: credibility).

The names below load on first use (PEP 562), so that the clinical scores' input table
(``score_inputs``: LOINC codes and UCUM units, which FHIR ingestion reads) loads without JAX;
``identifiability`` and ``sensitivity`` load it when used.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import exports as _exports

if _TYPE_CHECKING:
    from ._identifiability import Combination as Combination
    from ._identifiability import FisherInformation as FisherInformation
    from ._identifiability import IdentifiabilityReport as IdentifiabilityReport
    from ._identifiability import Profile as Profile
    from ._identifiability import ProfileLikelihood as ProfileLikelihood
    from ._identifiability import fisher_information as fisher_information
    from ._identifiability import identifiability as identifiability
    from ._identifiability import profile_likelihood as profile_likelihood
    from ._identifiability import twin_identifiability as twin_identifiability
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
    from .score_inputs import SCORE_INPUTS as SCORE_INPUTS
    from .score_inputs import ScoreInput as ScoreInput
    from .score_inputs import to_canonical as to_canonical
    from .scores import BERLIN_SEVERITY as BERLIN_SEVERITY
    from .scores import SOFA as SOFA
    from .scores import berlin_ards as berlin_ards
    from .scores import kdigo_stage as kdigo_stage
    from .scores import sepsis3 as sepsis3
    from .scores import septic_shock as septic_shock
    from .scores import sofa as sofa
    from .scores import sofa_cardiovascular as sofa_cardiovascular
    from .scores import sofa_cns as sofa_cns
    from .scores import sofa_coagulation as sofa_coagulation
    from .scores import sofa_liver as sofa_liver
    from .scores import sofa_renal as sofa_renal
    from .scores import sofa_respiration as sofa_respiration
    from .sensitivity import MorrisResult as MorrisResult
    from .sensitivity import Problem as Problem
    from .sensitivity import SobolResult as SobolResult
    from .sensitivity import morris as morris
    from .sensitivity import problem_from_model as problem_from_model
    from .sensitivity import sobol as sobol

_WHERE = {
    "Combination": "_identifiability",
    "FisherInformation": "_identifiability",
    "IdentifiabilityReport": "_identifiability",
    "Profile": "_identifiability",
    "ProfileLikelihood": "_identifiability",
    "fisher_information": "_identifiability",
    "identifiability": "_identifiability",
    "profile_likelihood": "_identifiability",
    "twin_identifiability": "_identifiability",
    "GlucoseMetrics": "metrics",
    "coefficient_of_variation": "metrics",
    "glucose_metrics": "metrics",
    "glucose_sd": "metrics",
    "gmi": "metrics",
    "hbgi": "metrics",
    "lbgi": "metrics",
    "mean_glucose": "metrics",
    "time_above": "metrics",
    "time_below": "metrics",
    "time_in_range": "metrics",
    "SCORE_INPUTS": "score_inputs",
    "ScoreInput": "score_inputs",
    "to_canonical": "score_inputs",
    "BERLIN_SEVERITY": "scores",
    "SOFA": "scores",
    "berlin_ards": "scores",
    "kdigo_stage": "scores",
    "sepsis3": "scores",
    "septic_shock": "scores",
    "sofa": "scores",
    "sofa_cardiovascular": "scores",
    "sofa_cns": "scores",
    "sofa_coagulation": "scores",
    "sofa_liver": "scores",
    "sofa_renal": "scores",
    "sofa_respiration": "scores",
    "MorrisResult": "sensitivity",
    "Problem": "sensitivity",
    "SobolResult": "sensitivity",
    "morris": "sensitivity",
    "problem_from_model": "sensitivity",
    "sobol": "sensitivity",
}

__all__ = [
    "BERLIN_SEVERITY",
    "SCORE_INPUTS",
    "SOFA",
    "Combination",
    "FisherInformation",
    "GlucoseMetrics",
    "IdentifiabilityReport",
    "MorrisResult",
    "Problem",
    "Profile",
    "ProfileLikelihood",
    "ScoreInput",
    "SobolResult",
    "berlin_ards",
    "coefficient_of_variation",
    "fisher_information",
    "glucose_metrics",
    "glucose_sd",
    "gmi",
    "hbgi",
    "identifiability",
    "kdigo_stage",
    "lbgi",
    "mean_glucose",
    "morris",
    "problem_from_model",
    "profile_likelihood",
    "sepsis3",
    "septic_shock",
    "sobol",
    "sofa",
    "sofa_cardiovascular",
    "sofa_cns",
    "sofa_coagulation",
    "sofa_liver",
    "sofa_renal",
    "sofa_respiration",
    "time_above",
    "time_below",
    "time_in_range",
    "to_canonical",
    "twin_identifiability",
]

# the function ``identifiability`` lives in ``_identifiability`` (a module named like the function
# would shadow it once imported)
__getattr__ = _exports(__name__, _WHERE)
