"""How the service answers errors: always an OperationOutcome, never a stack trace."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..data.fhir import http_status, operation_outcome
from ..errors import AccessDenied, FhirError, MedtwinError, StoreError
from ._headers import NO_STORE_HEADERS

__all__ = [
    "DISK_FULL",
    "READ_ONLY",
    "ApiError",
    "Outage",
    "database_outage",
    "install_error_handlers",
    "outcome_response",
]

log = logging.getLogger("medtwin.service")
FHIR_JSON = "application/fhir+json"

# issue type code (http://hl7.org/fhir/R4/valueset-issue-type.html) per HTTP status
_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
          409: "conflict", 413: "too-long", 415: "not-supported", 422: "invalid",
          429: "throttled", 500: "exception", 503: "transient"}  # fmt: skip


class ApiError(Exception):
    """An error with its HTTP status, FHIR issue code and message (what was expected, what
    came, how to fix it)."""

    def __init__(self, status: int, message: str, *, expression: str = "", code: str = ""):
        super().__init__(message)
        self.status, self.message, self.expression = status, message, expression
        self.code = code or _CODES.get(status, "invalid")


@dataclass(frozen=True)
class Outage:
    """A database outage: the FHIR issue code, what is wrong, when to try again (seconds)."""

    code: str
    what: str
    retry_after: int

    @property
    def message(self) -> str:
        return (f"The database is {self.what}. Nothing can be read or stored until it is back: "
                f"try again in {self.retry_after} s. If this persists, the operator should "
                "check the database (GET /ready says whether it answers).")  # fmt: skip


LOCKED = Outage("lock-error", "busy: another writer held it longer than the wait allowed", 5)
DISK_FULL = Outage("no-store", "out of disk space", 60)
READ_ONLY = Outage("no-store", "read-only: its file, folder or server refuses writes", 60)
UNREACHABLE = Outage("transient", "unreachable: its server or file cannot be opened", 30)
# Database failures that are an outage (503 + Retry-After), not a bug (500): fragments of the
# driver's message, PostgreSQL SQLSTATE prefixes -> the outage
_OUTAGES = (
    (("database is locked", "database table is locked"), ("55P03", "40P01", "40001"), LOCKED),
    (("disk is full", "no space left", "could not extend file"), ("53100",), DISK_FULL),
    (("readonly database",), ("25006",), READ_ONLY),
    (("no such table",), ("3F000", "42P01"),
     Outage("no-store", "missing medtwin's tables (was its file replaced or removed?)", 60)),
    (("disk i/o error",), ("58030", "XX001"),
     Outage("no-store", "failing: its disk reported an I/O error", 60)),
    (("the database system is", "terminating connection"), ("57P",),
     Outage("transient", "restarting: its server is starting, stopping or ended the "
            "connection", 10)),
    (("too many connections",), ("53",), Outage("transient", "overloaded: out of connections", 10)),
)  # fmt: skip


def database_outage(exc: BaseException) -> Outage | None:
    """The outage ``exc`` reports (a lost connection, a lock timeout, a full or read-only disk,
    a server shutting down), or None for an error that is a bug (a constraint, bad SQL)."""
    if isinstance(exc, PoolTimeout):
        return Outage("transient", "busy: every connection of the pool is in use", 5)
    if not isinstance(exc, DBAPIError):
        return None
    text = str(exc.orig or exc).lower()
    state = str(getattr(exc.orig, "sqlstate", "") or "")
    for texts, states, outage in _OUTAGES:
        if any(t in text for t in texts) or any(state.startswith(c) for c in states):
            return outage
    if exc.connection_invalidated or type(exc).__name__ in ("OperationalError", "InterfaceError"):
        return UNREACHABLE
    return None


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

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        outage = database_outage(exc)
        if outage is None:
            return _internal(exc)
        log.warning("database unavailable (%s): %s", outage.what,
                    str(getattr(exc, "orig", None) or exc).strip()[:300])  # fmt: skip
        return outcome_response(503, [(outage.code, "", outage.message)],
                                {"Retry-After": str(outage.retry_after)})  # fmt: skip

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _internal(exc)


def _internal(exc: BaseException) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    log.exception("unexpected error %s", ref, exc_info=exc)
    issue = ("exception", "", f"Internal error (reference {ref}). It has been logged.")
    # made outside the headers middleware: add its headers here
    return outcome_response(500, [issue], NO_STORE_HEADERS)


def problem(status: int, message: str, **kw: Any) -> ApiError:
    return ApiError(status, message, **kw)
