"""The rows of the twin's CSV files, read against a model's declaration without loading JAX.

:mod:`medtwin.data.csvio` builds observations and regimens from these rows; the command line
reads them first, to check a file's header, times and amounts before any model loads.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError
from ..models._spec import Declaration

if TYPE_CHECKING:
    from ..models._base import AbstractModel

__all__ = ["event_rows", "rows", "stream_rows"]


def rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a CSV whose header starts with ``columns``, each cell stripped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No such file: {str(path)!r}. Expected a CSV with {', '.join(columns)}.")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = tuple(c.strip() for c in (reader.fieldnames or ()))
        if header[: len(columns)] != columns:
            raise DataError(
                f"{path.name}: expected the header {','.join(columns)}. Got "
                f"{','.join(header) or '(empty file)'}."
            )
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]


def stream_rows(
    path: Path, model: Declaration | AbstractModel
) -> tuple[list[float], list[str], list[str]]:
    """(times, values, observables) of a recorded stream for a twin of ``model``: ``time`` (in
    the model's time unit) and one column per measured quantity, named by the observable
    (``sc_glucose``) or its LOINC code (``99504-3``); ``glucose_mg_dl`` is the CGM stream's
    ``sc_glucose``. A value stays text: a number, ``nan`` for a gap (empty), ``LO``/``HI``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No such file: {str(path)!r}. Expected a CSV with a time column.")
    with path.open(newline="") as fh:
        header = [c.strip() for c in next(csv.reader(fh), [])]
    if header[:1] != ["time"] or len(header) < 2:
        raise DataError(
            f"{path.name}: expected the header time,<observable or LOINC code>,... . Got "
            f"{','.join(header) or '(empty file)'}."
        )
    names = {}
    for col in header[1:]:
        name = "sc_glucose" if col == "glucose_mg_dl" else col
        name = model.observable_for_code(name) or name
        if name not in model.observable_names:
            known = ", ".join(
                f"{o.name}" + (f" (LOINC {o.loinc})" if o.loinc else "") for o in model.observables
            )
            raise DataError(
                f"{path.name}: column {col!r} is no observable of {model.name!r}. Expected one "
                f"of: {known}."
            )
        names[col] = name
    times: list[float] = []
    values: list[str] = []
    observed: list[str] = []
    for line, row in enumerate(rows(path, tuple(header)), start=2):
        try:
            t = float(row["time"])
        except ValueError:
            raise DataError(
                f"{path.name} line {line}: time must be a number ({model.time_unit}). "
                f"Got {row['time']!r}."
            ) from None
        for col, name in names.items():
            v = row.get(col, "")
            if v == "" and len(names) > 1:
                continue  # a wide file: this quantity was not measured at this time
            times.append(t)
            values.append(v if v.upper() in ("LO", "HI") else (v or "nan"))
            observed.append(name)
    return times, values, observed


def event_rows(
    path: Path, model: Declaration | AbstractModel
) -> list[tuple[int, str, float, float]]:
    """(line, kind, time, amount) of each event of ``path`` (``time,kind,amount``, time in the
    model's time unit, the amount in the kind's declared unit), each kind one ``model`` takes."""
    kinds = [k for k, _ in model.event_kinds()]
    out = []
    for line, row in enumerate(rows(path, ("time", "kind", "amount")), start=2):
        kind = row["kind"].lower()
        if kind not in kinds:
            expected = " or ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds)
            expected = expected or "(none: the model takes no events)"
            raise DataError(
                f"{Path(path).name} line {line}: kind must be {expected}. Got {row['kind']!r}."
            )
        try:
            out.append((line, kind, float(row["time"]), float(row["amount"])))
        except ValueError as exc:
            raise DataError(
                f"{Path(path).name} line {line}: time and amount must be numbers ({exc})."
            ) from None
    return out
