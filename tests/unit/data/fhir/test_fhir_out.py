"""FHIR out: forecasts as Observations, twin versions as Basic + Provenance -- all valid R4,
and forecasts sent back are recognised and skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from fhir.resources.R4B.basic import Basic
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.provenance import Provenance

from medtwin.data.fhir import (
    BAND_SYSTEM,
    FORECAST_TAG,
    TAG_SYSTEM,
    forecast_observations,
    parse_bundle,
    provenance,
    twin_version_basic,
    twin_version_ref,
)
from medtwin.errors import DataError
from medtwin.forecast import Forecast

PID = "p-0123456789abcdef"
EPOCH = datetime(2024, 5, 1, 6, 0, tzinfo=timezone(timedelta(hours=2)))


def _forecast() -> Forecast:
    times = np.array([5.0, 10.0, 15.0])
    median = np.array([[110.0, 120.0, 130.0], [100.0, 105.0, np.nan], [50.0, 50.0, 50.0]])
    spread = np.array([5.0, 10.0, 20.0])[:, None, None]
    return Forecast(
        issued_at=0.0,
        twin_version=7,
        times=times,
        observable_names=("bg", "sc_glucose", "insulin"),
        levels=(0.5, 0.8, 0.95),
        median=median,
        lower=median[None] - spread,
        upper=median[None] + spread,
        draws=np.zeros((4, 3, 3)),
    )


def _obs(**kw):
    args = dict(
        patient_id=PID, twin_version=7, model_name="uva_padova", model_version="0.1.0",
        observable_loinc={"bg": "2339-0", "sc_glucose": "99504-3"}, epoch=EPOCH,
        time_unit="min", twin_id="t-42",
    )  # fmt: skip
    args.update(kw)
    return forecast_observations(_forecast(), **args)


def test_one_valid_observation_per_observable_and_time():
    out = _obs()
    assert len(out) == 2 * 3
    for o in out:
        Observation.model_validate(o)
        assert o["status"] == "preliminary"
        assert o["meta"]["tag"] == [
            {"system": TAG_SYSTEM, "code": FORECAST_TAG, "display": "Forecast (not a measurement)"}
        ]
        assert o["subject"] == {"reference": f"Patient/{PID}"}
        assert o["issued"] == "2024-05-01T04:00:00.000Z"
        assert o["method"]["coding"][0]["version"] == "0.1.0"
        assert o["extension"][0]["valueReference"] == {"reference": "Basic/twin-t-42-v7"}
    first = out[0]
    assert first["code"]["coding"][0]["code"] == "2339-0"
    assert first["effectiveDateTime"] == "2024-05-01T04:05:00.000Z"
    assert first["valueQuantity"] == {
        "value": 110.0, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"
    }  # fmt: skip
    bands = {
        c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in first["component"]
    }
    assert bands == {
        "lower-50": 105.0, "upper-50": 115.0, "lower-80": 100.0, "upper-80": 120.0,
        "lower-95": 90.0, "upper-95": 130.0,
    }  # fmt: skip
    assert all(c["code"]["coding"][0]["system"] == BAND_SYSTEM for c in first["component"])
    assert out[3]["code"]["coding"][0]["code"] == "99504-3"
    assert len({o["identifier"][0]["value"] for o in out}) == len(out)


def test_a_failed_member_becomes_data_absent_not_nan():
    last = _obs()[-1]  # sc_glucose at 15 min: NaN
    Observation.model_validate(last)
    assert "valueQuantity" not in last
    assert last["dataAbsentReason"]["coding"][0]["code"] == "error"
    assert all("dataAbsentReason" in c for c in last["component"])


def test_hours_time_unit():
    out = _obs(time_unit="h", observable_loinc={"bg": "2339-0"})
    assert [o["effectiveDateTime"] for o in out] == [
        "2024-05-01T09:00:00.000Z", "2024-05-01T14:00:00.000Z", "2024-05-01T19:00:00.000Z"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"observable_loinc": {"insulin": "2339-0", "glucose": "2339-0"}}, "does not have"),
        ({"observable_loinc": {"bg": "15074-8"}}, "canonical"),
        ({"epoch": datetime(2024, 5, 1)}, "timezone-aware"),
        ({"time_unit": "fortnight"}, "time_unit"),
        ({"patient_id": "../x"}, "patient_id"),
    ],
)
def test_bad_arguments(kw, match):
    with pytest.raises(DataError, match=match):
        _obs(**kw)


def test_forecasts_sent_back_are_skipped_not_stored():
    entries = [
        {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}", "resource": o}
        for i, o in enumerate(_obs())
    ]
    payload = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    Bundle.model_validate(payload)
    parsed = parse_bundle(payload)
    assert parsed.observations == ()
    assert {s.reason for s in parsed.skipped} == {
        "status 'preliminary': only final, amended and corrected results are used"
    }
    for e in entries:
        e["resource"]["status"] = "final"  # even a forecast someone marked final
    assert {s.reason for s in parse_bundle(payload).skipped} == {
        "a medtwin forecast, not a measurement"
    }


def test_provenance_and_twin_version_validate():
    recorded = datetime(2024, 5, 1, 6, 0, 0, 123456, tzinfo=UTC)
    prov = provenance(
        twin_id="t-42",
        version=7,
        patient_id=PID,
        recorded=recorded,
        model_name="uva_padova",
        model_version="0.1.0",
        observation_refs=["Observation/o1", "Observation/o2"],
        parent_version_ref=twin_version_ref("t-42", 6),
    )
    Provenance.model_validate(prov)
    assert prov["target"] == [{"reference": "Basic/twin-t-42-v7"}]
    assert prov["recorded"] == "2024-05-01T06:00:00.123Z"
    roles = [(e["role"], e["what"]["reference"]) for e in prov["entity"]]
    assert roles == [
        ("source", "Observation/o1"), ("source", "Observation/o2"),
        ("revision", "Basic/twin-t-42-v6"),
    ]  # fmt: skip
    agent = prov["agent"][0]
    assert agent["type"]["coding"][0]["code"] == "assembler"
    assert agent["who"]["identifier"]["value"] == "uva_padova|0.1.0"
    assert prov["activity"]["coding"][0]["code"] == "UPDATE"
    first = provenance(
        twin_id="t-42", version=0, patient_id=PID, recorded=recorded, model_name="m",
        model_version="1", observation_refs=[],
    )  # fmt: skip
    Provenance.model_validate(first)
    assert first["activity"]["coding"][0]["code"] == "CREATE"
    assert "entity" not in first
    basic = twin_version_basic(
        twin_id="t-42", version=7, patient_id=PID, created=recorded, model_name="uva_padova",
        model_version="0.1.0",
    )  # fmt: skip
    Basic.model_validate(basic)
    assert f"Basic/{basic['id']}" == prov["target"][0]["reference"]
    assert basic["subject"] == {"reference": f"Patient/{PID}"}


def test_provenance_needs_an_aware_time_and_a_valid_id():
    kw = dict(version=1, patient_id=PID, model_name="m", model_version="1", observation_refs=[])
    with pytest.raises(DataError, match="recorded"):
        provenance(twin_id="t", recorded=datetime(2024, 1, 1), **kw)
    with pytest.raises(DataError, match="twin_id"):
        provenance(twin_id="t/../x", recorded=datetime(2024, 1, 1, tzinfo=UTC), **kw)


def test_the_applicability_flag_rides_on_every_forecast_observation():
    from medtwin.data.fhir._out import APPLICABILITY_EXT, APPLICABILITY_SYSTEM

    kp2 = {"kind": "parameter", "name": "kp2", "value": 0.03, "unit": "1/min", "low": 0.002,
           "high": 0.023}  # fmt: skip
    outside = {"inside": False, "outside": [kp2]}
    for flag, code in (({"inside": True, "outside": []}, "inside"), (outside, "outside")):
        out = _obs(applicability=flag)
        for o in out:
            Observation.model_validate(o)
            assert o["extension"][-1] == {"url": APPLICABILITY_EXT, "valueCode": code}
            assert ("interpretation" in o) == (code == "outside") == ("note" in o)
    o = _obs(applicability=outside)[0]
    assert o["interpretation"][0]["coding"][0]["system"] == APPLICABILITY_SYSTEM
    assert o["interpretation"][0]["coding"][0]["code"] == "outside-domain"
    assert o["note"][0]["text"] == (
        "Forecast. Outside the model's validated domain: parameter kp2 = 0.03 1/min "
        "(validated 0.002 to 0.023)."
    )
    assert all(e["url"] != APPLICABILITY_EXT for e in _obs()[0]["extension"])  # no domain


def test_provenance_carries_the_hashes_and_the_package_version():
    from medtwin.data.fhir._out import CONFIG_HASH_EXT, MODEL_HASH_EXT, PACKAGE_VERSION_EXT

    prov = provenance(
        twin_id="t-42", version=3, patient_id=PID, recorded=datetime(2024, 5, 1, tzinfo=UTC),
        model_name="uva-padova", model_version="0.4.0", observation_refs=["Observation/obs-9"],
        model_hash="sha256:" + "a" * 64, config_hash="sha256:" + "b" * 64,
    )  # fmt: skip
    Provenance.model_validate(prov)
    ext = {e["url"]: e.get("valueString") for e in prov["extension"]}
    assert ext[MODEL_HASH_EXT] == "sha256:" + "a" * 64
    assert ext[CONFIG_HASH_EXT] == "sha256:" + "b" * 64
    assert ext[PACKAGE_VERSION_EXT] == "0.4.0"


def test_provenance_names_the_events_it_applied_by_their_store_ids():
    from medtwin.data.fhir._out import EVENT_IDS

    kw = dict(twin_id="t-42", version=3, patient_id=PID, recorded=datetime(2024, 5, 1, tzinfo=UTC),
              model_name="uva-padova", model_version="0.4.0",
              observation_refs=["Observation/obs-9"])  # fmt: skip
    prov = provenance(**kw, event_ids=(4, 7))
    Provenance.model_validate(prov)
    sources = [e["what"] for e in prov["entity"] if e["role"] == "source"]
    assert sources == [{"reference": "Observation/obs-9"},
                       {"identifier": {"system": EVENT_IDS, "value": "4"}},
                       {"identifier": {"system": EVENT_IDS, "value": "7"}}]  # fmt: skip
    for bad in (-1, "4", True):
        with pytest.raises(DataError, match="event_ids must be the store's event ids"):
            provenance(**kw, event_ids=(bad,))
