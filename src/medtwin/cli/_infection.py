"""``medtwin simulate pneumonia`` (and any registered model that takes an ``antibiotic``
event: ``pneumonia-sepsis``, ``sepsis``): an infection from an inoculum, under a bactericidal
antibiotic switched on and off at given hours.

``--inoculum`` sets the model's inoculum parameter (``P0``; a composed model's first part's,
``lung.P0``) in its declared unit and within its declared bounds; ``--antibiotic H=RATE`` sets
the antibiotic kill rate (1/h, the ``antibiotic`` event of the model's declaration) from hour
``H`` on (``RATE`` 0 stops it). ``--out`` writes every observable every 0.1 h with the
antibiotic rate; ``--plot`` draws them. Everything is checked against the declaration before
JAX loads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, MedtwinError
from ..models import declaration
from ..models._spec import Declaration
from ._checks import event_amount

__all__ = ["ROW_EVERY", "infection_declaration", "parse_antibiotic", "simulate_infection"]

KIND = "antibiotic"  # the event kind (EventSpec) an infection model takes
ROW_EVERY = 0.1  # h between the rows of --out
MAX_HOURS = 24.0 * 28  # four weeks: an ICU stay's course, 6,720 rows


def infection_declaration(name: str) -> Declaration | None:
    """The declaration of ``name`` if it is a registered model that takes an antibiotic event
    in hours (what ``simulate`` runs as an infection), else None."""
    try:
        decl = declaration(name)
    except MedtwinError:
        return None
    takes = any(kind == KIND for kind, _ in decl.event_kinds())
    return decl if takes and decl.time_unit == "h" and _inoculum(decl) is not None else None


def _inoculum(decl: Declaration) -> str | None:
    """The inoculum parameter: ``P0``, or the first ``<part>.P0`` of a composed model."""
    names = [p.name for p in decl.parameters]
    return "P0" if "P0" in names else next((n for n in names if n.endswith(".P0")), None)


def parse_antibiotic(text: str) -> tuple[float, float]:
    """``H=RATE`` -> (hour >= 0, kill rate in 1/h within the range the API accepts)."""
    example = "--antibiotic 12=0.5 (0.5/h from hour 12; 36=0 stops it at hour 36)"
    m = re.fullmatch(r"\s*([^=]+?)\s*=\s*([^=]+?)\s*", text)
    if m is None:
        raise DataError(f"--antibiotic expects HOUR=RATE, e.g. {example}. Got {text!r}.")
    try:
        hour, rate = float(m.group(1)), float(m.group(2))
    except ValueError:
        raise DataError(
            f"--antibiotic expects two numbers, HOUR=RATE (rate in 1/h), e.g. {example}. "
            f"Got {text!r}."
        ) from None
    if not (math.isfinite(hour) and hour >= 0):
        raise DataError(f"--antibiotic: the hour must be a finite number >= 0. Got {text!r}.")
    if not (math.isfinite(rate) and rate >= 0):
        raise DataError(
            f"--antibiotic: the kill rate must be a finite number >= 0 (1/h; 0 stops the "
            f"antibiotic). Got {text!r}."
        )
    return hour, event_amount(KIND, rate, f"--antibiotic {text}")


@dataclass(frozen=True)
class Course:
    """A simulated course: times (h), each observable's values, the antibiotic rate (1/h)."""

    times: np.ndarray
    observables: dict[str, np.ndarray]
    antibiotic: np.ndarray
    inoculum: tuple[str, float, str]  # parameter, value, unit
    threshold: float | None  # Smith 2011's macrophage clearance threshold, CFU/mL


