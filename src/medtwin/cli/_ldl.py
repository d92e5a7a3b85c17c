"""The LDL-cholesterol twin on the command line: ``medtwin simulate ldl`` (a person's LDL-C
over years under statins and ezetimibe) and the LDL part of ``medtwin recommend PATIENT
--target-ldl 100`` (or ``--risk high``): the least therapy and the re-check interval that keep
the twin's predicted LDL-C below the target (:func:`medtwin.control.recommend_lipid_therapy`).

Every number is checked against the model's declaration before JAX loads.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.table import Table

from ..data.units import CHOLESTEROL_MG_DL_PER_MMOL_L
from ..errors import DataError
from ..models import declaration
from ..models.lipids._declarations import DOSE_RANGE, DRUGS, ESC_EAS_2019_TARGETS
from ._checks import output_file

__all__ = ["check_target", "ldl_ranking", "parse_drug", "simulate_ldl"]

MODEL = "ldl"
MAX_YEARS = 80.0  # a lifetime: 29,220 daily steps, about a second
DAYS_PER_YEAR = 365.25
TARGET_RANGE = (10.0, 400.0)  # mg/dL


def _number(text: str, what: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise DataError(f"{what} must be a number. Got {text!r}.") from None
    if not math.isfinite(x):
        raise DataError(f"{what} must be a finite number. Got {text!r}.")
    return x


def parse_drug(text: str) -> tuple[str, float, float]:
    """``DRUG=MG[@DAY]`` -> (drug, daily dose in mg, start day; 0 if not given). A dose of 0
    stops the drug from that day on."""
    example = "--drug atorvastatin=20@0 (20 mg a day from day 0; =0@730 stops it on day 730)"
    if text.count("=") != 1:
        raise DataError(f"--drug expects DRUG=MG[@DAY], e.g. {example}. Got {text!r}.")
    drug, rest = (s.strip() for s in text.split("="))
    if drug not in DRUGS:
        raise DataError(f"--drug: unknown drug {drug!r}. Expected one of: {', '.join(DRUGS)}.")
    dose_text, _, day_text = rest.partition("@")
    dose = _number(dose_text, f"--drug {drug}: the daily dose (mg)")
    lo, hi = DOSE_RANGE[drug]
    if not lo <= dose <= hi:
        raise DataError(f"--drug {drug}: a daily dose of {dose:g} mg lies outside [{lo:g}, "
                        f"{hi:g}] mg/d.")  # fmt: skip
    day = _number(day_text, f"--drug {drug}: the start day") if day_text else 0.0
    return drug, dose, day


def _in_bounds(name: str, value: float, option: str) -> float:
    spec = declaration(MODEL).parameters[declaration(MODEL).param_index(name)]
    lo, hi = spec.bounds
    if not (math.isfinite(value) and lo <= value <= hi):
        raise DataError(f"{option} must lie in [{lo:g}, {hi:g}] {spec.unit} ({spec.description}). "
                        f"Got {value!r}.")  # fmt: skip
    return value


def simulate_ldl(
    ldl0: float,
    slope: float,
    resp: float,
    drugs: list[str],
    years: float,
    out: Path | None,
    *,
    overwrite: bool = False,
) -> str:
    """Simulate one person (untreated LDL-C ``ldl0`` mg/dL rising ``slope`` mg/dL a year,
    response scale ``resp``) under ``drugs`` (``DRUG=MG[@DAY]``) for ``years``; write one row
    per day to ``out`` (CSV) or return a summary table as text."""
    _in_bounds("LDL0", ldl0, "--ldl0")
    _in_bounds("slope", slope, "--slope")
    _in_bounds("resp", resp, "--resp")
    if not (math.isfinite(years) and 0 < years <= MAX_YEARS):
        raise DataError(f"--years must lie in (0, {MAX_YEARS:g}] yr. Got {years!r}.")
    n_days = max(1, round(years * DAYS_PER_YEAR))
    parsed = [parse_drug(d) for d in drugs]
    for drug, _, day in parsed:
        if not 0 <= day < n_days:
            raise DataError(f"--drug {drug}: the start day must lie in [0, {n_days}) (the "
                            f"simulated {years:g} years). Got {day:g}.")  # fmt: skip
    out = output_file(out, overwrite=overwrite)
    from ..models import get_model
    from ..simulate import Regimen, SetRate, simulate

    model = get_model(MODEL)
    params = model.make_params(LDL0=ldl0, slope=slope, resp=resp)
    regimen = Regimen(tuple(SetRate(day, drug, dose) for drug, dose, day in parsed))
    days = np.arange(0.0, n_days + 1)
    traj = simulate(model, params, regimen, t1=float(n_days), saveat=days)
    if int(traj.status) != 0:
        raise DataError(f"The simulation failed (status {int(traj.status)}).")
    ldl = np.asarray(traj.observable("ldl"))
    total = np.asarray(traj.observable("total_cholesterol"))
    compiled = regimen.compile(model.input_names, 0.0, model.input_dt, len(days))
    doses = np.nan_to_num(compiled.override, nan=0.0)
    if out is not None:
        from ..data.csvio import write_csv

        header = ["day", "ldl_mg_dl", "ldl_mmol_l", "total_cholesterol_mg_dl",
                  *(f"{d}_mg_per_day" for d in DRUGS)]  # fmt: skip
        rows = (
            [float(t), float(a), float(a) / CHOLESTEROL_MG_DL_PER_MMOL_L, float(b), *map(float, r)]
            for t, a, b, r in zip(days, ldl, total, doses, strict=True)
        )
        write_csv(out, header, rows, option="--out")
        return f"Wrote {len(days)} rows to {out}"
    marks = sorted({*(min(round(y * DAYS_PER_YEAR), n_days) for y in range(int(years) + 1)),
                    n_days})  # fmt: skip
    lines = [f"LDL-C of a person with untreated {ldl0:g} mg/dL (+{slope:g} mg/dL a year), "
             f"response scale {resp:g}:", "  year   LDL-C mg/dL (mmol/L)   drugs"]  # fmt: skip
    for k in marks:
        on = ", ".join(f"{d} {v:g} mg" for d, v in zip(DRUGS, doses[k], strict=True) if v > 0)
        mmol = ldl[k] / CHOLESTEROL_MG_DL_PER_MMOL_L
        lines.append(f"  {k / DAYS_PER_YEAR:5.1f}  {ldl[k]:7.1f} ({mmol:4.2f})        "
                     f"{on or 'none'}")  # fmt: skip
    return "\n".join(lines)


def check_target(target: float | None, risk: str | None) -> float | None:
    """The LDL-C target (mg/dL) of ``--target-ldl`` or ``--risk``, checked without JAX; None
    if neither is given (the twin is then not asked for a lipid recommendation)."""
    if target is not None and risk is not None:
        raise DataError("Give --target-ldl or --risk, not both.")
    if risk is not None:
        if risk not in ESC_EAS_2019_TARGETS:
            raise DataError(f"--risk: unknown ESC/EAS 2019 risk category {risk!r}. Expected "
                            f"one of: {', '.join(ESC_EAS_2019_TARGETS)}.")  # fmt: skip
        return ESC_EAS_2019_TARGETS[risk]
    if target is None:
        return None
    lo, hi = TARGET_RANGE
    if not (math.isfinite(target) and lo <= target <= hi):
        raise DataError(f"--target-ldl must lie in [{lo:g}, {hi:g}] mg/dL. Got {target!r}.")
    return float(target)


def ldl_ranking(twin, target: float | None) -> tuple[Table, str, tuple[str, ...]]:
    """The recommendation table of an LDL twin: every therapy of the ladder with its median
    LDL-C in a year (95 % band) and its probability of LDL-C above ``target`` at the checks of
    each interval; the chosen one first. Returns (table, the choice in words, legend)."""
    from ..control import recommend_lipid_therapy

    if target is None:
        raise DataError("An LDL twin needs a target: --target-ldl MG_DL or --risk CATEGORY "
                        f"({', '.join(ESC_EAS_2019_TARGETS)}).")  # fmt: skip
    ens = twin.ensemble
    rec = recommend_lipid_therapy(twin.model, ens.params, ens.states, ens.weights, twin.time,
                                  target=target, history=twin.regimen)  # fmt: skip
    months = [f"P(>{target:g}) every {t / (DAYS_PER_YEAR / 12):.0f} mo" for t in rec.intervals]
    table = Table("rank", "therapy", "LDL-C in 1 yr mg/dL (95 %)", *months)
    chosen = rec.therapies.index(rec.therapy)
    order = [chosen, *(i for i in range(len(rec.therapies)) if i != chosen)]
    year = int(np.argmin(np.abs(rec.times - (twin.time + DAYS_PER_YEAR))))
    for r, i in enumerate(order[:12], 1):
        lo, mid, hi = rec.cone[i, 0, year], rec.cone[i, 2, year], rec.cone[i, 4, year]
        table.add_row(str(r), rec.therapies[i].name, f"{mid:.0f} ({lo:.0f}-{hi:.0f})",
                      *(f"{p:.1%}" for p in rec.p[i]))  # fmt: skip
    legend = (
        f"The least therapy of the ladder (no drug, monotherapies, then statin + ezetimibe) "
        f"and the longest re-check interval with P(LDL-C > {target:g} mg/dL at a scheduled "
        f"check over two years) <= {rec.max_prob:.0%}, over the twin's {ens.size} particles.",
        "LDL-C: the person's level (what a lab value scatters around by about 10 %).",
    )
    return table, rec.summary(), legend
