"""Parsing of command-line values (times of day, TIME=AMOUNT pairs) into regimen events, and
the one atomic CSV writer of the commands."""

from __future__ import annotations

import csv
import math
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import DataError

__all__ = ["parse_clock", "parse_timed_amount", "write_csv"]


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write ``header`` and ``rows`` to ``path`` atomically: a failure leaves no half-written
    file behind (floats with 10 significant digits)."""
    path = Path(path).expanduser()
    if not path.parent.is_dir():
        raise DataError(
            f"--out must name a file in an existing folder. Got {str(path)!r}; create "
            f"{str(path.parent)!r} first."
        )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(header))
            writer.writerows(
                [f"{v:.10g}" if isinstance(v, float) else v for v in row] for row in rows
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_clock(text: str, option: str) -> int:
    """Minutes after midnight of ``HH:MM`` (00:00-23:59)."""
    m = _CLOCK.match(text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise DataError(
            f"{option} expects a time of day HH:MM between 00:00 and 23:59. Got {text!r}."
        )
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_timed_amount(text: str, option: str, unit: str) -> tuple[int, float]:
    """``HH:MM=AMOUNT`` -> (minute of day, amount >= 0)."""
    example = f"{option} 07:00=45" if unit == "g" else f"{option} 07:00=4.5"
    if text.count("=") != 1:
        raise DataError(f"{option} expects HH:MM={unit.upper()} (e.g. {example}). Got {text!r}.")
    clock, amount_text = text.split("=")
    minute = parse_clock(clock, option)
    try:
        amount = float(amount_text)
    except ValueError:
        raise DataError(
            f"{option} expects a number of {unit} after '='. Got {amount_text!r} in {text!r}."
        ) from None
    if not math.isfinite(amount) or amount < 0:
        raise DataError(
            f"{option} expects a non-negative, finite amount of {unit}. Got {amount_text!r} "
            f"in {text!r}."
        )
    return minute, amount
