"""Users, API tokens and per-patient grants.

A token is ``mt_`` + 32 random bytes (URL-safe base64), shown once when issued; the store keeps
only its SHA-256 hash, its owner, an optional label and its expiry, at most
:data:`MAX_TOKEN_TTL_DAYS` days after issue. A token's public id is the first 12 hex digits of
that hash: enough to list and revoke it, useless to authenticate. A disabled user's tokens stop
authenticating at once and none can be issued to them; the last enabled admin cannot be
disabled. A grant lets a user see one patient (the service decides what each role may do with
it).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from ..errors import StoreError
from ._schema import GrantRow, PatientRow, TokenRow, UserRow
from ._views import ROLES, TokenView, User

__all__ = [
    "MAX_TOKEN_TTL_DAYS",
    "add_user",
    "authenticate",
    "disable_user",
    "enable_user",
    "grant",
    "granted",
    "issue_token",
    "revoke",
    "revoke_token",
    "revoke_tokens",
    "token_hash",
    "token_id",
    "tokens",
    "users",
]

MAX_TOKEN_TTL_DAYS = 90
"""The longest a token may live, in days: a longer-lived credential is one more to leak."""

TOKEN_ID_LEN = 12
_TOKEN_ID = re.compile(f"[0-9a-f]{{{TOKEN_ID_LEN}}}")
_LABEL_MAX = 64


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token: str) -> str:
    """A token's public id: the first 12 hex digits of its stored hash."""
    return token_hash(token)[:TOKEN_ID_LEN]


def _user(session: Session, name: str) -> UserRow:
    row = session.get(UserRow, name)
    if row is None:
        raise StoreError(f"No user {name!r}. Add one first (`medtwin users add {name} --role R`).")
    return row


def add_user(session: Session, name: str, role: str) -> None:
    if role not in ROLES:
        raise StoreError(f"A user's role must be one of {', '.join(ROLES)}. Got {role!r}.")
    if not name or len(name) > 128 or name != name.strip() or not name.isprintable():
        raise StoreError(
            "A user name must be 1-128 printable characters (no control, zero-width or "
            f"direction characters) without surrounding spaces. Got {name!r:.160}."
        )
    if session.get(UserRow, name) is not None:
        raise StoreError(f"User {name!r} exists already.")
    session.add(UserRow(name=name, role=role, created_at=datetime.now(UTC), disabled=False))


def users(session: Session) -> list[User]:
    rows = session.execute(select(UserRow).order_by(UserRow.name)).scalars()
    return [User(r.name, r.role, bool(r.disabled)) for r in rows]


def _check_ttl(ttl_days: object) -> float:
    ttl = math.nan
    if isinstance(ttl_days, int | float) and not isinstance(ttl_days, bool):
        try:
            ttl = float(ttl_days)
        except OverflowError:  # an int beyond float range
            pass
    if not 0 < ttl <= MAX_TOKEN_TTL_DAYS:  # NaN fails too
        raise StoreError(
            f"A token's lifetime must be > 0 days and at most {MAX_TOKEN_TTL_DAYS} days. "
            f"Got ttl_days={ttl_days!r:.40}. Ask for at most {MAX_TOKEN_TTL_DAYS} days and "
            "issue a new token before this one expires."
        )
    return ttl


def _check_label(label: object) -> str | None:
    if label is None or label == "":
        return None
    if (
        not isinstance(label, str)
        or len(label) > _LABEL_MAX
        or not label.isprintable()
        or label != label.strip()
    ):
        raise StoreError(
            f"A token's label must be text of at most {_LABEL_MAX} printable characters "
            f"without surrounding spaces. Got {label!r:.80}."
        )
    return label


def issue_token(
    session: Session, name: str, ttl_days: float, label: str | None = None
) -> tuple[str, str]:
    """A new token for ``name`` and its public id."""
    user = _user(session, name)
    ttl = _check_ttl(ttl_days)
    label = _check_label(label)
    if user.disabled:
        raise StoreError(
            f"User {name!r} is disabled: no token can be issued to them. Enable them first "
            f"(`medtwin users enable {name}`)."
        )
    token = "mt_" + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    digest = token_hash(token)
    session.add(
        TokenRow(
            hash=digest,
            user=name,
            created_at=now,
            expires_at=now + timedelta(days=ttl),
            revoked=False,
            label=label,
        )
    )
    return token, digest[:TOKEN_ID_LEN]


