"""Micro-batching of twin updates across the concurrent requests of one process.

Every write of data (``add_observations``, ``add_events``, ``ingest``) ends with the update of
the twins it touched. When several request threads of one process do that at about the same
time -- readings of many patients arriving together -- :class:`UpdateBatcher` coalesces their
updates into one :meth:`Store.update_twins` call: one read of the plans, one vmapped
computation (``medtwin.loop.update_many``), one write. Each caller gets the results of its own
patients; a patient whose update fails fails only the callers that asked for it.

The wait is bounded. At most ``max_running`` batches (default 2: one computes while the other
reads or writes the database) run at once; callers that arrive meanwhile queue, so under load
a batch holds what arrived while the previous ones ran (the batch size follows the load, with
no fixed wait). When a batch may start, its first caller (its *leader*) waits at most
``wait_s`` (default 0.015 s) for other callers, and only while another writer of this store is
still storing its records (it will ask for an update next: see
:meth:`UpdateBatcher.arriving`); it stops waiting as soon as ``max_batch`` (default 64)
patients are queued. A lone writer therefore waits for nothing.

Configuration: ``Store(..., update_batching=...)`` -- see :func:`batching_from_env` -- from the
environment variables ``MEDTWIN_UPDATE_BATCH_WAIT_MS`` (the bounded wait in milliseconds;
``off`` turns micro-batching off, and each caller then updates its twins one by one as
before) and ``MEDTWIN_UPDATE_BATCH_MAX`` (patients per batch, 1..1024), or at run time with
:meth:`Store.set_update_batching`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import StoreError

__all__ = [
    "BATCH_MAX_ENV",
    "BATCH_WAIT_ENV",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_RUNNING",
    "DEFAULT_WAIT_S",
    "Batching",
    "UpdateBatcher",
    "batching_from_env",
]

BATCH_WAIT_ENV = "MEDTWIN_UPDATE_BATCH_WAIT_MS"
BATCH_MAX_ENV = "MEDTWIN_UPDATE_BATCH_MAX"
DEFAULT_WAIT_S = 0.015
DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_RUNNING = 2
_OFF = frozenset({"off", "none", "no", "false"})


@dataclass(frozen=True)
class Batching:
    """How concurrent twin updates are coalesced: wait at most ``wait_s`` seconds (0..1) for
    other callers, at most ``max_batch`` patients (1..1024) per batch, at most ``max_running``
    batches (1..64) at once."""

    wait_s: float = DEFAULT_WAIT_S
    max_batch: int = DEFAULT_MAX_BATCH
    max_running: int = DEFAULT_MAX_RUNNING

    def __post_init__(self) -> None:
        if not (isinstance(self.wait_s, int | float) and 0 <= self.wait_s <= 1):
            raise StoreError(
                f"The update batch wait must be a number of seconds in [0, 1]. Got "
                f"{self.wait_s!r}. Use e.g. Batching(wait_s=0.015), or None for no batching."
            )
        if not (isinstance(self.max_batch, int) and 1 <= self.max_batch <= 1024):
            raise StoreError(
                f"The update batch size must be an integer in [1, 1024]. Got {self.max_batch!r}."
            )
        if not (isinstance(self.max_running, int) and 1 <= self.max_running <= 64):
            raise StoreError(
                f"The number of update batches at once must be an integer in [1, 64]. Got "
                f"{self.max_running!r}."
            )


def batching_from_env(env: dict[str, str] | None = None) -> Batching | None:
    """The batching the environment asks for (``MEDTWIN_UPDATE_BATCH_WAIT_MS``,
    ``MEDTWIN_UPDATE_BATCH_MAX``; unset: the defaults), or None for ``off``."""
    source: Mapping[str, str] = os.environ if env is None else env
    wait = source.get(BATCH_WAIT_ENV, "").strip()
    size = source.get(BATCH_MAX_ENV, "").strip()
    if wait.lower() in _OFF:
        return None
    try:
        wait_s = DEFAULT_WAIT_S if not wait else float(wait) / 1000.0
        max_batch = DEFAULT_MAX_BATCH if not size else int(size)
    except ValueError:
        raise StoreError(
            f"{BATCH_WAIT_ENV} must be a number of milliseconds (or 'off') and {BATCH_MAX_ENV} "
            f"an integer. Got {wait!r} and {size!r}."
        ) from None
    return Batching(wait_s, max_batch)


@dataclass
class _Request:
    pids: list[str]
    actor: str
    taken: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    results: dict[str, Any] = field(default_factory=dict)


RunBatch = Callable[[Sequence[tuple[str, str]]], dict[str, Any]]


class UpdateBatcher:
    """Coalesces the twin updates of concurrent callers (see the module docstring).

    ``run`` takes ``(pid, actor)`` pairs and returns per pid its result: what
    :meth:`Store.update_twin` returns, or the exception its update raised."""

    def __init__(self, run: RunBatch, batching: Batching) -> None:
        self._run = run
        self.batching = batching
        self._cv = threading.Condition()
        self._queue: list[_Request] = []
        self._collecting = False  # a leader is gathering the next batch
        self._running = 0  # batches taken and not yet finished
        self._arriving = 0  # writers storing records, who will ask for an update next
        self._local = threading.local()  # this thread's mark, while it counts in _arriving

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Mark a writer storing records whose twins it updates next: a leader waits (at most
        ``wait_s``) for such writers to join its batch. The mark ends when the writer asks for
        its update (:meth:`update`) or leaves the block."""
        if getattr(self._local, "marked", False):  # nested: already counted
            yield
            return
        with self._cv:
            self._arriving += 1
            self._local.marked = True
        try:
            yield
        finally:
            self._unmark()

    def _unmark(self) -> None:
        with self._cv:
            if getattr(self._local, "marked", False):
                self._local.marked = False
                self._arriving -= 1
                self._cv.notify_all()

    def update(self, pids: Sequence[str], actor: str) -> dict[str, Any]:
        """Update the twins of ``pids`` (for ``actor``) in a batch with other callers'; returns
        per pid what :meth:`Store.update_twin` returns; raises the first pid's failure."""
        req = _Request(list(dict.fromkeys(pids)), actor)
        if not req.pids:
            self._unmark()  # this writer has arrived, with nothing to update
            return {}
        with self._cv:  # (re-entrant) arrived and queued at once: a leader that sees
            self._unmark()  # this writer no longer arriving sees its request queued
            self._queue.append(req)
            self._cv.notify_all()
            most = self.batching.max_running
            while not req.taken and (self._collecting or self._running >= most):
                self._cv.wait()
            leader = not req.taken
            if leader:
                self._collecting = True
        if leader:
            self._lead(req)
        req.done.wait()
        for pid in req.pids:
            if isinstance(req.results.get(pid), BaseException):
                raise req.results[pid]
        return req.results

    def _lead(self, mine: _Request) -> None:
        """Gather a batch (bounded wait), run it, hand each request its results."""
        most = self.batching.max_batch
        with self._cv:
            deadline = time.monotonic() + self.batching.wait_s
            while self._arriving > 0 and self._queued() < most:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(left)
            batch = [mine]
            n = len(mine.pids)
            for req in self._queue:
                if req is not mine and n + len(req.pids) <= most:
                    batch.append(req)
                    n += len(req.pids)
            for req in batch:
                req.taken = True
                self._queue.remove(req)
            self._collecting = False
            self._running += 1
            self._cv.notify_all()  # a caller left in the queue may lead the next batch
        pairs: dict[str, str] = {}
        for req in batch:
            for pid in req.pids:
                pairs.setdefault(pid, req.actor)
        try:
            results = self._run(list(pairs.items()))
        except BaseException as exc:  # the batch itself failed: every caller hears it
            results = dict.fromkeys(pairs, exc)
        finally:
            with self._cv:
                self._running -= 1
                self._cv.notify_all()
        for req in batch:
            req.results = {pid: results.get(pid) for pid in req.pids}
            req.done.set()

    def _queued(self) -> int:
        return sum(len(r.pids) for r in self._queue)
