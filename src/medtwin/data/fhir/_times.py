"""FHIR date, dateTime and instant strings -> Python dates and UTC datetimes.

A measurement or a dose needs a time to the second with a timezone: FHIR ``dateTime`` at
full precision (``2024-05-01T08:30:00+02:00``) or an ``instant``. A dateTime with only a
date (``2024-05-01``), a month or a year, and a time without a timezone, are refused: the
twins' clocks run in minutes, and a local time cannot be placed on them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from ._issues import Issues, show

__all__ = ["effective_time", "fhir_date", "fhir_instant", "iso_utc"]

_DATETIME = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<f>\d{1,9}))?(?P<tz>Z|[+-]\d{2}:\d{2})?$"
)
_PARTIAL = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def fhir_instant(value: Any, expression: str, issues: Issues) -> datetime | None:
    """A FHIR dateTime/instant at full precision with timezone as an aware UTC datetime, or
    None with an issue (``value``) saying which precision was expected."""
    if not isinstance(value, str):
        issues.add("value", expression, f"Expected a dateTime string. Got {show(value)}.")
        return None
    m = _DATETIME.match(value)
    expected = (
        "Expected a dateTime to the second with a timezone, e.g. 2024-05-01T08:30:00+02:00 "
        "or 2024-05-01T06:30:00Z"
    )
    if m is None:
        what = "date-only precision" if _PARTIAL.match(value) else "an unreadable dateTime"
        issues.add("value", expression, f"{expected}. Got {what}: {show(value)}.")
        return None
    if m["tz"] is None:
        issues.add(
            "value",
            expression,
            f"{expected}. Got {show(value)} without a timezone, which cannot be placed in time.",
        )
        return None
    leap = m["s"] == "60"
    micro = int((m["f"] or "0")[:6].ljust(6, "0"))
    try:
        if m["tz"] == "Z":
            tz = UTC
        else:
            sign = 1 if m["tz"][0] == "+" else -1
            hh, mm = int(m["tz"][1:3]), int(m["tz"][4:6])
            tz = timezone(sign * timedelta(hours=hh, minutes=mm))
        t = datetime(
            int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]),
            59 if leap else int(m["s"]), micro, tzinfo=tz,
        )  # fmt: skip
        t = t.astimezone(UTC)
        return t + timedelta(seconds=1) if leap else t
    except (ValueError, OverflowError) as exc:
        issues.add("value", expression, f"{expected}. Got {show(value)} ({exc}).")
        return None


def effective_time(resource: dict[str, Any], root: str, issues: Issues) -> datetime | None:
    """When an Observation or MedicationAdministration happened: ``effectiveDateTime``,
    ``effectiveInstant`` or the ``start`` of ``effectivePeriod`` (as in HL7's own glucose
    example f001). ``effectiveTiming`` and a missing time are refused."""
    for name in ("effectiveDateTime", "effectiveInstant"):
        if name in resource:
            return fhir_instant(resource[name], f"{root}.{name}", issues)
    if "effectivePeriod" in resource:
        start = (resource["effectivePeriod"] or {}).get("start")
        if start is None:
            issues.add(
                "required",
                f"{root}.effectivePeriod.start",
                "effectivePeriod needs a start: the time the value is placed at.",
            )
            return None
        return fhir_instant(start, f"{root}.effectivePeriod.start", issues)
    if "effectiveTiming" in resource:
        issues.add(
            "not-supported",
            f"{root}.effectiveTiming",
            "effectiveTiming is not taken. Send effectiveDateTime (or effectivePeriod.start).",
        )
        return None
    issues.add(
        "required",
        f"{root}.effective[x]",
        "The time is missing. Expected effectiveDateTime (to the second, with a timezone) or "
        "effectivePeriod.start.",
    )
    return None


def fhir_date(value: Any) -> date | None:
    """A full FHIR date (YYYY-MM-DD) as a date; None for a partial date (YYYY, YYYY-MM) --
    medtwin does not invent the missing day -- or for anything else."""
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def iso_utc(t: datetime) -> str:
    """An aware datetime as a FHIR instant in UTC, to the millisecond
    (``2024-05-01T06:30:00.000Z``)."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
