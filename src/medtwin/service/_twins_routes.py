"""A patient's twin: creation, its versions and their provenance, the stored forecasts
(JSON and FHIR), what-if comparisons and the skill ledger.

Creating a twin and a what-if take one of the caller's heavy-request slots; their bodies
(:class:`~medtwin.service._schemas.TwinConfigBody`,
:class:`~medtwin.service._schemas.WhatIfBody`) are read strictly and validated before the
route runs, and the bounds that depend on the patient's model are checked before any work.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..errors import LimitError
from ..loop import TwinConfig
from ._bodies import BodyRoute
from ._concurrency import heavy
from ._deps import StoreOf, Who, fhir_response
from ._errors import ApiError
from ._schemas import TwinConfigBody, TwinConfigJson, WhatIfJson
from ._views import (
    build_what_if,
    forecast_json,
    forecasts_fhir,
    provenance_of,
    skill_json,
    twin_json,
    version_json,
)

__all__ = ["twins_router"]


def twins_router() -> APIRouter:
    """The routes over patients' twins and their forecasts."""
    router = APIRouter(route_class=BodyRoute)

    @router.post("/patients/{pid}/twin", status_code=201, tags=["twins"])
    def create_twin(
        pid: str, who: Who, config: TwinConfigJson, store: StoreOf, request: Request
    ) -> dict[str, Any]:
        """Create the patient's twin from a configuration: ``model`` (t1d, sepsis, ...),
        ``epoch`` (ISO datetime with zone: model time 0), ``prior``, ``free``, ``n``, ``seed``,
        ``horizon``, ``every``, ``drift``, ``sensor`` (the observable a CGM reads, e.g.
        ``sc_glucose``: its autocorrelated error as every particle's state). Pending data are
        applied at once."""
        pid = who.patient(pid, "twin.create")
        cfg = _config(config)  # the work bounds of medtwin.limits: 422 before anything runs
        with heavy(request.app, who, "twin.create", pid):
            v0 = store.create_twin(pid, cfg, actor=who.name)
            latest = store.update_twin(pid, actor=who.name) or v0
        return version_json(latest)

    @router.get("/patients/{pid}/twin", tags=["twins"])
    def read_twin(pid: str, who: Who, store: StoreOf) -> dict[str, Any]:
        pid = who.patient(pid, "twin.read")
        versions = store.twin_versions(pid, actor=who.name)
        return twin_json(store.twin(pid, actor=who.name), versions[-1])

    @router.get("/patients/{pid}/twin/versions", tags=["twins"])
    def twin_versions(pid: str, who: Who, store: StoreOf) -> dict[str, Any]:
        pid = who.patient(pid, "twin.search")
        return {"versions": [version_json(v) for v in store.twin_versions(pid, actor=who.name)]}

    @router.get("/patients/{pid}/twin/versions/{version}/provenance", tags=["twins", "fhir"])
    def version_provenance(pid: str, version: int, who: Who, store: StoreOf) -> JSONResponse:
        pid = who.patient(pid, "twin.provenance")
        versions = {v.version: v for v in store.twin_versions(pid, actor=who.name)}
        if version not in versions:
            raise ApiError(404, f"This twin has versions 0..{max(versions)}; no {version}.")
        return fhir_response(provenance_of(versions[version]))

    @router.get("/patients/{pid}/forecasts", tags=["forecasts"])
    def get_forecasts(
        pid: str, who: Who, store: StoreOf, limit: Annotated[int, Query(ge=1, le=1000)] = 1
    ) -> dict[str, Any]:
        pid = who.patient(pid, "forecast.search")
        return {"forecasts": [forecast_json(f) for f in
                              store.forecasts(pid, actor=who.name, limit=limit)]}  # fmt: skip

    @router.get("/patients/{pid}/forecasts/fhir", tags=["forecasts", "fhir"])
    def get_forecasts_fhir(
        pid: str, who: Who, store: StoreOf, limit: Annotated[int, Query(ge=1, le=100)] = 1
    ) -> JSONResponse:
        pid = who.patient(pid, "forecast.search")
        return fhir_response(forecasts_fhir(store.forecasts(pid, actor=who.name, limit=limit)))

    @router.post("/patients/{pid}/what-if", tags=["forecasts"])
    def post_what_if(
        pid: str, who: Who, body: WhatIfJson, store: StoreOf, request: Request
    ) -> dict[str, Any]:
        """Compare regimens: ``{"horizon": 240, "options": {"name": [{"after": 0, "kind":
        "bolus", "amount": 2}], ...}}`` (``after`` in the model's time unit from the twin's
        time). Paired forecasts and outcome metrics per option."""
        pid = who.patient(pid, "twin.what_if")
        with heavy(request.app, who, "twin.what_if", pid):
            return build_what_if(store.twin(pid, actor=who.name), body)

    @router.get("/patients/{pid}/skill", tags=["forecasts"])
    def get_skill(pid: str, who: Who, store: StoreOf) -> dict[str, Any]:
        """The skill ledger: every stored forecast scored against the observations since."""
        pid = who.patient(pid, "skill.read")
        fcs = store.forecasts(pid, actor=who.name)
        return skill_json(fcs, store.observations(pid, actor=who.name))

    return router


def _config(body: TwinConfigBody) -> TwinConfig:
    """The twin configuration of ``body``; a work bound of ``medtwin.limits`` in the model's
    time unit gives 422 naming it (a model, prior or free parameters that do not fit: the
    store's 422)."""
    try:
        return body.config()
    except LimitError as exc:
        raise ApiError(422, str(exc), expression=exc.name) from None
