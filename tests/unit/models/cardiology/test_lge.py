"""Scar and border zone from a synthetic LGE image: a phantom with a known scar, a border and
noise, written to NIfTI and read back by the data edge's reader, labelled by both rules."""

import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.data.images import read_nifti, write_nifti
from medtwin.errors import ModelError
from medtwin.models.cardiology import (
    BORDER,
    HEALTHY,
    OUTSIDE,
    SCAR,
    HalfMaximum,
    IntensityRatio,
    MitchellSchaeffer,
    lge_labels,
)

POOL, REMOTE, CORE = 100.0, 40.0, 180.0  # mean intensities (arbitrary units)


def _phantom(seed=0, grey_level=126.0, noise=2.0):
    """A 2D short-axis-like slice: a ring of myocardium around a blood pool, a scar core in
    one sector surrounded by a grey (border) rim, Gaussian noise. Returns the image and the
    true labels, the myocardium, blood-pool and remote masks."""
    n = 64
    x, y = np.meshgrid(np.arange(n) - 31.5, np.arange(n) - 31.5, indexing="ij")
    r, ang = np.hypot(x, y), np.degrees(np.arctan2(y, x))
    pool = r < 14
    myo = (r >= 14) & (r < 24)
    core = myo & (np.abs(ang) < 30)
    grey = myo & ~core & (np.abs(ang) < 45)
    remote = myo & (np.abs(ang) > 120)
    truth = np.where(myo, HEALTHY, OUTSIDE)
    truth[grey], truth[core] = BORDER, SCAR
    img = np.full((n, n), 10.0)
    img[pool], img[myo] = POOL, REMOTE
    img[grey], img[core] = grey_level, CORE
    img = img + np.random.default_rng(seed).normal(0.0, noise, img.shape)
    return img, truth.astype(np.int32), myo, pool, remote


def test_intensity_ratio_recovers_the_phantom_through_nifti(tmp_path):
    img, truth, myo, pool, _ = _phantom()
    write_nifti(tmp_path / "lge.nii.gz", img, 1.5)
    write_nifti(tmp_path / "seg.nii.gz", (myo * 1 + pool * 2).astype(np.uint8), 1.5)
    image, spacing = read_nifti(tmp_path / "lge.nii.gz")
    seg, _ = read_nifti(tmp_path / "seg.nii.gz")
    labels = lge_labels(image, seg == 1, blood_pool=seg == 2)
    # IIR: grey 1.26 in (1.20, 1.32], core 1.8 > 1.32, remote 0.4; noise sd 0.02 in IIR
    # (the grey rim is 3 sd from either threshold: a voxel or two of ~180 may cross)
    assert labels.dtype == np.int32 and labels.shape == truth.shape
    assert (labels[~myo] == OUTSIDE).all() and (labels[truth == SCAR] == SCAR).all()
    assert (labels[truth == HEALTHY] == HEALTHY).all()
    grey_ok = np.mean(labels[truth == BORDER] == BORDER)
    assert grey_ok > 0.97, grey_ok
    assert spacing == (1.5, 1.5)
    # the tissue model takes the labels as they are
    model = MitchellSchaeffer(labels.shape, spacing[0], labels=labels)
    assert np.array_equal(np.asarray(model.labels), labels)


def test_half_maximum_with_a_remote_reference():
    img, truth, myo, _, remote = _phantom(seed=1, grey_level=70.0)
    labels = lge_labels(img, myo, remote=remote, rule=HalfMaximum())
    # core > 0.5 max (max ~ 187: threshold ~ 93), grey 70 above the remote peak (~ 47)
    assert (labels[truth == SCAR] == SCAR).all() and (labels[truth == BORDER] == BORDER).all()
    assert np.mean(labels[truth == HEALTHY] == HEALTHY) > 0.99


def test_without_a_reference_the_rule_refuses():
    img, _, myo, pool, _ = _phantom()
    with pytest.raises(ModelError, match="needs a blood_pool mask"):
        lge_labels(img, myo)  # the default rule is the intensity ratio
    with pytest.raises(ModelError, match=r"blood_pool mask of lge_labels\(\) is empty"):
        lge_labels(img, myo, blood_pool=np.zeros_like(myo))
    with pytest.raises(ModelError, match="needs a remote mask"):
        lge_labels(img, myo, blood_pool=pool, rule=HalfMaximum())
    with pytest.raises(ModelError, match="overlap"):
        lge_labels(img, myo, blood_pool=pool | myo)
    with pytest.raises(ModelError, match=r"myocardium mask of lge_labels\(\) is empty"):
        lge_labels(img, np.zeros_like(myo), blood_pool=pool)
    with pytest.raises(ModelError, match="image's shape"):
        lge_labels(img, myo[:-1], blood_pool=pool)
    with pytest.raises(ModelError, match="booleans or 0/1"):
        lge_labels(img, myo * 3, blood_pool=pool)
    with pytest.raises(ModelError, match="border < core"):
        IntensityRatio(border=1.4, core=1.3)
    flat = np.where(myo, REMOTE, 10.0)
    with pytest.raises(ModelError, match="no enhancement"):
        lge_labels(flat, myo, remote=myo, rule=HalfMaximum())
