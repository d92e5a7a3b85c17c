"""The rows of each CGM file format, read into one shape (:class:`Parsed`) for
:mod:`medtwin.data.cgm_formats`, which detects the format, cleans the rows (duplicates, order,
sensor warm-up) and puts them on the twin's time axis.

Every parser keeps glucose readings in mg/dL (converted once, through the curated LOINC table
of :mod:`medtwin.data.units`), a censoring flag (-1 below the device's range, +1 above it, the
value then being the limit) and, where the file tells it, the sensor the reading came from.
Rows that are no glucose reading of the sensor's own series are counted by reason, never
silently lost. The layouts, their sources and the rules are in the docstring of
:mod:`medtwin.data.cgm_formats`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from ..errors import DataError
from .units import CURATED

__all__ = ["LIMITS", "Clock", "Parsed", "clarity", "libreview", "nightscout", "plain"]

# The devices' reporting ranges in mg/dL: outside them the device shows Low/High (LO/HI).
# Dexcom G6/G7: 40-400 mg/dL (Dexcom G6 and G7 user guides); FreeStyle Libre 14 day, 2 and 3:
# 40-500 mg/dL (FreeStyle Libre user's manuals). The plain CSV takes the Dexcom range, as
# medtwin.assimilate.observations() does.
LIMITS = {
    "plain": (40.0, 400.0),
    "dexcom-clarity": (40.0, 400.0),
    "libreview": (40.0, 500.0),
    "nightscout": (40.0, 400.0),
}
NIGHTSCOUT_LOW = 39  # sgv the Dexcom uploaders send for a reading below 40 mg/dL ("LOW")

Time = datetime | float  # a wall-clock instant (UTC) or, in the plain CSV, minutes


@dataclass
class Parsed:
    """What a parser read: ``readings`` (time, mg/dL, censored, sensor id or None) and
    ``events`` (time, kind, amount) in file order, ``skipped`` rows by reason, ``notes``."""

    readings: list[tuple[Time, float, int, str | None]] = field(default_factory=list)
    events: list[tuple[Time, str, float]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


class Clock:
    """Local wall-clock times of one file -> UTC, in the zone ``zone``. A local time that a
    daylight-saving change repeats (the hour after clocks go back) is read as its first
    occurrence until the file's times go backwards inside that hour: from then on, as the
    second (the file being in time order, as the exports are)."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._last: datetime | None = None  # the last repeated local time seen
        self._second = False

    def utc(self, local: datetime) -> datetime:
        first = local.replace(tzinfo=self.zone, fold=0)
        second = local.replace(tzinfo=self.zone, fold=1)
        off0, off1 = first.utcoffset(), second.utcoffset()
        if off0 is None or off1 is None or off0 <= off1:  # not a repeated hour
            self._last, self._second = None, False
            return first.astimezone(UTC)
        if self._last is not None and local < self._last:
            self._second = True
        self._last = local
        return (second if self._second else first).astimezone(UTC)


def _to_mg_dl(unit: str) -> tuple[str, float]:
    """The UCUM code and the factor of a glucose unit as the LOINC table converts it."""
    match = CURATED["99504-3"].match_unit(None, unit)
    if match is None:  # the callers pass the units the layouts name; kept for the reader
        raise DataError(f"Glucose in {unit!r} cannot be converted; expected mg/dL or mmol/L.")
    code, conv = match
    return code, conv.factor


def _number(text: str, what: str, where: str) -> float:
    try:
        x = float(text.replace(",", ".") if text.count(",") == 1 and "." not in text else text)
    except ValueError:
        raise DataError(f"{where}: {what} must be a number. Got {text!r}.") from None
    if not math.isfinite(x) or x < 0:
        raise DataError(f"{where}: {what} must be a finite number >= 0. Got {text!r}.")
    return x


def _glucose(text: str, factor: float, limits: tuple[float, float], where: str):
    """(mg/dL, censored) of a glucose cell, or None when it is empty."""
    t = text.strip()
    if not t:
        return None
    if t.upper() in ("LO", "LOW"):
        return limits[0], -1
    if t.upper() in ("HI", "HIGH"):
        return limits[1], 1
    return _number(t, "the glucose value (or Low/High)", where) * factor, 0


def plain(text: str, name: str) -> Parsed:
    """``time,glucose_mg_dl``: minutes from the start of the record; a number, empty/NaN for a
    gap (kept as NaN: the filter reports it), ``LO``/``HI`` censored at 40/400 mg/dL."""
    out = Parsed()
    reader = csv.reader(text.splitlines())
    header = tuple(c.strip() for c in next(reader, []))
    if header[:2] != ("time", "glucose_mg_dl"):
        raise DataError(
            f"{name}: expected the header time,glucose_mg_dl. Got {','.join(header)}. Write the "
            "plain CGM CSV as time (minutes),glucose_mg_dl."
        )
    for line, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        cells = [c.strip() for c in row] + ["", ""]
        try:
            t = float(cells[0])
        except ValueError:
            raise DataError(
                f"{name} line {line}: time must be minutes as a number. Got {cells[0]!r}."
            ) from None
        v = cells[1]
        if v.upper() in ("LO", "LOW", "HI", "HIGH"):
            lo = v.upper().startswith("LO")
            out.readings.append((t, LIMITS["plain"][0 if lo else 1], -1 if lo else 1, None))
            continue
        try:  # as written: the filter drops NaN and non-finite values with its reasons
            out.readings.append((t, float(v) if v else math.nan, 0, None))
        except ValueError:
            raise DataError(
                f"{name} line {line}: glucose_mg_dl must be a number, empty for a gap, or LO/HI. "
                f"Got {v!r}."
            ) from None
    return out


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")


