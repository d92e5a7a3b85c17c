"""JSON request bodies as pydantic models: read strictly, then validated, then documented.

A route takes its body as ``body: Annotated[Model, json_body(Model)]`` with ``Model`` a
:class:`Body`. The dependency first reads the body with the strict parser of
:mod:`medtwin.service._json` (duplicate keys, NaN, infinities, 64-bit overflows, lone
surrogates, NUL and deep nesting refused; 415 for another media type), then validates the
parsed object with the model. A refusal is one 422 OperationOutcome issue, as the API gives
for every invalid request: its ``expression`` names the failing key (``options.a[0].amount``)
and its text says what was expected and what came. A check that carries a message of its own
-- a bound of :mod:`medtwin.limits` (:class:`~medtwin.errors.LimitError`) or a
:class:`BodyError` raised by a validator -- keeps that message word for word.

:class:`BodyRoute` shows each such body in the OpenAPI schema as the model's JSON schema
(inlined: the routes read the body themselves, so FastAPI does not list it as a parameter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError, model_validator

from .. import limits
from ..errors import LimitError
from ._errors import ApiError
from ._json import json_object, json_path

__all__ = ["Body", "BodyError", "BodyRoute", "Bounded", "Number", "json_body", "range_schema"]

B = TypeVar("B", bound="Body")


class BodyError(ValueError):
    """A validator's refusal with its own complete ``message``; ``key`` (optional) is the key
    below the validated value that it names (an unknown key)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message, self.key = message, key


class Body(BaseModel):
    """A JSON request body: the keys declared and no others. ``what`` names the body in
    messages ("a twin configuration")."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    what: ClassVar[str] = "this body"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in set(data) - set(cls.model_fields))
            if unknown:
                shown = [k[:40] for k in unknown[:5]]  # a hostile body may send thousands
                more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
                raise BodyError(
                    f"Unknown keys {shown}{more}; {cls.what} takes "
                    f"{sorted(cls.model_fields)}. Send only those (see /docs).",
                    key=unknown[0],
                )
        return data


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("input should be a number")
    return value  # as sent: an integer stays an integer (a stored configuration is unchanged)


Number = Annotated[float, PlainValidator(_number, json_schema_input_type=float)]
"""A JSON number (not true/false), kept as sent; the strict parser has refused NaN, the
infinities and integers beyond 64 bits."""


def range_schema(bound: limits.Bound) -> dict[str, Any]:
    """The range of ``bound`` as JSON schema keywords (for a model's documentation)."""
    low = "exclusiveMinimum" if bound.low_open else "minimum"
    return {low: bound.low, "maximum": bound.high}


@dataclass(frozen=True)
class Bounded:
    """``Annotated[int, Bounded(limits.PARTICLES)]``: a value that ``bound`` checks, refused
    with the bound's own message (its name and range), passed on as sent, and documented with
    the bound's range."""

    bound: limits.Bound

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        kind = int if self.bound.integer else float
        check = PlainValidator(self.bound.check, json_schema_input_type=kind)
        return check.__get_pydantic_core_schema__(source, handler)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        return {**handler(schema), **range_schema(self.bound)}


def _refusal(exc: ValidationError, model: type[Body]) -> ApiError:
    """The first error of ``exc`` as the API's 422 (the checks run in the order the keys are
    declared, as the hand checks did)."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    where = json_path(loc)
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, LimitError):
        return ApiError(422, str(cause), expression=cause.name or where)
    if isinstance(cause, BodyError):
        key = json_path((*loc, cause.key)) if cause.key is not None else where
        return ApiError(422, cause.message, expression=key)
    if err["type"] == "missing":
        field = model.model_fields.get(str(loc[-1])) if len(loc) == 1 else None
        hint = f" {field.description}" if field is not None and field.description else ""
        msg = f"{model.what[0].upper()}{model.what[1:]} needs {where!r}; it was missing.{hint}"
        return ApiError(422, msg, expression=where)
    if isinstance(cause, ValueError):
        reason = str(cause)
    elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        reason = "input should be a JSON object"
    else:
        reason = err["msg"]
    reason = reason[:1].lower() + reason[1:]
    msg = f"The {where!r} of {model.what}: {reason}. Got {limits.shown(err['input'])}."
    return ApiError(422, msg, expression=where)


def json_body(model: type[B]) -> Any:
    """``Depends(...)`` giving the request's JSON body as a ``model``: parsed strictly, then
    validated; 415 or 422 (an OperationOutcome) otherwise."""

    async def dependency(request: Request) -> B:
        doc = await json_object(request)
        try:
            return model.model_validate(doc)
        except ValidationError as exc:
            raise _refusal(exc, model) from None

    dependency.body_model = model  # type: ignore[attr-defined]  # read by BodyRoute
    return Depends(dependency)


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with each ``{"$ref": "#/$defs/X"}`` replaced by ``X`` (the bodies have no
    recursive models)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def request_body_schema(model: type[Body]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route taking ``model`` as JSON."""
    schema = model.model_json_schema()
    schema = _inline(schema, schema.get("$defs", {}))
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _body_model(dependant: Any) -> type[Body] | None:
    for d in dependant.dependencies:
        found = getattr(d.call, "body_model", None) or _body_model(d)
        if found is not None:
            return found
    return None


class BodyRoute(APIRoute):
    """A route that shows its :func:`json_body` body in the OpenAPI schema (the dependency
    reads the raw body, which FastAPI does not see as a body parameter)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        model = _body_model(self.dependant)
        if model is not None:
            extra = self.openapi_extra or {}
            self.openapi_extra = {"requestBody": request_body_schema(model), **extra}
