"""CSV formats of the twin's replay command.

CGM stream, ``time,glucose_mg_dl``: time in minutes from the start of the record; glucose a
number, empty or NaN for a gap, ``LO``/``HI`` for readings below/above the sensor's range.

Events, ``time,kind,amount``: kind ``meal`` (grams of carbohydrate), ``bolus`` (U of insulin)
or ``basal`` (U/h from then on).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..assimilate import Observations, observations
from ..errors import DataError
from ..simulate import Regimen, basal, bolus, meal

__all__ = ["read_cgm_csv", "read_events_csv"]

_EVENT_KINDS = {"meal": meal, "bolus": bolus, "basal": basal}


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
