"""The audit log for admins: ``/audit`` (a page at a time, JSON or FHIR AuditEvents) and
``/audit/verify`` (the hash chain checked end to end)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ._audit_page import MAX_SEQ, audit_page
from ._deps import StoreOf, Who, fhir_response

__all__ = ["audit_router"]


def audit_router() -> APIRouter:
    """The audit routes (admin only; every read is itself audited)."""
    router = APIRouter(tags=["audit"])

    @router.get("/audit")
    def get_audit(
        who: Who,
        store: StoreOf,
        format: Annotated[str, Query(pattern="^(json|fhir)$")] = "json",
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        before: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    ) -> Any:
        """The audit log, newest first: at most ``limit`` entries with seq < ``before`` (the
        newest page without it); ``next`` (FHIR: the ``next`` link) fetches the older page."""
        who.require("admin", action="audit.read")
        doc = audit_page(store, who.name, format, limit, before)
        return fhir_response(doc) if format == "fhir" else doc

    @router.get("/audit/verify")
    def verify_audit(who: Who, store: StoreOf) -> dict[str, Any]:
        who.require("admin", action="audit.verify")
        rep = store.verify_audit()
        return {"ok": rep.ok, "entries": rep.entries, "first_bad_seq": rep.first_bad_seq,
                "reason": rep.reason}  # fmt: skip

    return router
