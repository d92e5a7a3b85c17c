"""``medtwin audit export``: the audit log as a FHIR R4 Bundle of AuditEvents, read a page at a
time (``after_seq``, ``LIMIT`` in the database) and streamed to the file, so memory stays flat
however long the log. The file appears (mode 0600) only once complete and the export audited.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["PAGE", "export_audit"]

PAGE = 1000


def _events(store: Any, patient: str | None, page: int) -> Iterator[dict]:
    from ..store import audit_event_to_fhir

    after = 0
    while True:
        rows = store.audit_entries(patient=patient, after_seq=after, limit=page)
        for e in rows:
            yield audit_event_to_fhir(e)
        if len(rows) < page:
            return
        after = rows[-1].seq


def export_audit(
    store: Any, out: Path, *, patient: str | None, actor: str, page: int = PAGE
) -> int:
    """Write the Bundle to ``out`` atomically; audit the export; return the entries written."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    n = 0
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write('{"resourceType": "Bundle", "type": "collection", "entry": [')
            for event in _events(store, patient, page):
                fh.write(",\n" if n else "\n")
                fh.write(json.dumps({"resource": event}, sort_keys=True))
                n += 1
            fh.write("\n]}\n")
        os.chmod(tmp, 0o600)
        store.audit(actor, "audit.export", patient=patient, detail={"entries": n})
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
