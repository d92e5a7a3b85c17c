"""Drive simglucose's own T1DPatient minute by minute (the external oracle of the UVA/Padova
model). simglucose 0.2.11 (MIT) is a dev dependency: without it the evidence item fails with
the install hint, and the dossier shows it failing."""

from __future__ import annotations

import logging
import warnings

import numpy as np

HINT = "pip install simglucose==0.2.11 setuptools<81"


def run_simglucose(
    name: str, meals: dict[int, float], boluses: dict[int, float], minutes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Plasma glucose (mg/dL) and subcutaneous glucose at minutes 0..minutes of patient ``name``.

    ``meals`` maps the minute a meal is announced to grams (simglucose eats at 5 g/min);
    ``boluses`` maps a minute to units delivered within it, on top of the steady-state basal.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from simglucose.patient.t1dpatient import (  # type: ignore[import-untyped]
                Action,
                T1DPatient,
            )
    except ImportError as exc:
        raise ImportError(f"The simglucose oracle needs simglucose: {HINT}") from exc
    logging.getLogger("simglucose").setLevel(logging.WARNING)
    patient = T1DPatient.withName(name)
    vg = float(patient._params.Vg)
    basal = float(patient._params.u2ss * patient._params.BW / 6000.0)
    bg = np.empty(minutes + 1)
    sc = np.empty(minutes + 1)
    for k in range(minutes + 1):
        bg[k] = patient.state[3] / vg
        sc[k] = patient.observation.Gsub
        if k == minutes:
            break
        action = Action(CHO=meals.get(k, 0.0), insulin=basal + boluses.get(k, 0.0))
        patient.step(action)
    return bg, sc
