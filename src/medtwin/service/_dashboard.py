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
    ``drifting`` when its skill ledger flags drift, else ``tracking``. Read for all patients in
    one transaction (``Store.patient_summaries``), audited as ONE ``patient.list`` entry that
    names them, so a poll writes one audit entry, not one per patient.
``patients/{pid}/cone``
    the last ``hours`` of observations, the latest stored forecast's median and nested bands,
    and the alert derived from *that* stored forecast (:func:`alert_for`; no second
    computation).
``patients/{pid}/posterior``
    5/50/95 % posterior quantiles of the free parameters at stored versions (how it narrowed).
``patients/{pid}/skill``
    the skill ledger, as ``/patients/{pid}/skill``.
``patients/{pid}/what-if``
    the cones (median and bands) of 1-3 candidate regimens, paired.

Twin versions and forecasts are immutable, so per-version results are memoised in-process.
Scoring the ledger costs about a second per day of 5-minute forecasts, so a new version's ledger
is computed in the background while readers get the newest finished one, labelled with its
version (``stale``). Every request still passes the access checks and the store's audited reads.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import limits
from ..data.records import EVENT_KINDS
from ..errors import StoreError
from ..forecast import what_if
from ..models import get_model
from ..store import Store, StoredForecast
from ..store._summaries import PatientSummary
from ..store._twins import QUANTILES, observable_for
from ._auth import Caller, authenticate
from ._concurrency import heavy
from ._errors import ApiError
from ._json import JsonObject
from ._views import (
    _iso,
    _model_of,
    event_kinds,
    skill_json,
    what_if_horizon,
    what_if_regimens,
)

try:
    import jinja2
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError("The dashboard needs jinja2: pip install 'medtwin[service]'") from exc

__all__ = ["CALIBRATING_HOURS", "CALIBRATING_VERSIONS", "RULES", "alert_for", "dashboard_router"]

