"""Cardiology: cardiac tissue electrophysiology (monodomain, Aliev-Panfilov 1996 and
Mitchell-Schaeffer 2003), its measurements, a differentiable anisotropic eikonal solver, and
the cardiac twin (conduction learnt from mapping data, P(inducible), ranked lesion plans)."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..._lazy import exports as _exports

if _TYPE_CHECKING:
    from ._tissue import BORDER as BORDER
    from ._tissue import HEALTHY as HEALTHY
    from ._tissue import LESION as LESION
    from ._tissue import OUTSIDE as OUTSIDE
    from ._tissue import SCAR as SCAR
    from ._tissue import MonodomainTissue as MonodomainTissue
    from ._tissue import rotating_fibres as rotating_fibres
    from ._tissue import stability_bound as stability_bound
    from .ablation import Ablation as Ablation
    from .ablation import Isthmus as Isthmus
    from .ablation import PlanOutcome as PlanOutcome
    from .ablation import ablate as ablate
    from .ablation import locate_isthmus as locate_isthmus
    from .ablation import what_if as what_if
    from .ablation import with_lesion as with_lesion
    from .aliev_panfilov import AlievPanfilov as AlievPanfilov
    from .ecg import dipole_moment as dipole_moment
    from .ecg import pseudo_ecg as pseudo_ecg
    from .eikonal import Eikonal as Eikonal
    from .eikonal import solve_eikonal as solve_eikonal
    from .lge import HalfMaximum as HalfMaximum
    from .lge import IntensityRatio as IntensityRatio
    from .lge import lge_labels as lge_labels
    from .measure import Restitution as Restitution
    from .measure import action_potential_duration as action_potential_duration
    from .measure import activation_times as activation_times
    from .measure import crossing_times as crossing_times
    from .measure import cycle_length as cycle_length
    from .measure import local_conduction_velocity as local_conduction_velocity
    from .measure import plane_wave_speed as plane_wave_speed
    from .measure import restitution as restitution
    from .mitchell_schaeffer import MitchellSchaeffer as MitchellSchaeffer
    from .personalise import ConductionPosterior as ConductionPosterior
    from .personalise import ConductionPrior as ConductionPrior
    from .personalise import MappingPoints as MappingPoints
    from .personalise import QRSDuration as QRSDuration
    from .personalise import mapping_times as mapping_times
    from .personalise import personalise_conduction as personalise_conduction
    from .phantoms import PHANTOM_PARAMETERS as PHANTOM_PARAMETERS
    from .phantoms import Phantom as Phantom
    from .phantoms import homogeneous_sheet as homogeneous_sheet
    from .phantoms import scar_channel_sheet as scar_channel_sheet
    from .phase import hilbert_phase as hilbert_phase
    from .phase import singularities as singularities
    from .phase import state_phase as state_phase
    from .phase import topological_charge as topological_charge
    from .risk import InducibilityForecast as InducibilityForecast
    from .risk import PlanRisk as PlanRisk
    from .risk import forecast_inducibility as forecast_inducibility
    from .risk import rank_plans as rank_plans
    from .risk import tissue_params as tissue_params
    from .shell import LVShell as LVShell
    from .shell import lv_shell as lv_shell
    from .stimulation import Inducibility as Inducibility
    from .stimulation import PESProtocol as PESProtocol
    from .stimulation import VTDefinition as VTDefinition
    from .stimulation import clopper_pearson as clopper_pearson
    from .stimulation import programmed_stimulation as programmed_stimulation
    from .ten_tusscher import TenTusscher as TenTusscher
    from .twin import CardiacTwin as CardiacTwin
    from .twin import Recommendation as Recommendation
    from .twin import cable_speed as cable_speed
    from .twin import pacing_source as pacing_source
    from .twin import spread_sites as spread_sites

_WHERE = {
    "Ablation": "ablation",
    "Isthmus": "ablation",
    "PlanOutcome": "ablation",
    "ablate": "ablation",
    "locate_isthmus": "ablation",
    "what_if": "ablation",
    "with_lesion": "ablation",
    "ConductionPosterior": "personalise",
    "ConductionPrior": "personalise",
    "MappingPoints": "personalise",
    "QRSDuration": "personalise",
    "mapping_times": "personalise",
    "personalise_conduction": "personalise",
    "InducibilityForecast": "risk",
    "PlanRisk": "risk",
    "forecast_inducibility": "risk",
    "rank_plans": "risk",
    "tissue_params": "risk",
    "CardiacTwin": "twin",
    "Recommendation": "twin",
    "cable_speed": "twin",
    "pacing_source": "twin",
    "spread_sites": "twin",
    "PHANTOM_PARAMETERS": "phantoms",
    "Phantom": "phantoms",
    "homogeneous_sheet": "phantoms",
    "scar_channel_sheet": "phantoms",
    "Inducibility": "stimulation",
    "PESProtocol": "stimulation",
    "VTDefinition": "stimulation",
    "clopper_pearson": "stimulation",
    "programmed_stimulation": "stimulation",
    "BORDER": "_tissue",
    "HEALTHY": "_tissue",
    "LESION": "_tissue",
    "OUTSIDE": "_tissue",
    "SCAR": "_tissue",
    "MonodomainTissue": "_tissue",
    "rotating_fibres": "_tissue",
    "stability_bound": "_tissue",
    "AlievPanfilov": "aliev_panfilov",
    "MitchellSchaeffer": "mitchell_schaeffer",
    "TenTusscher": "ten_tusscher",
    "Eikonal": "eikonal",
    "solve_eikonal": "eikonal",
    "action_potential_duration": "measure",
    "activation_times": "measure",
    "local_conduction_velocity": "measure",
    "plane_wave_speed": "measure",
    "Restitution": "measure",
    "crossing_times": "measure",
    "cycle_length": "measure",
    "restitution": "measure",
    "hilbert_phase": "phase",
    "singularities": "phase",
    "state_phase": "phase",
    "topological_charge": "phase",
    "dipole_moment": "ecg",
    "pseudo_ecg": "ecg",
    "HalfMaximum": "lge",
    "IntensityRatio": "lge",
    "lge_labels": "lge",
    "LVShell": "shell",
    "lv_shell": "shell",
}

__all__ = sorted(_WHERE)

__getattr__ = _exports(__name__, _WHERE)
