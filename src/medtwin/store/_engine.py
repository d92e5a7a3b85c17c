"""Database URLs, engines and migrations.

SQLite (the default, one file, no server): every transaction starts with ``BEGIN IMMEDIATE``,
so it holds the write lock from its first statement. Every store transaction writes (reads of
patient data append to the audit log), so this serialises them without deadlocks or
"database is locked" upgrades half-way; other processes wait up to ``busy_timeout``. Foreign
keys are enforced and ``synchronous=FULL`` makes a committed transaction survive a crash.

PostgreSQL (by URL): ``postgresql://`` URLs use the psycopg 3 driver. Writers lock the rows they
serialise on (``SELECT ... FOR UPDATE``): the twin being updated, the audit log's head row.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool

from ..errors import StoreError

__all__ = ["DB_ENV", "DEFAULT_URL", "database_url", "make_engine", "migrate"]

DB_ENV = "MEDTWIN_DB"
DEFAULT_URL = "sqlite:///./medtwin.db"
BUSY_TIMEOUT_S = 60.0


def database_url(url: str | None = None) -> str:
    """``url``, else ``$MEDTWIN_DB``, else ``sqlite:///./medtwin.db``; ``postgresql://`` gets the
    psycopg 3 driver."""
    url = url or os.environ.get(DB_ENV) or DEFAULT_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise StoreError(
            f"Cannot read the database URL {url!r}. Expected sqlite:///path/to/file.db or "
            "postgresql://user@host:port/dbname."
        ) from None
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"The store runs on SQLite or PostgreSQL. Got a {backend!r} URL: {url!r}.")
    return url


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA synchronous = FULL")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (already normalised by :func:`database_url`)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        db = u.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            folder = os.path.dirname(os.path.abspath(db))
            if not os.path.isdir(folder):
                raise StoreError(
                    f"The SQLite file {db!r} is in a folder that does not exist. Create "
                    f"{folder!r} first or choose another path."
                )
        if not db or db == ":memory:":
            raise StoreError(
                "The store needs a SQLite file (e.g. sqlite:///medtwin.db), not an in-memory "
                "database: each connection would see a different empty database."
            )
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (``alembic upgrade head``) in one transaction.
    On PostgreSQL an advisory lock keeps two processes from migrating at once."""
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("medtwin.store").joinpath("migrations"))
    )
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7400361)"))
            current = _current_revision(conn)
            if current is not None and current not in _known(cfg):
                raise StoreError(
                    f"The database schema is at revision {current!r}, which this medtwin does "
                    f"not know (it knows up to {', '.join(sorted(heads))}). Upgrade medtwin."
                )
            if current not in heads:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StoreError(
            f"Cannot open the database {engine.url.render_as_string(hide_password=True)!r}: "
            f"{str(exc.orig).strip()}"
        ) from None
    except CommandError as exc:  # pragma: no cover - a broken install
        raise StoreError(f"The store's migrations failed: {exc}") from None


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _known(cfg: Any) -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}
