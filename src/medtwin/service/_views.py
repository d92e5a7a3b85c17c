"""JSON (and FHIR) renderings of what the store holds, for the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from .. import __version__, limits
from ..assimilate import Observations
from ..data.fhir import forecast_observations, provenance, twin_version_ref
from ..data.records import EVENT_KINDS
from ..errors import LimitError
from ..forecast import score_forecasts, what_if
from ..simulate import Regimen
from ..store import StoredForecast, StoredObservation, TwinVersionView
from ..store._twins import observable_for, regimen_event, to_model_time
from ..twin import Twin
from ._errors import ApiError

__all__ = [
    "build_what_if",
    "event_kinds",
    "forecast_json",
    "forecasts_fhir",
    "observation_json",
    "provenance_of",
    "skill_json",
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
        "code": {"coding": [{"system": "http://loinc.org", "code": o.code}]},
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


def twin_json(twin: Twin, latest: TwinVersionView) -> dict[str, Any]:
    return {**version_json(latest), "particles": twin.ensemble.size,
            "ess": twin.ensemble.ess, "free": list(twin.free),
            "parameters": {k: {"q05": q[0], "median": q[1], "q95": q[2]}
                           for k, q in twin.parameter_quantiles().items()}}  # fmt: skip


def forecast_json(f: StoredForecast) -> dict[str, Any]:
    fc, times = f.forecast, [_iso(t) for t in f.target_times()]
    out: dict[str, Any] = {"version": f.version, "issued_at": _iso(f.issued_at),
                           "horizon": f.horizon, "times": times, "observables": {}}  # fmt: skip
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
            time_unit=f.time_unit, twin_id=f.pid,
        ):  # fmt: skip
            entries.append({"resource": res})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _model_of(f: StoredForecast):
    names = set(f.forecast.observable_names)
    from ..models import list_models

    for cls in list_models():
        if {o.name for o in cls.observables} == names:
            return cls()
    raise ApiError(500, "The forecast's model is not registered.")


def provenance_of(v: TwinVersionView) -> dict[str, Any]:
    parent = twin_version_ref(v.pid, v.parent_version) if v.parent_version is not None else None
    return provenance(
        twin_id=v.pid, version=v.version, patient_id=v.pid, recorded=v.created_at,
        model_name=v.model, model_version=v.model_version,
        observation_refs=[f"Observation/obs-{i}" for i in v.observations],
        parent_version_ref=parent,
    )  # fmt: skip


def skill_json(fcs: list[StoredForecast], obs: list[StoredObservation]) -> dict[str, Any]:
    if not fcs:
        return {"scored": 0, "by_observable": {}}
    model = _model_of(fcs[0])
    f0 = fcs[0]
    rows = [(to_model_time(o.time, f0.epoch, f0.time_unit), observable_for(model, o.code),
             o.value, o.censored) for o in obs]  # fmt: skip
    rows = [r for r in rows if r[1] is not None]
    stream = Observations(
        np.array([r[0] for r in rows], dtype=np.float64), tuple(r[1] for r in rows),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=np.int8),
    )  # fmt: skip
    out: dict[str, Any] = {"scored": 0, "by_observable": {}}
    forecasts = [f.forecast for f in reversed(fcs)]
    for name in sorted(set(stream.observable)):
        # observation times on the model's input grid, as the twin saw them
        snapped = Observations(np.round(stream.times / model.input_dt) * model.input_dt,
                               stream.observable, stream.values, stream.censored)  # fmt: skip
        s = score_forecasts(forecasts, snapped, name)
        out["scored"] += s.scored
        out["by_observable"][name] = {
            "scored": s.scored, "drifting": s.drifting, "recent_coverage": s.recent_coverage,
            "by_horizon": [{"horizon": h.horizon, "n": h.n, "coverage": h.coverage,
                            "crps": h.crps, "mard": h.mard, "rmse": h.rmse}
                           for h in s.by_horizon],
        }  # fmt: skip
    return out


def event_kinds(model: Any) -> list[str]:
    """The regimen event kinds ``model`` has an input for."""
    return [k for k in EVENT_KINDS if regimen_event(model, k, 0.0, 1.0) is not None]


def _bounded(bound: limits.Bound, value: Any, where: str, **kw: Any) -> Any:
    """``bound.check(value)``, refusing with a 422 that names ``where``."""
    try:
        return bound.check(value, name=where, **kw)
    except LimitError as exc:
        raise ApiError(422, str(exc), expression=where) from None


def what_if_horizon(twin: Any, horizon: Any) -> float:
    """The what-if ``horizon`` (model time units) if within ``limits.WHAT_IF_HORIZON``, snapped
    to the forecast cadence (5 input steps)."""
    h = _bounded(limits.WHAT_IF_HORIZON.in_unit(twin.model.time_unit), horizon, "horizon")
    every = 5 * twin.model.input_dt
    return max(every, round(h / every) * every)


def what_if_regimens(
    twin: Any,
    options: Any,
    horizon: float,
    *,
    max_options: int | None = None,
    max_events: int | None = None,
    max_amount: float | None = None,
    name_len: int = 64,
) -> dict[str, Regimen]:
    """Checked what-if options ``{name: [{"after", "kind", "amount"}, ...]}`` as regimens at
    the twin's time (``after`` in the model's time unit, 0..``horizon``). The counts and
    amounts are bounded by ``medtwin.limits`` (``max_*``: tighter ends for one caller)."""
    if not isinstance(options, dict):
        raise ApiError(422, f"options must map option names to lists of events. Got "
                       f"{limits.shown(options)}.", expression="options")  # fmt: skip
    _bounded(limits.WHAT_IF_OPTIONS, len(options), "options", high=max_options)
    unit, out, kinds = twin.model.time_unit, {}, event_kinds(twin.model)
    after = limits.EVENT_AFTER.in_unit(unit)
    for name, events in options.items():
        where = f"options.{str(name)[:40]}"
        if not isinstance(events, list):
            raise ApiError(422, f"{where} must be a list of events. Got "
                           f"{limits.shown(events)}.", expression=where)  # fmt: skip
        _bounded(limits.WHAT_IF_EVENTS, len(events), where, high=max_events)
        evs = []
        for k, e in enumerate(events):
            at = f"{where}[{k}]"
            if not isinstance(e, dict) or e.get("kind") not in kinds:
                raise ApiError(422, f"{at}: expected {{'after': 0..{horizon:g}, 'kind': one of "
                               f"{kinds}, 'amount': >= 0}}. Got {limits.shown(e)}.",
                               expression=at)  # fmt: skip
            t = _bounded(after, e.get("after"), f"{at}.after", high=horizon)
            amount = _bounded(limits.EVENT_AMOUNT, e.get("amount"), f"{at}.amount",
                              high=max_amount)  # fmt: skip
            evs.append(regimen_event(twin.model, e["kind"], twin.time + t, amount))
        out[str(name)[:name_len]] = Regimen(tuple(evs))
    return out


def build_what_if(twin: Twin, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /patients/{pid}/what-if``: paired forecasts and metrics of the options."""
    if not isinstance(body, dict):
        raise ApiError(422, "Expected a JSON object {'horizon': ..., 'options': {...}}.")
    horizon = what_if_horizon(twin, body.get("horizon"))
    regimens = what_if_regimens(twin, body.get("options"), horizon)
    res = what_if(twin, regimens, horizon)
    return {"horizon": horizon, "options": list(res.options), "metrics": res.metrics,
            "medians": {n: {o: fc.median[j].tolist() for j, o in
                            enumerate(fc.observable_names)}
                        for n, fc in zip(res.options, res.forecasts, strict=True)}}  # fmt: skip
