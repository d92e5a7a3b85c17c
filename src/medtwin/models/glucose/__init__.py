"""Glucose-insulin models for type-1 diabetes, and the CGM sensor and insulin pump."""

from .uva_padova import EAT_RATE as EAT_RATE
from .uva_padova import UVAPadova as UVAPadova

__all__ = ["EAT_RATE", "UVAPadova"]
