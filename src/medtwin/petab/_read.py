"""Reading a PEtab v1 problem (YAML and its TSV tables) into plain Python data.

The tables are read with the ``petab`` package's readers (pandas), and everything the
likelihood needs is copied out of the data frames here, so the rest of :mod:`medtwin.petab`
sees frozen dataclasses, tuples and NumPy arrays only (style rule 3). Reading checks what the
likelihood relies on and says what is wrong and where (a missing column, an unknown noise
distribution, a measurement that is not a number, ...); ``petab.v1.lint_problem`` remains the
full validator.

petab 0.8.2 (the newest release for Python 3.11) calls pandas APIs that pandas 3 deprecates;
those deprecation warnings are silenced while its readers run, and only then.

References
----------
PEtab v1 format specification
(https://petab.readthedocs.io/en/latest/v1/documentation_data_format.html): the YAML file,
the condition, measurement, observable and parameter tables.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError

try:
    import petab.v1 as _petab
    from petab.v1 import yaml as _petab_yaml
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError(
        "medtwin.petab needs the petab package, which is not installed. Install the petab "
        "extra: pip install 'medtwin[petab]'."
    ) from None

__all__ = ["Cell", "Measurement", "ObservableRow", "ParameterRow", "Tables", "read_problem"]

Cell = float | str
"""A table cell that is either a number or a parameter id."""


@dataclass(frozen=True)
class ParameterRow:
    """One row of the parameter table (bounds and nominal value in linear units)."""

    id: str
    scale: str
    lower: float
    upper: float
    nominal: float
    estimate: bool
    prior: str | None
    prior_args: tuple[float, float]


@dataclass(frozen=True)
class ObservableRow:
    """One row of the observable table (formulas as text)."""

    id: str
    formula: str
    noise: str | float
    transformation: str
    distribution: str


@dataclass(frozen=True)
class Measurement:
    """One row of the measurement table; ``preeq`` is ``""`` where there is no
    pre-equilibration; the overrides are the ``;``-separated cells, split."""

    observable: str
    preeq: str
    condition: str
    time: float
    value: float
    observable_parameters: tuple[Cell, ...]
    noise_parameters: tuple[Cell, ...]


@dataclass(frozen=True)
class Tables:
    """A PEtab problem as read: the SBML file and the four tables."""

    sbml: Path
    parameters: tuple[ParameterRow, ...]
    observables: tuple[ObservableRow, ...]
    conditions: dict[str, dict[str, Cell]]  # condition id -> column -> value (NaN: not set)
    measurements: tuple[Measurement, ...]


def _blank(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x == ""


def _cell(x: object) -> Cell:
    """A number, or a parameter id (text)."""
    if _blank(x):
        return math.nan
    if isinstance(x, int | float) and not isinstance(x, bool):
        return float(x)
    text = str(x).strip()
    try:
        return float(text)
    except ValueError:
        return text


def _split(x: object) -> tuple[Cell, ...]:
    if _blank(x):
        return ()
    if isinstance(x, int | float) and not isinstance(x, bool):
        return (float(x),)
    return tuple(_cell(p) for p in str(x).split(";"))


def _number(x: object, what: str) -> float:
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(f"The {what} must be a number. Got {x!r}. Fix the table.") from None


def _require(frame: Any, columns: tuple[str, ...], table: str) -> None:
    have = set(frame.columns) | {frame.index.name}
    missing = [c for c in columns if c not in have]
    if missing:
        raise DataError(
            f"The PEtab {table} table lacks the column(s) {', '.join(missing)}; PEtab v1 "
            f"requires {', '.join(columns)}. Add them."
        )


def _read_frames(yaml_path: Path) -> tuple[dict, Any, Any, Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        cfg = _petab_yaml.load_yaml(str(yaml_path))
        problems = cfg.get("problems") or []
        if len(problems) != 1:
            raise DataError(
                f"The PEtab file {str(yaml_path)!r} lists {len(problems)} problems; exactly one "
                "is expected. Split it into one YAML file per problem."
            )
        prob = problems[0]
        base = yaml_path.parent

        def files(key: str) -> list[Path]:
            return [base / f for f in prob.get(key) or []]

        def one_frame(key: str, reader: Any) -> Any:
            paths = files(key)
            if not paths:
                raise DataError(
                    f"The PEtab file {str(yaml_path)!r} names no {key}; at least one is expected."
                )
            return _petab.concat_tables([str(p) for p in paths], reader)

        param = _petab.get_parameter_df(str(base / cfg["parameter_file"]))
        cond = one_frame("condition_files", _petab.get_condition_df)
        obs = one_frame("observable_files", _petab.get_observable_df)
        meas = one_frame("measurement_files", _petab.get_measurement_df)
    sbml = files("sbml_files")
    if len(sbml) != 1:
        raise DataError(
            f"The PEtab file {str(yaml_path)!r} names {len(sbml)} SBML files; exactly one is "
            "expected."
        )
    return {"sbml": sbml[0]}, param, cond, obs, meas


def read_problem(yaml_path: str | os.PathLike[str]) -> Tables:
    """Read a PEtab v1 problem from its YAML file (paths in it relative to the file)."""
    path = Path(yaml_path)
    if not path.is_file():
        raise DataError(
            f"load_petab() needs the path of a PEtab problem's YAML file. Got {str(path)!r}, "
            "which is not an existing file."
        )
    where, param, cond, obs, meas = _read_frames(path)
    _require(param, ("parameterId", "parameterScale", "lowerBound", "upperBound",
                     "nominalValue", "estimate"), "parameter")  # fmt: skip
    _require(obs, ("observableId", "observableFormula", "noiseFormula"), "observable")
    _require(meas, ("observableId", "simulationConditionId", "measurement", "time"),
             "measurement")  # fmt: skip
    params = []
    for pid, row in param.iterrows():
        prior = row.get("objectivePriorType")
        args = _split(row.get("objectivePriorParameters"))
        if not _blank(prior) and (len(args) != 2 or any(isinstance(a, str) for a in args)):
            raise DataError(
                f"Parameter {pid!r} has objectivePriorType {prior!r} but objectivePriorParameters "
                f"{row.get('objectivePriorParameters')!r}; two numbers 'a;b' are expected."
            )
        params.append(ParameterRow(
            str(pid), "lin" if _blank(row["parameterScale"]) else str(row["parameterScale"]),
            _number(row["lowerBound"], f"lowerBound of parameter {pid!r}"),
            _number(row["upperBound"], f"upperBound of parameter {pid!r}"),
            _number(row["nominalValue"], f"nominalValue of parameter {pid!r}"),
            bool(int(_number(row["estimate"], f"estimate of parameter {pid!r}"))),
            None if _blank(prior) else str(prior),
            (float(args[0]), float(args[1])) if len(args) == 2 else (math.nan, math.nan),
        ))  # fmt: skip
    observables = []
    for oid, row in obs.iterrows():
        trans = row.get("observableTransformation")
        dist = row.get("noiseDistribution")
        noise = row["noiseFormula"]
        observables.append(ObservableRow(
            str(oid), str(row["observableFormula"]),
            float(noise) if isinstance(noise, int | float) else str(noise),
            "lin" if _blank(trans) else str(trans), "normal" if _blank(dist) else str(dist),
        ))  # fmt: skip
    conditions = {
        str(cid): {str(k): _cell(v) for k, v in row.items() if k != "conditionName"}
        for cid, row in cond.iterrows()
    }
    measurements = []
    for i, row in enumerate(meas.to_dict("records")):
        what = f"measurement table row {i + 1}"
        preeq = row.get("preequilibrationConditionId")
        measurements.append(Measurement(
            str(row["observableId"]), "" if _blank(preeq) else str(preeq),
            str(row["simulationConditionId"]), _number(row["time"], f"time of {what}"),
            _number(row["measurement"], f"measurement of {what}"),
            _split(row.get("observableParameters")), _split(row.get("noiseParameters")),
        ))  # fmt: skip
    return Tables(where["sbml"], tuple(params), tuple(observables), conditions,
                  tuple(measurements))  # fmt: skip
