"""Declarations shared by the glucose-insulin models."""

from __future__ import annotations

from .._base import InputSpec

# The input channels of every T1D model: what medtwin.simulate.meal/bolus/basal target.
T1D_INPUTS = (
    InputSpec("carbs", "g/min", "carbohydrate ingestion rate"),
    InputSpec("insulin", "U/min", "subcutaneous insulin delivery rate"),
)
