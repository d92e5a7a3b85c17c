"""Imaging for the glioma twin: NIfTI segmentations in and out, radii over time, the
two-radius estimate, synthetic phantoms, the invisible margin and days gained by radiotherapy.

Core layer: imports the numerical core only (never ``data``, ``store``, ``service`` or ``cli``);
nibabel is imported when a NIfTI file is read or written (``pip install 'medtwin[imaging]'``).
"""

from ._forecast import MarginMap as MarginMap
from ._forecast import days_gained as days_gained
from ._forecast import invisible_margin as invisible_margin
from ._forecast import posterior_draws as posterior_draws
from ._forecast import radiotherapy as radiotherapy
from ._nifti import equivalent_radius as equivalent_radius
from ._nifti import read_nifti as read_nifti
from ._nifti import segmentation_volume as segmentation_volume
from ._nifti import write_nifti as write_nifti
from ._phantom import Phantom as Phantom
from ._phantom import synthetic_phantom as synthetic_phantom
from ._scans import ScanSeries as ScanSeries
from ._scans import read_radii_csv as read_radii_csv
from ._scans import read_scans as read_scans
from ._scans import write_radii_csv as write_radii_csv
from ._two_radius import TwoRadiusEstimate as TwoRadiusEstimate
from ._two_radius import two_radius_estimate as two_radius_estimate
from ._two_radius import wave_gap_factor as wave_gap_factor

__all__ = [
    "MarginMap",
    "Phantom",
    "ScanSeries",
    "TwoRadiusEstimate",
    "days_gained",
    "equivalent_radius",
    "invisible_margin",
    "posterior_draws",
    "radiotherapy",
    "read_nifti",
    "read_radii_csv",
    "read_scans",
    "segmentation_volume",
    "synthetic_phantom",
    "two_radius_estimate",
    "wave_gap_factor",
    "write_nifti",
    "write_radii_csv",
]
