"""Parsing of command-line values (times of day, TIME=AMOUNT pairs) into regimen events."""

from __future__ import annotations

import math
import re

from ..errors import DataError

__all__ = ["parse_clock", "parse_timed_amount"]


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
