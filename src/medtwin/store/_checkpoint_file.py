"""Checkpoints of the audit log kept in a file outside the database.

The file is either one JSON checkpoint (``medtwin audit checkpoint --out``) or JSON lines, one
checkpoint per line, appended by ``medtwin serve --checkpoint-file`` (:func:`append_checkpoint`:
created with mode 0600, each line flushed to disk). Keep it where whoever can edit the database
cannot (another host, append-only storage): a checkpoint there catches a cut of the log's tail
that also rewrote the head row and deleted the stored checkpoints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import StoreError
from ._audit import Checkpoint

__all__ = ["append_checkpoint", "read_checkpoints"]


def append_checkpoint(path: str | os.PathLike[str], cp: Checkpoint) -> None:
    """Append ``cp`` as one JSON line to ``path`` (created with mode 0600) and flush it to
    disk."""
    line = json.dumps(cp.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_checkpoints(path: str | os.PathLike[str]) -> list[Checkpoint]:
    """Every checkpoint in ``path``: a JSON object, a JSON list of them, or JSON lines."""
    path = Path(path).expanduser()
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"Cannot read the checkpoint file {str(path)!r}: {exc}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        docs = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    docs.append((n, json.loads(line)))
                except ValueError as exc:
                    raise StoreError(
                        f"Line {n} of the checkpoint file {str(path)!r} is not JSON ({exc}). "
                        "Expected one checkpoint per line, as medtwin serve --checkpoint-file "
                        "writes them."
                    ) from None
    else:
        docs = list(enumerate(doc if isinstance(doc, list) else [doc], 1))
    if not docs:
        raise StoreError(
            f"The checkpoint file {str(path)!r} holds no checkpoint. Expected a JSON checkpoint "
            "or JSON lines of them."
        )
    out = []
    for n, d in docs:
        try:
            out.append(Checkpoint.from_dict(d))
        except StoreError as exc:
            raise StoreError(f"Checkpoint {n} of {str(path)!r}: {exc}") from None
    return out
