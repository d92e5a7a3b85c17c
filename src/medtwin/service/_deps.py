"""What the API's routers share: the store of the app, the authenticated caller, the raw body
of a FHIR route and the FHIR JSON answer.

A router reads the store from ``request.app.state.store`` (set by ``create_app``), so a
router module holds no store of its own and any app can include it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from ..store import Store
from ._auth import Caller, authenticate
from ._errors import FHIR_JSON

__all__ = ["RawBody", "StoreOf", "Who", "fhir_response"]


def _store(request: Request) -> Store:
    return request.app.state.store


def _caller(request: Request) -> Caller:
    return authenticate(request, request.app.state.store, request.app.state.limiter)


async def _body(request: Request) -> bytes:
    return await request.body()


StoreOf = Annotated[Store, Depends(_store)]
"""The app's store."""
Who = Annotated[Caller, Depends(_caller)]
"""The authenticated caller: 401 without a valid bearer token (audited)."""
RawBody = Annotated[bytes, Depends(_body)]
"""The request body as sent: a FHIR resource, parsed by ``medtwin.data.fhir``."""


def fhir_response(doc: Any, status: int = 200) -> JSONResponse:
    """``doc`` as ``application/fhir+json``."""
    return JSONResponse(doc, status_code=status, media_type=FHIR_JSON)
