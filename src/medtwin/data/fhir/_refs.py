"""References to the patient, and the source identity of a record.

A record's ``patient_ref`` is the subject reference as written: ``Patient/123``, an absolute
``https://.../Patient/123`` or a bundle-local ``urn:uuid:...``. Within a bundle, a reference
that matches an entry's fullUrl must point at a Patient entry, and a ``urn:`` reference must
match one; every other reference is resolved by the caller (see
:meth:`ParsedBundle.unresolved`). Logical references (``identifier`` only), references to
contained resources and references to anything but a Patient are refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from ._issues import Issues, show

__all__ = ["patient_ref", "source_id"]

_ID = r"[A-Za-z0-9\-.]{1,64}"
_RELATIVE = re.compile(rf"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>{_ID})(/_history/{_ID})?$")
_ABSOLUTE = re.compile(rf"^https?://\S+/(?P<type>[A-Z][A-Za-z]+)/(?P<id>{_ID})(/_history/{_ID})?$")


def patient_ref(
    ref: Any,
    expression: str,
    issues: Issues,
    entries: Mapping[str, dict[str, Any]] | None = None,
) -> str | None:
    """The patient reference of ``ref`` (a FHIR Reference dict already validated as one), or
    None with an issue. ``entries`` maps the fullUrls of the bundle to their resources (None
    for a resource sent on its own)."""
    if not isinstance(ref, dict):
        issues.add("required", expression, "A reference to the Patient is required.")
        return None
    value = ref.get("reference")
    kind = ref.get("type")
    if kind is not None and kind != "Patient":
        issues.add(
            "invalid", f"{expression}.type", f"Expected a reference to a Patient. Got {show(kind)}."
        )
        return None
    if value is None:
        issues.add(
            "not-supported",
            f"{expression}.reference",
            "Expected a literal reference (Patient/<id>, a Patient URL or a bundle fullUrl). A "
            "logical reference (identifier only) is not resolved here.",
        )
        return None
    where = f"{expression}.reference"
    entries = entries or {}
    if value in entries:
        target = entries[value].get("resourceType")
        if target != "Patient":
            issues.add(
                "invalid",
                where,
                f"Expected a reference to a Patient. {show(value)} is the fullUrl of an entry of "
                f"type {show(target)} in this bundle.",
            )
            return None
        return value
    if value.startswith(("urn:uuid:", "urn:oid:")):
        issues.add(
            "not-found",
            where,
            f"{show(value)} is a bundle-local reference, but no entry of "
            f"{'this bundle' if entries else 'a resource sent on its own'} has that fullUrl. "
            f"Send the Patient in the same bundle, or reference Patient/<id>.",
        )
        return None
    if value.startswith("#"):
        issues.add(
            "not-supported",
            where,
            f"A contained patient ({show(value)}) is not taken. Send the Patient as its own entry.",
        )
        return None
    m = _RELATIVE.match(value) or _ABSOLUTE.match(value)
    if m is None:
        issues.add(
            "invalid",
            where,
            f"Expected Patient/<id>, a Patient URL or a bundle fullUrl. Got {show(value)}.",
        )
        return None
    if m["type"] != "Patient":
        issues.add(
            "invalid",
            where,
            f"Expected a reference to a Patient. Got a reference to a {m['type']} ({show(value)}).",
        )
        return None
    return value


def source_id(resource: dict[str, Any], full_url: str | None) -> str:
    """The record's identity at its source: the first identifier with a value as
    ``system|value``, else ``<resourceType>/<id>``, else the entry's fullUrl, else
    ``sha256:<hex>`` of the resource's canonical JSON (sorted keys, no whitespace)."""
    for ident in resource.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("value"):
            return f"{ident.get('system') or ''}|{ident['value']}"
    if resource.get("id"):
        return f"{resource['resourceType']}/{resource['id']}"
    if full_url:
        return full_url
    canon = json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()
