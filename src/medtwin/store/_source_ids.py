"""Source ids of observations and events at rest: only their keyed hash.

A record's source id (``urn:hosp:mrn|MRN-1|obs-7``) can embed an identifier, so the store keeps
``FieldCipher.source_key(table, source_id)`` (``h1:`` + HMAC under the lookup key, namespaced by
table) in ``observations.source_id`` and ``events.source_id``; duplicate detection compares
hashes. Databases written before held the text: :func:`hash_clear_source_ids` rewrites them
once, when the store is first opened with its key, in one transaction, and records that in
``store_meta`` (``source_ids = h1``). The space the old rows leave is zeroed (SQLite
``secure_delete``) or rewritten (PostgreSQL ``VACUUM FULL`` of the two tables, once); copies
made before (backups, WAL archives) still hold the texts.

Key rotation (``_rekey``): the hashes are one-way and the texts are gone, so a rekey does not
recompute them from the texts; it hashes each stored hash again under the new lookup key and
carries the old lookup keys (``FieldCipher.source_key`` folds them in the same order).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ._crypto import SOURCE_KEY_PREFIX, FieldCipher
from ._schema import EventRow, MetaRow, ObservationRow

__all__ = ["MARK", "hash_clear_source_ids"]

MARK = "source_ids"  # store_meta row: "h1" once every source id is a keyed hash
_TABLES: tuple[Any, ...] = (ObservationRow, EventRow)
HASHED = re.compile(re.escape(SOURCE_KEY_PREFIX) + r"[0-9a-f]{64}")
_CHUNK = 1000
_LOCK = 7400362  # PostgreSQL advisory lock: one opener rewrites, the others wait and see MARK


def rewrite_source_ids(s: Session, table: Any, new_value: Callable[[str], str | None]) -> int:
    """Replace each source id ``sid`` of ``table`` by ``new_value(sid)`` (None: keep), a chunk
    of rows at a time, in transaction ``s``; returns how many rows changed."""
    n, last = 0, 0
    while True:
        q = select(table.id, table.source_id).where(table.id > last).order_by(table.id)
        rows = s.execute(q.limit(_CHUNK)).all()
        if not rows:
            return n
        last = rows[-1][0]
        batch = [{"id": i, "source_id": v} for i, sid in rows if (v := new_value(sid)) is not None]
        if batch:
            s.execute(update(table), batch)
            n += len(batch)


def _hash_clear(table: Any, cipher: FieldCipher) -> Callable[[str], str | None]:
    name = table.__tablename__
    return lambda sid: None if HASHED.fullmatch(sid) else cipher.source_key(name, sid)


def hash_clear_source_ids(engine: Engine, cipher: FieldCipher) -> int:
    """Replace the clear source ids written by an older medtwin by their keyed hashes, once per
    database (marked in ``store_meta``), all in one transaction. Returns the rows rewritten.
    Run after the key is checked: a wrong key would hash them under the wrong key."""
    pg = engine.dialect.name == "postgresql"
    with Session(engine) as s, s.begin():
        if pg:
            s.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK})"))
        else:  # zero the space the old rows leave in the file's pages
            s.execute(text("PRAGMA secure_delete = ON"))
        if s.get(MetaRow, MARK) is not None:
            return 0
        n = sum(rewrite_source_ids(s, t, _hash_clear(t, cipher)) for t in _TABLES)
        s.add(MetaRow(name=MARK, value=SOURCE_KEY_PREFIX.rstrip(":")))
    if n and pg:  # the old row versions hold the text until the tables are rewritten
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM FULL observations, events"))
    return n
