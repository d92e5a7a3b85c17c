"""Patients and their data: ``/patients``, FHIR ingestion (``/fhir``, a patient's
observations and regimen), CGM files (``/patients/{pid}/cgm``: Dexcom Clarity, LibreView,
Nightscout, detected by ``medtwin.data.cgm_formats``) and FHIR search (``/fhir/Observation``).

Bodies here are FHIR R4 resources, parsed by ``medtwin.data.fhir`` (errors are its
OperationOutcomes). A clinician who creates or ingests a patient is granted it; every other
access goes through :meth:`Caller.patient <medtwin.service._auth.Caller.patient>` (the same
404 whether or not the patient exists). Posting data takes one of the caller's heavy-request
slots: it updates the patient's twin.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..data.cgm_formats import read_cgm
from ..data.fhir import ParsedBundle, parse_bundle, parse_resource, search_param
from ..store import IngestRefused, Store, pseudonym_of
from ._auth import Caller
from ._concurrency import heavy
from ._deps import RawBody, StoreOf, Who, fhir_response
from ._errors import ApiError
from ._fhir_schemas import fhir_body
from ._views import observation_json

__all__ = ["patients_router"]

Confirm = Annotated[str | None, Query(pattern="^existing$")]


def patients_router(*, max_body_bytes: int = 5_000_000) -> APIRouter:
    """The routes over patients and their data; ``max_body_bytes`` bounds a Bundle."""
    router = APIRouter()

    # -- patients ----------------------------------------------------------------------------

    @router.get("/patients", tags=["patients"])
    def list_patients(who: Who, store: StoreOf) -> dict[str, Any]:
        who.require("clinician", "admin", action="patient.list")
        ids = store.patient_ids()
        if who.role != "admin":
            mine = store.granted(who.name)
            ids = [p for p in ids if p in mine]
        detail = {"count": len(ids), "patients": ids}  # per-patient audit queries find it
        store.audit(who.name, "patient.list", resource="Patient", detail=detail)
        return {"patients": ids}

    @router.post(
        "/patients", status_code=201, tags=["patients"], openapi_extra=fhir_body("Patient")
    )
    def create_patient(
        who: Who, body: RawBody, store: StoreOf, confirm: Confirm = None
    ) -> JSONResponse:
        """Store a FHIR R4 Patient; a clinician who creates a patient is granted it. A Patient
        under a stored identifier is that patient (200) only if its identifying fields agree
        and it is yours; a clinician's record is matched for an admin with ``?confirm=existing``
        after checking it is the same person; otherwise 409, nothing stored."""
        who.require("clinician", "admin", action="patient.create")
        if confirm is not None:
            who.require("admin", action="patient.confirm")
        parsed = parse_resource(body, expected_type="Patient")
        rec = parsed.patients[0]
        try:
            store.check_batch([rec], [], [], actor=who.name, refs=parsed.patient_refs,
                              action="patient.create")  # fmt: skip
            existing = store.lookup_patient(rec.source_id)
            if existing is not None and who.role != "admin":
                who.patient(existing, "patient.create")  # 404 unless granted: no probing
            pid = store.add_patient(rec, actor=who.name, confirm=confirm is not None)
        except IngestRefused as exc:
            raise refusal(exc) from None
        if who.role == "clinician":
            store.grant(who.name, pid, actor=who.name)
        return JSONResponse({"id": pid}, status_code=201 if existing is None else 200)

    @router.get("/patients/{pid}", tags=["patients"])
    def read_patient(pid: str, who: Who, store: StoreOf) -> dict[str, Any]:
        p = store.patient(who.patient(pid, "patient.read"), actor=who.name)
        return {"id": p.pid, "mrn": p.mrn, "name": p.name, "gender": p.gender,
                "birth_date": p.birth_date.isoformat() if p.birth_date else None}  # fmt: skip

    # -- data in -----------------------------------------------------------------------------

    @router.post("/fhir", tags=["fhir"], openapi_extra=fhir_body("Bundle"))
    def post_bundle(
        who: Who, body: RawBody, store: StoreOf, request: Request, confirm: Confirm = None
    ) -> JSONResponse:
        """A FHIR R4 Bundle (transaction: all or nothing; collection) of Patients,
        Observations and MedicationAdministrations. Twins of patients with new data update.
        A Patient under a stored identifier follows POST /patients (``?confirm=existing``:
        an admin matches a clinician's record after checking it is the same person)."""
        who.require("clinician", "admin", action="ingest")
        if confirm is not None:
            who.require("admin", action="ingest.confirm")
        parsed = parse_bundle(body, max_bytes=max_body_bytes)
        with heavy(request.app, who, "ingest"):
            done = ingest(store, who, parsed, confirm=confirm is not None)
        return JSONResponse(done, status_code=200)

    @router.post("/patients/{pid}/observations", tags=["data"],
                 openapi_extra=fhir_body("Observation", "Bundle"))  # fmt: skip
    def post_observation(
        pid: str, who: Who, body: RawBody, store: StoreOf, request: Request
    ) -> dict[str, Any]:
        """One FHIR R4 Observation (or a Bundle of them) about this patient."""
        pid = who.patient(pid, "observation.create")
        parsed = parse_resource(body, expected_type="Observation")
        with heavy(request.app, who, "observation.create", pid):
            return ingest(store, who, parsed, fixed_pid=pid)

    @router.post("/patients/{pid}/regimen", tags=["data"],
                 openapi_extra=fhir_body("MedicationAdministration"))  # fmt: skip
    def post_administration(
        pid: str, who: Who, body: RawBody, store: StoreOf, request: Request
    ) -> dict[str, Any]:
        """One FHIR R4 MedicationAdministration (insulin) about this patient."""
        pid = who.patient(pid, "event.create")
        parsed = parse_resource(body, expected_type="MedicationAdministration")
        with heavy(request.app, who, "event.create", pid):
            return ingest(store, who, parsed, fixed_pid=pid)

    @router.post("/patients/{pid}/cgm", tags=["data"])
    def post_cgm(
        pid: str,
        who: Who,
        body: RawBody,
        store: StoreOf,
        request: Request,
        tz: Annotated[str | None, Query(max_length=64)] = None,
        start: Annotated[datetime | None, Query()] = None,
    ) -> dict[str, Any]:
        """A CGM file of this patient as its app exports it -- a Dexcom Clarity or LibreView
        CSV, Nightscout entries JSON, or the plain CSV ``time,glucose_mg_dl`` with ``start``
        (the instant its minute 0 stands for). ``tz``: the IANA zone of Clarity's and
        LibreView's local times (UTC without it). The format is detected and returned with
        what was taken and skipped; the readings (LOINC 99504-3, Low/High censored) and the
        file's boluses and meals are stored as FHIR ingestion stores them, a second upload
        adding nothing; the twin updates. A file of no known format is refused (422) with the
        formats tried and its first line, and nothing is stored."""
        pid = who.patient(pid, "observation.create")
        cgm = read_cgm(body, name="the uploaded file", tz=tz, start=start)
        obs, events = cgm.records(f"Patient/{pid}")
        parsed = ParsedBundle("cgm-file", observations=obs, events=events)
        with heavy(request.app, who, "observation.create", pid):
            done = ingest(store, who, parsed, fixed_pid=pid)
        return {**done, "format": cgm.format, "format_label": cgm.label,
                "cgm": {"readings": len(cgm), "censored": int((cgm.censored != 0).sum()),
                        "events": len(cgm.events), "skipped": dict(cgm.skipped),
                        "reordered": cgm.reordered, "notes": list(cgm.notes),
                        "summary": cgm.summary()}}  # fmt: skip

    # -- data out ----------------------------------------------------------------------------

    @router.get("/patients/{pid}/observations", tags=["data"])
    def get_observations(
        pid: str,
        who: Who,
        store: StoreOf,
        code: Annotated[str | None, Query(max_length=64)] = None,
        date: Annotated[list[str] | None, Query()] = None,
        count: Annotated[str | None, Query(alias="_count")] = None,
    ) -> dict[str, Any]:
        pid = who.patient(pid, "observation.search")
        return search(store, who, pid, code, date, count)

    @router.get("/fhir/Observation", tags=["fhir"])
    def fhir_observation_search(
        who: Who,
        store: StoreOf,
        patient: Annotated[str, Query(max_length=256)],
        code: Annotated[str | None, Query(max_length=256)] = None,
        date: Annotated[list[str] | None, Query()] = None,
        count: Annotated[str | None, Query(alias="_count")] = None,
    ) -> JSONResponse:
        """FHIR search: Observations of one patient (``patient`` is required), by LOINC
        ``code`` and ``date`` (ge/le/gt/lt/eq prefixes), at most ``_count``."""
        pid = who.patient(str(search_param("patient", patient, "patient")).removeprefix(
            "Patient/"), "observation.search")  # fmt: skip
        found = search(store, who, pid, code, date, count)["observations"]
        return fhir_response({"resourceType": "Bundle", "type": "searchset",
                              "total": len(found),
                              "entry": [{"resource": o["fhir"]} for o in found]})  # fmt: skip

    @router.get("/patients/{pid}/regimen", tags=["data"])
    def get_regimen(pid: str, who: Who, store: StoreOf) -> dict[str, Any]:
        pid = who.patient(pid, "event.search")
        return {"patient": pid, "events": [
            {"id": e.id, "kind": e.kind, "time": e.time.isoformat(), "amount": e.amount,
             "status": e.status, "version": e.version}
            for e in store.events(pid, actor=who.name)]}  # fmt: skip

    return router


def refusal(exc: IngestRefused) -> ApiError:
    """A refused patient or batch: 409 if it clashes with what is stored or sent, else 422."""
    return ApiError(409 if exc.conflict else 422, str(exc),
                    code="conflict" if exc.conflict else "invalid")  # fmt: skip


def ingest(
    store: Store, who: Caller, parsed: Any, fixed_pid: str | None = None, confirm: bool = False
) -> dict[str, Any]:
    """Store what ``parsed`` (a parsed FHIR resource or Bundle) holds, for ``who``; with
    ``fixed_pid``, every resource must be about that patient. Twins with new data update."""
    refs = dict(parsed.patient_refs)
    if fixed_pid is not None:
        if parsed.patients:
            raise ApiError(422, "Send Patients to POST /patients or in a Bundle to /fhir.")
        wrong = {r for r in parsed.references() if pseudonym_of(r) != fixed_pid}
        if wrong:
            msg = f"This resource is about {sorted(wrong)[0]!r:.80}, not Patient/{fixed_pid}."
            raise ApiError(422, msg, expression="subject")
        refs = {r: fixed_pid for r in parsed.references()}
    try:
        # First the batch in itself, so an invalid batch is answered alike whether or not
        # its patients exist; then access to the stored patients it names; then the write.
        store.check_batch(parsed.patients, parsed.observations, parsed.events,
                          actor=who.name, refs=refs)  # fmt: skip
        if who.role != "admin":
            for rec in parsed.patients:
                existing = store.lookup_patient(rec.source_id)
                if existing is not None:
                    who.patient(existing, "ingest")  # 404 unless granted: no probing
        for ref in parsed.unresolved() if fixed_pid is None else ():
            who.patient(store.lookup_patient(ref) or "", "ingest")
        res = store.ingest(parsed.patients, parsed.observations, parsed.events,
                           actor=who.name, refs=refs, confirm=confirm)  # fmt: skip
    except IngestRefused as exc:
        raise refusal(exc) from None
    if who.role == "clinician":
        for pid in res.patients.values():
            store.grant(who.name, pid, actor=who.name)
    return {
        "patients": res.patients, "created": res.created,
        "observations": {"added": res.observations.added,
                         "duplicates": res.observations.duplicates},
        "events": {"added": res.events.added, "duplicates": res.events.duplicates},
        "twin_versions": res.updated,
        "skipped": [{"entry": s[0], "resourceType": s[1], "reason": s[2]}
                    for s in parsed.skipped],
    }  # fmt: skip


def search(store: Store, who: Caller, pid: str, code: Any, date: Any, count: Any) -> dict[str, Any]:
    """The observations of ``pid`` matching the FHIR search parameters ``code``, ``date``
    (each a prefixed date) and ``_count`` (default 1000)."""
    code = search_param("code", code, "code") if code is not None else None
    dates = [search_param("date", d, "date") for d in date or ()]
    limit = cast(int, search_param("_count", count, "count")) if count is not None else 1000
    rows = store.observations(pid, actor=who.name, code=code)
    keep = [o for o in rows if all(_date_ok(o.time, d) for d in dates)][:limit]
    return {"patient": pid, "observations": [observation_json(o) for o in keep]}


def _date_ok(t: datetime, d: Any) -> bool:
    checks: dict[str, Callable[[], bool]] = {
        "eq": lambda: d.start <= t < d.end, "ge": lambda: t >= d.start, "gt": lambda: t >= d.end,
        "le": lambda: t < d.end, "lt": lambda: t < d.start, "ne": lambda: not d.start <= t < d.end,
        "sa": lambda: t >= d.end, "eb": lambda: t < d.start,
    }  # fmt: skip
    return checks.get(d.prefix, checks["eq"])()
