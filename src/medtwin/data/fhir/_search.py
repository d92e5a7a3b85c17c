"""Validators for the REST search parameters of the twin service.

Every value is checked against a strict pattern before it reaches a query: hostile values
(SQL fragments such as ``' OR 1=1 --``, path traversal ``../../etc/passwd``, markup
``<script>``, control characters, over-long strings) raise :class:`FhirError` whose issue
names the parameter (expression = the parameter name). Answer them with HTTP 400.

Kinds:

- ``patient``: a medtwin pseudonym ``p-`` + 16 lowercase hex digits (``Patient/`` prefix
  allowed) -> the pseudonym;
- ``code``: a LOINC code with a valid check digit, optionally ``http://loinc.org|`` -> the code;
- ``date``: ``[eq|ge|gt|le|lt]`` + a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) or a dateTime with
  a timezone -> :class:`DateParam`;
- ``count``: ``_count``, an integer 1..1000 -> int.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from ...errors import DataError, FhirError
from ..units import LOINC_SYSTEM, is_valid_loinc
from ._issues import Issues, show
from ._times import fhir_instant

__all__ = ["MAX_PARAM_LENGTH", "DateParam", "search_param"]

MAX_PARAM_LENGTH = 256
MAX_COUNT = 1000
_PSEUDONYM = re.compile(r"^p-[0-9a-f]{16}$")
_DATE = re.compile(r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2}))?)?$")
_PREFIXES = ("eq", "ge", "gt", "le", "lt")


@dataclass(frozen=True)
class DateParam:
    """A date search value: the prefix and the interval ``[start, end)`` (UTC) its precision
    covers (``2024-05`` covers May). FHIR semantics for a stored time ``t``: ``eq`` start <= t
    < end, ``ge`` t >= start, ``gt`` t >= end, ``le`` t < end, ``lt`` t < start."""

    prefix: str
    start: datetime
    end: datetime


def _fail(code: str, name: str, message: str) -> FhirError:
    return FhirError([(code, name, message)])


def _date(name: str, value: str) -> DateParam:
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    body = value[2:] if value[:2] in _PREFIXES else value
    m = _DATE.match(body)
    if m is not None:
        y, mo, d = int(m["y"]), int(m["m"] or 1), int(m["d"] or 1)
        try:
            start = datetime(y, mo, d, tzinfo=UTC)
            if m["d"]:
                end = start + timedelta(days=1)
            elif m["m"]:
                end = start.replace(year=y + mo // 12, month=mo % 12 + 1)
            else:
                end = start.replace(year=y + 1)
        except (ValueError, OverflowError) as exc:
            raise _fail("value", name, f"{show(body)} is not a usable date ({exc}).") from None
        return DateParam(prefix, start, end)
    issues = Issues()
    t = fhir_instant(body, name, issues)
    if t is None:
        raise _fail(
            "value",
            name,
            f"Expected [eq|ge|gt|le|lt] followed by YYYY, YYYY-MM, YYYY-MM-DD or a dateTime "
            f"with a timezone (e.g. ge2024-05-01T00:00:00Z). Got {show(value)}.",
        )
    return DateParam(prefix, t, t + timedelta(seconds=1))


def search_param(
    name: str, value: str, kind: Literal["patient", "code", "date", "count"]
) -> str | int | DateParam:
    """The checked value of search parameter ``name`` (see the module docstring for each
    ``kind``), or :class:`FhirError` (``too-long``, ``invalid`` for control characters,
    ``value`` for anything that does not match the kind's pattern)."""
    if kind not in ("patient", "code", "date", "count"):
        raise DataError(
            f"search_param() kind must be 'patient', 'code', 'date' or 'count'. Got {kind!r}."
        )
    if not isinstance(value, str):
        raise _fail("value", name, f"Expected a string value. Got {type(value).__name__}.")
    if len(value) > MAX_PARAM_LENGTH:
        raise _fail(
            "too-long",
            name,
            f"The value has {len(value)} characters; at most {MAX_PARAM_LENGTH} are accepted.",
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise _fail(
            "invalid", name, f"The value contains control characters: {show(value)}. Remove them."
        )
    if kind == "patient":
        pid = value.removeprefix("Patient/")
        if not _PSEUDONYM.match(pid):
            raise _fail(
                "value",
                name,
                f"Expected a patient pseudonym: 'p-' and 16 hex digits (e.g. p-0123456789abcdef). "
                f"Got {show(value)}.",
            )
        return pid
    if kind == "code":
        code = value.removeprefix(f"{LOINC_SYSTEM}|")
        if not is_valid_loinc(code):
            raise _fail(
                "value",
                name,
                f"Expected a LOINC code with its check digit (e.g. 2339-0 or "
                f"{LOINC_SYSTEM}|2339-0). Got {show(value)}.",
            )
        return code
    if kind == "count":
        if not re.match(r"^[0-9]{1,4}$", value) or not 1 <= int(value) <= MAX_COUNT:
            raise _fail(
                "value", name, f"Expected an integer from 1 to {MAX_COUNT}. Got {show(value)}."
            )
        return int(value)
    return _date(name, value)
