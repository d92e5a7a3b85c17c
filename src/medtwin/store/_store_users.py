"""The store's users, tokens and grants: the methods :class:`~medtwin.store.Store` gets from
:class:`UserMethods` (each audited in its own transaction)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from . import _users
from ._store_mixin import StoreMixin
from ._views import TokenView, User

__all__ = ["UserMethods"]


class UserMethods(StoreMixin):
    """Users, tokens and grants of a :class:`Store` (a mixin: uses ``_tx`` and ``_log``)."""

    # -- users ----------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        role: str,
        *,
        actor: str = "system",
        token_ttl_days: float | None = None,
        token_label: str | None = None,
    ) -> str | None:
        """Add a user; with ``token_ttl_days``, also their first token in the same transaction
        (returned; a refused token adds no user)."""
        with self._tx() as s:
            _users.add_user(s, name, role)
            self._log(s, actor, "user.create", None, f"User/{name}", {"role": role})
            if token_ttl_days is None:
                return None
            return self._issue(s, name, token_ttl_days, token_label, actor)

    def _issue(self, s: Session, name: str, ttl_days: float, label: str | None, actor: str) -> str:
        token, tid = _users.issue_token(s, name, ttl_days, label)
        self._log(s, actor, "token.create", None, f"User/{name}",
                  {"token": tid, "ttl_days": float(ttl_days), "label": label})  # fmt: skip
        return token

    def users(self) -> list[User]:
        with self._tx() as s:
            return _users.users(s)

    def issue_token(
        self,
        name: str,
        *,
        ttl_days: float = 30,
        label: str | None = None,
        actor: str = "system",
    ) -> str:
        """A new API token for ``name`` (shown once; the store keeps its SHA-256 hash), valid
        ``ttl_days`` days (at most ``MAX_TOKEN_TTL_DAYS``). Refused for a disabled user."""
        with self._tx() as s:
            return self._issue(s, name, ttl_days, label, actor)

    def tokens(self, name: str) -> list[TokenView]:
        """The tokens of ``name`` by public id, with label, dates and state."""
        with self._tx() as s:
            return _users.tokens(s, name)

    def revoke_token(self, name: str, token_id: str, *, actor: str = "system") -> bool:
        """Revoke one token of ``name`` by its public id; False if it was revoked already."""
        with self._tx() as s:
            live = _users.revoke_token(s, name, token_id)
            self._log(s, actor, "token.delete", None, f"User/{name}",
                      {"token": token_id.lower(), "revoked": int(live)})  # fmt: skip
            return live

    def revoke_tokens(self, name: str, *, actor: str = "system") -> int:
        with self._tx() as s:
            n = _users.revoke_tokens(s, name)
            self._log(s, actor, "token.delete", None, f"User/{name}", {"revoked": n})
            return n

    def disable_user(self, name: str, *, actor: str = "system") -> bool:
        """Disable ``name``: their tokens stop authenticating at once and none can be issued.
        Refused for the last enabled admin. False if they were disabled already."""
        with self._tx() as s:
            changed = _users.disable_user(s, name)
            self._log(s, actor, "user.disable", None, f"User/{name}", {"changed": changed})
            return changed

    def enable_user(self, name: str, *, actor: str = "system") -> bool:
        """Enable ``name`` again (their unexpired, unrevoked tokens work again)."""
        with self._tx() as s:
            changed = _users.enable_user(s, name)
            self._log(s, actor, "user.enable", None, f"User/{name}", {"changed": changed})
            return changed

    def authenticate(self, token: str) -> User | None:
        """The user of a valid token, or None (the caller audits logins and failures)."""
        with self._tx() as s:
            return _users.authenticate(s, token)

    def grant(self, user: str, pid: str, *, actor: str = "system") -> None:
        """Let ``user`` see patient ``pid``."""
        with self._tx() as s:
            new = _users.grant(s, user, pid)
            self._log(s, actor, "grant.create", pid, f"User/{user}", {"new": new})

    def revoke(self, user: str, pid: str, *, actor: str = "system") -> None:
        with self._tx() as s:
            existed = _users.revoke(s, user, pid)
            self._log(s, actor, "grant.delete", pid, f"User/{user}", {"existed": existed})

    def granted(self, user: str) -> set[str]:
        """The pseudonyms ``user`` was granted."""
        with self._tx() as s:
            return _users.granted(s, user)
