"""CSV formats of the twin's replay command.

CGM stream, ``time,glucose_mg_dl``: time in minutes from the start of the record; glucose a
number, empty or NaN for a gap, ``LO``/``HI`` for readings below/above the sensor's range.

Events, ``time,kind,amount``: kind ``meal`` (grams of carbohydrate), ``bolus`` (U of insulin)
or ``basal`` (U/h from then on).

For a twin of any model: a stream ``time,<observable or LOINC code>,...`` and events
``time,kind,amount`` of the kinds the model declares (:func:`read_stream_csv`,
:func:`read_model_events_csv`).

Writing: :func:`write_csv` (a header and rows) and :func:`write_columns` (named columns) are the
one CSV writer of the commands and the data edge -- atomic, floats with a fixed number of
significant digits.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..assimilate import Observations, observations
from ..errors import DataError
from ..loop import event_kinds, regimen_event
from ..models._base import AbstractModel
from ..simulate import Dose, Regimen, SetRate, basal, bolus, meal

__all__ = [
    "read_cgm_csv",
    "read_events_csv",
    "read_model_events_csv",
    "read_stream_csv",
    "write_columns",
    "write_csv",
]

# The constructors convert and check their numbers (_number), the CSV's strings too.
_EVENT_KINDS: dict[str, Callable[..., Dose | SetRate]] = {
    "meal": meal,
    "bolus": bolus,
    "basal": basal,
}


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
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


def read_cgm_csv(path: Path) -> Observations:
    """The CGM readings of ``path`` as observations of ``sc_glucose``."""
    rows = _rows(path, ("time", "glucose_mg_dl"))
    times, values = [], []
    for line, row in enumerate(rows, start=2):
        try:
            times.append(float(row["time"]))
        except ValueError:
            raise DataError(
                f"{Path(path).name} line {line}: time must be minutes as a number. "
                f"Got {row['time']!r}."
            ) from None
        v = row["glucose_mg_dl"]
        values.append(v if v.upper() in ("LO", "HI") else (v or "nan"))
    try:
        return observations(times, values, "sc_glucose")
    except DataError as exc:
        raise DataError(f"{Path(path).name}: {exc}") from None


def read_events_csv(path: Path) -> Regimen:
    """The meals, boluses and basal rates of ``path`` as a regimen."""
    events = []
    for line, row in enumerate(_rows(path, ("time", "kind", "amount")), start=2):
        kind = row["kind"].lower()
        if kind not in _EVENT_KINDS:
            raise DataError(
                f"{Path(path).name} line {line}: kind must be meal, bolus or basal. "
                f"Got {row['kind']!r}."
            )
        try:
            events.append(_EVENT_KINDS[kind](row["time"], row["amount"]))
        except DataError as exc:
            raise DataError(f"{Path(path).name} line {line}: {exc}") from None
    return Regimen(tuple(events))


def read_stream_csv(path: Path, model: AbstractModel) -> Observations:
    """A recorded stream for a twin of ``model``: ``time`` (in the model's time unit) and one
    column per measured quantity, named by the observable (``sc_glucose``) or its LOINC code
    (``99504-3``); ``glucose_mg_dl`` is the CGM stream's ``sc_glucose``. A value is a number,
    empty or NaN for a gap, ``LO``/``HI`` for a reading below/above a sensor's range."""
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
    times, values, observed = [], [], []
    for line, row in enumerate(_rows(path, tuple(header)), start=2):
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
    try:
        return observations(times, values, observed)
    except DataError as exc:
        raise DataError(f"{path.name}: {exc}") from None


def read_model_events_csv(path: Path, model: AbstractModel) -> Regimen:
    """The events of ``path`` (``time,kind,amount``, time in the model's time unit) as the
    regimen of a twin of ``model``: each kind one the model declares (its ``events``)."""
    kinds = [k for k, _ in event_kinds(model)]
    events = []
    for line, row in enumerate(_rows(path, ("time", "kind", "amount")), start=2):
        kind = row["kind"].lower()
        if kind not in kinds:
            expected = " or ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds)
            expected = expected or "(none: the model takes no events)"
            raise DataError(
                f"{Path(path).name} line {line}: kind must be {expected}. Got {row['kind']!r}."
            )
        try:
            t, amount = float(row["time"]), float(row["amount"])
            ev = regimen_event(model, kind, t, amount)
        except (ValueError, DataError) as exc:
            raise DataError(
                f"{Path(path).name} line {line}: time and amount must be numbers ({exc})."
            ) from None
        if ev is not None:  # a declared kind always maps; kept for the type checker
            events.append(ev)
    return Regimen(tuple(events))


def write_csv(
    path: str | Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    digits: int = 10,
    option: str | None = None,
) -> Path:
    """Write ``header`` and ``rows`` to ``path`` atomically and return the path.

    The rows go to a temporary file (mode 0600) in the same folder, which then replaces
    ``path``: a failure leaves no half-written file behind. A float cell (Python or NumPy) is
    written with ``digits`` significant digits (``f"{v:.10g}"``), any other cell as the
    ``csv`` module writes it (``str()``, quoted where needed); lines end in CRLF (the module's
    default dialect). ``option`` names the command-line option that gave ``path`` (``"--out"``)
    for the error a missing folder raises."""
    path = Path(path).expanduser()
    if not path.parent.is_dir():
        what = f"{option} must name a file" if option else "A CSV file must be written"
        raise DataError(
            f"{what} in an existing folder. Got {str(path)!r}; create {str(path.parent)!r} first."
        )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(header))
            writer.writerows(
                [f"{v:.{digits}g}" if isinstance(v, float) else v for v in row] for row in rows
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_columns(
    path: str | Path,
    columns: Mapping[str, Sequence[Any]],
    *,
    digits: int = 10,
    option: str | None = None,
) -> Path:
    """Write named columns of equal length (lists or 1-d arrays; the keys are the header) to
    ``path`` with :func:`write_csv`: row ``i`` holds element ``i`` of every column."""
    cols = list(columns.values())
    n = len(cols[0]) if cols else 0
    if any(len(c) != n for c in cols):
        lengths = ", ".join(f"{k}: {len(c)}" for k, c in columns.items())
        raise DataError(f"CSV columns must have one length. Got {lengths}.")
    rows = ([c[i] for c in cols] for i in range(n))
    return write_csv(path, list(columns), rows, digits=digits, option=option)
