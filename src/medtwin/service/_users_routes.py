"""Admin routes over users, their tokens and their grants.

Every route here needs the admin role: anyone else gets 403 (audited as denied) before the
body is read. Bodies are pydantic models (``_schemas``), read strictly and validated. Tokens
are named by their public id (the first 12 hex digits of the stored hash)
and shown in full only once, when issued. A disabled user's tokens stop working at once; the
last enabled admin cannot be disabled (409). Every change is audited by the store.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from ..errors import StoreError
from ..store import Store, TokenView, token_id
from ._auth import Caller, authenticate
from ._bodies import BodyRoute
from ._errors import ApiError
from ._schemas import GrantJson, NewUserJson, TokenJson

__all__ = ["users_router"]


def _admin(action: str) -> Any:
    """``Annotated[Caller, _admin(action)]``: the calling admin; 401 without a valid token,
    403 for any other role (audited as ``action`` denied), before any body is read."""

    def dependency(request: Request) -> Caller:
        who = authenticate(request, request.app.state.store, request.app.state.limiter)
        who.require("admin", action=action)
        return who

    return Depends(dependency)


def _known(store: Store, name: str) -> str:
    """``name`` if such a user exists, else 404 (names are compared in Python: a hostile path
    segment never reaches the database)."""
    if name not in {u.name for u in store.users()}:
        raise ApiError(404, f"No user {name[:128]!r}. See GET /users.", expression="name")
    return name


def _token_json(t: TokenView) -> dict[str, Any]:
    return {"id": t.id, "label": t.label, "created": t.created.isoformat(),
            "expires": t.expires.isoformat(), "state": t.state}  # fmt: skip


def _issued(name: str, token: str, ttl: float, label: str | None) -> dict[str, Any]:
    return {"user": name, "id": token_id(token), "token": token, "ttl_days": ttl, "label": label}


def users_router() -> APIRouter:
    router = APIRouter(tags=["users"], route_class=BodyRoute)

    def store_of(request: Request) -> Store:
        return request.app.state.store

    @router.get("/users")
    def list_users(request: Request, who: Annotated[Caller, _admin("user.list")]) -> dict[str, Any]:
        users = store_of(request).users()
        store_of(request).audit(who.name, "user.list", resource="User",
                                detail={"count": len(users)})  # fmt: skip
        return {"users": [{"name": u.name, "role": u.role, "disabled": u.disabled}
                          for u in users]}  # fmt: skip

    @router.post("/users", status_code=201)
    def add_user(
        request: Request, who: Annotated[Caller, _admin("user.create")], body: NewUserJson
    ) -> dict[str, Any]:
        """A new user and their first token: ``{"name": ..., "role": ..., "ttl_days": 30,
        "label": ...}`` (the token is shown once)."""
        store = store_of(request)
        name, role, ttl, label = body.name, body.role, body.ttl_days, body.label
        token = store.add_user(name, role, token_ttl_days=ttl, token_label=label, actor=who.name)
        assert token is not None  # asked for with token_ttl_days
        return {"name": name, "role": role, **_issued(name, token, ttl, label)}

    @router.post("/users/{name}/tokens", status_code=201)
    def issue_token(
        request: Request,
        name: str,
        who: Annotated[Caller, _admin("token.create")],
        body: TokenJson,
    ) -> dict[str, Any]:
        """A new token: ``{"ttl_days": 30, "label": "laptop"}`` (both optional; at most
        ``MAX_TOKEN_TTL_DAYS`` days). The token is shown once; later only its id."""
        store = store_of(request)
        ttl, label = body.ttl_days, body.label
        token = store.issue_token(_known(store, name), ttl_days=ttl, label=label, actor=who.name)
        return _issued(name, token, ttl, label)

    @router.get("/users/{name}/tokens")
    def list_tokens(
        request: Request, name: str, who: Annotated[Caller, _admin("token.list")]
    ) -> dict[str, Any]:
        store = store_of(request)
        found = store.tokens(_known(store, name))
        store.audit(who.name, "token.list", resource=f"User/{name}", detail={"count": len(found)})
        return {"user": name, "tokens": [_token_json(t) for t in found]}

    @router.delete("/users/{name}/tokens/{tid}")
    def revoke_token(
        request: Request, name: str, tid: str, who: Annotated[Caller, _admin("token.delete")]
    ) -> dict[str, Any]:
        store = store_of(request)
        if tid.lower() not in {t.id for t in store.tokens(_known(store, name))}:
            raise ApiError(404, f"User {name!r} has no token {tid[:40]!r}. See GET "
                           f"/users/{name}/tokens.", expression="token_id")  # fmt: skip
        live = store.revoke_token(name, tid, actor=who.name)
        return {"user": name, "id": tid.lower(), "revoked": live}

    @router.delete("/users/{name}/tokens/", include_in_schema=False)
    def revoke_no_token(name: str, who: Annotated[Caller, _admin("token.delete")]) -> None:
        """An empty token id: refused, never redirected to (and taken for) revoke-all."""
        raise ApiError(404, "Give a token id: DELETE /users/NAME/tokens/ID (see GET "
                       "/users/NAME/tokens); DELETE /users/NAME/tokens revokes all.",
                       expression="token_id")  # fmt: skip

    @router.delete("/users/{name}/tokens")
    def revoke_tokens(
        request: Request, name: str, who: Annotated[Caller, _admin("token.delete")]
    ) -> dict[str, Any]:
        store = store_of(request)
        return {"user": name, "revoked": store.revoke_tokens(_known(store, name), actor=who.name)}

    def _set_disabled(request: Request, name: str, who: Caller, disabled: bool) -> dict[str, Any]:
        store = store_of(request)
        _known(store, name)
        try:
            change = store.disable_user if disabled else store.enable_user
            changed = change(name, actor=who.name)
        except StoreError as exc:  # the last enabled admin
            store.audit(who.name, "user.disable", resource=f"User/{name}", outcome="denied",
                        detail={"reason": "last enabled admin"})  # fmt: skip
            raise ApiError(409, str(exc), expression="name") from None
        return {"user": name, "disabled": disabled, "changed": changed}

    @router.post("/users/{name}/disable")
    def disable_user(
        request: Request, name: str, who: Annotated[Caller, _admin("user.disable")]
    ) -> dict[str, Any]:
        """Disable a user: their tokens stop working at once; none can be issued."""
        return _set_disabled(request, name, who, True)

    @router.post("/users/{name}/enable")
    def enable_user(
        request: Request, name: str, who: Annotated[Caller, _admin("user.enable")]
    ) -> dict[str, Any]:
        return _set_disabled(request, name, who, False)

    @router.post("/grants", status_code=201)
    def add_grant(
        request: Request, who: Annotated[Caller, _admin("grant.create")], body: GrantJson
    ) -> dict[str, Any]:
        """Let a user see a patient: ``{"user": ..., "patient": "p-..."}``."""
        store = store_of(request)
        user, pid = body.user, body.patient
        store.grant(user, who.patient(pid, "grant.create"), actor=who.name)
        return {"user": user, "patient": pid}

    @router.delete("/grants/{user}/{pid}")
    def delete_grant(
        request: Request, user: str, pid: str, who: Annotated[Caller, _admin("grant.delete")]
    ) -> Any:
        """Withdraw a user's access to a patient."""
        store = store_of(request)
        _known(store, user)
        store.revoke(user, who.patient(pid, "grant.delete"), actor=who.name)
        return {"user": user, "patient": pid, "granted": False}

    return router
