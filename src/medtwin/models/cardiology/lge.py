"""From a late-gadolinium-enhancement (LGE) MR image to tissue labels: scar and border zone by
a published intensity-threshold rule, inside a myocardium mask.

Arrays in, labels out (NumPy; the NIfTI file is read at the edge by
:func:`medtwin.data.images.read_nifti`, which returns the voxel array and spacing). The output
is the label array :class:`~medtwin.models.cardiology.MonodomainTissue` takes: ``OUTSIDE``
(0) outside the myocardium, ``HEALTHY`` (1), ``BORDER`` (2), ``SCAR`` (3).

Two rules, each a small object with its thresholds (a strategy, ``rule=`` of
:func:`lge_labels`):

* :class:`IntensityRatio` (the default): the image intensity ratio ``IIR = SI / mean(SI in
  the blood pool)`` per voxel; border zone for ``border < IIR <= core``, scar above ``core``.
  The blood pool is the reference, so this rule **needs a blood-pool mask** and refuses an
  image without one. Defaults 1.20 and 1.32: the thresholds of Benito et al. 2017 (Europace
  19:1272, validated against bipolar voltage), which were derived in the left atrium; a
  ventricular study calibrates its own (pass them).
* :class:`HalfMaximum`: scar above ``fraction`` (0.5) of the maximum myocardial intensity (the
  full-width-at-half-maximum rule, Amado et al. 2004, J Am Coll Cardiol 44:2383) and border
  zone between the peak intensity of remote (non-infarcted) myocardium and that (the
  peri-infarct zone of Yan et al. 2006, Circulation 114:32); it **needs a remote-myocardium
  mask**.

Voxels outside the myocardium are ``OUTSIDE`` whatever their intensity.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from jaxtyping import ArrayLike

from ...errors import ModelError
from ._tissue import BORDER, HEALTHY, OUTSIDE, SCAR

__all__ = ["HalfMaximum", "IntensityRatio", "lge_labels"]


def _mask(name: str, m: ArrayLike | None, shape: tuple[int, ...], need: str) -> np.ndarray:
    if m is None:
        raise ModelError(
            f"lge_labels() with the {need} rule needs a {name} mask (a boolean array of the "
            f"image's shape {shape}). Got none: pass {name}=..., e.g. a segmentation label "
            f"compared with its value (seg == k)."
        )
    arr = np.asarray(m)
    if arr.shape != shape:
        raise ModelError(
            f"lge_labels() needs the {name} mask in the image's shape {shape}. Got {arr.shape}."
        )
    if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
        raise ModelError(
            f"lge_labels() needs the {name} mask as booleans or 0/1. Got values "
            f"{np.unique(arr)[:6].tolist()}; compare a label image with its value first."
        )
    arr = arr.astype(bool)
    if not arr.any():
        raise ModelError(
            f"The {name} mask of lge_labels() is empty: no voxel is marked. Expected at least "
            f"one voxel of {name}; check the segmentation (wrong label value or crop?)."
        )
    return arr


@dataclasses.dataclass(frozen=True)
class IntensityRatio:
    """Scar and border zone by the image intensity ratio to the blood-pool mean (see the
    module docstring): border zone for ``border < IIR <= core``, scar for ``IIR > core``."""

    border: float = 1.20
    core: float = 1.32

    def __post_init__(self) -> None:
        if not (0 < self.border < self.core and math.isfinite(self.core)):
            raise ModelError(
                f"IntensityRatio needs 0 < border < core. Got border={self.border!r}, "
                f"core={self.core!r}."
            )

    def thresholds(
        self,
        image: np.ndarray,
        myocardium: np.ndarray,
        blood_pool: ArrayLike | None,
        remote: ArrayLike | None,
    ) -> tuple[float, float]:
        """The intensities above which a voxel is border zone and scar."""
        pool = _mask("blood_pool", blood_pool, image.shape, "image-intensity-ratio")
        if (pool & myocardium).any():
            raise ModelError(
                "lge_labels(): the blood_pool and myocardium masks overlap in "
                f"{int((pool & myocardium).sum())} voxels. Expected disjoint masks (the "
                "blood pool is the cavity); fix the segmentation."
            )
        ref = float(np.mean(image[pool]))
        if not ref > 0:
            raise ModelError(
                f"lge_labels(): the mean blood-pool intensity is {ref:g}; the intensity ratio "
                "needs a positive reference. Expected a magnitude LGE image; check the mask."
            )
        return self.border * ref, self.core * ref


@dataclasses.dataclass(frozen=True)
class HalfMaximum:
    """Scar above ``fraction`` of the maximum myocardial intensity, border zone between the
    remote myocardium's peak and that (see the module docstring)."""

    fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ModelError(f"HalfMaximum needs 0 < fraction < 1. Got {self.fraction!r}.")

    def thresholds(
        self,
        image: np.ndarray,
        myocardium: np.ndarray,
        blood_pool: ArrayLike | None,
        remote: ArrayLike | None,
    ) -> tuple[float, float]:
        rem = _mask("remote", remote, image.shape, "half-maximum")
        if not (rem <= myocardium).all():
            raise ModelError(
                "lge_labels(): the remote-myocardium mask reaches outside the myocardium mask. "
                "Expected remote myocardium to be part of the myocardium."
            )
        peak_remote = float(np.max(image[rem]))
        core = self.fraction * float(np.max(image[myocardium]))
        if not core > peak_remote:
            raise ModelError(
                f"lge_labels(): half the maximum myocardial intensity ({core:g}) is not above "
                f"the remote myocardium's peak ({peak_remote:g}): the image shows no "
                "enhancement the half-maximum rule can separate. Check the remote mask."
            )
        return peak_remote, core


def lge_labels(
    image: ArrayLike,
    myocardium: ArrayLike,
    *,
    blood_pool: ArrayLike | None = None,
    remote: ArrayLike | None = None,
    rule: IntensityRatio | HalfMaximum | None = None,
) -> np.ndarray:
    """Tissue labels (int32, the image's shape) from an LGE intensity ``image``: ``OUTSIDE``
    outside ``myocardium``, inside it ``SCAR``, ``BORDER`` or ``HEALTHY`` by ``rule`` (default
    :class:`IntensityRatio`, which needs ``blood_pool``; :class:`HalfMaximum` needs
    ``remote``)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim not in (1, 2, 3) or img.size == 0:
        raise ModelError(f"lge_labels() needs a 1D, 2D or 3D image. Got shape {img.shape}.")
    myo = _mask("myocardium", myocardium, img.shape, "any")
    if not np.isfinite(img[myo]).all():
        raise ModelError("lge_labels(): the image has non-finite intensities in the myocardium.")
    rule = IntensityRatio() if rule is None else rule
    t_border, t_core = rule.thresholds(img, myo, blood_pool, remote)
    out = np.full(img.shape, OUTSIDE, np.int32)
    out[myo] = HEALTHY
    out[myo & (img > t_border)] = BORDER
    out[myo & (img > t_core)] = SCAR
    return out
