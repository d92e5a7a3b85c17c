"""Copying a store's database to a file and back: SQLite's online backup API (a consistent copy
while the service runs), ``pg_dump --format=custom`` and ``pg_restore --single-transaction``.

The PostgreSQL tools are looked up in ``$MEDTWIN_PG_BIN`` if set, else in
``/usr/lib/postgresql/<version>/bin`` (newest first), else on ``$PATH``. The connection goes
to them through the environment (``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGDATABASE``,
``PGPASSWORD``), never on the command line, where other users could read the password.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ..errors import StoreError
from ._engine import STORE_TABLES, make_engine, read_only

__all__ = ["PG_BIN_ENV", "dump", "load", "pg_tool", "sqlite_file", "target_state"]

PG_BIN_ENV = "MEDTWIN_PG_BIN"
BUSY_TIMEOUT_S = 60.0


def sqlite_file(url: str) -> Path | None:
    """The SQLite file of ``url`` (normalised), or None for PostgreSQL."""
    u = make_url(url)
    return Path(u.database or "").expanduser() if u.get_backend_name() == "sqlite" else None


def _version(folder: str) -> tuple[int, ...]:
    name = Path(folder).parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit()) or (0,)


def pg_tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``; StoreError naming the package if missing."""
    if os.environ.get(PG_BIN_ENV):
        folders = [os.environ[PG_BIN_ENV]]
    else:
        folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    for folder in folders:
        if (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    found = None if os.environ.get(PG_BIN_ENV) else shutil.which(name)
    if found:
        return found
    where = os.environ.get(PG_BIN_ENV) or "/usr/lib/postgresql/*/bin or $PATH"
    raise StoreError(
        f"Backing up or restoring a PostgreSQL store needs {name}, which is not in {where}. "
        "Install the PostgreSQL client tools of the server's version or newer (Debian/Ubuntu: "
        "`apt-get install postgresql-client`), or set MEDTWIN_PG_BIN to the folder holding them."
    )


_QUERY_ENV = {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE",
              "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
              "connect_timeout": "PGCONNECT_TIMEOUT"}  # fmt: skip


def _pg_env(url: str) -> dict[str, str]:
    """libpq's environment for ``url``: what the URL says overrides what the environment has,
    as when the store itself connects."""
    u = make_url(url)
    given = {"PGHOST": u.host, "PGPORT": u.port, "PGUSER": u.username,
             "PGDATABASE": u.database, "PGPASSWORD": u.password}  # fmt: skip
    for name, var in _QUERY_ENV.items():
        value = u.query.get(name)
        if isinstance(value, str):
            given[var] = value
    env = dict(os.environ)
    env.update({k: str(v) for k, v in given.items() if v not in (None, "")})
    return env


def _run(args: list[str], url: str, what: str) -> None:
    res = subprocess.run(args, env=_pg_env(url), capture_output=True, text=True)
    if res.returncode != 0:
        said = " ".join(res.stderr.strip().splitlines()[-3:]) or f"exit status {res.returncode}"
        raise StoreError(f"{what} failed: {said}")


def _sqlite_source(path: Path) -> sqlite3.Connection:
    """``path`` opened read-only (it is never created or changed)."""
    if not path.is_file():
        raise StoreError(f"No SQLite file {str(path)!r}.")
    uri = path.resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)


def _sqlite_copy(src: Path, dst: Path) -> None:
    """Copy with the online backup API: one step under a read lock, so a consistent copy."""
    try:
        source = _sqlite_source(src)
        try:
            target = sqlite3.connect(dst, timeout=BUSY_TIMEOUT_S)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise StoreError(f"Copying {str(src)!r} to {str(dst)!r} failed: {exc}.") from None


def dump(url: str, out: Path) -> None:
    """Write the database of ``url`` to ``out`` (an existing, empty, private file)."""
    path = sqlite_file(url)
    if path is not None:
        _sqlite_copy(path, out)
        return
    _run([pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={out}"], url,
         "pg_dump")  # fmt: skip


def load(url: str, backup: Path, *, replace: bool) -> None:
    """Restore ``backup`` into the database of ``url`` (see :func:`target_state` first)."""
    path = sqlite_file(url)
    if path is not None:
        if not path.exists():
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        _sqlite_copy(backup, path)
        return
    args = [pg_tool("pg_restore"), "--no-owner", "--no-acl", "--single-transaction",
            "--no-password", f"--dbname={make_url(url).database}"]  # fmt: skip
    if replace:
        args += ["--clean", "--if-exists"]
    _run([*args, str(backup)], url, "pg_restore (nothing was restored)")


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with read_only(engine).connect() as conn:
            return set(inspect(conn).get_table_names())
    except DBAPIError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise StoreError(f"Cannot open the database {shown!r}: {str(exc.orig).strip()}") from None
    finally:
        engine.dispose()


def target_state(url: str) -> str:
    """``empty`` (no file, an empty file or a database without tables), ``store`` (medtwin's
    schema) or ``other`` (tables of something else)."""
    path = sqlite_file(url)
    if path is not None:
        if not path.parent.is_dir():
            raise StoreError(
                f"The SQLite file {str(path)!r} is in a folder that does not exist. Create "
                f"{str(path.parent)!r} first or choose another path."
            )
        if not path.exists() or (path.is_file() and path.stat().st_size == 0):
            return "empty"
        if not path.is_file():
            raise StoreError(f"{str(path)!r} is not a file: name a SQLite file to restore into.")
    names = _tables(url)
    if not names:
        return "empty"
    return "store" if STORE_TABLES <= names else "other"
