"""``/research/export``: the de-identified export for researchers, rate-limited per user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..store import EXPORT_LIMIT_PER_HOUR, ExportLimitReached
from ._deps import StoreOf, Who
from ._errors import outcome_response

__all__ = ["research_router"]


def research_router(*, export_limit_per_hour: int = EXPORT_LIMIT_PER_HOUR) -> APIRouter:
    """The research routes; at most ``export_limit_per_hour`` exports per user per rolling
    hour."""
    router = APIRouter(tags=["research"])

    @router.get("/research/export")
    def research_export(
        who: Who,
        store: StoreOf,
        dates: Annotated[str, Query(pattern="^(year|shift)$")] = "year",
    ) -> Any:
        """The de-identified export of every patient for the calling researcher.
        ``dates=year`` (default): HIPAA Safe Harbor (45 CFR 164.514(b)(2)), years only, times
        as hours since each patient's first record, ages over 89 as 90+. ``dates=shift``: full
        dates shifted per patient by a shift drawn once for this researcher and kept, so
        repeated exports reveal nothing new -- not Safe Harbor (use under a data use agreement
        or expert determination). At most ``export_limit_per_hour`` exports per user per
        rolling hour (counted in the audit log), then 429 with ``Retry-After``."""
        who.require("researcher", "admin", action="export.deidentified")
        try:
            return store.export_deidentified(actor=who.name, recipient=who.name, dates=dates,
                                             max_per_hour=export_limit_per_hour)  # fmt: skip
        except ExportLimitReached as exc:
            return outcome_response(429, [("throttled", "", str(exc))],
                                    {"Retry-After": str(exc.retry_after_s)})  # fmt: skip

    return router
