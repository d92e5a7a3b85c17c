"""The REST API: patients, observations, regimen, twins and their versions, forecasts,
what-if, the skill ledger, audit and the de-identified export. OpenAPI at ``/openapi.json``
and ``/docs``.

Every route that touches patient data goes through :class:`~medtwin.service._auth.Caller`
(role and grant checks) and the store (which appends an audit entry for every read and
write). Errors are OperationOutcomes; nothing leaks a stack trace. :func:`create_app` holds
what is app-wide (state, error handlers, middleware) and includes the routers, each in its own
module: patients and their data (``_patients_routes``), twins and forecasts
(``_twins_routes``), audit (``_audit_routes``), users (``_users_routes``), research
(``_research_routes``), models and SBML import (``_models_routes``), health, docs and the
dashboard.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from .. import __version__
from .._jax_cache import enable_compilation_cache
from ..errors import StoreError
from ..store import EXPORT_LIMIT_PER_HOUR, Store
from ._audit_routes import audit_router
from ._auth import RateLimiter
from ._cardiac_routes import cardiac_router
from ._dashboard import dashboard_router
from ._docs import docs_router
from ._errors import install_error_handlers
from ._headers import SecurityHeaders
from ._health import health_router
from ._limits import BodyLimit
from ._models_routes import models_router
from ._patients_routes import patients_router
from ._research_routes import research_router
from ._twins_routes import twins_router
from ._users_routes import users_router
from ._warmup import start_warm_up

__all__ = ["create_app", "recover"]

log = logging.getLogger("medtwin.service")


def recover(store: Store) -> dict[str, int]:
    """Apply what a crash left pending: every twin with stored but unapplied observations or
    events gets its next version. Returns patient -> version reached."""
    done = {}
    for pid in store.patient_ids():
        try:
            view = store.update_twin(pid, actor="system:recovery")
        except StoreError:  # no twin for this patient
            continue
        if view is not None:
            done[pid] = view.version
    if done:
        log.info("recovered pending updates of %d twins", len(done))
    return done


@functools.lru_cache(maxsize=16)
def _stateless_routers(
    title: str, openapi_url: str, max_body_bytes: int, export_limit_per_hour: int
) -> tuple[APIRouter, ...]:
    """The routers that hold no state of their own, in the order they match: built once per
    process and settings, and shared by every app made with those settings. Their routes read
    the store, the rate limiters and the heavy-request slots from ``request.app.state``, so an
    app's requests never see another app's store. Building a router (FastAPI analyses each
    route's signature) was most of what :func:`create_app` cost: 80 ms per app here, 12 ms
    with the routers shared (the tests make some two thousand apps). The dashboard's router
    holds its pages' caches and is built per app."""
    return (
        health_router(),  # /health (liveness), /ready (database)
        docs_router(title=title, openapi_url=openapi_url),
        patients_router(max_body_bytes=max_body_bytes),  # and their data
        twins_router(),  # twins, forecasts, what-if, skill
        cardiac_router(),  # a cardiac twin's tissue, map points, P(inducible)
        audit_router(),
        users_router(),  # users, tokens, grants (admin only)
        research_router(export_limit_per_hour=export_limit_per_hour),
        models_router(),  # the site's models; SBML import (admin only)
    )


def create_app(
    store: Store,
    *,
    max_body_bytes: int = 5_000_000,
    login_limit: int = 10,
    login_window_s: float = 60.0,
    export_limit_per_hour: int = EXPORT_LIMIT_PER_HOUR,
    warm: bool = False,
) -> FastAPI:
    """The API over ``store``. ``max_body_bytes`` bounds every request body; ``login_limit``
    failed logins per client per ``login_window_s`` seconds, then 429;
    ``export_limit_per_hour`` de-identified exports per user per rolling hour, then 429.
    ``warm``: after start-up recovery, warm up for the stored twins in the background
    (``_warmup``; ``medtwin serve`` does)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        enable_compilation_cache()  # a restarted service loads its compiles (MEDTWIN_JAX_CACHE)
        await run_in_threadpool(recover, store)
        if warm:
            start_warm_up(store)  # in the background: the service answers meanwhile
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="medtwin",
        version=__version__,
        description="Medical digital twins: patients, data (FHIR R4), twins, forecasts, audit.",
        docs_url=None,  # served by _docs from this package, never from a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    app.state.store = store
    app.state.limiter = RateLimiter(login_limit, login_window_s)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    for router in _stateless_routers(
        app.title, app.openapi_url or "", max_body_bytes, export_limit_per_hour
    ):
        app.include_router(router)
    app.include_router(dashboard_router())  # per app: it holds its pages' caches
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: also on 413s
    return app
