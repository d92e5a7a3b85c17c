"""Signed checkpoints of the audit log's head, appended to a file outside the database while the
service runs (``medtwin serve --checkpoint-file PATH --checkpoint-every-s S``).

Someone who can edit the database can cut the log's tail consistently: delete the last entries,
rewrite the head row and delete the stored checkpoints after the cut; the chain then verifies.
A checkpoint they cannot reach catches it: ``medtwin audit verify --checkpoint PATH`` reports
the log ending before the checkpointed entry. Keep the file where the database's operators
cannot write (another host's mount, append-only storage, a log shipper picking it up).

:class:`CheckpointWriter` signs the head every ``every_s`` seconds (only when it moved) and once
more at :meth:`~CheckpointWriter.stop`, in a daemon thread; each line is flushed to disk.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..errors import MedtwinError
from ..store import Checkpoint, Store, append_checkpoint

__all__ = ["CheckpointWriter"]

log = logging.getLogger("medtwin.service")


class CheckpointWriter:
    """Appends a signed checkpoint of ``store``'s audit log to ``path`` every ``every_s``
    seconds between :meth:`start` and :meth:`stop` (and at stop). Use as a ``with`` block."""

    def __init__(self, store: Store, path: str | Path, every_s: float = 60.0) -> None:
        self.store, self.path, self.every_s = store, Path(path).expanduser(), every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: int | None = None
        self._lock = threading.Lock()
        self.written = 0

    def start(self) -> CheckpointWriter:
        """Check the file can be written, write the first checkpoint, start the thread."""
        if not (isinstance(self.every_s, int | float) and 0 < self.every_s < float("inf")):
            raise MedtwinError(f"--checkpoint-every-s must be > 0 seconds. Got {self.every_s!r}.")
        if not self.path.parent.is_dir():
            raise MedtwinError(
                f"--checkpoint-file must be in an existing folder. Got {str(self.path)!r}; "
                f"create {str(self.path.parent)!r} first."
            )
        try:
            self.write_now()
        except OSError as exc:
            msg = f"Cannot append to the checkpoint file {str(self.path)!r}: {exc}"
            raise MedtwinError(msg) from None
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)
        self._thread.start()
        return self

    def write_now(self) -> Checkpoint:
        """Sign the head now; append it unless it is the one appended last."""
        with self._lock:
            cp = self.store.checkpoint()
            if cp.seq != self._last:
                append_checkpoint(self.path, cp)
                self._last = cp.seq
                self.written += 1
            return cp

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.write_now()
            except Exception:  # keep serving; the next tick retries
                log.exception("writing an audit checkpoint to %s failed", self.path)

    def stop(self) -> None:
        """Stop the thread and write the final checkpoint."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        try:
            self.write_now()
        except Exception:
            log.exception("writing the final audit checkpoint to %s failed", self.path)

    def __enter__(self) -> CheckpointWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
