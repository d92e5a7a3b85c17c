"""Database URLs, engines and migrations.

SQLite (the default, one file, no server): every transaction starts with ``BEGIN IMMEDIATE``,
so it holds the write lock from its first statement. Store transactions that read patient data
also write (their audit entry), so this serialises them without deadlocks or "database is
locked" upgrades half-way; other processes wait up to ``busy_timeout``. The exception: a
read-only engine (:func:`read_only`, execution option ``medtwin_read_only``) begins
``DEFERRED``, so a read that writes nothing (a page of the audit log, its verification) does not
take the write lock; on PostgreSQL it is a ``READ ONLY`` transaction at ``REPEATABLE READ`` (one
snapshot for all its statements). Foreign
keys are enforced and ``synchronous=FULL`` makes a committed transaction survive a crash.

PostgreSQL (by URL): ``postgresql://`` URLs use the psycopg 3 driver. Writers lock the rows they
serialise on (``SELECT ... FOR UPDATE``): the twin being updated, the audit log's head row.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from ..errors import StoreError
from ._crypto import load_key

__all__ = [
    "DB_ENV",
    "DEFAULT_URL",
    "database_url",
    "has_store",
    "lost_race",
    "make_engine",
    "migrate",
    "no_store",
    "read_only",
    "refuse_missing",
    "require_store",
]

DB_ENV = "MEDTWIN_DB"
DEFAULT_URL = "sqlite:///./medtwin.db"
BUSY_TIMEOUT_S = 60.0
READ_ONLY = "medtwin_read_only"  # execution option: begin without the write lock


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
    if conn.get_execution_options().get(READ_ONLY, False):
        # no pool (NullPool): the connection, and this pragma with it, ends with the session
        conn.exec_driver_sql("PRAGMA query_only = 1")
        conn.exec_driver_sql("BEGIN DEFERRED")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# PostgreSQL's SQLSTATEs for a transaction it aborted because of a concurrent one: deadlock
# detected, serialization failure. Running the transaction again is the documented remedy.
_RACE_STATES = frozenset({"40P01", "40001"})


def lost_race(exc: DBAPIError) -> bool:
    """Whether ``exc`` says PostgreSQL aborted the transaction to resolve a deadlock (or a
    serialization failure) with a concurrent one: nothing of it was written, and running it
    again (after the other committed) is safe. False on SQLite and for any other error."""
    return getattr(exc.orig, "sqlstate", None) in _RACE_STATES


def read_only(engine: Engine) -> Engine:
    """``engine`` for transactions that only read: SQLite begins them ``DEFERRED`` (no write
    lock) with ``query_only`` on, PostgreSQL runs them ``READ ONLY`` at ``REPEATABLE READ``.
    Writing in one fails on both."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{READ_ONLY: True})
    return engine.execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True, **{READ_ONLY: True}
    )


def no_store(url: Any) -> StoreError:
    """The error for a database that holds no medtwin store (``open_store(create=False)``)."""
    shown = make_url(str(url)).render_as_string(hide_password=True)
    return StoreError(
        f"No medtwin store at {shown!r}: check --db / MEDTWIN_DB; `medtwin users add` or "
        "`medtwin serve` creates one."
    )


def refuse_missing(url: str | None = None) -> None:
    """Raise what ``open_store(url, create=False)`` raises before it connects -- no key (the
    master key, as :func:`~medtwin.store._crypto.load_key` finds it), then a SQLite file that is
    not there (:func:`no_store`) -- without opening or importing anything more: the command line
    checks this before it loads the store. A PostgreSQL URL passes (only a connection can tell)."""
    load_key()
    _refuse_missing_file(database_url(url))


def _refuse_missing_file(url: str) -> None:
    u = make_url(url)
    db = (u.database or "") if u.get_backend_name() == "sqlite" else ""
    if db and db != ":memory:" and not db.startswith("file:") and not os.path.isfile(db):
        raise no_store(url)


def _private_file(db: str) -> None:
    """Create the SQLite file with mode 0600 before SQLite does (SQLite gives its -journal,
    -wal and -shm files the database file's mode); take world access off an existing one."""
    try:
        os.close(os.open(db, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        try:
            st = os.stat(db)
            if st.st_mode & 0o007 and st.st_uid == os.getuid():
                os.chmod(db, st.st_mode & 0o770)
        except OSError:  # pragma: no cover - not ours to change; SQLite reports what matters
            pass
    except OSError as exc:
        raise StoreError(f"Cannot create the SQLite file {db!r}: {exc.strerror}.") from None


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url`` (already normalised by :func:`database_url`). A new SQLite file
    is created with mode 0600; with ``create=False`` a missing one is an error."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        db = u.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            folder = os.path.dirname(os.path.abspath(db))
            if not create:
                _refuse_missing_file(url)
            if not os.path.isdir(folder):
                raise StoreError(
                    f"The SQLite file {db!r} is in a folder that does not exist. Create "
                    f"{folder!r} first or choose another path."
                )
            if create:
                _private_file(db)
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
    from alembic.util.exc import CommandError

    heads, known = _revisions()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7400361)"))
            current = _current_revision(conn)
            if current is not None and current not in known:
                raise StoreError(
                    f"The database schema is at revision {current!r}, which this medtwin does "
                    f"not know (it knows up to {', '.join(sorted(heads))}). Upgrade medtwin."
                )
            if current not in heads:
                cfg = _alembic_config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
    except DBAPIError as exc:
        raise StoreError(
            f"Cannot open the database {engine.url.render_as_string(hide_password=True)!r}: "
            f"{str(exc.orig).strip()}"
        ) from None
    except CommandError as exc:  # pragma: no cover - a broken install
        raise StoreError(f"The store's migrations failed: {exc}") from None


def _alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("medtwin.store").joinpath("migrations"))
    )
    return cfg


@functools.cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """The schema's head revisions and every revision this medtwin knows, read from the
    migration scripts once per process (alembic compiles each script file when it reads the
    directory: some 10 ms an ``open_store``, paid once instead)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config())
    heads = frozenset(scripts.get_heads())
    return heads, frozenset(s.revision for s in scripts.walk_revisions())


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


STORE_TABLES = frozenset({"alembic_version", "patients", "audit_log", "audit_head"})


def has_store(engine: Engine) -> bool:
    """Whether the database holds medtwin's schema (reads only; raises StoreError if it cannot
    be opened at all)."""
    from sqlalchemy import inspect

    try:
        with read_only(engine).connect() as conn:
            return STORE_TABLES <= set(inspect(conn).get_table_names())
    except DBAPIError as exc:
        raise StoreError(
            f"Cannot open the database {engine.url.render_as_string(hide_password=True)!r}: "
            f"{str(exc.orig).strip()}"
        ) from None


def require_store(engine: Engine) -> None:
    """Refuse a database without medtwin's schema (``open_store(create=False)``)."""
    if not has_store(engine):
        raise no_store(engine.url)