def _iso_local(text: str, where: str, expected: str) -> datetime:
    m = _ISO.match(text.strip())
    if m is None:
        raise DataError(f"{where}: the timestamp must read {expected}. Got {text!r}.")
    y, mo, d, h, mi, s = (int(g or 0) for g in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s)
    except ValueError as exc:
        raise DataError(f"{where}: {text!r} is no date and time ({exc}).") from None


CLARITY_TIME = "Timestamp (YYYY-MM-DDThh:mm:ss)"


def clarity(text: str, name: str, clock: Clock) -> Parsed:
    """A Dexcom Clarity CSV export: EGV rows are the readings; Insulin (Fast-Acting) rows are
    boluses and Carbs rows meals; every other row (patient and device info, alerts,
    calibrations, exercise, health) is skipped and counted."""
    out = Parsed()
    rows = list(csv.reader(text.splitlines()))
    col = {h.strip(): i for i, h in enumerate(rows[0])}
    unit_col = next(c for c in col if c.startswith("Glucose Value ("))
    unit = unit_col[len("Glucose Value (") : -1]
    _, factor = _to_mg_dl(unit)
    out.notes.append(f"glucose in {unit}")

    def cell(row: list[str], key: str) -> str:
        i = col.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    for line, row in enumerate(rows[1:], start=2):
        kind = cell(row, "Event Type")
        where = f"{name} line {line}"
        if kind not in ("EGV", "Insulin", "Carbs"):
            out.skipped[f"{kind or 'untyped'!r} rows"] += 1
            continue
        when = clock.utc(_iso_local(cell(row, CLARITY_TIME), where, "YYYY-MM-DDThh:mm:ss"))
        if kind == "EGV":
            value = _glucose(cell(row, unit_col), factor, LIMITS["dexcom-clarity"], where)
            if value is None:
                out.skipped["EGV rows without a value"] += 1
                continue
            sensor = cell(row, "Transmitter ID") or None
            out.readings.append((when, value[0], value[1], sensor))
        elif kind == "Insulin":
            sub = cell(row, "Event Subtype").lower()
            if sub.startswith("long"):
                out.skipped["long-acting insulin rows (no basal rate)"] += 1
                continue
            amount = _number(cell(row, "Insulin Value (u)"), "the insulin value (u)", where)
            out.events.append((when, "bolus", amount))
        else:
            amount = _number(cell(row, "Carb Value (grams)"), "the carb value (grams)", where)
            out.events.append((when, "meal", amount))
    return out


_LIBRE_TIME = re.compile(
    r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?$"
)
_LIBRE_TYPES = {
    "1": "scan glucose rows (record type 1)",
    "2": "strip glucose rows (record type 2)",
    "3": "record type 3 rows",
    "6": "note rows (record type 6)",
}


def _libre_order(stamps: list[str], name: str) -> tuple[str, str | None]:
    """Whether the file writes day-month-year or month-day-year, from its own dates: a first
    field above 12 is a day, a second above 12 is a day; else a 12-hour clock (AM/PM, the US
    export) reads month-day-year and a 24-hour clock day-month-year, said in a note."""
    first = second = ampm = False
    for s in stamps:
        m = _LIBRE_TIME.match(s)
        if m is None:
            continue
        first |= int(m.group(1)) > 12
        second |= int(m.group(2)) > 12
        ampm |= m.group(7) is not None
    if first and second:
        raise DataError(
            f"{name}: the Device Timestamp dates mix day-month-year and month-day-year. Export "
            "the file again from LibreView in one locale."
        )
    if first or second:
        return ("dmy" if first else "mdy"), None
    order = "mdy" if ampm else "dmy"
    spelled = "month-day-year" if ampm else "day-month-year"
    return order, f"dates read {spelled} (no day above 12 tells the order)"


def _libre_time(text: str, order: str, where: str) -> datetime:
    t = text.strip()
    m = _LIBRE_TIME.match(t)
    if m is None:
        return _iso_local(t, where, "MM-DD-YYYY hh:mm AM/PM, DD-MM-YYYY HH:MM or ISO 8601")
    a, b, y, h, mi, s = (int(g or 0) for g in m.groups()[:6])
    day, month = (a, b) if order == "dmy" else (b, a)
    ampm = (m.group(7) or "").upper()
    if ampm and not 1 <= h <= 12:
        raise DataError(f"{where}: {t!r} has an hour outside 1-12 on a 12-hour clock.")
    if ampm:
        h = h % 12 + (12 if ampm == "PM" else 0)
    try:
        return datetime(y, month, day, h, mi, s)
    except ValueError as exc:
        raise DataError(f"{where}: {t!r} is no date and time ({exc}).") from None


