"""What a patient is: the model interface, priors, noise models and the published models."""

from . import glucose as glucose
from . import inflammation as inflammation
from . import oncology as oncology
from ._base import AbstractModel as AbstractModel
from ._base import AbstractODEModel as AbstractODEModel
from ._base import AbstractSteppedModel as AbstractSteppedModel
from ._base import AlertRule as AlertRule
from ._base import EventSpec as EventSpec
from ._base import InputSpec as InputSpec
from ._base import ObservableSpec as ObservableSpec
from ._base import ParameterSpec as ParameterSpec
from ._base import ParamView as ParamView
from ._base import StateSpec as StateSpec
from ._base import TwinDefaults as TwinDefaults
from ._free import FreeParameters as FreeParameters
from ._free import free_parameters as free_parameters
from ._noise import GaussianNoise as GaussianNoise
from ._noise import NoiseModel as NoiseModel
from ._priors import LogNormal as LogNormal
from ._priors import Normal as Normal
from ._priors import Prior as Prior
from ._priors import Uniform as Uniform
from ._registry import get_model as get_model
from ._registry import list_models as list_models
from ._registry import register_model as register_model
from .glucose import BergmanMinimal as BergmanMinimal
from .glucose import UVAPadova as UVAPadova
from .inflammation import Reynolds2006 as Reynolds2006
from .oncology import Glioma as Glioma

__all__ = [
    "AbstractModel",
    "AbstractODEModel",
    "AbstractSteppedModel",
    "AlertRule",
    "BergmanMinimal",
    "EventSpec",
    "FreeParameters",
    "GaussianNoise",
    "Glioma",
    "InputSpec",
    "LogNormal",
    "NoiseModel",
    "Normal",
    "ObservableSpec",
    "ParamView",
    "ParameterSpec",
    "Prior",
    "Reynolds2006",
    "StateSpec",
    "TwinDefaults",
    "UVAPadova",
    "Uniform",
    "free_parameters",
    "get_model",
    "glucose",
    "inflammation",
    "list_models",
    "oncology",
    "register_model",
]
