"""Edge: patient data in and out, named parameter sets, units and codes."""

from .csvio import read_cgm_csv as read_cgm_csv
from .csvio import read_events_csv as read_events_csv
from .vpatients import T1D_CGM_FILTER as T1D_CGM_FILTER
from .vpatients import T1D_FILTER as T1D_FILTER
from .vpatients import T1D_FREE as T1D_FREE
from .vpatients import VIRTUAL_PATIENTS as VIRTUAL_PATIENTS
from .vpatients import TherapySettings as TherapySettings
from .vpatients import age_group as age_group
from .vpatients import load_virtual_patient as load_virtual_patient
from .vpatients import load_virtual_patients as load_virtual_patients
from .vpatients import t1d_population_prior as t1d_population_prior
from .vpatients import therapy_settings as therapy_settings
from .vpatients import virtual_population as virtual_population

__all__ = [
    "T1D_CGM_FILTER",
    "T1D_FILTER",
    "T1D_FREE",
    "VIRTUAL_PATIENTS",
    "TherapySettings",
    "age_group",
    "load_virtual_patient",
    "load_virtual_patients",
    "read_cgm_csv",
    "read_events_csv",
    "t1d_population_prior",
    "therapy_settings",
    "virtual_population",
]
