"""Shared patients of the closed-loop tests."""

from dataclasses import dataclass

import numpy as np
import pytest

from medtwin.control import BasalBolus
from medtwin.data import load_virtual_patients, therapy_settings
from medtwin.models import UVAPadova


@dataclass(frozen=True)
class Overdosed:
    """adult#001 (``name``, parameters ``truth`` (1, n)) at its true basal with a carb ratio a
    third of simglucose's: every meal bolus three times too large (``therapy``)."""

    model: UVAPadova
    name: str
    truth: np.ndarray
    therapy: BasalBolus


@pytest.fixture(scope="module")
def overdosed() -> Overdosed:
    model = UVAPadova()
    name = "adult#001"
    truth = np.asarray(load_virtual_patients([name]))
    basal = float(truth[0, model.param_index("u2ss")] * truth[0, model.param_index("BW")] / 100)
    ts = therapy_settings(name)
    bb = BasalBolus(basal, ts.carb_ratio / 3, ts.correction_factor, correct_between_meals=False)
    return Overdosed(model, name, truth, bb)