log = logging.getLogger("medtwin.service")
HERE = Path(__file__).parent
CALIBRATING_VERSIONS = 24  # fewer updates than this: the twin is still calibrating
CALIBRATING_HOURS = 2.0  # ... or fewer hours between its first data and its time
# Alert rules by observable unit: (low, high) thresholds and the look-ahead in minutes.
# Glucose: < 70 mg/dL is level 1 hypoglycaemia and > 250 mg/dL very high (Battelino et al.,
# Diabetes Care 2019, 42:1593). White cells: the SIRS criteria, < 4 or > 12 x10^3/uL (Bone et
# al., Chest 1992, 101:1644).
RULES: dict[str, tuple[float, float, float]] = {
    "mg/dL": (70.0, 250.0, 60.0),
    "10*3/uL": (4.0, 12.0, 12 * 60.0),
}
_SECONDS = {"min": 60.0, "h": 3600.0}
_MEDIA = {".js": "text/javascript", ".css": "text/css"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_PID = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class _Memo:
    """A thread-safe LRU map of at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size, self._data, self.lock = size, OrderedDict(), threading.Lock()

    def peek(self, key: Any) -> Any:
        with self.lock:
            if key in self._data:
                self._data.move_to_end(key)
            return self._data.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        value = self.peek(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value


class _Ledgers:
    """Each patient's newest computed skill ledger as ``(version, ledger)``. A reader asking for
    a newer version gets the one held at once, and the new one is computed in a background
    thread (one per patient) started ``delay`` seconds later, so that it does not slow the
    requests of the page that asked (scoring is CPU-bound: ~1.5 s per day of 5-min forecasts).
    Only a patient never computed is computed in the request (once for concurrent readers)."""

    def __init__(self, size: int, delay: float = 1.0) -> None:
        self.memo, self.running, self.delay = _Memo(size), set(), delay
        self.first: dict[str, threading.Lock] = {}

    def get(self, pid: str, version: int, compute: Callable[[], tuple[int, dict]]) -> tuple:
        """``(version scored, ledger)``; ``compute()`` scores the latest and says its version."""
        held = self.memo.peek(pid)
        if held is None:
            with self.memo.lock:
                first = self.first.setdefault(pid, threading.Lock())
            with first:  # concurrent first readers (the list and the page) compute it once
                held = self.memo.peek(pid)
                if held is None:
                    held = compute()
                    self.memo.put(pid, held)
            with self.memo.lock:
                self.first.pop(pid, None)
        elif held[0] < version:
            with self.memo.lock:
                start = pid not in self.running
                self.running.add(pid)
            if start:
                thread = threading.Timer(self.delay, self._refresh, args=(pid, compute))
                thread.daemon, thread.name = True, f"ledger-{pid}"
                thread.start()
        return held

    def _refresh(self, pid: str, compute: Callable[[], tuple[int, dict]]) -> None:
        try:
            value = compute()
            held = self.memo.peek(pid)
            if held is None or held[0] < value[0]:
                self.memo.put(pid, value)
        except Exception:  # the next request retries; the API's /skill shows the error
            log.exception("skill ledger of %s failed", pid)
        finally:
            with self.memo.lock:
                self.running.discard(pid)


@dataclass(frozen=True)
class _Static:
    body: bytes
    media_type: str
    digest: str


def _who(request: Request) -> Caller:
    return authenticate(request, request.app.state.store, request.app.state.limiter)


Who = Annotated[Caller, Depends(_who)]


def _pct(p: float) -> str:
    return "< 1 %" if p <= 0.01 + 1e-9 else "> 99 %" if p >= 0.99 - 1e-9 else f"{100 * p:.0f} %"


def alert_for(f: StoredForecast, observable: str, unit: str) -> dict[str, Any]:
    """The alert of stored forecast ``f`` for ``observable`` (in ``unit``). For each threshold
    of :data:`RULES` for the unit: the highest probability, over the forecast times within the
    rule's look-ahead, that ``observable`` is beyond it at that time (read off the forecast's
    stored 1..99 % quantiles, so clipped to [0.01, 0.99]), and whether the forecast's widest
    band crosses it. The text names the more likely crossing."""
    fc = f.forecast
    j = fc.observable_names.index(observable)
    base = {"version": f.version, "observable": observable, "unit": unit, "rules": []}
    if unit not in RULES:
        end = float(fc.median[j, -1])
        text = (
            f"No alert rule for {observable} ({unit}); forecast median {end:.3g} {unit} at "
            "the end of the horizon."
        )
        return {**base, "severity": "none", "text": text}
    low, high, ahead_min = RULES[unit]
    lead = np.asarray(fc.times) - fc.issued_at
    k = np.flatnonzero(lead <= ahead_min * 60.0 / _SECONDS[f.time_unit] + 1e-9)
    k = k if k.size else np.arange(1)
    times = f.target_times()
    q = np.asarray(fc.draws)[:, j, :]  # (99 quantiles, times)
    outer = int(np.argmax(fc.levels))
    level = f"{100 * fc.levels[outer]:g} %"
    rules = []
    for kind, thr in (("low", low), ("high", high)):
        below = np.array([np.interp(thr, q[:, t], QUANTILES) for t in k])
        p = below if kind == "low" else 1.0 - below
        edge = fc.lower[outer, j, k] if kind == "low" else fc.upper[outer, j, k]
        rules.append({
            "kind": kind, "threshold": thr, "probability": float(np.max(p)),
            "at": _iso(times[int(k[int(np.argmax(p))])]),
            "band_crosses": bool(np.any(edge < thr) if kind == "low" else np.any(edge > thr)),
        })  # fmt: skip
    worst = max(rules, key=lambda r: (r["probability"], r["band_crosses"], r["kind"] == "low"))
    p, crosses = worst["probability"], worst["band_crosses"]
    severity = "alert" if p >= 0.2 else "watch" if p >= 0.05 or crosses else "ok"
    span = f"{ahead_min:g} min" if ahead_min < 120 else f"{ahead_min / 60:g} h"
    if p <= 0.01 + 1e-9 and not any(r["band_crosses"] for r in rules):
        text = (
            f"P({observable} < {low:g} or > {high:g} {unit}) < 1 % throughout the next {span}; "
            f"the {level} band stays within {low:g}-{high:g} {unit}."
        )
    else:
        sign, side = ("<", "above") if worst["kind"] == "low" else (">", "below")
        text = (
            f"P({observable} {sign} {worst['threshold']:g} {unit}) = {_pct(p)} at "
            f"{worst['at'][11:16]} UTC, the highest in the next {span}; the {level} band "
            f"{'crosses' if crosses else 'stays ' + side} {worst['threshold']:g} {unit}."
        )
    return {**base, "severity": severity, "text": text, "rules": rules}


def _at(f: StoredForecast, model_time: float) -> datetime:
    """Model time ``model_time`` of ``f``'s twin as a UTC datetime."""
    return f.epoch + timedelta(seconds=float(model_time) * _SECONDS[f.time_unit])


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


