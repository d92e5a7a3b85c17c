"""CSV formats of the twin's replay command.

CGM stream, ``time,glucose_mg_dl``: time in minutes from the start of the record; glucose a
number, empty or NaN for a gap, ``LO``/``HI`` for readings below/above the sensor's range.
:func:`read_cgm_csv` also reads Dexcom Clarity and LibreView CSV exports and Nightscout entries
JSON (:mod:`medtwin.data.cgm_formats`: the format detected from the content).

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

import numpy as np

from ..assimilate import Observations, observations
from ..errors import DataError
from ..loop import regimen_event
from ..models._base import AbstractModel
from ..simulate import Dose, Regimen, SetRate, basal, bolus, meal
from ._csvrows import event_rows, rows, stream_rows
from .cgm_formats import CgmFile, cgm_format, read_cgm

__all__ = [
    "cgm_observations",
    "cgm_regimen",
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


def read_cgm_csv(path: Path, *, tz: str | None = None) -> Observations:
    """The CGM readings of ``path`` as observations of ``sc_glucose``: a plain CSV
    (``time,glucose_mg_dl``), a Dexcom Clarity or LibreView CSV export or Nightscout entries
    JSON, detected from the content (:func:`medtwin.data.cgm_formats.read_cgm`; ``tz``: the
    zone of the exports' local times). Times are minutes on the file's axis. A plain CSV's
    values go through :func:`~medtwin.assimilate.observations` as written."""
    if cgm_format(path) != "plain":
        return cgm_observations(read_cgm(path, tz=tz))
    times, values = [], []
    for line, row in enumerate(rows(path, ("time", "glucose_mg_dl")), start=2):
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


def cgm_observations(cgm: CgmFile) -> Observations:
    """The readings of a CGM file as observations of ``sc_glucose`` (LO/HI censored at the
    device's limits), at its minutes."""
    return Observations(np.asarray(cgm.times, dtype=np.float64), ("sc_glucose",) * len(cgm),
                        np.asarray(cgm.values, dtype=np.float64),
                        np.asarray(cgm.censored, dtype=np.int8))  # fmt: skip


def cgm_regimen(cgm: CgmFile) -> Regimen:
    """The boluses (U) and meals (g) a CGM file carries, as a regimen at its minutes."""
    return Regimen(tuple(_EVENT_KINDS[e.kind](e.time, e.amount) for e in cgm.events))


def read_events_csv(path: Path) -> Regimen:
    """The meals, boluses and basal rates of ``path`` as a regimen."""
    events = []
    for line, row in enumerate(rows(path, ("time", "kind", "amount")), start=2):
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
    times, values, observed = stream_rows(path, model)
    try:
        return observations(times, values, observed)
    except DataError as exc:
        raise DataError(f"{Path(path).name}: {exc}") from None


def read_model_events_csv(path: Path, model: AbstractModel) -> Regimen:
    """The events of ``path`` (``time,kind,amount``, time in the model's time unit) as the
    regimen of a twin of ``model``: each kind one the model declares (its ``events``)."""
    events = []
    for line, kind, t, amount in event_rows(path, model):
        try:
            ev = regimen_event(model, kind, t, amount)
        except DataError as exc:
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
