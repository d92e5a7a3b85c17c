"""The REST API: patients, observations, regimen, twins and their versions, forecasts,
what-if, the skill ledger, audit and the de-identified export. OpenAPI at ``/openapi.json``
and ``/docs``.

Every route that touches patient data goes through :class:`~medtwin.service._auth.Caller`
(role and grant checks) and the store (which appends an audit entry for every read and
write). Errors are OperationOutcomes; nothing leaks a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..data.fhir import parse_bundle, parse_resource, search_param
from ..errors import LimitError, StoreError
from ..store import (
    EXPORT_LIMIT_PER_HOUR,
    ExportLimitReached,
    IngestRefused,
    Store,
    TwinConfig,
    pseudonym_of,
)
from ._audit_page import MAX_SEQ, audit_page
from ._auth import Caller, RateLimiter, authenticate
from ._concurrency import heavy
from ._dashboard import dashboard_router
from ._docs import docs_router
from ._errors import FHIR_JSON, ApiError, install_error_handlers, outcome_response
from ._headers import SecurityHeaders
from ._health import health_router
from ._json import JsonObject, document_json_bodies
from ._limits import BodyLimit
from ._users_routes import users_router
from ._views import (
    build_what_if,
    forecast_json,
    forecasts_fhir,
    observation_json,
    provenance_of,
    skill_json,
    twin_json,
    version_json,
)

__all__ = ["create_app", "recover"]

log = logging.getLogger("medtwin.service")


def recover(store: Store) -> dict[str, int]:
    """Apply what a crash left pending: every twin with stored but unapplied observations or
    events gets its next version. Returns patient -> version reached."""
    done = {}
    for pid in store.patient_ids():
        try:
            view = store.update_twin(pid, actor="system:recovery")
        except StoreError:  # no twin for this patient
            continue
        if view is not None:
            done[pid] = view.version
    if done:
        log.info("recovered pending updates of %d twins", len(done))
    return done


def _fhir(doc: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(doc, status_code=status, media_type=FHIR_JSON)


async def _body(request: Request) -> bytes:
    return await request.body()


def _caller(request: Request) -> Caller:
    return authenticate(request, request.app.state.store, request.app.state.limiter)


Who = Annotated[Caller, Depends(_caller)]
Body = Annotated[bytes, Depends(_body)]


def create_app(
    store: Store,
    *,
    max_body_bytes: int = 5_000_000,
    login_limit: int = 10,
    login_window_s: float = 60.0,
    export_limit_per_hour: int = EXPORT_LIMIT_PER_HOUR,
) -> FastAPI:
    """The API over ``store``. ``max_body_bytes`` bounds every request body; ``login_limit``
    failed logins per client per ``login_window_s`` seconds, then 429;
    ``export_limit_per_hour`` de-identified exports per user per rolling hour, then 429."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(recover, store)
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="medtwin",
        version=__version__,
        description="Medical digital twins: patients, data (FHIR R4), twins, forecasts, audit.",
        docs_url=None,  # served by _docs from this package, never from a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    document_json_bodies(app)  # the routes' JsonObject bodies appear in the OpenAPI schema
    app.state.store = store
    app.state.limiter = RateLimiter(login_limit, login_window_s)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    app.include_router(health_router())  # /health (liveness), /ready (database)
    app.include_router(docs_router(title=app.title, openapi_url=app.openapi_url or ""))

    # -- patients --------------------------------------------------------------------------

    @app.get("/patients", tags=["patients"])
    def list_patients(who: Who) -> dict[str, Any]:
        who.require("clinician", "admin", action="patient.list")
        ids = store.patient_ids()
        if who.role != "admin":
            mine = store.granted(who.name)
            ids = [p for p in ids if p in mine]
        detail = {"count": len(ids), "patients": ids}  # per-patient audit queries find it
        store.audit(who.name, "patient.list", resource="Patient", detail=detail)
        return {"patients": ids}

    @app.post("/patients", status_code=201, tags=["patients"])
    def create_patient(
        who: Who,
        body: Body,
        confirm: Annotated[str | None, Query(pattern="^existing$")] = None,
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
            raise _refusal(exc) from None
        if who.role == "clinician":
            store.grant(who.name, pid, actor=who.name)
        return JSONResponse({"id": pid}, status_code=201 if existing is None else 200)

    @app.get("/patients/{pid}", tags=["patients"])
    def read_patient(pid: str, who: Who) -> dict[str, Any]:
        p = store.patient(who.patient(pid, "patient.read"), actor=who.name)
        return {"id": p.pid, "mrn": p.mrn, "name": p.name, "gender": p.gender,
                "birth_date": p.birth_date.isoformat() if p.birth_date else None}  # fmt: skip

    # -- data in -----------------------------------------------------------------------------

    def _ingest(
        who: Caller, parsed: Any, fixed_pid: str | None = None, confirm: bool = False
    ) -> dict[str, Any]:
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
            raise _refusal(exc) from None
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

    @app.post("/fhir", tags=["fhir"])
    def post_bundle(
        who: Who,
        body: Body,
        confirm: Annotated[str | None, Query(pattern="^existing$")] = None,
    ) -> JSONResponse:
        """A FHIR R4 Bundle (transaction: all or nothing; collection) of Patients,
        Observations and MedicationAdministrations. Twins of patients with new data update.
        A Patient under a stored identifier follows POST /patients (``?confirm=existing``:
        an admin matches a clinician's record after checking it is the same person)."""
        who.require("clinician", "admin", action="ingest")
        if confirm is not None:
            who.require("admin", action="ingest.confirm")
        parsed = parse_bundle(body, max_bytes=max_body_bytes)
        with heavy(app, who, "ingest"):
            done = _ingest(who, parsed, confirm=confirm is not None)
        return JSONResponse(done, status_code=200)

    @app.post("/patients/{pid}/observations", tags=["data"])
    def post_observation(pid: str, who: Who, body: Body) -> dict[str, Any]:
        """One FHIR R4 Observation (or a Bundle of them) about this patient."""
        pid = who.patient(pid, "observation.create")
        parsed = parse_resource(body, expected_type="Observation")
        with heavy(app, who, "observation.create", pid):
            return _ingest(who, parsed, fixed_pid=pid)

    @app.post("/patients/{pid}/regimen", tags=["data"])
    def post_administration(pid: str, who: Who, body: Body) -> dict[str, Any]:
        """One FHIR R4 MedicationAdministration (insulin) about this patient."""
        pid = who.patient(pid, "event.create")
        parsed = parse_resource(body, expected_type="MedicationAdministration")
        with heavy(app, who, "event.create", pid):
            return _ingest(who, parsed, fixed_pid=pid)

    # -- data out ----------------------------------------------------------------------------

    @app.get("/patients/{pid}/observations", tags=["data"])
    def get_observations(
        pid: str,
        who: Who,
        code: Annotated[str | None, Query(max_length=64)] = None,
        date: Annotated[list[str] | None, Query()] = None,
        count: Annotated[str | None, Query(alias="_count")] = None,
    ) -> dict[str, Any]:
        pid = who.patient(pid, "observation.search")
        return _search(who, pid, code, date, count)

    @app.get("/fhir/Observation", tags=["fhir"])
    def fhir_observation_search(
        who: Who,
        patient: Annotated[str, Query(max_length=256)],
        code: Annotated[str | None, Query(max_length=256)] = None,
        date: Annotated[list[str] | None, Query()] = None,
        count: Annotated[str | None, Query(alias="_count")] = None,
    ) -> JSONResponse:
        """FHIR search: Observations of one patient (``patient`` is required), by LOINC
        ``code`` and ``date`` (ge/le/gt/lt/eq prefixes), at most ``_count``."""
        pid = who.patient(str(search_param("patient", patient, "patient")).removeprefix(
            "Patient/"), "observation.search")  # fmt: skip
        found = _search(who, pid, code, date, count)["observations"]
        return _fhir({"resourceType": "Bundle", "type": "searchset", "total": len(found),
                      "entry": [{"resource": o["fhir"]} for o in found]})  # fmt: skip

    def _search(who, pid, code, date, count) -> dict[str, Any]:
        code = search_param("code", code, "code") if code is not None else None
        dates = [search_param("date", d, "date") for d in date or ()]
        limit = search_param("_count", count, "count") if count is not None else 1000
        rows = store.observations(pid, actor=who.name, code=code)
        keep = [o for o in rows if all(_date_ok(o.time, d) for d in dates)][:limit]
        return {"patient": pid, "observations": [observation_json(o) for o in keep]}

    @app.get("/patients/{pid}/regimen", tags=["data"])
    def get_regimen(pid: str, who: Who) -> dict[str, Any]:
        pid = who.patient(pid, "event.search")
        return {"patient": pid, "events": [
            {"id": e.id, "kind": e.kind, "time": e.time.isoformat(), "amount": e.amount,
             "status": e.status, "version": e.version}
            for e in store.events(pid, actor=who.name)]}  # fmt: skip

    # -- twins -------------------------------------------------------------------------------

    @app.post("/patients/{pid}/twin", status_code=201, tags=["twins"])
    def create_twin(pid: str, who: Who, config: JsonObject) -> dict[str, Any]:
        """Create the patient's twin from a configuration: ``model`` (t1d, sepsis, ...),
        ``epoch`` (ISO datetime with zone: model time 0), ``prior``, ``free``, ``n``, ``seed``,
        ``horizon``, ``every``. Pending data are applied at once."""
        pid = who.patient(pid, "twin.create")
        cfg = _config(config)  # the work bounds of medtwin.limits: 422 before anything runs
        with heavy(app, who, "twin.create", pid):
            v0 = store.create_twin(pid, cfg, actor=who.name)
            latest = store.update_twin(pid, actor=who.name) or v0
        return version_json(latest)

    @app.get("/patients/{pid}/twin", tags=["twins"])
    def read_twin(pid: str, who: Who) -> dict[str, Any]:
        pid = who.patient(pid, "twin.read")
        versions = store.twin_versions(pid, actor=who.name)
        return twin_json(store.twin(pid, actor=who.name), versions[-1])

    @app.get("/patients/{pid}/twin/versions", tags=["twins"])
    def twin_versions(pid: str, who: Who) -> dict[str, Any]:
        pid = who.patient(pid, "twin.search")
        return {"versions": [version_json(v) for v in store.twin_versions(pid, actor=who.name)]}

    @app.get("/patients/{pid}/twin/versions/{version}/provenance", tags=["twins", "fhir"])
    def version_provenance(pid: str, version: int, who: Who) -> JSONResponse:
        pid = who.patient(pid, "twin.provenance")
        versions = {v.version: v for v in store.twin_versions(pid, actor=who.name)}
        if version not in versions:
            raise ApiError(404, f"This twin has versions 0..{max(versions)}; no {version}.")
        return _fhir(provenance_of(versions[version]))

    @app.get("/patients/{pid}/forecasts", tags=["forecasts"])
    def get_forecasts(
        pid: str, who: Who, limit: Annotated[int, Query(ge=1, le=1000)] = 1
    ) -> dict[str, Any]:
        pid = who.patient(pid, "forecast.search")
        return {"forecasts": [forecast_json(f) for f in
                              store.forecasts(pid, actor=who.name, limit=limit)]}  # fmt: skip

    @app.get("/patients/{pid}/forecasts/fhir", tags=["forecasts", "fhir"])
    def get_forecasts_fhir(
        pid: str, who: Who, limit: Annotated[int, Query(ge=1, le=100)] = 1
    ) -> JSONResponse:
        pid = who.patient(pid, "forecast.search")
        return _fhir(forecasts_fhir(store.forecasts(pid, actor=who.name, limit=limit)))

    @app.post("/patients/{pid}/what-if", tags=["forecasts"])
    def post_what_if(pid: str, who: Who, body: JsonObject) -> dict[str, Any]:
        """Compare regimens: ``{"horizon": 240, "options": {"name": [{"after": 0, "kind":
        "bolus", "amount": 2}], ...}}`` (``after`` in the model's time unit from the twin's
        time). Paired forecasts and outcome metrics per option."""
        pid = who.patient(pid, "twin.what_if")
        with heavy(app, who, "twin.what_if", pid):
            return build_what_if(store.twin(pid, actor=who.name), body)

    @app.get("/patients/{pid}/skill", tags=["forecasts"])
    def get_skill(pid: str, who: Who) -> dict[str, Any]:
        """The skill ledger: every stored forecast scored against the observations since."""
        pid = who.patient(pid, "skill.read")
        fcs = store.forecasts(pid, actor=who.name)
        return skill_json(fcs, store.observations(pid, actor=who.name))

    # -- audit, users, research -------------------------------------------------------------

    @app.get("/audit", tags=["audit"])
    def get_audit(
        who: Who,
        format: Annotated[str, Query(pattern="^(json|fhir)$")] = "json",
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        before: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    ) -> Any:
        """The audit log, newest first: at most ``limit`` entries with seq < ``before`` (the
        newest page without it); ``next`` (FHIR: the ``next`` link) fetches the older page."""
        who.require("admin", action="audit.read")
        doc = audit_page(store, who.name, format, limit, before)
        return _fhir(doc) if format == "fhir" else doc

    @app.get("/audit/verify", tags=["audit"])
    def verify_audit(who: Who) -> dict[str, Any]:
        who.require("admin", action="audit.verify")
        rep = store.verify_audit()
        return {"ok": rep.ok, "entries": rep.entries, "first_bad_seq": rep.first_bad_seq,
                "reason": rep.reason}  # fmt: skip

    app.include_router(users_router())  # users, tokens, grants (admin only)

    @app.get("/research/export", tags=["research"])
    def research_export(
        who: Who, dates: Annotated[str, Query(pattern="^(year|shift)$")] = "year"
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

    app.include_router(dashboard_router())
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: also on 413s
    return app


def _refusal(exc: IngestRefused) -> ApiError:
    """A refused patient or batch: 409 if it clashes with what is stored or sent, else 422."""
    return ApiError(409 if exc.conflict else 422, str(exc),
                    code="conflict" if exc.conflict else "invalid")  # fmt: skip


def _config(doc: dict[str, Any]) -> TwinConfig:
    allowed = {"model", "epoch", "prior", "free", "n", "seed", "horizon", "every", "drift"}
    unknown = set(doc) - allowed
    if unknown:
        raise ApiError(422, f"Unknown twin configuration keys {sorted(unknown)}; expected some "
                       f"of {sorted(allowed)}.")  # fmt: skip
    try:
        epoch = datetime.fromisoformat(str(doc.get("epoch", "")))
    except ValueError:
        raise ApiError(422, f"epoch must be an ISO 8601 datetime with a zone, e.g. "
                       f"2026-01-01T00:00:00Z. Got {doc.get('epoch')!r:.60}.",
                       expression="epoch") from None  # fmt: skip
    if epoch.tzinfo is None:
        raise ApiError(422, "epoch needs a time zone (e.g. ...T00:00:00Z).", expression="epoch")
    args = {k: v for k, v in doc.items() if k != "epoch"}
    try:  # TwinConfig checks types and the work bounds of medtwin.limits
        return TwinConfig(epoch=epoch.astimezone(UTC), **args)
    except LimitError as exc:
        raise ApiError(422, str(exc), expression=exc.name) from None
    except OverflowError:
        raise ApiError(422, f"epoch is out of range. Got {doc.get('epoch')!r:.60}.",
                       expression="epoch") from None  # fmt: skip


def _date_ok(t: datetime, d: Any) -> bool:
    checks: dict[str, Callable[[], bool]] = {
        "eq": lambda: d.start <= t < d.end, "ge": lambda: t >= d.start, "gt": lambda: t >= d.end,
        "le": lambda: t < d.end, "lt": lambda: t < d.start, "ne": lambda: not d.start <= t < d.end,
        "sa": lambda: t >= d.end, "eb": lambda: t < d.start,
    }  # fmt: skip
    return checks.get(d.prefix, checks["eq"])()
