"""Cohorts: many virtual patients at once -- executors (serial, processes, Dask) and batching,
virtual populations (sampling, plausibility, Allen-Rieger-Musante selection, enlargement and
replicas of real patients' twins) and in-silico trials (arms, endpoints, bootstrap results,
subgroup reports)."""

from ..executors import DaskExecutor as DaskExecutor
from ..executors import Executor as Executor
from ..executors import ProcessExecutor as ProcessExecutor
from ..executors import SerialExecutor as SerialExecutor
from ..executors import chunk_seeds as chunk_seeds
from ..executors import chunked as chunked
from ..executors import run_batched as run_batched
from ._endpoints import GLUCOSE_METRICS as GLUCOSE_METRICS
from ._endpoints import Endpoint as Endpoint
from ._endpoints import FunctionEndpoint as FunctionEndpoint
from ._endpoints import GlucoseEndpoint as GlucoseEndpoint
from ._endpoints import HbA1cChange as HbA1cChange
from ._endpoints import SepsisSurvival as SepsisSurvival
from ._generative import enlarge as enlarge
from ._generative import replica as replica
from ._populations import Population as Population
from ._populations import concat as concat
from ._populations import observe as observe
from ._populations import plausible as plausible
from ._populations import sample_lognormal as sample_lognormal
from ._populations import sample_prior as sample_prior
from ._populations import sample_ranges as sample_ranges
from ._results import ArmSummary as ArmSummary
from ._results import Difference as Difference
from ._results import SubgroupReport as SubgroupReport
from ._results import SubgroupRow as SubgroupRow
from ._results import TrialResult as TrialResult
from ._selection import ArmSelection as ArmSelection
from ._selection import GaussianTarget as GaussianTarget
from ._selection import Target as Target
from ._selection import select_arm as select_arm
from ._t1d import MealScenario as MealScenario
from ._t1d import T1DRegimen as T1DRegimen
from ._trials import Arm as Arm
from ._trials import RegimenArm as RegimenArm
from ._trials import Subject as Subject
from ._trials import run_trial as run_trial
from ._trials import subject_rng as subject_rng

__all__ = [
    "GLUCOSE_METRICS",
    "Arm",
    "ArmSelection",
    "ArmSummary",
    "DaskExecutor",
    "Difference",
    "Endpoint",
    "Executor",
    "FunctionEndpoint",
    "GaussianTarget",
    "GlucoseEndpoint",
    "HbA1cChange",
    "MealScenario",
    "Population",
    "ProcessExecutor",
    "RegimenArm",
    "SepsisSurvival",
    "SerialExecutor",
    "SubgroupReport",
    "SubgroupRow",
    "Subject",
    "T1DRegimen",
    "Target",
    "TrialResult",
    "chunk_seeds",
    "chunked",
    "concat",
    "enlarge",
    "observe",
    "plausible",
    "replica",
    "run_batched",
    "run_trial",
    "sample_lognormal",
    "sample_prior",
    "sample_ranges",
    "select_arm",
    "subject_rng",
]
