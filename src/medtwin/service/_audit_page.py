"""``GET /audit``: the audit log a page at a time, newest first.

The page is read in the database (``ORDER BY seq DESC LIMIT``) in a read-only transaction, so
reading it neither loads the log nor holds the write lock; the read is then audited as its own
short write (``audit.read``, with the page's range). ``next`` is the URL of the next, older
page (``before`` = the oldest seq shown), None on the last page; the FHIR Bundle carries it as
its ``next`` link.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ..store import Store, audit_event_to_fhir

__all__ = ["MAX_SEQ", "audit_page"]

MAX_SEQ = 2**31 - 1  # audit_log.seq is a 32-bit integer


def audit_page(store: Store, actor: str, fmt: str, limit: int, before: int | None) -> dict:
    """One page of at most ``limit`` entries with seq < ``before`` (None: the newest)."""
    rows = store.audit_entries(limit=limit + 1, before_seq=before, newest_first=True)
    page, more = rows[:limit], len(rows) > limit
    oldest = page[-1].seq if page else None
    nxt = "/audit?" + urlencode({"format": fmt, "limit": limit, "before": oldest}) if more else None
    detail = {"entries": len(page), "before": before, "format": fmt,
              "first": page[0].seq if page else None, "last": oldest}  # fmt: skip
    store.audit(actor, "audit.read", resource="AuditEvent", detail=detail)
    if fmt == "fhir":
        self_q = {"format": fmt, "limit": limit, **({"before": before} if before else {})}
        links = [{"relation": "self", "url": "/audit?" + urlencode(self_q)}]
        if nxt:
            links.append({"relation": "next", "url": nxt})
        return {"resourceType": "Bundle", "type": "collection", "link": links,
                "entry": [{"resource": audit_event_to_fhir(e)} for e in page]}  # fmt: skip
    return {"entries": [entry_json(e) for e in page], "next": nxt,
            "next_before": oldest if more else None}  # fmt: skip


def entry_json(e: Any) -> dict[str, Any]:
    return {"seq": e.seq, "time": e.time.isoformat(), "actor": e.actor, "action": e.action,
            "patient": e.patient, "resource": e.resource, "outcome": e.outcome,
            "detail": e.detail, "key_id": e.key_id}  # fmt: skip
