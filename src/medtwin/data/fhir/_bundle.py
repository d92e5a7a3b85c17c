"""parse_bundle() and parse_resource(): FHIR R4 JSON in, medtwin records out.

A payload is read whole or not at all: every problem of every entry is collected and raised
together as one :class:`~medtwin.errors.FhirError` (the service answers an OperationOutcome
with one issue per problem and stores nothing). What is taken, skipped or refused:

- Bundle ``type``: ``transaction`` (every entry needs ``request.method`` POST or PUT and a
  ``request.url`` naming the entry's resource type) and ``collection``. ``batch`` (whose
  entries would succeed or fail one by one), ``searchset``, ``history``, ``document``,
  ``message`` and the ``*-response`` types are refused (``not-supported``).
- Every resource of every entry is validated against FHIR R4 (the R4B models of
  ``fhir.resources``), whatever its type; fullUrls must be unique (``duplicate``).
- Patient -> :class:`PatientRecord`; Observation -> :class:`ObservationRecord` (or a ``meal``
  :class:`EventRecord`, see ``_observation.py``); MedicationAdministration -> ``bolus``/
  ``basal`` :class:`EventRecord` (see ``_medication.py``), or for a vasopressor an
  :class:`ObservationRecord` of its rate in ug/kg/min (see ``_vasopressor.py``).
- Skipped, with the entry index, type and reason in ``ParsedBundle.skipped`` (not an error):
  valid resources of the other types (Encounter, Condition, MedicationRequest, Claim, ... of a
  Synthea bundle), Observations that are valid FHIR but carry nothing a twin reads (another
  LOINC code, no LOINC coding, not final, no value), and administrations that are not insulin
  or not done. An Observation with a well-formed LOINC code outside the curated table is
  skipped in a bundle (``unsupported_codes="skip"``, the default of :func:`parse_bundle`: a lab
  panel or a Synthea record is full of codes no twin reads) and refused when sent on its own
  (``unsupported_codes="error"``, the default of :func:`parse_resource`: the sender meant it).
- Errors: everything in ``_json.py`` (size, encoding, XML, syntax, depth), invalid FHIR R4
  (wrong types, unknown or R5-only elements and resources), a malformed LOINC code (bad
  check digit), a unit outside a code's allow-list, an impossible value, a missing or
  non-Patient subject, a time that is missing, date-only or without timezone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from ...errors import DataError
from ..records import EventRecord, ObservationRecord, PatientRecord
from ._issues import Issues, Skip, show
from ._json import load_json
from ._lipid_meds import read_lipid_medication
from ._medication import medication_concept, read_administration
from ._observation import read_observation
from ._patient import read_patient
from ._validate import validate_resource
from ._vasopressor import read_vasopressor, vasopressor_of

__all__ = ["ParsedBundle", "Skipped", "parse_bundle", "parse_resource"]

TAKEN = ("Patient", "Observation", "MedicationAdministration", "MedicationRequest",
         "MedicationStatement")  # fmt: skip
BUNDLE_TYPES = ("transaction", "collection")


class Skipped(NamedTuple):
    """A valid resource that was not used: entry index (None for a single resource),
    resourceType and why."""

    # The field shadows tuple.index() (mypy: assignment); callers and tests read ``.index``.
    index: int | None  # type: ignore[assignment]
    resource_type: str
    reason: str


@dataclass(frozen=True)
class ParsedBundle:
    """The records of one payload. ``type`` is the Bundle type (``transaction``,
    ``collection``), or ``resource`` for a resource sent on its own. ``patient_refs`` maps each
    Patient entry's fullUrl and ``Patient/<id>`` to its ``PatientRecord.source_id``, so the
    caller can resolve the ``patient_ref`` of every observation and event."""

    type: str
    patients: tuple[PatientRecord, ...] = ()
    observations: tuple[ObservationRecord, ...] = ()
    events: tuple[EventRecord, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    patient_refs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def references(self) -> set[str]:
        """Every patient reference the observations and events use, as written."""
        return {r.patient_ref for r in self.observations} | {r.patient_ref for r in self.events}

    def unresolved(self) -> set[str]:
        """The references no Patient of this payload resolves: the caller's to resolve (to a
        stored patient) or refuse."""
        return {r for r in self.references() if r not in self.patient_refs}


def _check_mode(unsupported_codes: str) -> None:
    if unsupported_codes not in ("skip", "error"):
        raise DataError(f"unsupported_codes must be 'skip' or 'error'. Got {unsupported_codes!r}.")


def _drop_nulls(node: Any) -> Any:
    """JSON ``null`` read as an absent element (as the R4 models do)."""
    if isinstance(node, dict):
        return {k: _drop_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_drop_nulls(v) for v in node]
    return node


def _read(
    rt: str,
    resource: dict[str, Any],
    root: str,
    issues: Issues,
    *,
    entries: Mapping[str, dict[str, Any]] | None,
    full_url: str | None,
    unsupported_codes: str,
) -> PatientRecord | ObservationRecord | EventRecord | tuple[EventRecord, ...] | Skip | None:
    if rt not in TAKEN:
        return Skip(f"{rt} is not used by medtwin's twins")
    resource = _drop_nulls(resource)
    if rt == "Patient":
        return read_patient(resource, full_url)
    if rt == "Observation":
        return read_observation(
            resource, root, issues, entries=entries, full_url=full_url,
            unsupported_codes=unsupported_codes,
        )  # fmt: skip
    if rt in ("MedicationRequest", "MedicationStatement"):
        return read_lipid_medication(resource, rt, root, issues, entries=entries, full_url=full_url)
    drug = vasopressor_of(medication_concept(resource, entries or {}))
    if drug is not None:
        return read_vasopressor(resource, drug, root, issues, entries=entries, full_url=full_url)
    return read_administration(resource, root, issues, entries=entries, full_url=full_url)


class _Out:
    def __init__(self) -> None:
        self.patients: list[PatientRecord] = []
        self.observations: list[ObservationRecord] = []
        self.events: list[EventRecord] = []
        self.skipped: list[Skipped] = []
        self.refs: dict[str, str] = {}

    def add(self, rec: Any, index: int | None, rt: str) -> None:
        if isinstance(rec, PatientRecord):
            self.patients.append(rec)
        elif isinstance(rec, ObservationRecord):
            self.observations.append(rec)
        elif isinstance(rec, EventRecord):
            self.events.append(rec)
        elif isinstance(rec, Skip):
            self.skipped.append(Skipped(index, rt, rec.reason))
        elif isinstance(rec, tuple):  # a therapy's start and stop
            self.events.extend(rec)

    def result(self, kind: str) -> ParsedBundle:
        return ParsedBundle(
            kind, tuple(self.patients), tuple(self.observations), tuple(self.events),
            tuple(self.skipped), MappingProxyType(dict(self.refs)),
        )  # fmt: skip


def _request(entry: dict[str, Any], rt: Any, where: str, issues: Issues) -> None:
    req = entry.get("request")
    if not isinstance(req, dict):
        issues.add(
            "required",
            f"{where}.request",
            "Every entry of a transaction needs request (method POST or PUT, url).",
        )
        return
    method, url = req.get("method"), req.get("url")
    if method not in ("POST", "PUT"):
        issues.add(
            "not-supported",
            f"{where}.request.method",
            f"Expected POST or PUT (this server only adds data). Got {show(method)}.",
        )
    if isinstance(url, str) and isinstance(rt, str):
        target = url.split("?", 1)[0].split("/", 1)[0]
        if target != rt:
            issues.add(
                "invalid",
                f"{where}.request.url",
                f"request.url {show(url)} names {show(target)}, but the entry's resource is of "
                f"type {show(rt)}. The resourceType and the URL must agree.",
            )


def parse_bundle(
    payload: bytes | str | dict,
    *,
    max_bytes: int = 5_000_000,
    max_entries: int = 10_000,
    unsupported_codes: Literal["skip", "error"] = "skip",
) -> ParsedBundle:
    """Read a FHIR R4 Bundle (transaction or collection) of Patients, Observations and
    MedicationAdministrations into records, or raise :class:`~medtwin.errors.FhirError` with
    every issue found. See the module docstring for what is taken, skipped and refused.

    Pass the request body as bytes: the size, encoding and JSON checks apply to bytes and str.
    A dict is taken as already parsed (only its nesting depth is checked). Reading costs
    about 0.5 ms per resource (mostly the R4 model validation): run it off the event loop."""
    _check_mode(unsupported_codes)
    issues = Issues()
    obj = load_json(payload, max_bytes=max_bytes, issues=issues)
    issues.raise_if_any()
    assert obj is not None
    rt = obj.get("resourceType")
    if rt != "Bundle":
        issues.add(
            "invalid",
            "resourceType",
            f"Expected a Bundle. Got resourceType {show(rt)}; send a single resource to its own "
            f"endpoint (POST /<resourceType>).",
        )
        issues.raise_if_any()
    kind = obj.get("type")
    if kind not in BUNDLE_TYPES:
        issues.add(
            "not-supported" if isinstance(kind, str) else "required",
            "Bundle.type",
            f"Expected a Bundle of type transaction (all-or-nothing) or collection. Got "
            f"{show(kind) if kind is not None else 'no type'}"
            + (
                "; a batch would store its entries one by one, send it as a transaction."
                if kind == "batch"
                else "."
            ),
        )
        issues.raise_if_any()
    entries = obj.get("entry", [])
    if isinstance(entries, list) and len(entries) > max_entries:
        issues.add(
            "too-costly",
            "Bundle.entry",
            f"The bundle has {len(entries):,} entries; at most {max_entries:,} are accepted. "
            f"Split it into several bundles.",
        )
        issues.raise_if_any()
    shell = dict(obj)
    if isinstance(entries, list):
        shell["entry"] = [
            {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
            for e in entries
        ]
    validate_resource(shell, "Bundle", issues)
    if not isinstance(entries, list):
        issues.raise_if_any()
    index: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            continue
        url, res = e.get("fullUrl"), e.get("resource")
        if isinstance(url, str):
            if url in index:
                issues.add(
                    "duplicate",
                    f"Bundle.entry[{i}].fullUrl",
                    f"fullUrl {show(url)} is used by another entry already. Each entry needs its "
                    f"own fullUrl.",
                )
            elif isinstance(res, dict):
                index[url] = res
    out = _Out()
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            continue
        where = f"Bundle.entry[{i}]"
        res = e.get("resource")
        if res is None:
            issues.add("required", f"{where}.resource", "Each entry needs a resource.")
            continue
        if kind == "transaction":
            _request(e, res.get("resourceType") if isinstance(res, dict) else None, where, issues)
        rt = validate_resource(res, f"{where}.resource", issues)
        if rt is None:
            continue
        url = e.get("fullUrl") if isinstance(e.get("fullUrl"), str) else None
        rec = _read(
            rt, res, f"{where}.resource", issues, entries=index, full_url=url,
            unsupported_codes=unsupported_codes,
        )  # fmt: skip
        out.add(rec, i, rt)
        if isinstance(rec, PatientRecord):
            if url:
                out.refs[url] = rec.source_id
            if res.get("id"):
                out.refs[f"Patient/{res['id']}"] = rec.source_id
    issues.raise_if_any()
    return out.result(str(kind))  # one of BUNDLE_TYPES (checked above)


def parse_resource(
    payload: bytes | str | dict,
    *,
    expected_type: str | None = None,
    max_bytes: int = 1_000_000,
    unsupported_codes: Literal["skip", "error"] = "error",
) -> ParsedBundle:
    """Read one Patient, Observation or MedicationAdministration sent on its own (``POST
    /Observation``) into a :class:`ParsedBundle` of type ``resource`` holding its record, or
    its :class:`Skipped` reason. ``expected_type`` is the endpoint's type: a resource of
    another type is refused. Other resource types and Bundles are refused (``not-supported``,
    ``invalid``); a LOINC code outside the curated table is an error unless
    ``unsupported_codes="skip"``."""
    _check_mode(unsupported_codes)
    issues = Issues()
    obj = load_json(payload, max_bytes=max_bytes, issues=issues)
    issues.raise_if_any()
    assert obj is not None
    rt = obj.get("resourceType")
    if expected_type is not None and rt != expected_type:
        issues.add(
            "invalid",
            "resourceType",
            f"This endpoint takes resources of type {expected_type}. Got resourceType {show(rt)}.",
        )
        issues.raise_if_any()
    if rt == "Bundle":
        issues.add(
            "invalid", "resourceType", "A Bundle is POSTed to the base URL, not as a resource."
        )
        issues.raise_if_any()
    rt = validate_resource(obj, None, issues)
    issues.raise_if_any()
    assert rt is not None
    if rt not in TAKEN:
        issues.add(
            "not-supported",
            "resourceType",
            f"Expected a Patient, Observation, MedicationAdministration, MedicationRequest or "
            f"MedicationStatement. Got {rt}, which "
            f"medtwin's twins do not use.",
        )
        issues.raise_if_any()
    rec = _read(
        rt, obj, rt, issues, entries=None, full_url=None, unsupported_codes=unsupported_codes
    )
    issues.raise_if_any()
    out = _Out()
    out.add(rec, None, rt)
    if isinstance(rec, PatientRecord) and obj.get("id"):
        out.refs[f"Patient/{obj['id']}"] = rec.source_id
    return out.result("resource")
