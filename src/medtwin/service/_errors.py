"""How the service answers errors: always an OperationOutcome, never a stack trace."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..data.fhir import http_status, operation_outcome
from ..errors import AccessDenied, FhirError, MedtwinError, StoreError

__all__ = ["ApiError", "install_error_handlers", "outcome_response"]

log = logging.getLogger("medtwin.service")
FHIR_JSON = "application/fhir+json"

# issue type code (http://hl7.org/fhir/R4/valueset-issue-type.html) per HTTP status
_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
          409: "conflict", 413: "too-long", 415: "not-supported", 422: "invalid",
          429: "throttled", 500: "exception"}  # fmt: skip


class ApiError(Exception):
    """An error with its HTTP status, FHIR issue code and message (what was expected, what
    came, how to fix it)."""

    def __init__(self, status: int, message: str, *, expression: str = "", code: str = ""):
        super().__init__(message)
        self.status, self.message, self.expression = status, message, expression
        self.code = code or _CODES.get(status, "invalid")


def outcome_response(
    status: int, issues: list[tuple[str, str, str]], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        operation_outcome(issues), status_code=status, media_type=FHIR_JSON, headers=headers
    )


def _validation_issues(exc: RequestValidationError) -> list[tuple[str, str, str]]:
    out = []
    for err in exc.errors()[:50]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        out.append(("invalid", where, f"{where}: {err.get('msg', 'invalid value')}."))
    return out or [("invalid", "", "The request is not valid.")]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 429:
            headers = {"Retry-After": "60"}
        return outcome_response(exc.status, [(exc.code, exc.expression, exc.message)], headers)

    @app.exception_handler(FhirError)
    async def _fhir(_: Request, exc: FhirError) -> JSONResponse:
        return outcome_response(http_status(exc), exc.issues)

    @app.exception_handler(AccessDenied)
    async def _denied(_: Request, exc: AccessDenied) -> JSONResponse:
        return outcome_response(403, [("forbidden", "", str(exc))])

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> JSONResponse:
        return outcome_response(409 if "other content" in str(exc) else 422,
                                [("processing", "", str(exc))])  # fmt: skip

    @app.exception_handler(MedtwinError)
    async def _medtwin(_: Request, exc: MedtwinError) -> JSONResponse:
        return outcome_response(422, [("invalid", "", str(exc))])

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return outcome_response(422, _validation_issues(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        text = {404: "No such resource. See /docs for the routes.",
                405: "This method is not allowed on this route. See /docs."}.get(
            status, str(exc.detail))  # fmt: skip
        return outcome_response(status, [(_CODES.get(status, "invalid"), "", text)])

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s", ref, exc_info=exc)
        return outcome_response(
            500, [("exception", "", f"Internal error (reference {ref}). It has been logged.")]
        )


def problem(status: int, message: str, **kw: Any) -> ApiError:
    return ApiError(status, message, **kw)
