"""An LGE scan and its segmentation, read from NIfTI into tissue labels (data/images.py)."""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.data.cardiac import read_lge_scan
from medtwin.data.images import write_nifti
from medtwin.errors import DataError
from medtwin.models.cardiology import BORDER, HEALTHY, OUTSIDE, SCAR


def _scan(tmp_path, spacing=(0.5, 0.5), pool_value=2):
    """A 2D scan: blood pool intensity 100, myocardium 100 (healthy, IIR 1.0), 125 (border zone,
    IIR 1.25) and 150 (scar, IIR 1.5) in three bands."""
    img = np.zeros((20, 12))
    seg = np.zeros((20, 12), np.uint8)
    seg[:, :4] = pool_value
    img[:, :4] = 100.0
    seg[:, 4:] = 1
    img[:, 4:] = 100.0
    img[:7, 8:] = 125.0
    img[:3, 8:] = 150.0
    write_nifti(tmp_path / "lge.nii.gz", img, spacing)
    write_nifti(tmp_path / "seg.nii.gz", seg, spacing)
    return tmp_path / "lge.nii.gz", tmp_path / "seg.nii.gz"


def test_labels_from_the_intensity_ratio_to_the_blood_pool(tmp_path):
    scan = read_lge_scan(*_scan(tmp_path))
    assert scan.spacing == pytest.approx(0.5)
    assert scan.labels.shape == (20, 12)
    assert (scan.labels[:, :4] == OUTSIDE).all()
    assert (scan.labels[10:, 4:] == HEALTHY).all()
    assert (scan.labels[3:7, 8:] == BORDER).all()
    assert (scan.labels[:3, 8:] == SCAR).all()


def test_other_label_values(tmp_path):
    scan = read_lge_scan(*_scan(tmp_path, pool_value=7), blood_pool=7)
    assert (scan.labels[:3, 8:] == SCAR).all()


@pytest.mark.parametrize(
    ("kwargs", "spacing", "match"),
    [
        ({"blood_pool": 5}, (0.5, 0.5), r"no voxel of value 5 \(the blood pool"),
        ({"myocardium": 9}, (0.5, 0.5), r"no voxel of value 9 \(the myocardium"),
        ({}, (0.5, 0.8), "cubic voxels"),
    ],
)
def test_bad_scans_are_refused(tmp_path, kwargs, spacing, match):
    with pytest.raises(DataError, match=match):
        read_lge_scan(*_scan(tmp_path, spacing=spacing), **kwargs)


def test_a_segmentation_off_the_scans_grid_is_refused(tmp_path):
    lge, _ = _scan(tmp_path)
    write_nifti(tmp_path / "small.nii.gz", np.ones((10, 12), np.uint8), 0.5)
    with pytest.raises(DataError, match="not on the scan's grid"):
        read_lge_scan(lge, tmp_path / "small.nii.gz")
