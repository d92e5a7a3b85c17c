"""Time units: the one table of how long a model's time unit is, and conversions between units.

A model declares its time unit (``AbstractModel.time_unit``: ``"min"`` for the glucose models,
``"h"`` for sepsis, ``"d"`` for the glioma model); data, limits and clocks convert through here.
Every unit is a whole number of the smaller ones (60 s, 60 min, 24 h), so :func:`convert`
multiplies or divides by an exact whole factor and its result is the exact conversion rounded
once: minutes to hours is ``value / 60``, hours to minutes ``value * 60``. A caller that scales
many values by one factor takes the factor as ``convert(1.0, from_unit, to_unit)`` (hours per
minute: ``1 / 60`` rounded once).

This module does no I/O and imports nothing from medtwin but ``medtwin.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import DataError

__all__ = ["SECONDS", "convert", "seconds"]

SECONDS: Mapping[str, float] = MappingProxyType({"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0})
"""Seconds in one of each time unit: ``s``, ``min``, ``h``, ``d``."""


def _length(unit: Any) -> float:
    if not isinstance(unit, str) or unit not in SECONDS:
        raise DataError(
            f"Unknown time unit {unit!r}. Expected one of {', '.join(SECONDS)} (seconds, "
            "minutes, hours, days); spell the unit as one of these."
        )
    return SECONDS[unit]


def seconds(value: float, unit: str) -> float:
    """``value`` ``unit`` in seconds (``seconds(5, "min") == 300.0``)."""
    return value * _length(unit)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit`` (``convert(90, "min", "h") == 1.5``):
    multiplied by the whole factor when converting to a smaller unit, divided by it when
    converting to a larger one, so the result is the exact conversion rounded once. Works on
    NumPy and JAX arrays as well as numbers."""
    a, b = _length(from_unit), _length(to_unit)
    return value * (a / b) if a >= b else value / (b / a)
