"""Edge: patient data in and out (CSV, CGM device exports, imaging files), named parameter sets,
units and codes.

The names below load on first use (PEP 562), so that ``medtwin.data.units`` -- the curated LOINC
table the command line checks values against -- is read without loading JAX (``csvio`` and
``vpatients`` need it).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import exports as _exports

if _TYPE_CHECKING:
    from .cgm_formats import CGM_FORMATS as CGM_FORMATS
    from .cgm_formats import CgmFile as CgmFile
    from .cgm_formats import cgm_format as cgm_format
    from .cgm_formats import read_cgm as read_cgm
    from .csvio import read_cgm_csv as read_cgm_csv
    from .csvio import read_events_csv as read_events_csv
    from .csvio import read_model_events_csv as read_model_events_csv
    from .csvio import read_stream_csv as read_stream_csv
    from .images import read_nifti as read_nifti
    from .images import read_radii_csv as read_radii_csv
    from .images import read_scans as read_scans
    from .images import write_nifti as write_nifti
    from .images import write_phantom as write_phantom
    from .images import write_radii_csv as write_radii_csv
    from .vpatients import T1D_CGM_FILTER as T1D_CGM_FILTER
    from .vpatients import T1D_FILTER as T1D_FILTER
    from .vpatients import T1D_FREE as T1D_FREE
    from .vpatients import T1D_LOOP_FREE as T1D_LOOP_FREE
    from .vpatients import VIRTUAL_PATIENTS as VIRTUAL_PATIENTS
    from .vpatients import TherapySettings as TherapySettings
    from .vpatients import age_group as age_group
    from .vpatients import load_virtual_patient as load_virtual_patient
    from .vpatients import load_virtual_patients as load_virtual_patients
    from .vpatients import t1d_population_prior as t1d_population_prior
    from .vpatients import therapy_settings as therapy_settings
    from .vpatients import virtual_population as virtual_population

_WHERE = {
    "CGM_FORMATS": "cgm_formats",
    "CgmFile": "cgm_formats",
    "cgm_format": "cgm_formats",
    "read_cgm": "cgm_formats",
    "read_cgm_csv": "csvio",
    "read_events_csv": "csvio",
    "read_model_events_csv": "csvio",
    "read_stream_csv": "csvio",
    "read_nifti": "images",
    "read_radii_csv": "images",
    "read_scans": "images",
    "write_nifti": "images",
    "write_phantom": "images",
    "write_radii_csv": "images",
    "T1D_CGM_FILTER": "vpatients",
    "T1D_FILTER": "vpatients",
    "T1D_FREE": "vpatients",
    "T1D_LOOP_FREE": "vpatients",
    "VIRTUAL_PATIENTS": "vpatients",
    "TherapySettings": "vpatients",
    "age_group": "vpatients",
    "load_virtual_patient": "vpatients",
    "load_virtual_patients": "vpatients",
    "t1d_population_prior": "vpatients",
    "therapy_settings": "vpatients",
    "virtual_population": "vpatients",
}

__all__ = [
    "CGM_FORMATS",
    "T1D_CGM_FILTER",
    "T1D_FILTER",
    "T1D_FREE",
    "T1D_LOOP_FREE",
    "VIRTUAL_PATIENTS",
    "CgmFile",
    "TherapySettings",
    "age_group",
    "cgm_format",
    "load_virtual_patient",
    "load_virtual_patients",
    "read_cgm",
    "read_cgm_csv",
    "read_events_csv",
    "read_model_events_csv",
    "read_nifti",
    "read_radii_csv",
    "read_scans",
    "read_stream_csv",
    "t1d_population_prior",
    "therapy_settings",
    "virtual_population",
    "write_nifti",
    "write_phantom",
    "write_radii_csv",
]

__getattr__ = _exports(__name__, _WHERE)
