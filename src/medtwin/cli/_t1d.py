"""Building a type-1 diabetes simulation from command-line options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from ..limits import SIMULATION_SPAN
from ._checks import event_amount, limit
from ._parse import parse_timed_amount

if TYPE_CHECKING:
    import jax

    from ..models._base import AbstractModel
    from ..simulate import Regimen

DAY = 1440


@dataclass(frozen=True)
class T1DSetup:
    model: AbstractModel
    params: jax.Array
    regimen: Regimen
    rates: np.ndarray  # (minutes, n_inputs) input rates the model receives
    label: str


def t1d_setup(
    model_name: str,
    patient: str,
    meals: list[str],
    boluses: list[str],
    basal_u_per_h: float | None,
    days: int,
) -> T1DSetup:
    """Model, parameters and daily-repeated regimen for ``medtwin simulate``. The options are
    checked first; the models load after (so a refused command line answers at once)."""
    if days < 1:
        raise DataError(f"--days must be a whole number >= 1. Got {days}.")
    limit(SIMULATION_SPAN, days, "--days", "d")  # before the regimen is laid out per minute
    meal_doses = [(t, event_amount("meal", g, "--meal"))
                  for t, g in (parse_timed_amount(m, "--meal", "g") for m in meals)]  # fmt: skip
    bolus_doses = [
        (t, event_amount("bolus", u, "--bolus"))
        for t, u in (parse_timed_amount(b, "--bolus", "U") for b in boluses)
    ]
    if basal_u_per_h is not None:
        if not basal_u_per_h >= 0:
            raise DataError(f"--basal expects a rate in U/h >= 0. Got {basal_u_per_h!r}.")
        event_amount("basal", basal_u_per_h, "--basal")

    from ..models import get_model
    from ..simulate import Regimen, applied_inputs, basal, bolus, meal

    model = get_model(model_name)
    if set(model.input_names) != {"carbs", "insulin"}:
        raise DataError(
            f"medtwin simulate runs the glucose models (t1d, bergman) with meals and boluses. "
            f"{model.name!r} takes the inputs {', '.join(model.input_names)} instead."
        )
    if model.name == "uva-padova":
        from ..data import load_virtual_patient

        params = load_virtual_patient(patient)
        label = f"{model.name} {patient}"
    else:
        params = model.default_params()
        label = model.name
    events = [meal(t, g) for t, g in meal_doses] + [bolus(t, u) for t, u in bolus_doses]
    daily = Regimen(tuple(events)).repeated(DAY, days)
    if basal_u_per_h is not None:
        daily = daily + Regimen((basal(0.0, basal_u_per_h),))
    compiled = daily.compile(model.input_names, 0.0, model.input_dt, days * DAY)
    rates = applied_inputs(compiled.override, compiled.dose_rate, model.baseline_inputs(params))
    return T1DSetup(model, params, daily, np.asarray(rates), label)


def plot_setup(
    path: Path,
    setup: T1DSetup,
    columns: dict[str, np.ndarray],
    days: int,
    basal_u_per_h: float | None,
) -> None:
    """The ``--plot`` of ``medtwin simulate``: the glucose columns written to the CSV (plasma
    ``bg_mg_dl`` and, where the model has it, the CGM's ``sc_glucose_mg_dl``) with the
    regimen's meals (g) and boluses (U); ``basal_u_per_h`` the ``--basal`` rate (U/h) or None (the
    patient's steady state)."""
    from ..simulate import Dose
    from ._plots import plot_simulation

    names = {"bg_mg_dl": "plasma glucose (BG)", "sc_glucose_mg_dl": "CGM (interstitial glucose)"}
    doses = [e for e in setup.regimen.events if isinstance(e, Dose)]
    plot_simulation(
        path,
        time_min=columns["time_min"],
        traces={label: columns[k] for k, label in names.items() if k in columns},
        meals=[(e.time, e.amount) for e in doses if e.label == "meal"],
        boluses=[(e.time, e.amount) for e in doses if e.label == "bolus"],
        basal_u_per_h=basal_u_per_h,
        title=f"medtwin simulate: {setup.label}, {days} day(s)",
    )
