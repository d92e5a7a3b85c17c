"""Assimilation: observations, ensembles, priors and the sequential filters."""

from ._assimilate import Assimilation as Assimilation
from ._assimilate import AssimilationReport as AssimilationReport
from ._assimilate import assimilate as assimilate
from ._assimilate import assimilate_with_report as assimilate_with_report
from ._batched import assimilate_many as assimilate_many
from ._ensemble import Ensemble as Ensemble
from ._ensemble import PopulationPrior as PopulationPrior
from ._ensemble import Prior as Prior
from ._ensemble import SpecPrior as SpecPrior
from ._filters import EnsembleKalmanFilter as EnsembleKalmanFilter
from ._filters import ParticleFilter as ParticleFilter
from ._observations import HI as HI
from ._observations import LO as LO
from ._observations import DataReport as DataReport
from ._observations import Observations as Observations
from ._observations import observations as observations
from ._sensor import SensorError as SensorError

__all__ = [
    "HI",
    "LO",
    "Assimilation",
    "AssimilationReport",
    "DataReport",
    "Ensemble",
    "EnsembleKalmanFilter",
    "Observations",
    "ParticleFilter",
    "PopulationPrior",
    "Prior",
    "SensorError",
    "SpecPrior",
    "assimilate",
    "assimilate_many",
    "assimilate_with_report",
    "observations",
]
