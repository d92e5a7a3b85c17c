"""Reading an untrusted FHIR JSON payload into a dict, safely.

Only JSON is read (``application/fhir+json`` / ``application/json``). Refused, each with one
issue on the payload as a whole (expression ``""``):

- more than ``max_bytes`` bytes (``too-long``), checked before anything is decoded;
- bytes that are not UTF-8 (UTF-16/32, Latin-1), ``invalid``;
- XML of any kind -- including DOCTYPE/ENTITY declarations ("billion laughs") -- is never
  handed to an XML parser (``not-supported``);
- anything but a JSON object at the top, JSON syntax errors, duplicate keys in one object,
  ``NaN``/``Infinity`` literals and numbers that overflow a float (``structure``/``value``);
- nesting deeper than :data:`MAX_DEPTH` objects/arrays (``too-costly``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from ._issues import Issues, show

__all__ = ["MAX_DEPTH", "load_json"]

MAX_DEPTH = 64  # objects/arrays; a Synthea bundle needs 9


class _Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        dup = ""
        for k, _ in pairs:  # the first key seen twice
            if k in seen:
                dup = k
                break
            seen.add(k)
        raise _Refused(
            "structure",
            f"The JSON object has the key {show(dup)} more than once. Expected each property "
            f"once (RFC 8259 leaves duplicates undefined); send it once.",
        )
    return out


def _constant(name: str) -> float:
    raise _Refused(
        "value",
        f"The JSON has the literal {name}, which is not JSON (RFC 8259) and not a FHIR decimal. "
        f"Send a finite number, or leave the element out.",
    )


def _float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise _Refused(
            "value", f"The number {show(text, 40)} overflows a 64-bit float. Send a finite number."
        )
    return x


def _too_deep(obj: Any, limit: int) -> bool:
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return False


def _deep_issue(issues: Issues) -> None:
    issues.add(
        "too-costly",
        "",
        f"The JSON nests objects/arrays more than {MAX_DEPTH} levels deep. FHIR resources need "
        f"far fewer; flatten the payload.",
    )


def load_json(payload: bytes | str | dict, *, max_bytes: int, issues: Issues) -> dict | None:
    """``payload`` as a dict, or None with the reason added to ``issues``."""
    if isinstance(payload, dict):
        if _too_deep(payload, MAX_DEPTH):
            _deep_issue(issues)
            return None
        return payload
    if isinstance(payload, str):
        try:
            data = payload.encode("utf-8")
        except UnicodeEncodeError as exc:
            issues.add("invalid", "", f"The text is not valid Unicode ({exc.reason}).")
            return None
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        data = bytes(payload)
    else:
        issues.add(
            "invalid",
            "",
            f"Expected the request body as bytes, str or a parsed JSON object. Got "
            f"{type(payload).__name__}.",
        )
        return None
    if len(data) > max_bytes:
        issues.add(
            "too-long",
            "",
            f"The payload has {len(data):,} bytes; at most {max_bytes:,} are accepted. Split it "
            f"into several bundles.",
        )
        return None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        issues.add(
            "invalid",
            "",
            "The payload is UTF-16 or UTF-32 encoded. Expected UTF-8 JSON "
            "(Content-Type: application/fhir+json; charset=utf-8).",
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        issues.add(
            "invalid",
            "",
            f"The payload is not UTF-8: byte {data[exc.start]:#04x} at offset {exc.start} "
            f"({exc.reason}). Expected UTF-8 JSON (application/fhir+json; charset=utf-8).",
        )
        return None
    text = text.removeprefix("\ufeff")
    head = text.lstrip()[:1]
    if head == "<":
        markup = text.lstrip()[:4096].upper()
        what = (
            "XML with a DOCTYPE/ENTITY declaration"
            if "<!DOCTYPE" in markup or "<!ENTITY" in markup
            else "XML"
        )
        issues.add(
            "not-supported",
            "",
            f"The payload is {what}; it was not parsed. This server reads FHIR JSON only: send "
            f"application/fhir+json.",
        )
        return None
    if head != "{":
        issues.add(
            "structure",
            "",
            f"Expected a JSON object (a FHIR resource) starting with '{{'. Got "
            f"{show(text.lstrip()[:20]) if head else 'an empty payload'}.",
        )
        return None
    try:
        obj = json.loads(
            text, object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float
        )
    except _Refused as exc:
        issues.add(exc.code, "", str(exc))
        return None
    except RecursionError:
        _deep_issue(issues)
        return None
    except json.JSONDecodeError as exc:
        issues.add(
            "structure",
            "",
            f"The payload is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
        )
        return None
    except ValueError as exc:  # e.g. an integer with more than 4300 digits
        issues.add("value", "", f"The JSON has a number that cannot be read: {show(str(exc))}.")
        return None
    if _too_deep(obj, MAX_DEPTH):
        _deep_issue(issues)
        return None
    return obj
