"""A patient's cardiac twin (``medtwin.loop``'s cardiac kind): the tissue upload that makes
version 0, mapping points as the LAT CSV the command line reads, P(inducible) with ranked
lesion plans on request, and the activation map.

``POST /patients/{pid}/twin/cardiac``
    JSON: the LGE scan and its segmentation (NIfTI, base64), the map's pacing site (mm), the
    epoch and the prior's nodes. The files are read by ``medtwin.data.cardiac`` and the tissue
    checked by the library (cubic voxels, the segmentation on the scan's grid, a myocardium
    and a blood pool, a site on conducting tissue) before anything is stored; a refusal is a
    422 naming what was wrong, audited as ``twin.create`` ``invalid``. The tissue reaches the
    kind through :func:`medtwin.loop.given_tissue` and lives in the twin's state blob. The
    body is bounded by the app's ``max_body_bytes`` (5 MB by default: gzipped NIfTI files of
    about 3.7 MB together after base64).
``POST /patients/{pid}/twin/cardiac/lat``
    A LAT CSV (``x_mm,y_mm[,z_mm],lat_ms``) acquired at ``time``, and optionally the QRS
    duration of a beat paced at the site: stored as observations (code ``lat@X,Y``, LOINC
    8633-2) as FHIR ingestion stores them -- a point off conducting tissue refused with
    nothing stored, the same file again adding nothing -- and the twin makes a new version.
``POST /patients/{pid}/twin/inducibility``
    P(inducible) across posterior draws and the ranked lesion plans, computed in the request
    (a heavy-request slot; at most ``loop._cardiac_views.MAX_WORK`` units, else 422) and
    stored as a recommendation of the version (``recommendation.create``); ``GET`` reads the
    newest.
``GET /patients/{pid}/twin/activation-map``
    The activation times at the posterior median (one eikonal solve) and the labels.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Query, Request
from pydantic import Field, StrictInt

from .. import loop
from ..data.cardiac import read_lat_csv, read_lge_scan
from ..data.fhir import ParsedBundle
from ..data.records import ObservationRecord
from ..errors import DataError, LimitError, ModelError, StoreError
from ..models.cardiology import ConductionPrior, PESProtocol, VTDefinition
from ._bodies import Body, BodyRoute, Number, json_body
from ._concurrency import heavy
from ._deps import RawBody, StoreOf, Who
from ._errors import ApiError
from ._patients_routes import ingest
from ._schemas import Epoch
from ._views import version_json

__all__ = ["cardiac_router"]

RECOMMENDATION = "cardiac-inducibility"  # the kind of the stored recommendation


class CardiacTissueBody(Body):
    """The files and settings of a cardiac twin's version 0."""

    what: ClassVar[str] = "a cardiac tissue upload"

    epoch: Epoch = Field(description="Model time 0 (ISO 8601 with a zone), e.g. the map's day.")
    pace: list[Number] = Field(min_length=2, max_length=3,
                               description="The map's pacing site X,Y[,Z] in mm from the first "
                               "voxel's corner.")  # fmt: skip
    lge: str = Field(min_length=1, description="The LGE scan, a NIfTI file (.nii or .nii.gz) "
                     "in base64; cubic voxels.")  # fmt: skip
    segmentation: str = Field(min_length=1, description="Its label image on the same grid "
                              "(NIfTI, base64): the myocardium and the blood pool.")  # fmt: skip
    myocardium: StrictInt = Field(1, description="The segmentation's myocardium value.")
    blood_pool: StrictInt = Field(2, description="The segmentation's blood-pool value.")
    bz: list[Number] = Field([0.2, 0.3, 0.45, 0.7, 1.0], min_length=1, max_length=12,
                             description="Border-zone / healthy velocity factors to learn "
                             "among, each in (0, 1].")  # fmt: skip
    ratio: list[Number] = Field(
        [1.0],
        min_length=1,
        max_length=12,
        description="Transverse / longitudinal factors (1: isotropic).",
    )
    lat_sd: Number = Field(loop.CardiacTissue.lat_sd, description="Noise sd of an activation "
                           "time (ms).", json_schema_extra={"exclusiveMinimum": 0})  # fmt: skip
    qrs_sd: Number = Field(loop.CardiacTissue.qrs_sd, description="Noise sd of a QRS duration "
                           "(ms).", json_schema_extra={"exclusiveMinimum": 0})  # fmt: skip
    seed: StrictInt = Field(0, ge=0, lt=2**63, description="Root seed of the forecast's draws.")