def simulate_infection(
    decl: Declaration,
    inoculum: float | None,
    antibiotics: list[str],
    hours: float,
) -> Course:
    """Run ``decl``'s model from ``inoculum`` (default: the declared one) under the
    ``antibiotics`` (``H=RATE``) for ``hours``; every option is checked before JAX loads."""
    name = _inoculum(decl)
    assert name is not None  # infection_declaration chose the model
    spec = decl.parameters[decl.param_index(name)]
    if inoculum is not None:
        lo, hi = spec.bounds
        if not (math.isfinite(inoculum) and lo <= inoculum <= hi):
            raise DataError(
                f"--inoculum must lie in [{lo:g}, {hi:g}] {spec.unit} ({name}: "
                f"{spec.description}). Got {inoculum!r}."
            )
    if not (math.isfinite(hours) and 0 < hours <= MAX_HOURS):
        raise DataError(f"--hours must lie in (0, {MAX_HOURS:g}] h. Got {hours!r}.")
    events = sorted(parse_antibiotic(a) for a in antibiotics)
    late = [f"{h:g}" for h, _ in events if h >= hours]
    if late:
        raise DataError(
            f"--antibiotic at hour {', '.join(late)} lies at or after the end of the run "
            f"(--hours {hours:g}). Give an hour in [0, {hours:g})."
        )

    from ..loop import regimen_event
    from ..models import get_model
    from ..simulate import Regimen, simulate

    model = get_model(decl.name)
    value = spec.default if inoculum is None else float(inoculum)
    params = model.make_params(**{name: value})
    regimen = Regimen(tuple(e for h, r in events if (e := regimen_event(model, KIND, h, r))))
    n = round(hours / ROW_EVERY)
    times = np.linspace(0.0, n * ROW_EVERY, n + 1)
    traj = simulate(model, params, regimen, t1=float(times[-1]), saveat=times)
    if int(traj.status) != 0:
        raise DataError(
            f"The simulation of {decl.name} failed (status {int(traj.status)}); try a smaller "
            "inoculum or a shorter run."
        )
    rate = np.zeros_like(times)
    for h, r in events:  # the rate in force at each row: the last event at or before it
        rate[times >= h - 1e-9] = r
    threshold = None
    if decl.name == "smith2011":
        from ..models.infection.smith2011 import am_threshold

        threshold = float(am_threshold(np.asarray(params)))
    return Course(
        times=times,
        observables={o: np.asarray(traj.observable(o)) for o in decl.observable_names},
        antibiotic=rate,
        inoculum=(name, value, spec.unit),
        threshold=threshold,
    )


def column(name: str, unit: str) -> str:
    """``lung.log10_pathogen`` in ``log10 CFU/mL`` -> ``lung_log10_pathogen_log10_cfu_ml``."""
    text = f"{name}_{unit}".lower().replace("10*3", "1e3").replace("*", "")
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def course_columns(decl: Declaration, course: Course) -> dict[str, np.ndarray]:
    """The CSV columns of ``course``: time_h, each observable with its unit, the antibiotic."""
    cols = {"time_h": course.times}
    for spec in decl.observables:
        cols[column(spec.name, spec.unit)] = course.observables[spec.name]
    cols["antibiotic_per_h"] = course.antibiotic
    return cols


def summary(decl: Declaration, course: Course) -> str:
    """A few lines: the inoculum (against the clearance threshold where the model has one),
    each observable at the start, its peak and at the end, the antibiotic's course."""
    name, value, unit = course.inoculum
    lines = [f"{decl.name}: {decl.title}", f"  inoculum {name} = {value:.4g} {unit}"]
    if course.threshold is not None:
        side = "above" if value > course.threshold else "below"
        lines[-1] += (
            f", {side} the alveolar macrophages' clearance threshold "
            f"{course.threshold:.4g} {unit} (closed form, Smith 2011)"
        )
    lines.append(f"  {'observable':34s} {'t = 0':>11s} {'peak':>11s} {'at':>7s} {'end':>11s}")
    for spec in decl.observables:
        y = course.observables[spec.name]
        k = int(np.nanargmax(y))
        lines.append(
            f"  {spec.name + ' [' + spec.unit + ']':34s} {y[0]:11.4g} {y[k]:11.4g} "
            f"{course.times[k]:6.1f}h {y[-1]:11.4g}"
        )
    on = [(t, r) for t, r in zip(course.times, course.antibiotic, strict=True)]
    changes = [f"{r:g}/h from {t:g} h" for i, (t, r) in enumerate(on)
               if (i == 0 and r > 0) or (i > 0 and r != on[i - 1][1])]  # fmt: skip
    lines.append(f"  antibiotic: {', '.join(changes) if changes else 'none'}")
    lines.append(f"  {course.times[-1]:g} h simulated")
    return "\n".join(lines)


def write_outputs(
    decl: Declaration, course: Course, out: Path | None, plot: Path | None, write_csv
) -> list[str]:
    """Write the CSV (``write_csv(path, columns)``) and the PNG; the lines to print."""
    said = []
    if out is not None:
        write_csv(out, course_columns(decl, course))
        said.append(f"Wrote {len(course.times)} rows to {out}")
    if plot is not None:
        from ._plots import plot_course

        name, value, unit = course.inoculum
        plot_course(
            plot,
            hours=course.times,
            traces={f"{s.name} [{s.unit}]": course.observables[s.name] for s in decl.observables},
            antibiotic=course.antibiotic,
            title=f"medtwin simulate {decl.name}: inoculum {name} {value:.3g} {unit}",
        )
        said.append(f"Wrote the plot to {plot}")
    return said
