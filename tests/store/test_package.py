"""The store's migrations, run by the ``alembic`` command too."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

import medtwin.store as store_pkg
from medtwin.store import open_store

INI = Path(store_pkg.__file__).parent / "migrations" / "alembic.ini"


def tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_alembic_command_migrates_down_and_up(db_url, key, monkeypatch):
    monkeypatch.setenv("MEDTWIN_DB", db_url)
    cfg = Config(str(INI))
    command.upgrade(cfg, "head")
    assert {"patients", "audit_log", "twin_versions", "alembic_version"} <= tables(db_url)
    command.downgrade(cfg, "base")
    assert tables(db_url) == {"alembic_version"}
    # open_store brings an empty database to head itself, and the store works.
    with open_store(db_url, key=key) as s:
        s.audit("ops", "store.migrate")
        assert s.verify_audit().ok
    assert "grants" in tables(db_url)


def test_postgresql_tests_fail_without_the_binaries(tmp_path):
    """Without PostgreSQL a test using the server fails (it does not skip), saying why."""
    import os
    import subprocess
    import sys

    (tmp_path / "bin").mkdir()  # an empty folder: no initdb, no pg_ctl
    test = tmp_path / "test_needs_pg.py"
    test.write_text(
        "from _pg import postgres_server  # noqa: F401\n\n"
        "def test_needs_pg(postgres_server):\n    pass\n"
    )
    env = {**os.environ, "MEDTWIN_PG_BIN": str(tmp_path / "bin"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # fmt: skip
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull,
         "--rootdir", str(tmp_path), str(test)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1, res.stdout
    assert "1 error" in res.stdout and "skipped" not in res.stdout
    assert "Cannot start the test PostgreSQL server" in res.stdout
    assert f"not found in {tmp_path / 'bin'}" in res.stdout


def test_the_postgresql_tests_run_on_a_postgresql_15_server(postgres_server, key):
    name = postgres_server.create_database()
    try:
        with open_store(postgres_server.url(name), key=key) as s, s._engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            assert s.dialect == "postgresql"
    finally:
        postgres_server.drop_database(name)
    assert version.startswith("15."), version
