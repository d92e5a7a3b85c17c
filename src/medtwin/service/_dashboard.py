"""The live dashboard: server-rendered pages (Jinja2) and the small JSON endpoints they poll.

Pages (``/ui/login``, ``/ui/patients``, ``/ui/patients/{pid}``) are shells that hold no patient
data; their scripts (served from this package at ``/static``, no CDN) keep the bearer token in
``sessionStorage`` and fetch everything through endpoints that run the same
:class:`~medtwin.service._auth.Caller` checks as the API, so a clinician sees only granted
patients. The cone is drawn as SVG by ``static/chart.js``. What the API lacks is added under
``/ui/api``:

``patients``
    pseudonym, model, last data time and twin status: ``calibrating`` while the twin has fewer
    than :data:`CALIBRATING_VERSIONS` updates or :data:`CALIBRATING_HOURS` of data,
    ``drifting`` when its calibration is off (``drift``: ``over-confident`` or
    ``under-confident``, steady between refreshes: ``_dashboard_drift``), else ``tracking``.
    Read for all patients in one transaction (``Store.patient_summaries``), audited as ONE
    ``patient.list`` entry that names them, so a poll writes one audit entry, not one per
    patient. (The page shows a patient's name beside the pseudonym from ``GET
    /patients/{pid}``, which answers only a clinician granted the patient or an admin, each
    read audited as ``patient.read``.)
``patients/{pid}/cone``
    the last ``hours`` of observations (3, 6, 12 or 24 on the page, and weeks to years for a
    twin that forecasts that far, :func:`windows_for`; by default the shortest of them at
    least twice the forecast horizon), the latest stored forecast's median and nested
    bands, the alert derived from *that* stored forecast (:func:`alert_for`; no second
    computation), the observable's unit as a lab report prints it (``unit_label``), its target
    range if it has one (``target``: 70-180 mg/dL for glucose) and the what-if horizons
    offered.
``patients/{pid}/posterior``
    5/50/95 % posterior quantiles of the free parameters at stored versions (how it narrowed).
``patients/{pid}/skill``
    the skill ledger, as ``/patients/{pid}/skill``, and per observable its ``calibration``:
    ``calibrated``, ``over-confident`` or ``under-confident`` (``_dashboard_drift``).
``patients/{pid}/scores``
    the organ-score panel (``_dashboard_scores``): SOFA and its six components at each time
    the stored ICU chart changed, Sepsis-3 and septic shock, and the twin's predicted SOFA
    (median and bands of its latest forecast) where its model declares an ordinal SOFA
    observable.
``patients/{pid}/what-if``
    the cones (median and bands) of 1-3 candidate regimens, paired, at the horizon chosen: the
    longest horizon offered is computed and cut (``_dashboard_whatif``: no compile per horizon,
    a shorter horizon is the prefix of a longer one).

Times travel as UTC ISO strings; the page shows them in the browser's time zone, named.

Twin versions and forecasts are immutable, so per-version results are memoised in-process, and
a new version's skill ledger is computed in the background while readers get the newest
finished one, labelled with its version (``stale``): the caches are in ``_dashboard_cache``.
Every request still passes the access checks and the store's audited reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import loop, timeunits
from ..credibility._domain import describe
from ..errors import MedtwinError, StoreError
from ..forecast import draw_quantiles, what_if
from ..loop import QUANTILES, StoredForecast, observable_for
from ..models import Declaration, declaration, get_model
from ..store import PatientSummary, Store
from ._auth import Caller, authenticate
from ._concurrency import heavy
from ._dashboard_cache import Ledgers, Memo, version_grid
from ._dashboard_cache import Ledgers as _Ledgers  # noqa: F401  (its former name here)
from ._dashboard_cache import version_grid as _grid  # noqa: F401  (its former name here)
from ._dashboard_display import human_unit, probability_phrase, target_range
from ._dashboard_drift import calibration_of
from ._dashboard_scores import infection_of, organ_scores, sofa_observable
from ._dashboard_whatif import cut, horizon_choices
from ._errors import ApiError
from ._schemas import WhatIfConesBody, WhatIfConesJson
from ._views import (
    _iso,
    _model_of,
    skill_json,
    snap_horizon,
    what_if_horizon,
    what_if_regimens,
)

try:
    import jinja2
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError("The dashboard needs jinja2: pip install 'medtwin[service]'") from exc

__all__ = [
    "CALIBRATING_HOURS",
    "CALIBRATING_VERSIONS",
    "alert_for",
    "dashboard_router",
    "windows_for",
]

HERE = Path(__file__).parent
CALIBRATING_VERSIONS = 24  # fewer updates than this: the twin is still calibrating
CALIBRATING_HOURS = 2.0  # ... or fewer hours between its first data and its time
_MEDIA = {".js": "text/javascript", ".css": "text/css"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_PID = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
WINDOWS_H = (3.0, 6.0, 12.0, 24.0)  # the cone's time windows offered, hours of past data
_YEAR_H = 8766.0  # 365.25 days
# ... and for a twin that forecasts further (days to years: the LDL twin's labs are months
# apart), a week, 30 days and 1, 2, 5, 10 and 20 years, those within 4 of its horizons
LONG_WINDOWS_H = (168.0, 720.0, _YEAR_H, 2 * _YEAR_H, 5 * _YEAR_H, 10 * _YEAR_H, 20 * _YEAR_H)


def windows_for(ahead_h: float) -> tuple[float, ...]:
    """The windows (hours of past data) the cone offers a twin forecasting ``ahead_h`` hours:
    :data:`WINDOWS_H`, and those of :data:`LONG_WINDOWS_H` within 4 horizons (none for a
    horizon up to 42 h: a T1D or sepsis twin is offered the four windows it always had)."""
    reach = max(WINDOWS_H[-1], 4.0 * ahead_h)
    return WINDOWS_H + tuple(w for w in LONG_WINDOWS_H if w <= reach)


@dataclass(frozen=True)
class _Static:
    body: bytes
    media_type: str
    digest: str


def _who(request: Request) -> Caller:
    return authenticate(request, request.app.state.store, request.app.state.limiter)


Who = Annotated[Caller, Depends(_who)]


def alert_for(
    f: StoredForecast, observable: str, unit: str, *, shown_unit: str | None = None
) -> dict[str, Any]:
    """The alert of stored forecast ``f`` for ``observable`` (in UCUM ``unit``), as the page
    shows it: the rule the forecast's model declares for the observable (else the rule of its
    unit, ``medtwin.loop.UNIT_RULES``) evaluated by ``medtwin.loop`` on the stored quantiles,
    and a sentence naming the more likely crossing, with the unit written as ``shown_unit``
    (default ``unit``). A sentence naming a time names it in UTC (``text``); ``template`` is
    the same sentence with ``{at}`` for that time (``at``, UTC ISO), for a page to fill in
    local time."""
    fc = f.forecast
    j = fc.observable_names.index(observable)
    shown = unit if shown_unit is None else shown_unit
    base = {"version": f.version, "observable": observable, "unit": unit, "rules": []}
    rule = loop.rule_for(f.model_spec(), observable, unit, f.time_unit)
    if rule is None:
        end = float(fc.median[j, -1])
        text = (
            f"No alert rule for {observable} ({shown}); forecast median {end:.3g} {shown} at "
            "the end of the horizon."
        )
        return {**base, "severity": "none", "text": text}
    levels = np.asarray(fc.quantile_levels if fc.quantile_levels is not None else QUANTILES)
    alert = loop.evaluate_alert(fc, observable, rule, np.asarray(fc.draws), levels)
    times = f.target_times()
    rules = [{"kind": c.kind, "threshold": c.threshold, "probability": c.probability,
              "at": _iso(times[c.at]), "band_crosses": c.band_crosses}
             for c in alert.crossings]  # fmt: skip
    worst = alert.worst
    p, crosses = worst.probability, worst.band_crosses
    level = f"{100 * fc.levels[int(np.argmax(fc.levels))]:g} %"
    ahead_min = timeunits.convert(rule.within, f.time_unit, "min")
    span = (f"{ahead_min:g} min" if ahead_min < 120 else f"{ahead_min / 60:g} h"
            if ahead_min < 10080 else f"{ahead_min / 1440:g} days")  # fmt: skip
    bounds = [f"{sign} {x:g}" for sign, x in (("<", rule.low), (">", rule.high)) if x is not None]
    if p <= 0.01 + 1e-9 and not any(c.band_crosses for c in alert.crossings):
        inside = "-".join(f"{x:g}" for x in (rule.low, rule.high) if x is not None)
        event = f"{observable} {' or '.join(bounds)} {shown}"
        text = (
            f"{probability_phrase(event, p)} throughout the next {span}; the {level} band "
            f"stays within {inside} {shown}."
        )
        return {**base, "severity": alert.severity, "text": text, "rules": rules}
    sign, side = ("<", "above") if worst.kind == "low" else (">", "below")
    at = _iso(times[worst.at])
    event = f"{observable} {sign} {worst.threshold:g} {shown}"
    template = (
        f"{probability_phrase(event, p)} at {{at}}, the highest in the next {span}; the "
        f"{level} band {'crosses' if crosses else 'stays ' + side} {worst.threshold:g} {shown}."
    )
    text = template.replace("{at}", f"{at[11:16]} UTC")
    return {**base, "severity": alert.severity, "text": text, "template": template, "at": at,
            "rules": rules}  # fmt: skip


def _at(f: StoredForecast, model_time: float) -> datetime:
    """Model time ``model_time`` of ``f``'s twin as a UTC datetime."""
    return loop.from_model_time(model_time, f.epoch, f.time_unit)


