"""Strict JSON request bodies for the non-FHIR routes: one parser, one FastAPI dependency.

Python's ``json`` accepts what the service must not: duplicate keys (the last one wins, so
``{"role": "clinician", "role": "admin"}`` would read as admin), ``NaN`` and ``Infinity``,
numbers that overflow to infinity (``1e400``), lone surrogates (``"\\ud800"``, which no
database can store), NUL characters (PostgreSQL text cannot hold them) and nesting deep enough
to exhaust the parser. :func:`json_object` refuses each with 422 and an OperationOutcome that
says what came and what to send. A route reads its body through :func:`json_object` first and
then validates it with a pydantic model (:mod:`medtwin.service._bodies`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from fastapi import Request

from ._errors import ApiError

__all__ = ["MAX_DEPTH", "MAX_INT", "json_object", "json_path", "parse_json_object"]

MAX_DEPTH = 32
"""The deepest nesting of objects and arrays a body may have (the top-level object is 1)."""

MAX_INT = 2**63 - 1
"""The largest integer magnitude a body may carry (a signed 64-bit integer)."""

_KINDS = {list: "an array", str: "a string", bool: "true or false", int: "a number",
          float: "a number", type(None): "null"}  # fmt: skip


class _Refused(ValueError):
    def __init__(self, message: str, expression: str = "") -> None:
        super().__init__(message)
        self.message, self.expression = message, expression


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(
                f"The key {key!r:.60} appears twice in one object of the JSON body; each key "
                "may appear once in an object. Send one value for it.",
                _safe(key),
            )
        out[key] = value
    return out


def _constant(name: str) -> float:
    raise _Refused(f"{name} is not a JSON number; send a finite number instead.")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(
            f"The number {text:.40} overflows a 64-bit float (largest magnitude about "
            "1.8e308); send a finite number within that range."
        )
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(int(text)) > MAX_INT:
        raise _Refused(
            f"The integer {text:.40} is too large; integers in a body must lie within "
            f"+-{MAX_INT} (a signed 64-bit integer)."
        )
    return int(text)


def _safe(key: str) -> str:
    """A key as it may be echoed: at most 40 characters, surrogates and NUL escaped."""
    return key[:40].encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")


def json_path(path: tuple[str | int, ...]) -> str:
    """``path`` as the API names a place in a body: ``options.a[0].amount``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{_safe(p)}" for p in path).lstrip(".")


def _check_text(text: str, path: tuple[str | int, ...]) -> None:
    where = json_path(path) or "(top level)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(
            f"A string at {where} holds a lone UTF-16 surrogate (such as \\ud800), which is "
            "not text; send valid Unicode (a pair of surrogates for characters beyond U+FFFF).",
            where,
        ) from None
    if "\x00" in text:
        raise _Refused(
            f"A string at {where} holds a NUL character (\\u0000), which cannot be stored; "
            "remove it.",
            where,
        )


def _walk(doc: Any) -> Iterator[tuple[Any, tuple[str | int, ...], int]]:
    """Every value with its path and nesting depth, without recursion."""
    stack: list[tuple[Any, tuple[str | int, ...], int]] = [(doc, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        yield value, path, depth
        if isinstance(value, dict):
            stack.extend((v, (*path, k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i), depth + 1) for i, v in enumerate(value))


def _check(doc: Any) -> None:
    for value, path, depth in _walk(doc):
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                where = json_path(path)[:80]
                raise _Refused(
                    f"The JSON body is nested deeper than {MAX_DEPTH} objects and arrays (at "
                    f"{where}); send a flatter document.",
                    where,
                )
            for key in value if isinstance(value, dict) else ():
                _check_text(key, (*path, key))
        elif isinstance(value, str):
            _check_text(value, path)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw`` (UTF-8), or :class:`ApiError` 422 saying what is wrong."""
    if not raw.strip():
        raise ApiError(422, "This route needs a JSON object body, e.g. {\"name\": ...}; the body "
                       "was empty.")  # fmt: skip
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(422, f"The body is not UTF-8 (invalid byte at offset {exc.start}); send "
                       "JSON encoded as UTF-8.") from None  # fmt: skip
    try:
        doc = json.loads(text, object_pairs_hook=_object, parse_constant=_constant,
                         parse_float=_float, parse_int=_int)  # fmt: skip
        if not isinstance(doc, dict):
            raise _Refused(
                f"The JSON body must be an object ({{...}}); got {_KINDS.get(type(doc))}. "
                "Send the fields in one object."
            )
        _check(doc)
    except _Refused as exc:
        raise ApiError(422, exc.message, expression=exc.expression) from None
    except RecursionError:
        raise ApiError(422, f"The JSON body is nested deeper than {MAX_DEPTH} objects and "
                       "arrays; send a flatter document.") from None  # fmt: skip
    except json.JSONDecodeError as exc:
        raise ApiError(422, f"The body is not valid JSON: {exc.msg} (line {exc.lineno}, column "
                       f"{exc.colno}). Send one JSON object.") from None  # fmt: skip
    return doc


def _json_type(request: Request) -> bool:
    ctype = request.headers.get("content-type")
    if ctype is None:
        return True
    main, _, sub = ctype.split(";")[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def json_object(request: Request) -> dict[str, Any]:
    """FastAPI dependency: the request's body as a strictly parsed JSON object."""
    if not _json_type(request):
        raise ApiError(415, "Send this body as JSON with 'Content-Type: application/json'. Got "
                       f"{request.headers.get('content-type', '')!r:.60}.")  # fmt: skip
    return parse_json_object(await request.body())