def _grid(n: int, points: int) -> list[int]:
    """Versions ``0, s, 2s, ...`` and ``n - 1``, at most ``points`` of them, with the step ``s``
    a power of two: as versions are added the picked ones stay the same (memoised)."""
    step = 1
    while -(-n // step) > points - 1:
        step *= 2
    return sorted({*range(0, n, step), n - 1})


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
    quantiles, ledgers = _Memo(memo_size), _Ledgers(max(16, memo_size // 16))
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
        except StoreError:
            fcs = []
        if not fcs:
            msg = "This patient has no twin yet: create one with POST /patients/{pid}/twin."
            raise ApiError(404, msg, expression="twin")
        return fcs[0]

    def ledger(store: Store, who: Caller, pid: str, version: int) -> tuple[int, dict]:
        def compute() -> tuple[int, dict]:
            fcs, obs = store.skill_data(pid, actor=who.name)  # one read, one audit entry
            return (fcs[0].version if fcs else -1), skill_json(fcs, obs)

        return ledgers.get(pid, version, compute)

    def summary(store: Store, who: Caller, p: PatientSummary) -> dict[str, Any]:
        row = {"id": p.pid, "model": None, "versions": 0, "status": "no twin",
               "last_data": _iso(p.last_data) if p.last_data else None}  # fmt: skip
        if p.version is None or p.time is None:
            return row
        row.update(model=p.model, versions=p.version, twin_time=_iso(p.time))
        hours = (p.time - (p.first_applied or p.time)).total_seconds() / 3600.0
        if p.version < CALIBRATING_VERSIONS or hours < CALIBRATING_HOURS:
            row["status"] = "calibrating"
        else:  # the newest ledger scored; a newer version's is scored in the background
            _, skill = ledger(store, who, p.pid, p.version)
            drifting = any(s["drifting"] for s in skill["by_observable"].values())
            row["status"] = "drifting" if drifting else "tracking"
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
        hours: Annotated[float, Query(gt=0, le=24 * 30)] = 24.0,
        observable: Annotated[str | None, Query(max_length=64)] = None,
        known: int | None = None,
    ) -> dict[str, Any]:
        """Observations of the last ``hours`` before the latest forecast, that forecast and its
        alert. ``known``: the version the page shows (answers ``unchanged`` if still latest)."""
        store: Store = request.app.state.store
        pid = who.patient(pid, "forecast.search")
        f = head(store, who, pid)
        if known is not None and known == f.version:
            return {"unchanged": True, "version": f.version}
        model = _model_of(f)
        now = _at(f, f.forecast.issued_at)
        obs = store.observations(pid, actor=who.name, since=now - timedelta(hours=hours))
        spec = model.observables[_observable(model, observable, [o.code for o in obs])]
        mine = [o for o in obs if spec.loinc and o.code == spec.loinc]
        j = model.observable_names.index(spec.name)
        return {
            "patient": pid, "model": model.name, "time_unit": f.time_unit, "now": _iso(now),
            "observable": spec.name, "unit": spec.unit, "version": f.version,
            "horizon": f.horizon, "observables": list(model.observable_names),
            "event_kinds": [{"kind": k, "unit": EVENT_KINDS[k]} for k in event_kinds(model)],
            "observations": {"times": [_iso(o.time) for o in mine],
                             "values": [o.value for o in mine],
                             "censored": [o.censored for o in mine]},
            "forecast": _series(f, j), "alert": alert_for(f, spec.name, spec.unit),
            "thresholds": list(RULES[spec.unit][:2]) if spec.unit in RULES else [],
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
        pick = [versions[i] for i in _grid(len(versions), points)]

        def load(v: int) -> dict[str, tuple]:
            return store.twin(pid, actor=who.name, version=v).parameter_quantiles()

        rows = [quantiles.get((pid, v.version), lambda v=v: load(v.version)) for v in pick]
        model = get_model(versions[-1].model)
        out = []
        for name in rows[0]:
            spec = model.parameters[model.param_index(name)]
            q = np.array([r[name] for r in rows])  # (versions, 3)
            width = q[:, 2] - q[:, 0]
            out.append({
                "name": name, "unit": spec.unit, "description": spec.description,
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

    @router.post("/ui/api/patients/{pid}/what-if")
    def what_if_cones(pid: _PID, who: Who, request: Request, body: JsonObject) -> dict[str, Any]:
        """Cones of 1-3 regimens from the latest version, paired (same random numbers):
        ``{"options": {"name": [{"after": 0, "kind": "bolus", "amount": 2}]}, "horizon": h,
        "observable": name}`` (``after`` and ``horizon`` in the model's time unit)."""
        store: Store = request.app.state.store
        pid = who.patient(pid, "twin.what_if")
        with heavy(request.app, who, "twin.what_if", pid):
            return _what_if_cones(store, who, pid, body)

    def _what_if_cones(store: Store, who: Caller, pid: str, body: Any) -> dict[str, Any]:
        f = head(store, who, pid)
        twin = store.twin(pid, actor=who.name)
        longest = limits.WHAT_IF_HORIZON.in_unit(twin.model.time_unit).high
        h = what_if_horizon(twin, body.get("horizon", min(f.horizon, longest)))
        regimens = what_if_regimens(
            twin, body.get("options"), h, max_options=3, max_events=20, name_len=40
        )
        now = _at(f, twin.time)
        asked = body.get("observable")
        codes = [] if asked is not None else [
            o.code for o in store.observations(pid, actor=who.name, since=now - timedelta(days=1))
        ]  # fmt: skip
        spec = twin.model.observables[
            _observable(twin.model, None if asked is None else str(asked), codes)
        ]
        j = twin.model.observable_names.index(spec.name)
        res = what_if(twin, regimens, h)
        opts = []
        for name, fc in zip(res.options, res.forecasts, strict=True):
            # as the store keeps a forecast: the draws reduced to their 1..99 % quantiles
            fc = replace(fc, draws=np.nanquantile(np.asarray(fc.draws), QUANTILES, axis=0))
            sf = StoredForecast(0, pid, twin.version, now, h, fc, f.epoch, f.time_unit)
            opts.append({"name": name, **_series(sf, j), "metrics": res.metrics[name],
                         "alert": alert_for(sf, spec.name, spec.unit)})  # fmt: skip
        return {"patient": pid, "version": twin.version, "horizon": h, "observable": spec.name,
                "unit": spec.unit, "now": _iso(now), "options": opts}  # fmt: skip

    return router