def _thresholds(f: StoredForecast, observable: str, unit: str) -> list[float]:
    """The thresholds of the alert rule the page draws (low and high; none without a rule)."""
    rule = loop.rule_for(f.model_spec(), observable, unit, f.time_unit)
    return [] if rule is None else [x for x in (rule.low, rule.high) if x is not None]


def _series(f: StoredForecast, j: int) -> dict[str, Any]:
    fc = f.forecast
    order = sorted(range(len(fc.levels)), key=lambda i: -fc.levels[i])  # widest band first
    bands = [
        {"level": fc.levels[i], "lower": fc.lower[i, j].tolist(), "upper": fc.upper[i, j].tolist()}
        for i in order
    ]
    times = [_iso(t) for t in f.target_times()]
    return {"version": f.version, "times": times, "median": fc.median[j].tolist(), "bands": bands}


def _observable(model: Any, asked: str | None, codes: list[str]) -> int:
    """The observable to show: ``asked``, else that of the newest measurement, else the first
    with a LOINC code."""
    names = model.observable_names
    if asked is not None:
        if asked not in names:
            msg = f"observable must be one of {list(names)}. Got {asked!r:.40}."
            raise ApiError(422, msg, expression="observable")
        return names.index(asked)
    for code in reversed(codes):
        name = observable_for(model, code)
        if name is not None:
            return names.index(name)
    return next((i for i, o in enumerate(model.observables) if o.loinc), 0)


