"""Structural validation of one resource against the FHIR R4 models of ``fhir.resources``.

FHIR R4 (4.0.1) and R4B (4.3.0) share the wire format of every resource medtwin reads, so the
``fhir.resources.R4B`` models check it (the package's default namespace is R5). Pydantic's
validation errors become issues whose expression is the FHIRPath of the failing element.
Resources or elements that exist only in FHIR R5 are named as such (``not-supported``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import fhir.resources as _r5
import pydantic
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic_core import ErrorDetails

from ._issues import Issues, show

__all__ = ["fhirpath", "r4_class", "validate_resource"]

_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_ABSTRACT = {"Resource", "DomainResource"}
_STRUCTURE = {"extra_forbidden", "list_type", "dict_type", "model_type", "json_invalid"}

_TYPES = {
    "string_type": "Expected a JSON string.",
    "bool_type": "Expected true or false.",
    "int_type": "Expected a JSON integer.",
    "float_type": "Expected a JSON number.",
}
_HINTS = {
    "DateTime": "Expected a FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss"
    "[.sss] with a timezone (Z or +hh:mm), e.g. 2024-05-01T08:30:00+02:00.",
    "Instant": "Expected a FHIR instant: YYYY-MM-DDThh:mm:ss[.sss] with a timezone (Z or +hh:mm).",
    "Date": "Expected a FHIR date: YYYY, YYYY-MM or YYYY-MM-DD.",
    "Decimal": "Expected a JSON number (not a string, boolean, NaN or Infinity).",
    "Integer": "Expected a JSON integer.",
    "Id": "Expected a FHIR id: 1-64 characters of A-Z, a-z, 0-9, '-' and '.'.",
}


def _name_ok(resource_type: Any) -> bool:
    return isinstance(resource_type, str) and bool(_TYPE_RE.match(resource_type))


@lru_cache(maxsize=256)
def r4_class(resource_type: str) -> type[Resource] | None:
    """The R4B model of a resource type, or None if FHIR R4 has no such resource."""
    try:
        cls = get_fhir_model_class(resource_type)
    except ValueError:
        return None
    if not issubclass(cls, Resource) or resource_type in _ABSTRACT:
        return None
    return cls


@lru_cache(maxsize=256)
def _r5_elements(resource_type: str) -> frozenset[str] | None:
    try:
        cls = _r5.get_fhir_model_class(resource_type)
    except ValueError:
        return None
    return frozenset((f.alias or n) for n, f in cls.model_fields.items())


def fhirpath(root: str, loc: tuple[Any, ...]) -> str:
    """``root`` followed by a pydantic error location: ('component', 0, 'code') ->
    ``root.component[0].code``."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "resource_type":
            out += ".resourceType"
        elif isinstance(part, str) and re.match(r"^_?[A-Za-z][A-Za-z0-9_]*$", part):
            out += f".{part}"
    return out


def _issue(err: ErrorDetails, resource_type: str, root: str, issues: Issues) -> None:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    expr = fhirpath(root, loc)
    got = err.get("input")
    name = loc[-1] if loc and isinstance(loc[-1], str) else ""
    if kind == "extra_forbidden":
        r5 = _r5_elements(resource_type) if len(loc) == 1 else None
        if r5 is not None and name in r5:
            issues.add(
                "not-supported",
                expr,
                f"{name!r} is an element of FHIR R5 {resource_type}, not of R4. This server "
                f"takes FHIR R4 (4.0.1): send the R4 form of the resource.",
            )
        else:
            issues.add(
                "structure",
                expr,
                f"{name!r} is not an element of this FHIR R4 type. Remove it or check its "
                f"spelling (elements are case-sensitive).",
            )
    elif kind.endswith("missing"):
        issues.add("required", expr, f"{name or 'This element'} is required and missing.")
    elif kind == "fhir-validation-wrong-resource-type":
        issues.add("invalid", expr, f"resourceType {show(got)} does not fit here.")
    elif kind in _STRUCTURE:
        issues.add(
            "structure",
            expr,
            f"Expected {'a JSON array' if kind == 'list_type' else 'a JSON object'} here. "
            f"Got {type(got).__name__} {show(got)}.",
        )
    elif kind.endswith("_type") or kind == "value_error":
        hint = _TYPES.get(kind) or next(
            (h for k, h in _HINTS.items() if msg.startswith(k + " ")), msg.rstrip(".") + "."
        )
        code = "value" if loc else "invariant"
        issues.add(code, expr, f"{hint} Got {show(got)}." if loc else msg[:400])
    else:  # pydantic's own parsing errors (impossible dates, numbers out of range, ...)
        issues.add("value" if loc else "invalid", expr, f"{msg[:300]}. Got {show(got)}.")


def validate_resource(resource: Any, root: str | None, issues: Issues) -> str | None:
    """Validate one resource with its R4B model; return its resourceType if it is valid,
    else None (with the reasons added to ``issues``). ``root`` is the FHIRPath of the
    resource (``Bundle.entry[3].resource``), or None for a resource sent on its own."""
    if not isinstance(resource, dict):
        issues.add(
            "structure",
            root or "",
            f"Expected a FHIR resource (a JSON object). Got {type(resource).__name__}.",
        )
        return None
    rt = resource.get("resourceType")
    where = f"{root}.resourceType" if root else "resourceType"
    if rt is None:
        issues.add("required", where, "resourceType is missing. Every FHIR resource names it.")
        return None
    if not _name_ok(rt):
        issues.add("value", where, f"Expected a FHIR resource type name. Got {show(rt)}.")
        return None
    cls = r4_class(rt)
    if cls is None:
        if _r5_elements(rt) is not None:
            issues.add(
                "not-supported",
                where,
                f"{rt} is a FHIR R5 resource; FHIR R4 has no such resource. This server "
                f"takes FHIR R4 (4.0.1).",
            )
        else:
            issues.add("invalid", where, f"{show(rt)} is not a FHIR R4 resource type.")
        return None
    base = root or rt
    n0 = len(issues)
    try:
        cls.model_validate(resource)
    except pydantic.ValidationError as exc:
        for err in exc.errors(include_url=False):
            _issue(err, rt, base, issues)
        if len(issues) == n0:  # never leave a failed validation without an issue
            issues.add("invalid", base, f"The {rt} is not valid FHIR R4.")
    except KeyError as exc:  # fhir.resources: a contained resource of an unknown type
        name = str(exc).strip("'\"").removeprefix("R4.").removesuffix("Type")
        issues.add(
            "not-supported",
            base,
            f"The {rt} contains a resource of type {show(name)}, which FHIR R4 does not have.",
        )
    except (TypeError, ValueError, RecursionError) as exc:
        issues.add("invalid", base, f"The {rt} cannot be read as FHIR R4: {show(str(exc), 200)}.")
    return rt if len(issues) == n0 else None
