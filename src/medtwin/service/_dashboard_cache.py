"""The dashboard's in-process caches (its pages and endpoints are in ``_dashboard``).

Twin versions and forecasts are immutable, so what is computed per version can be kept:
:class:`Memo` is a thread-safe LRU map (the posterior quantiles of a version), and
:func:`version_grid` picks the versions a chart shows so that the picks stay the same as
versions are added (and stay memoised). Scoring the skill ledger costs about a second per day
of 5-minute forecasts, so :class:`Ledgers` keeps each patient's newest ledger and scores a new
version's in the background while readers get the one held, labelled with its version.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["Ledgers", "Memo", "version_grid"]

log = logging.getLogger("medtwin.service")


class Memo:
    """A thread-safe LRU map of at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size, self.lock = size, threading.Lock()
        self._data: OrderedDict[Any, Any] = OrderedDict()

    def peek(self, key: Any) -> Any:
        with self.lock:
            if key in self._data:
                self._data.move_to_end(key)
            return self._data.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        value = self.peek(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value


class Ledgers:
    """Each patient's newest computed skill ledger as ``(version, ledger)``. A reader asking for
    a newer version gets the one held at once, and the new one is computed in a background
    thread (one per patient) started ``delay`` seconds later, so that it does not slow the
    requests of the page that asked (scoring is CPU-bound: ~1.5 s per day of 5-min forecasts).
    Only a patient never computed is computed in the request (once for concurrent readers)."""

    def __init__(self, size: int, delay: float = 1.0) -> None:
        self.memo, self.delay = Memo(size), delay
        self.running: set[str] = set()
        self.first: dict[str, threading.Lock] = {}

    def get(self, pid: str, version: int, compute: Callable[[], tuple[int, dict]]) -> tuple:
        """``(version scored, ledger)``; ``compute()`` scores the latest and says its version."""
        held = self.memo.peek(pid)
        if held is None:
            with self.memo.lock:
                first = self.first.setdefault(pid, threading.Lock())
            with first:  # concurrent first readers (the list and the page) compute it once
                held = self.memo.peek(pid)
                if held is None:
                    held = compute()
                    self.memo.put(pid, held)
            with self.memo.lock:
                self.first.pop(pid, None)
        elif held[0] < version:
            with self.memo.lock:
                start = pid not in self.running
                self.running.add(pid)
            if start:
                thread = threading.Timer(self.delay, self._refresh, args=(pid, compute))
                thread.daemon, thread.name = True, f"ledger-{pid}"
                thread.start()
        return held

    def _refresh(self, pid: str, compute: Callable[[], tuple[int, dict]]) -> None:
        try:
            value = compute()
            held = self.memo.peek(pid)
            if held is None or held[0] < value[0]:
                self.memo.put(pid, value)
        except Exception:  # the next request retries; the API's /skill shows the error
            log.exception("skill ledger of %s failed", pid)
        finally:
            with self.memo.lock:
                self.running.discard(pid)


def version_grid(n: int, points: int) -> list[int]:
    """Versions ``0, s, 2s, ...`` and ``n - 1``, at most ``points`` of them, with the step ``s``
    a power of two: as versions are added the picked ones stay the same (memoised)."""
    step = 1
    while -(-n // step) > points - 1:
        step *= 2
    return sorted({*range(0, n, step), n - 1})
