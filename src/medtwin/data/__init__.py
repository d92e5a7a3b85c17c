"""Edge: patient data in and out, named parameter sets, units and codes."""

from .vpatients import VIRTUAL_PATIENTS as VIRTUAL_PATIENTS
from .vpatients import TherapySettings as TherapySettings
from .vpatients import age_group as age_group
from .vpatients import load_virtual_patient as load_virtual_patient
from .vpatients import load_virtual_patients as load_virtual_patients
from .vpatients import therapy_settings as therapy_settings

__all__ = [
    "VIRTUAL_PATIENTS",
    "TherapySettings",
    "age_group",
    "load_virtual_patient",
    "load_virtual_patients",
    "therapy_settings",
]
