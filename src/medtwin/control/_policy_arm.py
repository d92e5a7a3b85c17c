"""A closed-loop policy as an arm of an in-silico trial (:func:`medtwin.cohorts.run_trial`).

Units: min, mg/dL, g, U/h, U.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from ..errors import ModelError
from ..simulate import Trajectory
from ._aps import APS
from ._basal_bolus import BasalBolus
from ._closed_loop import ClosedLoop
from ._meals import random_meals
from ._mpc import MPC
from ._pid import PID

__all__ = ["PolicyArm"]


@dataclass(frozen=True)
class PolicyArm:
    """A closed-loop policy as an arm of :func:`medtwin.cohorts.run_trial`: each chunk's
    patients (UVA/Padova parameters; covariates ``carb_ratio`` and ``correction_factor``) run
    ``days`` in ``loop`` under ``policy(basal U/h, carb ratio, correction factor)``, the basal
    their steady-state basal (``model.steady_state_basal``), with random meals
    (:func:`random_meals`, ``carb_error``) and sensor noise from the chunk's seed, so every arm
    of the trial sees the same meals and noise (paired). Returns the runs as a trajectory
    (``bg`` every ``loop.every`` min) for the trial's endpoints."""

    name: str
    loop: ClosedLoop
    policy: Callable[[float, float, float], BasalBolus | PID | APS | MPC]
    days: int = 1
    carb_error: float = 0.1

    def run(self, population, seed: np.random.SeedSequence) -> Trajectory:
        model: Any = self.loop.model  # a glucose model: steady_state_basal(params) U/min
        truth = np.asarray(population.params, np.float64)
        try:
            cr = np.asarray(population.covariate("carb_ratio"), np.float64)
            cf = np.asarray(population.covariate("correction_factor"), np.float64)
            basal = np.array([model.steady_state_basal(p) for p in truth])  # U/min
        except (AttributeError, KeyError, ModelError) as exc:
            raise ModelError(
                f"PolicyArm {self.name!r} needs UVA/Padova patients with the covariates "
                f"carb_ratio and correction_factor (e.g. data.virtual_population()): {exc}"
            ) from None
        basal = basal * 60.0  # U/h
        state = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 2**20))
        s_meals, s_key = state.generate_state(2)
        meals = random_meals(len(truth), self.days, seed=int(s_meals), carb_error=self.carb_error)
        policies = [
            self.policy(float(b), float(c), float(f)) for b, c, f in zip(basal, cr, cf, strict=True)
        ]
        res = self.loop.run(policies, truth, meals, days=self.days, key=jax.random.key(int(s_key)))
        return res.trajectory()
