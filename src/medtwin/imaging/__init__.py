"""Imaging mathematics for the glioma twin: segmentation masks -> volumes and radii, scan series
as twin observations, the two-radius estimate, synthetic phantoms, the invisible margin and days
gained by radiotherapy. Arrays in, arrays out.

Core layer: imports the numerical core only (never ``data``, ``store``, ``service`` or ``cli``)
and reads or writes no files. Files are the edge's job: :mod:`medtwin.data` reads and writes
NIfTI volumes (``read_nifti``, ``write_nifti``), folders of scans and radii tables
(``read_scans``, ``read_radii_csv``, ``write_radii_csv``) and phantoms (``write_phantom``).
"""

from ._forecast import MarginMap as MarginMap
from ._forecast import days_gained as days_gained
from ._forecast import invisible_margin as invisible_margin
from ._forecast import posterior_draws as posterior_draws
from ._forecast import radiotherapy as radiotherapy
from ._phantom import Phantom as Phantom
from ._phantom import synthetic_phantom as synthetic_phantom
from ._scans import ScanSeries as ScanSeries
from ._segmentation import equivalent_radius as equivalent_radius
from ._segmentation import segmentation_volume as segmentation_volume
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
    "segmentation_volume",
    "synthetic_phantom",
    "two_radius_estimate",
    "wave_gap_factor",
]
