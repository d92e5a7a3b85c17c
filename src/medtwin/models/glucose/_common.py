"""Declarations shared by the glucose-insulin models: their inputs, the events of a patient's
record they take, and the glucose alert rules."""

from __future__ import annotations

from .._spec import AlertRule, EventSpec, InputSpec

# The input channels of every T1D model: what medtwin.simulate.meal/bolus/basal target.
T1D_INPUTS = (
    InputSpec("carbs", "g/min", "carbohydrate ingestion rate"),
    InputSpec("insulin", "U/min", "subcutaneous insulin delivery rate"),
)

# The events of a T1D record: a meal of carbohydrate eaten at 5 g/min (as simglucose's
# patients eat), an insulin bolus within one input step, a basal rate in U/h from then on.
T1D_EVENTS = (
    EventSpec("meal", "g", "carbs", "dose", rate=5.0, description="carbohydrate eaten"),
    EventSpec("bolus", "U", "insulin", "dose", description="insulin bolus"),
    EventSpec("basal", "U/h", "insulin", "rate", per=60.0, description="basal insulin rate"),
)

# < 70 mg/dL is level-1 hypoglycaemia and > 250 mg/dL very high glucose (Battelino T et al.,
# Diabetes Care 42:1593-1603, 2019, the international consensus on time in range); looked at
# over the next hour.
_CONSENSUS = "Battelino et al., Diabetes Care 42:1593 (2019)"


def glucose_alerts(*observables: str) -> tuple[AlertRule, ...]:
    """The consensus glucose alert rules (70 / 250 mg/dL within 60 min) for ``observables``."""
    return tuple(AlertRule(o, 70.0, 250.0, 60.0, _CONSENSUS) for o in observables)
