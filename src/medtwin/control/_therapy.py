"""A patient's therapy settings as a clinician set them: the true settings with a seeded,
multiplicative error, the realistic comparator of a closed-loop trial.

Each of the three settings -- basal rate (U/h), carbohydrate ratio (g/U) and correction factor
(mg/dL per U) -- is the truth times ``exp(error * z)``, ``z`` a standard normal drawn
independently per setting: log-normal with median the truth and ``error`` the standard
deviation of the log. An over- and an under-estimate by the same factor are equally likely
(x 1.35 as often as / 1.35 at ``error = 0.3``), which is how a relative error of a ratio
behaves; the coefficient of variation is ``sqrt(exp(error^2) - 1)``, 30.7 % at 0.3 and
25.4 % at 0.25, so for the 25-30 % spread asked of the trial the two readings of the number
differ by less than a point. ``error = 0`` returns the truth itself (no arithmetic), the oracle
scenario.

The draw of a patient depends only on the trial's ``seed`` and the patient's own ``patient``
number (e.g. its index among the 30 virtual patients): not on the other patients of the cohort
nor on the policies run, so every policy of a trial -- and every trial with that seed -- sees
the same settings for that patient (``numpy.random.SeedSequence(seed, spawn_key=(TAG,
patient))``; ``TAG`` keeps the stream apart from the trial's other seeded streams).

Units: U/h, g/U, mg/dL per U.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from jaxtyping import ArrayLike

from ..errors import ModelError
from ..limits import MAX_THERAPY_ERROR

__all__ = ["therapy_with_error"]

TAG = 0x7E4A  # the therapy-error stream of a trial seed (any constant: it only separates it)


def therapy_with_error(
    basal: ArrayLike,
    carb_ratio: ArrayLike,
    correction_factor: ArrayLike,
    *,
    error: float,
    seed: int,
    patients: Sequence[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The settings ``(basal, carb_ratio, correction_factor)`` (one value per patient) with a
    log-normal error of standard deviation ``error`` on the log scale (module docstring),
    drawn for patient ``patients[i]`` from ``seed``."""
    arrays = [np.asarray(a, np.float64) for a in (basal, carb_ratio, correction_factor)]
    n = arrays[0].shape
    if any(a.shape != n or a.ndim != 1 for a in arrays) or len(patients) != n[0]:
        raise ModelError(
            "therapy_with_error() needs one basal rate, carb ratio, correction factor and "
            f"patient number per patient. Got shapes {[a.shape for a in arrays]} and "
            f"{len(patients)} patient numbers."
        )
    if not (math.isfinite(error) and 0.0 <= error <= MAX_THERAPY_ERROR):
        raise ModelError(
            f"The therapy error is the sd of the log of each setting, between 0 (the true "
            f"settings) and {MAX_THERAPY_ERROR:g}; 0.25-0.3 is the spread reported for "
            f"clinician-set parameters. Got {error!r}."
        )
    if len(set(patients)) != len(patients) or any(int(p) < 0 for p in patients):
        raise ModelError(
            f"therapy_with_error() needs distinct patient numbers >= 0. Got {list(patients)}."
        )
    if error == 0.0:
        return arrays[0], arrays[1], arrays[2]
    z = np.stack([
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(TAG, int(p))))
        .standard_normal(3)
        for p in patients
    ])  # fmt: skip
    factor = np.exp(error * z)  # (patients, 3)
    return arrays[0] * factor[:, 0], arrays[1] * factor[:, 1], arrays[2] * factor[:, 2]