class InducibilityBody(Body):
    """What P(inducible) runs: posterior draws, stimulation sites and a (shortened) protocol."""

    what: ClassVar[str] = "a P(inducible) request"

    draws: StrictInt = Field(6, ge=1, le=20, description="Posterior draws (each a protocol).")
    sites: StrictInt | list[list[Number]] = Field(
        1, description="Stimulation sites: a number (1-4) spread over the healthy tissue, or "
        "up to 4 positions [X, Y(, Z)] in mm.")  # fmt: skip
    seed: StrictInt = Field(0, ge=0, lt=2**63, description="Seed of the posterior draws.")
    s1_beats: StrictInt = Field(2, ge=1, le=8, description="S1 drive-train beats.")
    s1_cycle: Number = Field(600.0, description="S1 cycle length (ms).")
    couplings: list[list[Number]] = Field(
        [[340.0, 300.0, 260.0, 220.0]],
        min_length=1,
        max_length=3,
        description="Coupling intervals (ms) per extrastimulus, each list decreasing.",
    )
    vt_cycle_length: list[Number] = Field(
        [200.0, 600.0], min_length=2, max_length=2, description="VT cycle-length range (ms)."
    )
    vt_sustained_ms: Number = Field(2000.0, description="How long VT must last (ms).")


CardiacTissueJson = Annotated[CardiacTissueBody, json_body(CardiacTissueBody)]
InducibilityJson = Annotated[InducibilityBody, json_body(InducibilityBody)]


def _nifti(folder: Path, name: str, text: str) -> Path:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DataError(f"{name} must be a NIfTI file in base64. Got text that is not base64 "
                        f"({text[:20]!r}...).") from None  # fmt: skip
    path = folder / (f"{name}.nii.gz" if raw[:2] == b"\x1f\x8b" else f"{name}.nii")
    path.write_bytes(raw)
    return path


def tissue_of(body: CardiacTissueBody) -> loop.CardiacTissue:
    """The checked tissue of an upload (``DataError`` saying what is wrong)."""
    with tempfile.TemporaryDirectory(prefix="medtwin-lge-") as tmp:
        folder = Path(tmp)
        try:
            lge = _nifti(folder, "lge", body.lge)
            seg = _nifti(folder, "segmentation", body.segmentation)
            scan = read_lge_scan(lge, seg, myocardium=body.myocardium, blood_pool=body.blood_pool)
        except DataError as exc:  # name the uploads, not the temporary files
            raise DataError(str(exc).replace(str(folder) + "/", "the uploaded ")) from None
    try:
        prior = ConductionPrior(ratio=tuple(body.ratio), bz=tuple(body.bz))
    except ModelError as exc:
        raise DataError(str(exc)) from None
    return loop.CardiacTissue(scan.labels, scan.spacing, tuple(body.pace), prior,
                              float(body.lat_sd), float(body.qrs_sd))  # fmt: skip


def _protocol(body: InducibilityBody) -> tuple[PESProtocol, VTDefinition]:
    try:
        return (PESProtocol(s1_cycle=body.s1_cycle, n_s1=body.s1_beats,
                            couplings=tuple(tuple(float(c) for c in s) for s in body.couplings)),
                VTDefinition(cycle_length=(body.vt_cycle_length[0], body.vt_cycle_length[1]),
                             sustained_ms=body.vt_sustained_ms))  # fmt: skip
    except ModelError as exc:
        raise ApiError(422, str(exc), expression="couplings") from None


def _cardiac_twin(store: Any, who: Any, pid: str) -> loop.CardiacLoopTwin:
    twin = store.twin(pid, actor=who.name)
    if not isinstance(twin, loop.CardiacLoopTwin):
        raise ApiError(422, f"Patient {pid}'s twin is no cardiac twin: P(inducible), lesion "
                       "plans and activation maps are a cardiac twin's.")  # fmt: skip
    return twin


def lat_records(pid: str, csv: bytes, when: datetime, qrs: float | None) -> list[ObservationRecord]:
    """The observations of a LAT CSV acquired at ``when`` (and a QRS duration): source ids
    from the file's digest, so the same file again is a duplicate."""
    digest = hashlib.sha256(csv).hexdigest()[:24]
    ref = f"Patient/{pid}"
    with tempfile.TemporaryDirectory(prefix="medtwin-lat-") as tmp:
        path = Path(tmp) / "points.csv"
        path.write_bytes(csv)
        try:
            points = read_lat_csv(path, 1.0)  # the twin's own noise applies, not this one
        except DataError as exc:
            raise DataError(str(exc).replace("points.csv", "The uploaded LAT file")) from None
    out = []
    for i, (pos, t) in enumerate(zip(points.positions, points.times, strict=True)):
        code = loop.lat_code(pos)
        if len(code) > 32:
            raise DataError(f"Mapping point {i} at {pos.tolist()} mm: positions must be within "
                            "0-99999 mm with at most 2 decimals.")  # fmt: skip
        out.append(ObservationRecord(f"cardiac-lat/{digest}/{i}", ref, code, when, float(t), "ms"))
    if qrs is not None:
        out.append(ObservationRecord(f"cardiac-qrs/{digest}/{qrs!r}", ref, loop.QRS_CODE, when,
                                     float(qrs), "ms"))  # fmt: skip
    return out