def dashboard_router(*, poll_ms: int = 5000, memo_size: int = 4096) -> APIRouter:
    """The dashboard's pages, static files and JSON endpoints. Pages poll every ``poll_ms``
    milliseconds (a page URL's ``?poll=`` overrides it, >= 250); ``memo_size`` bounds the
    memoised per-version posterior quantiles (ledgers: one per patient, ``memo_size // 16``)."""
    router = APIRouter(include_in_schema=False)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    static: dict[str, _Static] = {}
    for p in sorted((HERE / "static").iterdir()):
        if p.suffix in _MEDIA:
            body = p.read_bytes()
            static[p.name] = _Static(body, _MEDIA[p.suffix], hashlib.sha256(body).hexdigest()[:16])
    env.globals["static_url"] = lambda name: f"/static/{name}?v={static[name].digest}"
    quantiles, ledgers = Memo(memo_size), Ledgers(max(16, memo_size // 16))
    headers = {
        "Content-Security-Policy": _CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }

    def page(name: str, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(poll_ms=poll_ms, **context)
        return HTMLResponse(html, headers=headers)

    @router.get("/ui")
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/patients", status_code=303)

    @router.get("/ui/login")
    def login_page() -> HTMLResponse:
        return page("login.html", title="Log in")

    @router.get("/ui/patients")
    def patients_page() -> HTMLResponse:
        return page("patients.html", title="Patients")

    @router.get("/ui/patients/{pid}")
    def patient_page(pid: _PID) -> HTMLResponse:
        return page("patient.html", title=f"Patient {pid}", pid=pid)

    @router.get("/ui/patients/{pid}/network")
    def network_page(pid: _PID) -> HTMLResponse:
        """A network twin's page: its graph with each node's posterior and the outcome per
        option (``network.js`` reads ``GET /patients/{pid}/twin``)."""
        return page("network.html", title=f"Patient {pid}", pid=pid)

    @router.get("/ui/patients/{pid}/cardiac")
    def cardiac_page(pid: _PID) -> HTMLResponse:
        """A cardiac twin's page: the conduction learnt, the activation map and P(inducible)
        with the ranked plans (``cardiac.js`` reads ``_cardiac_routes``' endpoints)."""
        return page("cardiac.html", title=f"Patient {pid}", pid=pid)

    @router.get("/static/{name}")
    def static_file(name: str, request: Request, v: str | None = None) -> Response:
        f = static.get(name)
        if f is None:
            raise ApiError(404, f"No static file {name!r:.60}.")
        etag = f'"{f.digest}"'
        cache = "public, max-age=31536000, immutable" if v == f.digest else "no-cache"
        hdrs = {"Cache-Control": cache, "ETag": etag, "X-Content-Type-Options": "nosniff"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=hdrs)
        return Response(f.body, media_type=f.media_type, headers=hdrs)

    @router.get("/ui/api/me")
    def me(who: Who) -> dict[str, str]:
        return {"name": who.name, "role": who.role}

    def head(store: Store, who: Caller, pid: str) -> StoredForecast:
        try:
            fcs = store.forecasts(pid, actor=who.name, limit=1)
            model = None if fcs else store.twin_versions(pid, actor=who.name)[-1].model
        except StoreError:
            fcs, model = [], None
        if not fcs:
            kind = loop.kind_of(model) if model else None
            if kind is not None and not kind.forecasts:  # a kind that issues no cone
                msg = (
                    f"This patient's twin issues no forecast cone: it is a {kind.name} twin. "
                    f"Its page is /ui/patients/{pid}/{kind.name}."
                )
                raise ApiError(409, msg, expression="twin")
            msg = "This patient has no twin yet: create one with POST /patients/{pid}/twin."
            raise ApiError(404, msg, expression="twin")
        return fcs[0]

    def ledger(store: Store, who: Caller, pid: str, version: int) -> tuple[int, dict]:
        def compute() -> tuple[int, dict]:
            fcs, obs = store.skill_data(pid, actor=who.name)  # one read, one audit entry
            doc = {**skill_json(fcs, obs), "calibration": calibration_of(fcs, obs)}
            return (fcs[0].version if fcs else -1), doc

        return ledgers.get(pid, version, compute)

    def summary(store: Store, who: Caller, p: PatientSummary) -> dict[str, Any]:
        row = {"id": p.pid, "model": None, "versions": 0, "status": "no twin",
               "last_data": _iso(p.last_data) if p.last_data else None}  # fmt: skip
        if p.version is None or p.time is None:
            return row
        kind = loop.kind_of(p.model or "")
        row.update(model=p.model, versions=p.version, twin_time=_iso(p.time), kind=kind.name)
        if not kind.forecasts:  # no forecasts to score: no calibration to show
            row["status"] = "current"
            return row
        hours = timeunits.convert((p.time - (p.first_applied or p.time)).total_seconds(), "s", "h")
        if p.version < CALIBRATING_VERSIONS or hours < CALIBRATING_HOURS:
            row["status"] = "calibrating"
        else:  # the newest ledger scored; a newer version's is scored in the background
            _, skill = ledger(store, who, p.pid, p.version)
            off = [c for c in skill.get("calibration", {}).values() if c["drifting"]]
            row["status"] = "drifting" if off else "tracking"
            if off:  # over-confident (too narrow: the unsafe side) first
                worst = min(off, key=lambda c: c["status"] != "over-confident")
                row.update(drift=worst["status"], drift_text=worst["text"])
        return row

    @router.get("/ui/api/patients")
    def patients(who: Who, request: Request) -> dict[str, Any]:
        store: Store = request.app.state.store
        who.require("clinician", "admin", action="patient.list")
        ids = store.patient_ids()
        if who.role != "admin":
            mine = store.granted(who.name)
            ids = [p for p in ids if p in mine]
        # one transaction, ONE audit entry naming the patients (not 1 + 2N per poll)
        rows = store.patient_summaries(ids, actor=who.name, detail={"view": "dashboard"})
        return {"patients": [summary(store, who, rows[pid]) for pid in ids]}

    @router.get("/ui/api/patients/{pid}/cone")
    def cone(
        pid: _PID,
        who: Who,
        request: Request,
        hours: Annotated[float | None, Query(gt=0, le=LONG_WINDOWS_H[-1])] = None,
        observable: Annotated[str | None, Query(max_length=64)] = None,
        known: int | None = None,
    ) -> dict[str, Any]:
        """Observations of the last ``hours`` before the latest forecast (default: the
        shortest window offered, :func:`windows_for`, at least twice the forecast horizon),
        that forecast and its alert. ``known``: the version the page shows (answers
        ``unchanged`` if still latest)."""
        store: Store = request.app.state.store
        pid = who.patient(pid, "forecast.search")
        f = head(store, who, pid)
        if known is not None and known == f.version:
            return {"unchanged": True, "version": f.version}
        model = _model_of(f)
        ahead = timeunits.convert(f.horizon, f.time_unit, "h")
        windows = windows_for(ahead)
        if hours is None:
            hours = next((w for w in windows if w >= 2 * ahead), windows[-1])
        now = _at(f, f.forecast.issued_at)
        obs = store.observations(pid, actor=who.name, since=now - timedelta(hours=hours))
        spec = model.observables[_observable(model, observable, [o.code for o in obs])]
        mine = [o for o in obs if spec.loinc and o.code == spec.loinc]
        j = model.observable_names.index(spec.name)
        label, kinds = human_unit(spec.unit), loop.event_kinds(model)
        own = snap_horizon(model, min(f.horizon, loop.time_bounds(model).what_if.high))
        return {
            "patient": pid, "model": model.name, "time_unit": f.time_unit, "now": _iso(now),
            "observable": spec.name, "unit": spec.unit, "unit_label": label,
            "version": f.version, "horizon": f.horizon, "hours": hours,
            "windows": list(windows), "observables": list(model.observable_names),
            "event_kinds": [{"kind": k, "unit": u} for k, u in kinds],
            "unit_labels": {u: human_unit(u) for u in {spec.unit, *(u for _, u in kinds)}},
            "observations": {"times": [_iso(o.time) for o in mine],
                             "values": [o.value for o in mine],
                             "censored": [o.censored for o in mine]},
            "forecast": _series(f, j),
            "alert": alert_for(f, spec.name, spec.unit, shown_unit=label),
            "applicability": {"outside": f.outside_domain, "text": describe(f.applicability)},
            "thresholds": _thresholds(f, spec.name, spec.unit),
            "target": target_range(model, spec.name),
            "what_if": {"horizons": horizon_choices(model, f.horizon), "default": own},
        }  # fmt: skip

    @router.get("/ui/api/patients/{pid}/posterior")
    def posterior(
        pid: _PID, who: Who, request: Request, points: Annotated[int, Query(ge=3, le=200)] = 16
    ) -> dict[str, Any]:
        """5/50/95 % posterior quantiles of the free parameters at up to ``points`` versions
        (version 0 -- the prior -- and the latest among them)."""
        store: Store = request.app.state.store
        pid = who.patient(pid, "twin.search")
        try:
            versions = store.twin_versions(pid, actor=who.name)
        except StoreError:
            raise ApiError(404, "This patient has no twin yet.", expression="twin") from None
        pick = [versions[i] for i in version_grid(len(versions), points)]

        def load(v: int) -> dict[str, tuple]:
            return store.twin(pid, actor=who.name, version=v).parameter_quantiles()

        rows = [quantiles.get((pid, v.version), partial(load, v.version)) for v in pick]
        model = get_model(versions[-1].model)
        out = []
        for name in rows[0]:
            spec = model.parameters[model.param_index(name)]
            q = np.array([r[name] for r in rows])  # (versions, 3)
            width = q[:, 2] - q[:, 0]
            out.append({
                "name": name, "unit": spec.unit, "unit_label": human_unit(spec.unit),
                "description": spec.description,
                "q05": q[:, 0].tolist(), "median": q[:, 1].tolist(), "q95": q[:, 2].tolist(),
                "narrowed": float(width[-1] / width[0]) if width[0] > 0 else None,
            })  # fmt: skip
        times = [_iso(v.time) for v in pick]
        return {"patient": pid, "versions": [v.version for v in pick], "times": times,
                "parameters": out}  # fmt: skip

    @router.get("/ui/api/patients/{pid}/skill")
    def skill(pid: _PID, who: Who, request: Request) -> dict[str, Any]:
        """The skill ledger of the newest version computed (``stale`` while the latest one's is
        being computed)."""
        store: Store = request.app.state.store
        pid = who.patient(pid, "skill.read")
        latest = head(store, who, pid).version
        version, doc = ledger(store, who, pid, latest)
        return {"version": version, "latest": latest, "stale": version < latest, **doc}

    @router.get("/ui/api/patients/{pid}/scores")
    def scores(pid: _PID, who: Who, request: Request) -> dict[str, Any]:
        """The organ-score panel: SOFA over time from the stored ICU chart, Sepsis-3 and septic
        shock (``has_scores`` false without score inputs), and ``predicted``: the twin's SOFA
        forecast where its model declares one (else None)."""
        store: Store = request.app.state.store
        pid = who.patient(pid, "observation.search")
        decl: Declaration | None = None
        try:
            decl = declaration(store.twin_versions(pid, actor=who.name)[-1].model)
        except (StoreError, MedtwinError):  # no twin, or a model that is not registered
            decl = None
        obs = store.observations(pid, actor=who.name)
        doc = organ_scores(obs, pid, infection=infection_of(decl))
        spec, doc["predicted"] = sofa_observable(decl), None
        fcs = store.forecasts(pid, actor=who.name, limit=1) if spec and doc["has_scores"] else []
        if spec is not None and fcs and spec.name in fcs[0].forecast.observable_names:
            j = fcs[0].forecast.observable_names.index(spec.name)
            doc["predicted"] = {"observable": spec.name, "description": spec.description,
                                "assimilated": spec.loinc is not None,
                                **_series(fcs[0], j)}  # fmt: skip
        return doc

    @router.post("/ui/api/patients/{pid}/what-if")
    def what_if_cones(
        pid: _PID, who: Who, request: Request, body: WhatIfConesJson
    ) -> dict[str, Any]:
        """Cones of 1-3 regimens from the latest version, paired (same random numbers):
        ``{"options": {"name": [{"after": 0, "kind": "bolus", "amount": 2}]}, "horizon": h,
        "observable": name}`` (``after`` and ``horizon`` in the model's time unit; the
        horizon by default the twin's own forecast horizon). Computed at the longest horizon
        offered (or ``h`` if longer) and cut to ``h``: no compile per horizon, and a shorter
        horizon's numbers are the prefix of a longer one's."""
        store: Store = request.app.state.store
        pid = who.patient(pid, "twin.what_if")
        with heavy(request.app, who, "twin.what_if", pid):
            return _what_if_cones(store, who, pid, body)

    def _what_if_cones(
        store: Store, who: Caller, pid: str, body: WhatIfConesBody
    ) -> dict[str, Any]:
        f = head(store, who, pid)
        twin = store.twin(pid, actor=who.name)
        longest = loop.time_bounds(twin.model).what_if.high
        h = what_if_horizon(twin, min(f.horizon, longest) if body.horizon is None else body.horizon)
        regimens = what_if_regimens(twin, body.options, h, name_len=40)  # 1-3 options, 20 events
        choices = horizon_choices(twin.model, f.horizon)
        computed = max(h, *choices)  # one shape per twin: compiled once, then cut
        now = _at(f, twin.time)
        asked = body.observable
        codes = [] if asked is not None else [
            o.code for o in store.observations(pid, actor=who.name, since=now - timedelta(days=1))
        ]  # fmt: skip
        spec = twin.model.observables[_observable(twin.model, asked, codes)]
        j = twin.model.observable_names.index(spec.name)
        label = human_unit(spec.unit)
        points = round(h / (5 * twin.model.input_dt))
        res = cut(what_if(twin, regimens, computed), twin.model, points)
        opts = []
        for name, fc in zip(res.options, res.forecasts, strict=True):
            # as the store keeps a forecast: the draws reduced to their 1..99 % quantiles
            fc = replace(fc, draws=draw_quantiles(fc.draws, QUANTILES),
                         quantile_levels=tuple(QUANTILES))  # fmt: skip
            sf = StoredForecast(0, pid, twin.version, now, h, fc, f.epoch, f.time_unit, f.model)
            alert = alert_for(sf, spec.name, spec.unit, shown_unit=label)
            opts.append({"name": name, **_series(sf, j), "metrics": res.metrics[name],
                         "alert": alert})  # fmt: skip
        return {"patient": pid, "version": twin.version, "horizon": h, "computed": computed,
                "horizons": choices, "observable": spec.name, "unit": spec.unit,
                "unit_label": label, "now": _iso(now), "options": opts}  # fmt: skip

    return router
