"""Treatment policies for the T1D twin (basal-bolus, PID, an OpenAPS-style temp basal,
model-predictive control over the posterior ensemble with a safe fallback; therapy settings
with a seeded error for a realistic comparator), treatment-schedule ranking for the infection and
sepsis twins (any model declaring a DecisionSpec) and the least lipid-lowering therapy for the
LDL twin."""

from ._aps import APS as APS
from ._aps import aps_temp_basal as aps_temp_basal
from ._aps import max_iob_rate as max_iob_rate
from ._basal_bolus import BasalBolus as BasalBolus
from ._basal_bolus import basal_bolus_dose as basal_bolus_dose
from ._bolus_learning import BolusLearning as BolusLearning
from ._closed_loop import ClosedLoop as ClosedLoop
from ._closed_loop import ClosedLoopResult as ClosedLoopResult
from ._lipids import LipidRecommendation as LipidRecommendation
from ._lipids import Therapy as Therapy
from ._lipids import lipid_target as lipid_target
from ._lipids import recommend_lipid_therapy as recommend_lipid_therapy
from ._lipids import therapy_ladder as therapy_ladder
from ._meals import MealSchedule as MealSchedule
from ._meals import random_meals as random_meals
from ._mpc import MPC as MPC
from ._mpc import MPCPlan as MPCPlan
from ._mpc import PlanScores as PlanScores
from ._mpc import kovatchev_risk as kovatchev_risk
from ._mpc import mpc_scores as mpc_scores
from ._pid import PID as PID
from ._pid import insulin_feedback as insulin_feedback
from ._pid import pid_terms as pid_terms
from ._pid import total_daily_insulin as total_daily_insulin
from ._policy import Decision as Decision
from ._policy import Policy as Policy
from ._policy import PolicyInput as PolicyInput
from ._policy import clip_to_pump as clip_to_pump
from ._policy import insulin_on_board as insulin_on_board
from ._policy import insulin_remaining as insulin_remaining
from ._policy_arm import PolicyArm as PolicyArm
from ._rescue import HypoTreatment as HypoTreatment
from ._rescue import LowAlert as LowAlert
from ._safety import FALLBACK_REASONS as FALLBACK_REASONS
from ._safety import SafetyLimits as SafetyLimits
from ._safety import safety_check as safety_check
from ._safety import safety_flags as safety_flags
from ._schedules import DoseLimits as DoseLimits
from ._schedules import Schedule as Schedule
from ._schedules import ScheduleRanking as ScheduleRanking
from ._schedules import decision_of as decision_of
from ._schedules import rank_schedules as rank_schedules
from ._schedules import search_schedule as search_schedule
from ._therapy import therapy_with_error as therapy_with_error

__all__ = [
    "APS",
    "FALLBACK_REASONS",
    "MPC",
    "PID",
    "BasalBolus",
    "BolusLearning",
    "ClosedLoop",
    "ClosedLoopResult",
    "Decision",
    "DoseLimits",
    "HypoTreatment",
    "LipidRecommendation",
    "LowAlert",
    "MPCPlan",
    "MealSchedule",
    "PlanScores",
    "Policy",
    "PolicyArm",
    "PolicyInput",
    "SafetyLimits",
    "Schedule",
    "ScheduleRanking",
    "Therapy",
    "aps_temp_basal",
    "basal_bolus_dose",
    "clip_to_pump",
    "decision_of",
    "insulin_feedback",
    "insulin_on_board",
    "insulin_remaining",
    "kovatchev_risk",
    "lipid_target",
    "max_iob_rate",
    "mpc_scores",
    "pid_terms",
    "random_meals",
    "rank_schedules",
    "recommend_lipid_therapy",
    "safety_check",
    "safety_flags",
    "search_schedule",
    "therapy_ladder",
    "therapy_with_error",
    "total_daily_insulin",
]