def authenticate(session: Session, token: str) -> User | None:
    """The user of an unexpired, unrevoked ``token`` whose user is enabled; None otherwise."""
    if not isinstance(token, str) or not token:
        return None
    row = session.get(TokenRow, token_hash(token))
    if row is None or row.revoked or row.expires_at <= datetime.now(UTC):
        return None
    user = session.get(UserRow, row.user)
    if user is None or user.disabled:
        return None
    return User(user.name, user.role, False)


def _state(row: TokenRow, now: datetime) -> str:
    return "revoked" if row.revoked else "expired" if row.expires_at <= now else "live"


def tokens(session: Session, name: str) -> list[TokenView]:
    """Every token of ``name``, oldest first, by public id (never the token)."""
    _user(session, name)
    rows = session.execute(
        select(TokenRow).where(TokenRow.user == name).order_by(TokenRow.created_at, TokenRow.hash)
    ).scalars()
    now = datetime.now(UTC)
    return [
        TokenView(r.hash[:TOKEN_ID_LEN], r.user, r.label, r.created_at, r.expires_at,
                  _state(r, now))
        for r in rows
    ]  # fmt: skip


def revoke_token(session: Session, name: str, token_id: str) -> bool:
    """Revoke the token of ``name`` with public id ``token_id``; False if it was revoked
    already. A token of another user is never touched: it is reported as missing."""
    _user(session, name)
    tid = token_id.lower() if isinstance(token_id, str) else ""
    if not _TOKEN_ID.fullmatch(tid):
        raise StoreError(
            f"A token id is {TOKEN_ID_LEN} hex digits, as `medtwin users tokens {name}` lists "
            f"them. Got {token_id!r:.40}."
        )
    rows = session.execute(
        select(TokenRow).where(TokenRow.user == name, TokenRow.hash.startswith(tid))
    ).scalars().all()  # fmt: skip
    if not rows:
        raise StoreError(
            f"User {name!r} has no token {tid}. List their tokens with "
            f"`medtwin users tokens {name}`."
        )
    live = [r for r in rows if not r.revoked]
    for r in live:
        r.revoked = True
    return bool(live)


def _set_disabled(session: Session, name: str, disabled: bool) -> bool:
    """Disable or enable ``name``; False if nothing changed. The last enabled admin cannot be
    disabled (nobody could manage users any more)."""
    user = _user(session, name)
    if disabled and user.role == "admin":
        # lock the admins' rows (and read them afresh) so two concurrent disables cannot leave
        # none (PostgreSQL; SQLite serialises every write transaction already)
        admins = session.execute(
            select(UserRow).where(UserRow.role == "admin").with_for_update()
            .execution_options(populate_existing=True)
        ).scalars().all()  # fmt: skip
        if not user.disabled and not [a for a in admins if not a.disabled and a.name != name]:
            raise StoreError(
                f"{name!r} is the last enabled admin: disabling them would leave nobody to "
                "manage users. Add or enable another admin first."
            )
    if bool(user.disabled) == disabled:
        return False
    user.disabled = disabled
    return True


def disable_user(session: Session, name: str) -> bool:
    return _set_disabled(session, name, True)


def enable_user(session: Session, name: str) -> bool:
    return _set_disabled(session, name, False)


def revoke_tokens(session: Session, name: str) -> int:
    """Revoke every token of ``name``; returns how many were live."""
    _user(session, name)
    # An UPDATE's result is a CursorResult (rowcount); Session.execute is typed as Result.
    res = cast(
        CursorResult[Any],
        session.execute(
            update(TokenRow)
            .where(TokenRow.user == name, TokenRow.revoked.is_(False))
            .values(revoked=True)
        ),
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
    stmt = delete(GrantRow).where(GrantRow.user == name, GrantRow.pid == pid)
    res = cast(CursorResult[Any], session.execute(stmt))  # a DELETE's result has rowcount
    return bool(res.rowcount)


def granted(session: Session, name: str) -> set[str]:
    return set(session.execute(select(GrantRow.pid).where(GrantRow.user == name)).scalars())
