"""JSON (and FHIR) renderings of what the store holds, for the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .. import __version__, limits, loop
from ..data.fhir import forecast_observations, provenance, twin_version_ref
from ..data.loinc import code_system
from ..errors import LimitError
from ..forecast import what_if
from ..loop import StoredForecast, Twin, regimen_event
from ..simulate import Regimen
from ..store import StoredObservation, TwinVersionView
from ._errors import ApiError
from ._schemas import WhatIfBody, WhatIfEvent

__all__ = [
    "build_what_if",
    "event_kinds",
    "forecast_json",
    "forecasts_fhir",
    "observation_json",
    "provenance_of",
    "skill_json",
    "snap_horizon",
    "twin_json",
    "version_json",
    "what_if_horizon",
    "what_if_regimens",
]


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def observation_json(o: StoredObservation) -> dict[str, Any]:
    fhir = {
        "resourceType": "Observation", "id": f"obs-{o.id}", "status": "final",
        "code": {"coding": [{"system": code_system(o.code), "code": o.code}]},
        "subject": {"reference": f"Patient/{o.pid}"}, "effectiveDateTime": _iso(o.time),
        "valueQuantity": {"value": o.value, "unit": o.unit, "system": "http://unitsofmeasure.org",
                          "code": o.unit, **({"comparator": "<" if o.censored < 0 else ">"}
                                             if o.censored else {})},
    }  # fmt: skip
    return {
        "id": o.id, "code": o.code, "time": _iso(o.time), "value": o.value, "unit": o.unit,
        "censored": o.censored, "status": o.status, "version": o.version, "fhir": fhir,
    }  # fmt: skip


def version_json(v: TwinVersionView) -> dict[str, Any]:
    return {"version": v.version, "parent": v.parent_version, "created_at": _iso(v.created_at),
            "model": v.model, "model_version": v.model_version, "seed": v.seed,
            "time": _iso(v.time), "model_time": v.model_time, "report": v.report,
            "observations": list(v.observations), "events": list(v.events)}  # fmt: skip


def twin_json(twin: Any, latest: TwinVersionView) -> dict[str, Any]:
    """The head version and what the twin holds now, as its kind shows it
    (``loop.summary``: an ensemble's particles and parameter quantiles; a network's posterior
    per node and its options' outcome distributions)."""
    return {**version_json(latest), **loop.summary(latest.model, twin)}


def forecast_json(f: StoredForecast) -> dict[str, Any]:
    fc, times = f.forecast, [_iso(t) for t in f.target_times()]
    out: dict[str, Any] = {"version": f.version, "issued_at": _iso(f.issued_at),
                           "horizon": f.horizon, "times": times,
                           "applicability": f.applicability,
                           "outside_domain": f.outside_domain, "observables": {}}  # fmt: skip
    for j, name in enumerate(fc.observable_names):
        row: dict[str, Any] = {"median": fc.median[j].tolist()}
        for i, lv in enumerate(fc.levels):
            row[f"lower{round(100 * lv)}"] = fc.lower[i, j].tolist()
            row[f"upper{round(100 * lv)}"] = fc.upper[i, j].tolist()
        out["observables"][name] = row
    return out


def forecasts_fhir(fcs: list[StoredForecast]) -> dict[str, Any]:
    entries = []
    for f in fcs:
        model = _model_of(f)
        loinc = {o.name: o.loinc for o in model.observables if o.loinc}
        for res in forecast_observations(
            f.forecast, patient_id=f.pid, twin_version=f.version, model_name=model.name,
            model_version=__version__, observable_loinc=loinc, epoch=f.epoch,
            time_unit=f.time_unit, twin_id=f.pid, applicability=f.applicability,
        ):  # fmt: skip
            entries.append({"resource": res})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _model_of(f: StoredForecast):
    model = f.model_spec()
    if model is None:
        raise ApiError(500, f"The forecast's model {f.model!r} is not registered.")
    return model


def provenance_of(v: TwinVersionView) -> dict[str, Any]:
    """The version's FHIR Provenance (the observations and events it took as its sources);
    the model and configuration hashes its report stored
    (``loop.fingerprint``; versions stored before it: none)."""
    parent = twin_version_ref(v.pid, v.parent_version) if v.parent_version is not None else None
    hashes = v.report.get("provenance") or {}
    return provenance(
        twin_id=v.pid, version=v.version, patient_id=v.pid, recorded=v.created_at,
        model_name=v.model, model_version=v.model_version,
        observation_refs=[f"Observation/obs-{i}" for i in v.observations],
        parent_version_ref=parent, model_hash=hashes.get("model_hash"),
        config_hash=hashes.get("config_hash"), event_ids=v.events,
    )  # fmt: skip


def skill_json(fcs: list[StoredForecast], obs: list[StoredObservation]) -> dict[str, Any]:
    """The skill ledger of stored forecasts ``fcs`` (newest first) against the observations."""
    if not fcs:
        return {"scored": 0, "by_observable": {}}
    _model_of(fcs[0])
    return loop.stored_skill(fcs, [(o.time, o.code, o.value, o.censored) for o in obs])


def event_kinds(model: Any) -> list[str]:
    """The regimen event kinds ``model`` has an input for."""
    return [k for k, _ in loop.event_kinds(model)]


def _bounded(bound: limits.Bound, value: Any, where: str, **kw: Any) -> Any:
    """``bound.check(value)``, refusing with a 422 that names ``where``."""
    try:
        return bound.check(value, name=where, **kw)
    except LimitError as exc:
        raise ApiError(422, str(exc), expression=where) from None


def snap_horizon(model: Any, horizon: float) -> float:
    """``horizon`` (model time units) on the forecast cadence of ``model`` (5 input steps),
    at least one step of it."""
    every = 5 * model.input_dt
    return max(every, round(horizon / every) * every)


def what_if_horizon(twin: Any, horizon: Any) -> float:
    """The what-if ``horizon`` (model time units) if within the model's what-if span
    (``loop.time_bounds``: ``limits.WHAT_IF_HORIZON`` unless the model declares one), snapped
    to the forecast cadence (5 input steps)."""
    h = _bounded(loop.time_bounds(twin.model).what_if, horizon, "horizon")
    return snap_horizon(twin.model, h)


def what_if_regimens(
    twin: Any, options: dict[str, list[WhatIfEvent]], horizon: float, *, name_len: int = 64
) -> dict[str, Regimen]:
    """What-if ``options`` (validated: counts and amounts within ``medtwin.limits``) as
    regimens at the twin's time: each event's ``kind`` one the twin's model takes and its
    ``after`` (the model's time unit) within 0..``horizon``. Option names are cut to
    ``name_len`` characters."""
    out, kinds = {}, event_kinds(twin.model)
    after = loop.time_bounds(twin.model).event_after
    for name, events in options.items():
        where = f"options.{str(name)[:40]}"
        evs = []
        for k, e in enumerate(events):
            at = f"{where}[{k}]"
            if e.kind not in kinds:
                raise ApiError(422, f"{at}: expected {{'after': 0..{horizon:g}, 'kind': one of "
                               f"{kinds}, 'amount': >= 0}}. Got {limits.shown(dict(e))}.",
                               expression=at)  # fmt: skip
            t = _bounded(after, e.after, f"{at}.after", high=horizon)
            ev = regimen_event(twin.model, e.kind, twin.time + t, e.amount)
            if ev is not None:  # always: the kind is one the model takes
                evs.append(ev)
        out[str(name)[:name_len]] = Regimen(tuple(evs))
    return out


def build_what_if(twin: Twin, body: WhatIfBody) -> dict[str, Any]:
    """``POST /patients/{pid}/what-if``: paired forecasts and metrics of the options."""
    if not isinstance(twin, Twin):
        raise ApiError(
            422,
            "What-if compares regimens forecast by an ensemble twin; this patient's twin is a "
            "network twin or a cardiac twin: GET /patients/{pid}/twin gives a network's options' "
            "outcomes under do(...), POST /patients/{pid}/twin/inducibility a cardiac twin's "
            "P(inducible) and lesion plans.",
        )
    horizon = what_if_horizon(twin, body.horizon)
    regimens = what_if_regimens(twin, body.options, horizon)
    res = what_if(twin, regimens, horizon)
    return {"horizon": horizon, "options": list(res.options), "metrics": res.metrics,
            "medians": {n: {o: fc.median[j].tolist() for j, o in
                            enumerate(fc.observable_names)}
                        for n, fc in zip(res.options, res.forecasts, strict=True)}}  # fmt: skip
