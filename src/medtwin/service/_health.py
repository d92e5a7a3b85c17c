"""Liveness and readiness: ``/health`` answers while the process serves requests (it never
touches the database, so a database outage does not get the process restarted); ``/ready``
answers 200 only while the database answers a trivial query, holds the audit log's head row
and can take writes -- every read of patient data writes its audit entry, so a full or
read-only disk stops the service too -- else 503 with an OperationOutcome saying what is wrong
and ``Retry-After``. Writability is checked without writing: for SQLite, the file system of
the database file (read-only, or under :data:`MIN_FREE_BYTES` free); for PostgreSQL, whether
the server is a read-only standby or defaults to read-only transactions.

The probe opens its own driver connection instead of a store transaction: on SQLite every
store transaction takes the write lock (``BEGIN IMMEDIATE``) and would queue behind a long
writer, while a plain read needs no lock a writer holds for long. It waits at most
``PROBE_TIMEOUT_S`` for a lock or a statement.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from .. import __version__
from ._errors import DISK_FULL, READ_ONLY, Outage, database_outage, log, outcome_response

__all__ = ["MIN_FREE_BYTES", "PROBE_TIMEOUT_S", "health_router", "probe_database"]

PROBE_TIMEOUT_S = 2.0
MIN_FREE_BYTES = 1 << 20


def probe_database(engine: Engine, timeout_s: float = PROBE_TIMEOUT_S) -> Outage | None:
    """None if the database answers ``SELECT 1`` and has its audit head row, else the outage."""
    dbapi = engine.dialect.loaded_dbapi
    raw = None
    try:
        raw = engine.raw_connection()  # the driver's own errors, not SQLAlchemy's
        cur = raw.cursor()
        ms = max(1, int(timeout_s * 1000))
        if engine.dialect.name == "sqlite":
            cur.execute(f"PRAGMA busy_timeout = {ms}")
        else:  # the transaction the driver opened ends with it (rolled back on return)
            cur.execute(f"SET LOCAL statement_timeout = {ms}")
        cur.execute("SELECT 1")
        cur.fetchall()
        cur.execute("SELECT seq FROM audit_head WHERE id = 1")
        if not cur.fetchall():
            return Outage("no-store", "missing its audit head row (restore it from a backup)", 60)
        if engine.dialect.name != "sqlite":
            cur.execute("SELECT pg_is_in_recovery(), "
                        "current_setting('default_transaction_read_only') = 'on'")  # fmt: skip
            return READ_ONLY if any(cur.fetchone() or ()) else None
    except (dbapi.Error, DBAPIError) as err:
        log.warning("readiness probe failed: %s", str(err).strip()[:300])
        exc = (
            err if isinstance(err, DBAPIError) else DBAPIError.instance("", None, err, dbapi.Error)
        )
        return database_outage(exc) or Outage("exception", "failing (see the log)", 30)
    finally:
        if raw is not None:
            raw.close()
    return _sqlite_disk(engine.url.database or "")


def _sqlite_disk(path: str) -> Outage | None:
    if not hasattr(os, "statvfs"):  # pragma: no cover - Windows
        return None
    fs = os.statvfs(os.path.dirname(os.path.abspath(path)))
    if fs.f_flag & os.ST_RDONLY:
        return READ_ONLY
    return DISK_FULL if fs.f_bavail * fs.f_frsize < MIN_FREE_BYTES else None


def health_router() -> Any:
    """``GET /health`` (liveness) and ``GET /ready`` (readiness) of ``request.app.state.store``."""
    router = APIRouter(tags=["service"])

    @router.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers. Never touches the database."""
        return {"status": "ok", "version": __version__}

    @router.get("/ready", responses={503: {"description": "The database does not answer."}})
    def ready(request: Request) -> JSONResponse:
        """Readiness: the database answers and holds the audit log (503 with
        ``Retry-After`` when it does not)."""
        store = request.app.state.store
        outage = probe_database(store._engine)  # a plain read, outside the store's write lock
        if outage is not None:
            return outcome_response(503, [(outage.code, "", outage.message)],
                                    {"Retry-After": str(outage.retry_after)})  # fmt: skip
        return JSONResponse({"status": "ready", "database": store.dialect})

    return router
