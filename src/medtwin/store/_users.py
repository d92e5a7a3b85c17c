"""Users, API tokens and per-patient grants.

A token is ``mt_`` + 32 random bytes (URL-safe base64), shown once when issued; the store keeps
only its SHA-256 hash, its owner and its expiry. A grant lets a user see one patient (the
service decides what each role may do with it).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..errors import StoreError
from ._schema import GrantRow, PatientRow, TokenRow, UserRow
from ._views import ROLES, User

__all__ = [
    "add_user",
    "authenticate",
    "grant",
    "granted",
    "issue_token",
    "revoke",
    "revoke_tokens",
    "token_hash",
    "users",
]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(session: Session, name: str) -> UserRow:
    row = session.get(UserRow, name)
    if row is None:
        raise StoreError(f"No user {name!r}. Add one first (`medtwin users add {name} --role R`).")
    return row


def add_user(session: Session, name: str, role: str) -> None:
    if role not in ROLES:
        raise StoreError(f"A user's role must be one of {', '.join(ROLES)}. Got {role!r}.")
    if not name or not name.strip() or len(name) > 128 or name != name.strip():
        raise StoreError(
            f"A user name must be 1-128 characters without surrounding spaces. Got {name!r}."
        )
    if session.get(UserRow, name) is not None:
        raise StoreError(f"User {name!r} exists already.")
    session.add(UserRow(name=name, role=role, created_at=datetime.now(UTC)))


def users(session: Session) -> list[User]:
    rows = session.execute(select(UserRow).order_by(UserRow.name)).scalars()
    return [User(r.name, r.role) for r in rows]


def issue_token(session: Session, name: str, ttl_days: float) -> str:
    _user(session, name)
    if not ttl_days > 0:
        raise StoreError(f"A token's lifetime must be > 0 days. Got ttl_days={ttl_days!r}.")
    token = "mt_" + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        TokenRow(
            hash=token_hash(token),
            user=name,
            created_at=now,
            expires_at=now + timedelta(days=ttl_days),
            revoked=False,
        )
    )
    return token


def authenticate(session: Session, token: str) -> User | None:
    """The user of an unexpired, unrevoked ``token``; None otherwise."""
    if not isinstance(token, str) or not token:
        return None
    row = session.get(TokenRow, token_hash(token))
    if row is None or row.revoked or row.expires_at <= datetime.now(UTC):
        return None
    user = session.get(UserRow, row.user)
    return User(user.name, user.role) if user is not None else None


def revoke_tokens(session: Session, name: str) -> int:
    """Revoke every token of ``name``; returns how many were live."""
    _user(session, name)
    res = session.execute(
        update(TokenRow)
        .where(TokenRow.user == name, TokenRow.revoked.is_(False))
        .values(revoked=True)
    )
    return int(res.rowcount or 0)


def grant(session: Session, name: str, pid: str) -> bool:
    """Let ``name`` see patient ``pid``; False if the grant existed already."""
    _user(session, name)
    if session.get(PatientRow, pid) is None:
        raise StoreError(f"No patient {pid!r}. Grants name a stored patient's pseudonym.")
    if session.get(GrantRow, (name, pid)) is not None:
        return False
    session.add(GrantRow(user=name, pid=pid))
    return True


def revoke(session: Session, name: str, pid: str) -> bool:
    """Withdraw a grant; False if there was none."""
    res = session.execute(delete(GrantRow).where(GrantRow.user == name, GrantRow.pid == pid))
    return bool(res.rowcount)


def granted(session: Session, name: str) -> set[str]:
    return set(session.execute(select(GrantRow.pid).where(GrantRow.user == name)).scalars())
