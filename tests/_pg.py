"""A throwaway PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temporary folder, on
a free port, stopped and removed afterwards. Nothing needs to be started by hand.

Use from a ``conftest.py`` (``tests/`` must be importable, e.g. by a ``tests/<pkg>/__init__.py``
so that pytest puts ``tests/`` on ``sys.path``)::

    from _pg import postgres_server  # noqa: F401  (session fixture: a PostgresServer)

    @pytest.fixture
    def pg_url(postgres_server):
        name = postgres_server.create_database()
        yield postgres_server.url(name)
        postgres_server.drop_database(name)

The binaries are looked up in ``$MEDTWIN_PG_BIN`` if it is set, else in
``/usr/lib/postgresql/15/bin``, other ``/usr/lib/postgresql/*/bin`` and ``$PATH``. If none are
found, the fixture FAILS (it does not skip): the PostgreSQL tests are part of the suite.
``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user
(``runuser``). Every pytest-xdist worker starts its own server on its own port.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "find_pg_bin", "postgres_server", "start_postgres"]

PG_BIN_ENV = "MEDTWIN_PG_BIN"


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: ``$MEDTWIN_PG_BIN`` if set (only it), else
    PostgreSQL 15's, another version's or the one on ``$PATH``; None if there is none."""
    if os.environ.get(PG_BIN_ENV):
        candidates = [os.environ[PG_BIN_ENV]]
    else:
        candidates = ["/usr/lib/postgresql/15/bin"]
        candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        which = shutil.which("pg_ctl")
        candidates += [str(Path(which).parent)] if which else []
    for c in candidates:
        if (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A running throwaway server; :meth:`stop` stops it and removes its folder."""

    def __init__(self, bindir: Path, root: Path, port: int, as_user: list[str]) -> None:
        self.bindir, self.root, self.port, self._as = bindir, root, port, as_user
        self.version = ""

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=timeout, cwd=self.root
        )

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its name."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.datadir.exists():
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Start a server (``initdb`` + ``pg_ctl start``); raises RuntimeError saying what failed."""
    bindir = find_pg_bin()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL binaries (initdb, pg_ctl) not found in "
            f"{os.environ.get(PG_BIN_ENV) or '/usr/lib/postgresql/*/bin or $PATH'}. The store "
            "tests run against a real "
            "PostgreSQL 15 server: install it (Debian: apt-get install postgresql-15) or set "
            f"{PG_BIN_ENV} to its bin folder."
        )
    root = Path(tempfile.mkdtemp(prefix="mtpg-", dir="/tmp"))  # short: holds the socket
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bindir, root, 0, as_user)
    res = server._run(
        str(bindir / "initdb"),
        "-D",
        str(server.datadir),
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    )
    if res.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({res.returncode}): {res.stderr.strip()}")
    server.version = server._run(str(bindir / "postgres"), "--version").stdout.strip()
    for _attempt in range(5):
        server.port = _free_port()
        opts = (
            f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        res = server._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(server.datadir),
            "-o",
            opts,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if res.returncode == 0:
            atexit.register(server.stop)  # if the fixture's teardown never runs
            return server
    log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"pg_ctl start failed: {res.stderr.strip()} {log[-2000:]}")


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for this test session (this xdist worker); fails if none starts."""
    try:
        server = start_postgres()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"Cannot start the test PostgreSQL server: {exc}", pytrace=False)
    yield server
    server.stop()
