"""Who is calling: bearer tokens (stored hashed by the store), roles, per-patient grants and
login rate limiting.

Roles: ``clinician`` reads and writes the patients granted to them (a patient they create is
granted to them); ``researcher`` sees de-identified exports only; ``admin`` everything. A
clinician asking for a patient they have no grant for gets the same 404 as for a patient that
does not exist, on every route and search parameter, so grants cannot be probed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from fastapi import Request

from ..store import Store, User
from ._errors import ApiError

__all__ = ["Caller", "RateLimiter", "authenticate"]


class RateLimiter:
    """At most ``limit`` failed logins per client in any ``window`` seconds; further attempts,
    right or wrong, are refused (429) until the window has passed."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        q = self._fails.setdefault(client, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self.limit

    def failed(self, client: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent(client, now).append(now)
            if len(self._fails) > 100_000:  # bounded memory under a spray of clients
                self._fails = {k: v for k, v in self._fails.items() if v}


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request and the patients granted to them."""

    user: User
    store: Store

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> str:
        return self.user.role

    def require(self, *roles: str, action: str) -> None:
        if self.role not in roles:
            self.store.audit(self.name, action, outcome="denied",
                             detail={"reason": f"role {self.role}"})  # fmt: skip
            raise ApiError(
                403, f"{action} needs the role {' or '.join(roles)}; you are {self.role}."
            )

    def patient(self, pid: str, action: str) -> str:
        """``pid`` if the caller may access it, else the same 404 whether or not it exists."""
        if self.role == "researcher":
            self.require("clinician", "admin", action=action)
        known = pid in self.store.patient_ids()
        allowed = known and (self.role == "admin" or pid in self.store.granted(self.name))
        if not allowed:
            self.store.audit(self.name, action, outcome="denied",
                             detail={"requested": pid[:40]})  # fmt: skip
            raise ApiError(404, "No patient with this id that you may access.",
                           expression="patient")  # fmt: skip
        return pid


def authenticate(request: Request, store: Store, limiter: RateLimiter) -> Caller:
    client = request.client.host if request.client else "unknown"
    if limiter.blocked(client):
        raise ApiError(429, "Too many failed logins from this address; wait a minute.")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    user = store.authenticate(token.strip()) if scheme.lower() == "bearer" and token else None
    if user is None:
        limiter.failed(client)
        store.audit("anonymous", "login", outcome="denied",
                    detail={"client": client[:64]})  # fmt: skip
        raise ApiError(401, "A valid bearer token is needed: 'Authorization: Bearer <token>'. "
                       "Get one with `medtwin users token NAME`.")  # fmt: skip
    return Caller(user, store)
