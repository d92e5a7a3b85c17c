"""At most ``limits.HEAVY_REQUESTS_PER_USER`` heavy requests of one user in flight.

A heavy request computes a twin: creating one (prior and forecast), posting data that updates
one (assimilation and forecast), a what-if (a forecast per option). Each is bounded by
``medtwin.limits``, but one user sending many at once would still occupy every worker of the
service. The route wraps its work in ``with heavy(app, who, action, pid):``; a request over the
user's limit is refused at once with 429 and ``Retry-After`` (nothing computed, nothing stored)
and the refusal is audited (outcome ``denied``, reason ``busy``). The count is per process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import limits
from ._auth import Caller
from ._errors import ApiError

__all__ = ["HeavyRequests", "heavy"]

_create = threading.Lock()


class HeavyRequests:
    """Counts the heavy requests each user has in flight (thread-safe)."""

    def __init__(self, per_user: int = limits.HEAVY_REQUESTS_PER_USER) -> None:
        if not (isinstance(per_user, int) and per_user >= 1):
            raise ValueError(f"per_user must be an integer >= 1. Got {per_user!r}.")
        self.per_user = per_user
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def in_flight(self, user: str) -> int:
        with self._lock:
            return self._running.get(user, 0)

    @contextmanager
    def slot(self, who: Caller, action: str, pid: str | None = None) -> Iterator[None]:
        """Hold one of ``who``'s slots for the block; 429 if all are taken."""
        with self._lock:
            running = self._running.get(who.name, 0)
            if running < self.per_user:
                self._running[who.name] = running + 1
        if running >= self.per_user:
            who.store.audit(who.name, action, patient=pid, outcome="denied",
                            detail={"reason": "busy", "in_flight": running,
                                    "limit": self.per_user})  # fmt: skip
            raise ApiError(
                429,
                f"You already have {running} twin computation(s) running (creating a twin, "
                f"posting data that updates one, or a what-if); at most {self.per_user} at once. "
                "Wait for one to finish, then try again.",
                code="throttled",
            )
        try:
            yield
        finally:
            with self._lock:
                left = self._running[who.name] - 1
                if left:
                    self._running[who.name] = left
                else:
                    del self._running[who.name]


def heavy(app: Any, who: Caller, action: str, pid: str | None = None) -> Any:
    """The context manager holding one of ``who``'s heavy-request slots in ``app``
    (``app.state.heavy``, made with the declared limit on first use)."""
    limiter = getattr(app.state, "heavy", None)
    if limiter is None:
        with _create:
            limiter = getattr(app.state, "heavy", None)
            if limiter is None:
                limiter = app.state.heavy = HeavyRequests()
    return limiter.slot(who, action, pid)
