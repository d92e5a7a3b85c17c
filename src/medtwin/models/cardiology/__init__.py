"""Cardiology: cardiac tissue electrophysiology (monodomain, Aliev-Panfilov 1996 and
Mitchell-Schaeffer 2003), its measurements and a differentiable anisotropic eikonal solver."""

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
    from .aliev_panfilov import AlievPanfilov as AlievPanfilov
    from .eikonal import Eikonal as Eikonal
    from .eikonal import solve_eikonal as solve_eikonal
    from .measure import action_potential_duration as action_potential_duration
    from .measure import activation_times as activation_times
    from .measure import local_conduction_velocity as local_conduction_velocity
    from .measure import plane_wave_speed as plane_wave_speed
    from .mitchell_schaeffer import MitchellSchaeffer as MitchellSchaeffer

_WHERE = {
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
    "Eikonal": "eikonal",
    "solve_eikonal": "eikonal",
    "action_potential_duration": "measure",
    "activation_times": "measure",
    "local_conduction_velocity": "measure",
    "plane_wave_speed": "measure",
}

__all__ = sorted(_WHERE)

__getattr__ = _exports(__name__, _WHERE)
