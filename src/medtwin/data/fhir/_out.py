"""FHIR R4 out: forecasts as Observations, and the provenance of each twin version.

A forecast becomes one Observation per observable and target time (a consumer reads it like
any measurement series): ``status`` ``preliminary``, ``meta.tag`` ``forecast`` (system
:data:`TAG_SYSTEM`; medtwin skips such Observations when they are sent back),
``code`` the observable's LOINC code, ``effectiveDateTime`` the target time, ``issued`` the
time the forecast was made, ``valueQuantity`` the median in the canonical UCUM unit, and one
``component`` per band edge (``lower-50``, ``upper-50``, ``lower-80``, ... in
:data:`BAND_SYSTEM`), ``method`` the model (code) and its version (``Coding.version``). A
value that is not finite (a failed ensemble member) is sent as a ``dataAbsentReason``
``error`` instead. Model time ``t`` is absolute time ``epoch + t * time_unit``.

A twin version is the FHIR resource ``Basic/twin-<twin id>-v<k>`` (:func:`twin_version_basic`),
and its :func:`provenance` names the observations it was derived from (entity role
``source``), its parent version (``revision``) and the model as the ``assembler`` agent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ...credibility._domain import describe
from ...errors import DataError
from ...timeunits import SECONDS
from ..loinc import LOINC
from ..units import LOINC_SYSTEM, UCUM_SYSTEM
from ._observation import FORECAST_TAG, TAG_SYSTEM
from ._times import iso_utc

if TYPE_CHECKING:
    from ...forecast import Forecast

__all__ = [
    "BAND_SYSTEM",
    "EVENT_IDS",
    "MEDTWIN",
    "MODEL_SYSTEM",
    "forecast_observations",
    "provenance",
    "twin_version_basic",
    "twin_version_ref",
]

MEDTWIN = "https://medtwin.org/fhir"
BAND_SYSTEM = f"{MEDTWIN}/CodeSystem/forecast-band"
MODEL_SYSTEM = f"{MEDTWIN}/CodeSystem/model"
KIND_SYSTEM = f"{MEDTWIN}/CodeSystem/resource-kind"
FORECAST_IDS = f"{MEDTWIN}/NamingSystem/forecast"
TWIN_VERSION_IDS = f"{MEDTWIN}/NamingSystem/twin-version"
EVENT_IDS = f"{MEDTWIN}/NamingSystem/regimen-event"
TWIN_VERSION_EXT = f"{MEDTWIN}/StructureDefinition/twin-version"
PATIENT_EXT = f"{MEDTWIN}/StructureDefinition/patient"
APPLICABILITY_EXT = f"{MEDTWIN}/StructureDefinition/applicability"
APPLICABILITY_SYSTEM = f"{MEDTWIN}/CodeSystem/applicability"
MODEL_HASH_EXT = f"{MEDTWIN}/StructureDefinition/model-hash"
PACKAGE_VERSION_EXT = f"{MEDTWIN}/StructureDefinition/package-version"
CONFIG_HASH_EXT = f"{MEDTWIN}/StructureDefinition/configuration-hash"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,40}$")


def _id(what: str, value: Any) -> str:
    if not isinstance(value, str) or not _FHIR_ID.match(value):
        raise DataError(
            f"{what} must be 1-40 characters of A-Z, a-z, 0-9, '-' and '.' (it becomes part "
            f"of a FHIR id). Got {value!r}."
        )
    return value


def _aware(what: str, t: Any) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise DataError(f"{what} must be a timezone-aware datetime. Got {t!r}.")
    return t


def twin_version_ref(twin_id: str, version: int) -> str:
    """The reference of a twin version: ``Basic/twin-<twin_id>-v<version>``."""
    return f"Basic/twin-{_id('twin_id', twin_id)}-v{int(version)}"


def _quantity(x: float, unit: str) -> dict[str, Any]:
    return {"value": float(f"{x:.6g}"), "unit": unit, "system": UCUM_SYSTEM, "code": unit}


def _value(target: dict[str, Any], x: float, unit: str) -> None:
    if math.isfinite(x):
        target["valueQuantity"] = _quantity(x, unit)
    else:
        target["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "error"}]}


def forecast_observations(
    forecast: Forecast,
    *,
    patient_id: str,
    twin_version: int,
    model_name: str,
    model_version: str,
    observable_loinc: Mapping[str, str],
    epoch: datetime,
    time_unit: str,
    twin_id: str | None = None,
    applicability: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """FHIR R4 Observations (JSON dicts) of ``forecast``: one per observable named in
    ``observable_loinc`` (observable name -> LOINC code of the curated table, e.g.
    ``{"sc_glucose": "99504-3"}``) and target time, in time order. ``epoch`` (aware) is the
    absolute time of model time 0; ``time_unit`` the model's (``s``, ``min``, ``h``, ``d``).
    With ``twin_id`` each Observation also references its twin version (extension
    :data:`TWIN_VERSION_EXT`). With ``applicability`` (the flag of the version's report,
    ``medtwin.credibility.applicability``) each carries the extension
    :data:`APPLICABILITY_EXT` (``valueCode`` ``inside`` or ``outside``); outside, also an
    ``interpretation`` (:data:`APPLICABILITY_SYSTEM` ``outside-domain``) and a ``note``
    naming what lies outside the validated domain."""
    _id("patient_id", patient_id)
    _aware("epoch", epoch)
    if time_unit not in SECONDS:
        raise DataError(f"time_unit must be one of {', '.join(SECONDS)}. Got {time_unit!r}.")
    step = timedelta(seconds=SECONDS[time_unit])
    issued = iso_utc(epoch + float(forecast.issued_at) * step)
    method = {
        "coding": [{"system": MODEL_SYSTEM, "code": model_name, "version": str(model_version)}],
        "text": f"medtwin ensemble forecast: model {model_name} {model_version}, twin version "
        f"{twin_version}",
    }
    flags = _applicability(applicability)
    out: list[dict[str, Any]] = []
    for name, code in observable_loinc.items():
        if name not in forecast.observable_names:
            raise DataError(
                f"observable_loinc names {name!r}, which this forecast does not have. Expected "
                f"some of: {', '.join(forecast.observable_names)}."
            )
        row = LOINC.get(code)
        if row is None or row.canonical_code != code:
            raise DataError(
                f"observable_loinc[{name!r}] must be a canonical LOINC code of the curated "
                f"table (its unit is the forecast's unit). Got {code!r}."
            )
        j = forecast.observable_names.index(name)
        unit = row.canonical_unit
        for k, t in enumerate(forecast.times):
            when = iso_utc(epoch + float(t) * step)
            obs: dict[str, Any] = {
                "resourceType": "Observation",
                "meta": {"tag": [{"system": TAG_SYSTEM, "code": FORECAST_TAG,
                                  "display": "Forecast (not a measurement)"}]},
                "identifier": [{"system": FORECAST_IDS,
                                "value": f"{patient_id}/v{twin_version}/{name}/{when}"}],
                "status": "preliminary",
                "code": {"coding": [{"system": LOINC_SYSTEM, "code": code, "display": row.display}],
                         "text": f"Forecast: {row.display}"},
                "subject": {"reference": f"Patient/{patient_id}"},
                "effectiveDateTime": when,
                "issued": issued,
                "method": method,
            }  # fmt: skip
            if twin_id is not None:
                obs["extension"] = [
                    {
                        "url": TWIN_VERSION_EXT,
                        "valueReference": {"reference": twin_version_ref(twin_id, twin_version)},
                    }
                ]
            for key, value in flags.items():
                obs[key] = [*obs.get(key, []), *value]
            _value(obs, float(forecast.median[j, k]), unit)
            components = []
            for i, level in enumerate(forecast.levels):
                pct = f"{100 * level:g}"
                for edge, arr in (("lower", forecast.lower), ("upper", forecast.upper)):
                    comp: dict[str, Any] = {
                        "code": {
                            "coding": [
                                {
                                    "system": BAND_SYSTEM,
                                    "code": f"{edge}-{pct}",
                                    "display": f"{edge.capitalize()} edge of the central {pct} % "
                                    f"predictive band",
                                }
                            ]
                        }
                    }
                    _value(comp, float(arr[i, j, k]), unit)
                    components.append(comp)
            obs["component"] = components
            out.append(obs)
    return out


def _applicability(flag: Mapping[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """The FHIR elements of an applicability flag: ``extension``, and outside the domain an
    ``interpretation`` and a ``note``."""
    if flag is None:
        return {}
    inside = bool(flag.get("inside", True))
    out: dict[str, list[dict[str, Any]]] = {
        "extension": [{"url": APPLICABILITY_EXT, "valueCode": "inside" if inside else "outside"}]
    }
    if inside:
        return out
    out["interpretation"] = [{
        "coding": [{"system": APPLICABILITY_SYSTEM, "code": "outside-domain",
                    "display": "Outside the model's validated domain"}],
        "text": "Outside the model's validated domain",
    }]  # fmt: skip
    out["note"] = [{"text": "Forecast. " + describe(flag)}]
    return out


def twin_version_basic(
    *,
    twin_id: str,
    version: int,
    patient_id: str,
    created: datetime,
    model_name: str,
    model_version: str,
) -> dict[str, Any]:
    """The FHIR R4 Basic resource that stands for one twin version (the Provenance target)."""
    ref = twin_version_ref(twin_id, version)
    return {
        "resourceType": "Basic",
        "id": ref.removeprefix("Basic/"),
        "identifier": [{"system": TWIN_VERSION_IDS, "value": f"{twin_id}/v{int(version)}"}],
        "code": {
            "coding": [
                {"system": KIND_SYSTEM, "code": "twin-version", "display": "Digital twin version"}
            ],
            "text": f"medtwin twin version {int(version)}: model {model_name} {model_version}",
        },
        "subject": {"reference": f"Patient/{_id('patient_id', patient_id)}"},
        "created": _aware("created", created).date().isoformat(),
    }


def provenance(
    *,
    twin_id: str,
    version: int,
    patient_id: str,
    recorded: datetime,
    model_name: str,
    model_version: str,
    observation_refs: Sequence[str],
    parent_version_ref: str | None = None,
    model_hash: str | None = None,
    config_hash: str | None = None,
    event_ids: Sequence[int] = (),
) -> dict[str, Any]:
    """The FHIR R4 Provenance of a twin version: target ``Basic/twin-<id>-v<version>``,
    each observation it assimilated as an entity with role ``source``, each regimen event it
    applied (a meal, a dose: the store's event id) as a ``source`` entity identified in
    :data:`EVENT_IDS` (an event may have come from a MedicationAdministration, a CSV or the
    API, so it is named by the store's id, not by a resource), the parent version as
    ``revision``, the model (name|version) as the ``assembler`` agent, and the patient in
    the extension :data:`PATIENT_EXT`. ``recorded`` must be timezone-aware. What replaying
    the version needs beside its inputs rides in extensions: :data:`PACKAGE_VERSION_EXT` (the
    medtwin version that computed it, ``model_version``), and when given
    :data:`MODEL_HASH_EXT` (a hash of the model's declaration, parameter defaults included)
    and :data:`CONFIG_HASH_EXT` (a hash of the twin's configuration)."""
    ref = twin_version_ref(twin_id, version)
    _aware("recorded", recorded)
    refs = list(observation_refs)
    if not all(isinstance(r, str) and r and len(r) <= 1024 for r in refs):
        raise DataError("observation_refs must be non-empty reference strings (Observation/<id>).")
    entity = [{"role": "source", "what": {"reference": r}} for r in refs]
    for i in event_ids:
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            raise DataError(f"event_ids must be the store's event ids (integers >= 0). Got {i!r}.")
        entity.append({"role": "source", "what": {"identifier": {"system": EVENT_IDS,
                                                                 "value": str(i)}}})  # fmt: skip
    if parent_version_ref is not None:
        entity.append({"role": "revision", "what": {"reference": parent_version_ref}})
    out: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": ref.removeprefix("Basic/"),
        "extension": [
            {
                "url": PATIENT_EXT,
                "valueReference": {"reference": f"Patient/{_id('patient_id', patient_id)}"},
            }
        ],
        "target": [{"reference": ref}],
        "recorded": iso_utc(recorded),
        "activity": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                    "code": "UPDATE" if parent_version_ref else "CREATE",
                }
            ]
        },
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/"
                            "provenance-participant-type",
                            "code": "assembler",
                            "display": "Assembler",
                        }
                    ]
                },
                "who": {
                    "identifier": {
                        "system": MODEL_SYSTEM,
                        "value": f"{model_name}|{model_version}",
                    },
                    "display": f"medtwin model {model_name} version {model_version}",
                },
            }
        ],
    }
    out["extension"].append({"url": PACKAGE_VERSION_EXT, "valueString": str(model_version)})
    for url, value in ((MODEL_HASH_EXT, model_hash), (CONFIG_HASH_EXT, config_hash)):
        if value is not None:
            out["extension"].append({"url": url, "valueString": str(value)})
    if entity:
        out["entity"] = entity
    return out