def libreview(text: str, name: str, clock: Clock, header_line: int) -> Parsed:
    """A LibreView CSV export: record type 0 (historic glucose, every 15 min) are the readings;
    type 4 rapid-acting insulin boluses, type 5 carbohydrates (grams) meals; scans (type 1),
    strip glucose (2), notes (6) and long-acting insulin are skipped and counted."""
    out = Parsed()
    rows = list(csv.reader(text.splitlines()))[header_line:]
    col = {h.strip(): i for i, h in enumerate(rows[0])}
    unit_col = next(c for c in col if c.startswith("Historic Glucose "))
    unit = unit_col[len("Historic Glucose ") :]
    _, factor = _to_mg_dl(unit)
    out.notes.append(f"glucose in {unit}")

    def cell(row: list[str], key: str) -> str:
        i = col.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    used = [r for r in rows[1:] if cell(r, "Record Type") in ("0", "4", "5")]
    order, note = _libre_order([cell(r, "Device Timestamp") for r in used], name)
    if note:
        out.notes.append(note)
    for line, row in enumerate(rows[1:], start=header_line + 2):
        kind = cell(row, "Record Type")
        where = f"{name} line {line}"
        if kind not in ("0", "4", "5"):
            if any(c.strip() for c in row):
                out.skipped[_LIBRE_TYPES.get(kind, f"record type {kind or '(none)'} rows")] += 1
            continue
        when = clock.utc(_libre_time(cell(row, "Device Timestamp"), order, where))
        if kind == "0":
            value = _glucose(cell(row, unit_col), factor, LIMITS["libreview"], where)
            if value is None:
                out.skipped["historic rows without a value"] += 1
                continue
            out.readings.append((when, value[0], value[1], None))
            continue
        key = "Rapid-Acting Insulin (units)" if kind == "4" else "Carbohydrates (grams)"
        amount = cell(row, key)
        if not amount:
            why = "long-acting insulin rows (no basal rate)" if kind == "4" else (
                "food rows without grams (servings or text)")  # fmt: skip
            out.skipped[why] += 1
            continue
        out.events.append(
            (when, "bolus" if kind == "4" else "meal", _number(amount, f"'{key}'", where))
        )
    return out


def nightscout(text: str, name: str, clock: Clock) -> Parsed:
    """Nightscout ``entries`` JSON: ``type: "sgv"`` entries are the readings (``sgv`` in mg/dL,
    as the API stores it whatever the site displays); 39 is the uploaders' LOW (censored at 40),
    below 39 a Dexcom error code (no reading). The time is ``date`` (epoch milliseconds, UTC),
    else ``dateString`` (ISO 8601; without an offset, local time). Entries carry no insulin or
    carbohydrates (Nightscout keeps those as treatments): glucose only."""
    out = Parsed()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{name}: not valid JSON ({exc.msg}, line {exc.lineno}); expected the array of "
            "entries /api/v1/entries.json returns."
        ) from None
    out.notes.append("glucose in mg/dL")
    for i, entry in enumerate(doc):
        where = f"{name} entry {i}"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: an entry must be a JSON object. Got {entry!r:.60}.")
        kind = entry.get("type")
        if kind != "sgv":
            out.skipped[f"{kind or 'untyped'!r} entries"] += 1
            continue
        sgv = entry.get("sgv")
        if isinstance(sgv, str):
            sgv = _number(sgv, "sgv", where)
        if not isinstance(sgv, int | float) or isinstance(sgv, bool) or not math.isfinite(sgv):
            raise DataError(f"{where}: sgv must be a number (mg/dL). Got {sgv!r:.40}.")
        when = _ns_time(entry, clock, where)
        if sgv < NIGHTSCOUT_LOW:
            out.skipped["error codes (sgv below 39)"] += 1
        elif sgv == NIGHTSCOUT_LOW:
            out.readings.append((when, LIMITS["nightscout"][0], -1, None))
        else:
            out.readings.append((when, float(sgv), 0, None))
    return out


def _ns_time(entry: dict, clock: Clock, where: str) -> datetime:
    ms = entry.get("date")
    if isinstance(ms, int | float) and not isinstance(ms, bool) and math.isfinite(ms):
        try:
            return datetime.fromtimestamp(ms / 1000.0, UTC)
        except (OverflowError, OSError, ValueError):
            raise DataError(f"{where}: date {ms!r} is no epoch time in milliseconds.") from None
    text = entry.get("dateString")
    if not isinstance(text, str):
        raise DataError(
            f"{where}: needs a time: date (epoch milliseconds) or dateString (ISO 8601). Got "
            f"neither."
        )
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DataError(
            f"{where}: dateString must be ISO 8601 (2024-03-01T08:05:00Z). Got {text!r:.40}."
        ) from None
    return t.astimezone(UTC) if t.tzinfo is not None else clock.utc(t)
