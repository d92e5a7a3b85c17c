"""Glucose-insulin models for type-1 diabetes, and the CGM sensor and insulin pump."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..._lazy import exports as _exports

if _TYPE_CHECKING:
    from .bergman import BergmanMinimal as BergmanMinimal
    from .cgm import CGM_PRESETS as CGM_PRESETS
    from .cgm import CGMReadings as CGMReadings
    from .cgm import CGMSensor as CGMSensor
    from .cgm import cgm_preset as cgm_preset
    from .pump import PUMP_PRESETS as PUMP_PRESETS
    from .pump import InsulinPump as InsulinPump
    from .pump import pump_preset as pump_preset
    from .uva_padova import EAT_RATE as EAT_RATE
    from .uva_padova import UVAPadova as UVAPadova

_WHERE = {
    "BergmanMinimal": "bergman",
    "CGM_PRESETS": "cgm",
    "CGMReadings": "cgm",
    "CGMSensor": "cgm",
    "cgm_preset": "cgm",
    "PUMP_PRESETS": "pump",
    "InsulinPump": "pump",
    "pump_preset": "pump",
    "EAT_RATE": "uva_padova",
    "UVAPadova": "uva_padova",
}

__all__ = [
    "CGM_PRESETS",
    "EAT_RATE",
    "PUMP_PRESETS",
    "BergmanMinimal",
    "CGMReadings",
    "CGMSensor",
    "InsulinPump",
    "UVAPadova",
    "cgm_preset",
    "pump_preset",
]

__getattr__ = _exports(__name__, _WHERE)
