"""Alembic environment of the medtwin store.

``open_store`` runs ``upgrade head`` programmatically on its own connection (handed over in
``config.attributes["connection"]``). The ``alembic`` command works too, with the ini file
beside this one: ``alembic -c src/medtwin/store/migrations/alembic.ini upgrade head`` migrates
the database named by ``MEDTWIN_DB`` (default ``sqlite:///./medtwin.db``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from medtwin.store._engine import database_url
from medtwin.store._schema import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    return database_url(config.get_main_option("sqlalchemy.url") or None)


if config.attributes.get("connection") is not None:
    _run(config.attributes["connection"])
elif context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(_url(), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