def cardiac_router() -> APIRouter:
    """The routes of a patient's cardiac twin (see the module docstring)."""
    router = APIRouter(route_class=BodyRoute)

    @router.post("/patients/{pid}/twin/cardiac", status_code=201, tags=["twins"])
    def create_cardiac_twin(
        pid: str, who: Who, body: CardiacTissueJson, store: StoreOf, request: Request
    ) -> dict[str, Any]:
        """Make the patient's cardiac twin from an LGE scan, its segmentation and the map's
        pacing site; pending mapping points are applied at once."""
        pid = who.patient(pid, "twin.create")
        try:
            tissue = tissue_of(body)
            try:
                store.twin_versions(pid, actor=who.name)
            except StoreError:
                pass  # no twin yet: the upload makes it
            else:
                raise ApiError(409, f"Patient {pid} already has a twin; a patient has one twin.",
                               code="conflict")  # fmt: skip
        except DataError as exc:
            store.audit(who.name, "twin.create", patient=pid, outcome="invalid",
                        detail={"reason": "tissue", "model": loop.CardiacKind.name})  # fmt: skip
            raise ApiError(422, str(exc)) from None
        config = loop.TwinConfig("cardiac", body.epoch, seed=body.seed)
        with heavy(request.app, who, "twin.create", pid), loop.given_tissue(tissue):
            v0 = store.create_twin(pid, config, actor=who.name)
            latest = store.update_twin(pid, actor=who.name) or v0
        return version_json(latest)

    @router.post("/patients/{pid}/twin/cardiac/lat", tags=["twins", "data"])
    def post_lat(
        pid: str, who: Who, body: RawBody, store: StoreOf, request: Request,
        time: Annotated[datetime | None, Query(description="When the map was acquired "
                                               "(ISO 8601 with a zone; default now).")] = None,
        qrs: Annotated[float | None, Query(gt=0, lt=1000, description="QRS duration (ms) of "
                                           "a beat paced at the site.")] = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A LAT CSV (``x_mm,y_mm[,z_mm],lat_ms``: mm from the first voxel's corner, ms after
        the pacing stimulus) as observations of this patient; the twin updates."""
        pid = who.patient(pid, "observation.create")
        if time is not None and time.tzinfo is None:
            raise ApiError(422, "time needs a time zone (e.g. ...T10:00:00Z).", expression="time")
        when = (time or datetime.now(UTC)).astimezone(UTC)
        parsed = ParsedBundle("lat-file", observations=tuple(lat_records(pid, body, when, qrs)))
        with heavy(request.app, who, "observation.create", pid):
            return ingest(store, who, parsed, fixed_pid=pid)

    @router.post("/patients/{pid}/twin/inducibility", tags=["twins", "forecasts"])
    def post_inducibility(
        pid: str, who: Who, body: InducibilityJson, store: StoreOf, request: Request
    ) -> dict[str, Any]:
        """P(inducible) with its 95 % interval over posterior draws and the lesion plans ranked
        by it, computed now and stored with the twin's version."""
        pid = who.patient(pid, "twin.what_if")
        protocol, vt = _protocol(body)
        with heavy(request.app, who, "twin.what_if", pid):
            twin = _cardiac_twin(store, who, pid)
            sites = body.sites if isinstance(body.sites, int) else [list(s) for s in body.sites]
            n = sites if isinstance(sites, int) else len(sites)
            if not 1 <= n <= 4:
                raise ApiError(422, f"sites: 1 to 4 stimulation sites. Got {n}.",
                               expression="sites")  # fmt: skip
            try:
                result = loop.inducibility(twin, sites, draws=body.draws, seed=body.seed,
                                           protocol=protocol, definition=vt)  # fmt: skip
            except LimitError as exc:
                raise ApiError(422, str(exc), expression=exc.name) from None
            rid = store.add_recommendation(pid, {"kind": RECOMMENDATION, **result},
                                           actor=who.name)  # fmt: skip
        return {"id": rid, **result}

    @router.get("/patients/{pid}/twin/inducibility", tags=["twins", "forecasts"])
    def get_inducibility(pid: str, who: Who, store: StoreOf) -> dict[str, Any]:
        """The newest stored P(inducible) and plans (``version``: the twin's version then)."""
        pid = who.patient(pid, "recommendation.search")
        found = [r for r in store.recommendations(pid, actor=who.name)
                 if r.payload.get("kind") == RECOMMENDATION]  # fmt: skip
        if not found:
            raise ApiError(404, f"No P(inducible) computed for patient {pid} yet: POST "
                           f"/patients/{pid}/twin/inducibility.")  # fmt: skip
        r = found[-1]
        return {"id": r.id, "created_at": r.created_at.isoformat(), "actor": r.actor,
                **r.payload}  # fmt: skip

    @router.get("/patients/{pid}/twin/activation-map", tags=["twins"])
    def get_activation_map(pid: str, who: Who, store: StoreOf) -> dict[str, Any]:
        """Activation times (ms) from the map's site at the posterior median, and labels."""
        pid = who.patient(pid, "twin.read")
        return loop.activation_map(_cardiac_twin(store, who, pid))

    return router
