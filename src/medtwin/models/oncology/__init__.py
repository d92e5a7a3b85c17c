"""Oncology models: the Swanson proliferation-invasion glioma model with radiotherapy."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..._lazy import exports as _exports

if _TYPE_CHECKING:
    from .glioma import Glioma as Glioma
    from .glioma import synthetic_brain as synthetic_brain
    from .glioma import wave_profile as wave_profile

_WHERE = {
    "Glioma": "glioma",
    "synthetic_brain": "glioma",
    "wave_profile": "glioma",
}

__all__ = ["Glioma", "synthetic_brain", "wave_profile"]

__getattr__ = _exports(__name__, _WHERE)
