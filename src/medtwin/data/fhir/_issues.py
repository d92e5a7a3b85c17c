"""Issues: what went wrong where, collected over a whole payload, and the OperationOutcome.

An issue is ``(code, expression, diagnostics)`` as :class:`medtwin.errors.FhirError` holds
them: ``code`` is a FHIR R4 IssueType code (http://hl7.org/fhir/R4/valueset-issue-type.html),
``expression`` the FHIRPath of the failing element (``Bundle.entry[3].resource.valueQuantity.
value``), or ``""`` when the payload as a whole is at fault (not JSON, too large), and
``diagnostics`` says what was expected, what came and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...errors import FhirError

__all__ = ["Issues", "http_status", "operation_outcome"]

Issue = tuple[str, str, str]

MAX_ISSUES = 1000  # the rest are summarised in one more issue (keeps the answer bounded)


def show(value: Any, limit: int = 60) -> str:
    """A short, safe rendering of a received value for a diagnostics message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Issues:
    """A list of issues collected while reading one payload."""

    def __init__(self) -> None:
        self.items: list[Issue] = []
        self.dropped = 0

    def add(self, code: str, expression: str, diagnostics: str) -> None:
        if len(self.items) < MAX_ISSUES:
            self.items.append((code, expression, diagnostics))
        else:
            self.dropped += 1

    def __len__(self) -> int:
        return len(self.items) + self.dropped

    def raise_if_any(self) -> None:
        if not self.items:
            return
        issues = list(self.items)
        if self.dropped:
            issues.append(("invalid", "", f"{self.dropped} more issues were found and not listed."))
        raise FhirError(issues)


def operation_outcome(error: FhirError | Iterable[Issue]) -> dict[str, Any]:
    """The FHIR R4 OperationOutcome (JSON dict) of a :class:`FhirError` or a list of issues:
    one issue per problem, severity ``error``, with its code, diagnostics and expression."""
    issues = error.issues if isinstance(error, FhirError) else list(error)
    out = []
    for code, expression, diagnostics in issues:
        issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
        if expression:
            issue["expression"] = [expression]
        out.append(issue)
    if not out:
        out.append({"severity": "information", "code": "informational", "diagnostics": "ok"})
    return {"resourceType": "OperationOutcome", "issue": out}


def http_status(error: FhirError) -> int:
    """The HTTP status the service should answer a POST with ``error`` with: 413 for a payload
    over a size limit (bytes, entries, nesting), 415 for content that is not JSON (XML), 400
    for JSON that cannot be read, 422 for a readable payload whose content is invalid. (For
    the errors of :func:`search_param` answer 400.)"""
    codes = {code for code, _, _ in error.issues}
    whole = {code for code, expression, _ in error.issues if not expression}
    if codes & {"too-long", "too-costly"}:
        return 413
    if "not-supported" in whole:
        return 415
    if whole:
        return 400
    return 422


class Skip:
    """A resource that is valid but not used, and why (reported, not an error)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Skip({self.reason!r})"
