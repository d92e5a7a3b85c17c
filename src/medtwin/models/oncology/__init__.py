"""Oncology models: the Swanson proliferation-invasion glioma model with radiotherapy."""

from .glioma import Glioma as Glioma
from .glioma import synthetic_brain as synthetic_brain
from .glioma import wave_profile as wave_profile

__all__ = ["Glioma", "synthetic_brain", "wave_profile"]
