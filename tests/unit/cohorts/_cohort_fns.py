"""Module-level (picklable) chunk functions shared by the executor tests.

Worker processes (ProcessExecutor, Dask) import this module by name, so it must stay importable
from ``tests/unit/cohorts`` (pytest puts that folder on ``sys.path``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

import medtwin  # noqa: F401  (float64 on import)
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, meal, simulate

HORIZON = 360.0  # min: a 60 g lunch at 30 min with a 6 U bolus, followed for 6 h
SAVEAT = np.arange(0.0, HORIZON + 1.0, 5.0)
REGIMEN = Regimen((meal(30.0, 60.0), bolus(30.0, 6.0)))


def cohort_bg(rows: np.ndarray, seed: np.random.SeedSequence) -> np.ndarray:
    """Plasma glucose (mg/dL) of each parameter row every 5 min, plus CGM-like noise drawn from
    the chunk's seed (so a wrong or reordered seed shows up in the numbers)."""
    traj = simulate(UVAPadova(), rows, REGIMEN, t1=HORIZON, saveat=SAVEAT, save_states=False)
    bg = np.asarray(traj.observable("bg"))
    noise = np.random.default_rng(seed).normal(0.0, 5.0, size=bg.shape)
    return bg + noise


def mean_bg_of_scaled(rows: np.ndarray) -> np.ndarray:
    """Mean plasma glucose (mg/dL) over the horizon for adult#001 with the parameters in
    ``SOBOL_NAMES`` set to ``rows`` (``[n, len(SOBOL_NAMES)]``): a deterministic model output."""
    model = UVAPadova()
    base = np.asarray(model.default_params())
    full = np.tile(base, (rows.shape[0], 1))
    for j, name in enumerate(SOBOL_NAMES):
        full[:, model.param_index(name)] = rows[:, j]
    traj = simulate(model, full, REGIMEN, t1=HORIZON, saveat=SAVEAT, save_states=False)
    return np.asarray(traj.observable("bg")).mean(axis=1)


SOBOL_NAMES = ("Vmx", "kp1", "kabs", "ka2")


def die_once(chunk: tuple[float, str], seed: np.random.SeedSequence) -> float:
    """Returns ``value ** 2`` for ``chunk = (value, marker_dir)``, but the first time it sees a
    value it leaves a marker file and kills its own process (a worker dying mid-task)."""
    value, marker_dir = chunk
    marker = Path(marker_dir) / f"{value:g}.died"
    if value == 3.0 and not marker.exists():
        marker.write_text("x")
        os._exit(1)
    return value**2
