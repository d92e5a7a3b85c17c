"""Treatment policies for the T1D twin (basal-bolus, PID, model-predictive control over the
posterior ensemble with a safe fallback) and schedule ranking for the sepsis twin."""

from ._basal_bolus import BasalBolus as BasalBolus
from ._mpc import MPC as MPC
from ._mpc import MPCPlan as MPCPlan
from ._mpc import kovatchev_risk as kovatchev_risk
from ._pid import PID as PID
from ._policy import Decision as Decision
from ._policy import Policy as Policy
from ._policy import PolicyInput as PolicyInput
from ._policy import clip_to_pump as clip_to_pump
from ._policy import insulin_on_board as insulin_on_board
from ._policy import insulin_remaining as insulin_remaining
from ._safety import SafetyLimits as SafetyLimits
from ._safety import safety_check as safety_check
from ._sepsis import DoseLimits as DoseLimits
from ._sepsis import Schedule as Schedule
from ._sepsis import ScheduleRanking as ScheduleRanking
from ._sepsis import rank_schedules as rank_schedules
from ._sepsis import search_schedule as search_schedule

__all__ = [
    "MPC",
    "PID",
    "BasalBolus",
    "Decision",
    "DoseLimits",
    "MPCPlan",
    "Policy",
    "PolicyInput",
    "SafetyLimits",
    "Schedule",
    "ScheduleRanking",
    "clip_to_pump",
    "insulin_on_board",
    "insulin_remaining",
    "kovatchev_risk",
    "rank_schedules",
    "safety_check",
    "search_schedule",
]
