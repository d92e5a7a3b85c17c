"""Simulation: regimens, meals (recipes and their realisations), solvers, ``simulate`` and the
streaming ``advance``."""

from ._check import check_model as check_model
from ._erk import AdaptiveRK as AdaptiveRK
from ._meals import ClockMeals as ClockMeals
from ._meals import MealRecipe as MealRecipe
from ._meals import Meals as Meals
from ._meals import SimglucoseMeals as SimglucoseMeals
from ._regimen import CompiledRegimen as CompiledRegimen
from ._regimen import Dose as Dose
from ._regimen import Event as Event
from ._regimen import Infusion as Infusion
from ._regimen import Regimen as Regimen
from ._regimen import SetRate as SetRate
from ._regimen import applied_inputs as applied_inputs
from ._regimen import basal as basal
from ._regimen import bolus as bolus
from ._regimen import meal as meal
from ._simulate import Advanced as Advanced
from ._simulate import Status as Status
from ._simulate import Trajectory as Trajectory
from ._simulate import advance as advance
from ._simulate import integrate_rates as integrate_rates
from ._simulate import simulate as simulate
from ._solvers import RK4 as RK4
from ._solvers import Adaptive as Adaptive
from ._solvers import Solver as Solver

__all__ = [
    "RK4",
    "Adaptive",
    "AdaptiveRK",
    "Advanced",
    "ClockMeals",
    "CompiledRegimen",
    "Dose",
    "Event",
    "Infusion",
    "MealRecipe",
    "Meals",
    "Regimen",
    "SetRate",
    "SimglucoseMeals",
    "Solver",
    "Status",
    "Trajectory",
    "advance",
    "applied_inputs",
    "basal",
    "bolus",
    "check_model",
    "integrate_rates",
    "meal",
    "simulate",
]
