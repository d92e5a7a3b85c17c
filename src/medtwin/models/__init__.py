"""What a patient is: the model interface, priors, noise models and the published models.

The names below load on first use (PEP 562). A model's declaration (:class:`Declaration`: its
parameters, observables, events, time unit) is read without loading JAX
(:func:`declaration`, :func:`list_declarations`); the model class, and JAX with it, loads when
the model is asked for (:func:`get_model`)."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import exports as _exports

if _TYPE_CHECKING:
    from . import glucose as glucose
    from . import infection as infection
    from . import inflammation as inflammation
    from . import lipids as lipids
    from . import oncology as oncology
    from ._base import AbstractModel as AbstractModel
    from ._base import AbstractODEModel as AbstractODEModel
    from ._base import AbstractSteppedModel as AbstractSteppedModel
    from ._base import ParamView as ParamView
    from ._base import declared as declared
    from ._compose import ComposedModel as ComposedModel
    from ._compose import compose as compose
    from ._composition import Composition as Composition
    from ._composition import Excess as Excess
    from ._composition import Identity as Identity
    from ._composition import Linear as Linear
    from ._composition import Link as Link
    from ._composition import LinkMap as LinkMap
    from ._free import FreeParameters as FreeParameters
    from ._free import free_parameters as free_parameters
    from ._noise import GaussianNoise as GaussianNoise
    from ._noise import NoiseModel as NoiseModel
    from ._noise import noise_theta as noise_theta
    from ._ordinal import OrdinalNoise as OrdinalNoise
    from ._priors import LogNormal as LogNormal
    from ._priors import Normal as Normal
    from ._priors import Prior as Prior
    from ._priors import Uniform as Uniform
    from ._registry import declaration as declaration
    from ._registry import get_model as get_model
    from ._registry import list_declarations as list_declarations
    from ._registry import list_models as list_models
    from ._registry import register_model as register_model
    from ._spec import AlertRule as AlertRule
    from ._spec import DecisionSpec as DecisionSpec
    from ._spec import Declaration as Declaration
    from ._spec import Declared as Declared
    from ._spec import EventSpec as EventSpec
    from ._spec import InputSpec as InputSpec
    from ._spec import ObservableSpec as ObservableSpec
    from ._spec import ParameterSpec as ParameterSpec
    from ._spec import StateSpec as StateSpec
    from ._spec import TwinDefaults as TwinDefaults
    from .glucose import BergmanMinimal as BergmanMinimal
    from .glucose import UVAPadova as UVAPadova
    from .infection import Baccam2006 as Baccam2006
    from .infection import PneumoniaSepsis as PneumoniaSepsis
    from .infection import Smith2011 as Smith2011
    from .inflammation import Reynolds2006 as Reynolds2006
    from .lipids import Vargo2014 as Vargo2014
    from .oncology import Glioma as Glioma

_WHERE = {
    "glucose": "glucose",
    "infection": "infection",
    "inflammation": "inflammation",
    "lipids": "lipids",
    "oncology": "oncology",
    "AbstractModel": "_base",
    "AbstractODEModel": "_base",
    "AbstractSteppedModel": "_base",
    "AlertRule": "_spec",
    "declared": "_base",
    "ComposedModel": "_compose",
    "compose": "_compose",
    "Composition": "_composition",
    "Excess": "_composition",
    "Identity": "_composition",
    "Link": "_composition",
    "Linear": "_composition",
    "LinkMap": "_composition",
    "EventSpec": "_spec",
    "DecisionSpec": "_spec",
    "Declaration": "_spec",
    "Declared": "_spec",
    "InputSpec": "_spec",
    "ObservableSpec": "_spec",
    "ParameterSpec": "_spec",
    "ParamView": "_base",
    "StateSpec": "_spec",
    "TwinDefaults": "_spec",
    "FreeParameters": "_free",
    "free_parameters": "_free",
    "GaussianNoise": "_noise",
    "NoiseModel": "_noise",
    "noise_theta": "_noise",
    "OrdinalNoise": "_ordinal",
    "LogNormal": "_priors",
    "Normal": "_priors",
    "Prior": "_priors",
    "Uniform": "_priors",
    "declaration": "_registry",
    "get_model": "_registry",
    "list_declarations": "_registry",
    "list_models": "_registry",
    "register_model": "_registry",
    "BergmanMinimal": "glucose",
    "UVAPadova": "glucose",
    "Reynolds2006": "inflammation",
    "Baccam2006": "infection",
    "PneumoniaSepsis": "infection",
    "Smith2011": "infection",
    "Glioma": "oncology",
    "Vargo2014": "lipids",
}

__all__ = [
    "AbstractModel",
    "AbstractODEModel",
    "AbstractSteppedModel",
    "AlertRule",
    "Baccam2006",
    "BergmanMinimal",
    "ComposedModel",
    "Composition",
    "DecisionSpec",
    "Declaration",
    "Declared",
    "EventSpec",
    "Excess",
    "FreeParameters",
    "GaussianNoise",
    "Glioma",
    "Identity",
    "InputSpec",
    "Linear",
    "Link",
    "LinkMap",
    "LogNormal",
    "NoiseModel",
    "Normal",
    "ObservableSpec",
    "OrdinalNoise",
    "ParamView",
    "ParameterSpec",
    "PneumoniaSepsis",
    "Prior",
    "Reynolds2006",
    "Smith2011",
    "StateSpec",
    "TwinDefaults",
    "UVAPadova",
    "Uniform",
    "Vargo2014",
    "compose",
    "declaration",
    "declared",
    "free_parameters",
    "get_model",
    "glucose",
    "infection",
    "inflammation",
    "lipids",
    "list_declarations",
    "list_models",
    "noise_theta",
    "oncology",
    "register_model",
]

__getattr__ = _exports(__name__, _WHERE)
