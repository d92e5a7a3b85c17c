"""Store fixtures: every ``store`` test runs on a SQLite file and on a real PostgreSQL server
that this test session starts itself (``tests/_pg.py``; one server per xdist worker, a fresh
database per test)."""

from __future__ import annotations

import pytest

from _pg import postgres_server  # noqa: F401  (session fixture)

BACKENDS = ["sqlite", "postgresql"]
KEY = bytes(range(32))  # the tests' master key


@pytest.fixture
def key() -> bytes:
    return KEY


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def store(db_url, key):
    from medtwin.store import open_store

    s = open_store(db_url, key=key)
    yield s
    s.close()
