"""The acute stroke twin (a Bayesian network, issue 19) end to end: a FHIR bundle of a stroke
patient -> the store -> a twin made through the API -> its posterior per node and each
option's 90-day outcome read back -> more findings as FHIR Observations -> `medtwin recommend
PATIENT` on the same database ranks the options. Values that are no state of their node are
refused (422) with nothing stored."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from medtwin import bn
from medtwin.bn._evidence_codes import SYSTEM

KEY = bytes(range(32))
EPOCH = "2026-02-01T10:00:00+00:00"  # symptom onset: the twin's model time 0
UCUM = "http://unitsofmeasure.org"


def observation(ident: str, code: str, system: str, minute: int, value: float, unit: str,
                subject: str) -> dict:  # fmt: skip
    return {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:test:stroke", "value": ident}],
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": subject},
        "effectiveDateTime": f"2026-02-01T{10 + minute // 60:02d}:{minute % 60:02d}:00Z",
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }  # fmt: skip


LOINC = "http://loinc.org"
ADMISSION = [  # code, system, minute after onset, value, unit
    ("8480-6", LOINC, 70, 168.0, "mm[Hg]"), ("2339-0", LOINC, 72, 7.2, "mmol/L"),
    ("9269-2", LOINC, 75, 13.0, "{score}"), ("stroke-lvo", SYSTEM, 85, 1.0, "1"),
    ("stroke-ott", SYSTEM, 90, 100.0, "min"),
]  # fmt: skip


def bundle() -> dict:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:test:mrn", "value": "STROKE-1"}],
        "name": [{"family": "Broca", "given": ["Paul"]}],
        "birthDate": "1950-06-01",
    }
    entries = [{"fullUrl": "urn:uuid:p1", "resource": patient}]
    for i, (code, system, minute, value, unit) in enumerate(ADMISSION):
        entries.append({"resource": observation(f"adm-{i}", code, system, minute, value, unit,
                                                "urn:uuid:p1")})  # fmt: skip
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _world(tmp_path_factory):
    from medtwin.service import create_app
    from medtwin.store import open_store

    db = f"sqlite:///{tmp_path_factory.mktemp('stroke') / 'm.db'}"
    store = open_store(db, key=KEY)
    store.add_user("alice", "clinician")
    token = store.issue_token("alice")
    auth = {"authorization": f"Bearer {token}"}
    with TestClient(create_app(store, login_limit=1000), raise_server_exceptions=False) as c:
        yield store, c, auth, db
    store.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    yield from _world(tmp_path_factory)


@pytest.fixture(scope="module")
def admitted(tmp_path_factory):
    """A store of its own with the admitted patient and its twin (the refusal tests do not
    depend on which test ran first, or on which test worker)."""
    for store, client, auth, _db in _world(tmp_path_factory):
        r = _fhir(client, auth, "/fhir", bundle())
        assert r.status_code == 200, r.text[:500]
        (pid,) = r.json()["patients"].values()
        r = client.post(f"/patients/{pid}/twin", json={"model": "stroke", "epoch": EPOCH},
                        headers=auth)  # fmt: skip
        assert r.status_code == 201, r.text[:500]
        yield store, client, auth, pid


def _good(doc: dict, option: str) -> float:
    """P(mRS 0-2) at 90 days under ``option`` in a twin's JSON."""
    (o,) = [o for o in doc["options"] if o["option"] == option]
    return sum(o["mrs"][:3])


def _fhir(client, auth, path, body):
    return client.post(path, content=json.dumps(body).encode(),
                       headers={**auth, "content-type": "application/fhir+json"})  # fmt: skip


def test_a_stroke_patient_from_fhir_to_recommend(world):
    store, client, auth, db = world
    r = _fhir(client, auth, "/fhir", bundle())
    assert r.status_code == 200, r.text[:500]
    (pid,) = r.json()["patients"].values()
    assert r.json()["observations"]["added"] == 5
    # the twin: the admission findings are applied at once
    r = client.post(f"/patients/{pid}/twin", json={"model": "stroke", "epoch": EPOCH},
                    headers=auth)  # fmt: skip
    assert r.status_code == 201, r.text[:500]
    assert (r.json()["version"], r.json()["model"]) == (1, "acute-ischaemic-stroke")
    assert r.json()["report"]["evidence"] == {
        "sbp": "140-185",
        "glucose": "50-180",
        "gcs": "13-15",
        "lvo": "yes",
        "ott": "60-120",
    }
    assert r.json()["model_time"] == 90.0
    doc = client.get(f"/patients/{pid}/twin", headers=auth).json()
    assert doc["kind"] == "network" and doc["version"] == 1
    # the posterior and the options are those of the network itself under the same evidence
    expert = bn.stroke_network()
    twin = bn.assimilate(bn.create_twin(expert.net, expert.prior), doc["evidence"])
    nodes = {n["name"]: n for n in doc["nodes"]}
    for name, p in bn.forecast(twin).items():
        np.testing.assert_allclose(nodes[name]["posterior"], p, rtol=0, atol=1e-12)
    ranked = bn.recommend(twin)
    assert [o["option"] for o in doc["options"]] == [x.option for x in ranked]
    assert [o["option"] for o in doc["options"]][:2] == ["ivt+mt", "mt"]
    for o, x in zip(doc["options"], ranked, strict=True):
        np.testing.assert_allclose(o["mrs"], x.mrs, rtol=0, atol=1e-12)
    # a later finding: oedema on imaging moves the outcome towards worse
    r = _fhir(
        client,
        auth,
        f"/patients/{pid}/observations",
        observation("ct-1", "stroke-oedema", SYSTEM, 95, 1.0, "1", f"Patient/{pid}"),
    )
    assert r.status_code == 200 and r.json()["twin_versions"] == {pid: 2}, r.text[:300]
    after = client.get(f"/patients/{pid}/twin", headers=auth).json()
    assert after["evidence"]["oedema"] == "yes"
    assert _good(after, "ivt+mt") < _good(doc, "ivt+mt") - 0.05
    assert client.get(f"/patients/{pid}/forecasts", headers=auth).json() == {"forecasts": []}
    # the findings read back as FHIR, each in its own code system
    got = client.get(f"/patients/{pid}/observations", headers=auth).json()["observations"]
    systems = {o["code"]: o["fhir"]["code"]["coding"][0]["system"] for o in got}
    assert systems == {"8480-6": LOINC, "2339-0": LOINC, "9269-2": LOINC, "stroke-lvo": SYSTEM,
                       "stroke-ott": SYSTEM, "stroke-oedema": SYSTEM}  # fmt: skip
    assert {o["code"]: o["status"] for o in got} == dict.fromkeys(systems, "applied")
    r = client.post(f"/patients/{pid}/what-if", json={"horizon": 60, "options": {"a": []}},
                    headers=auth)  # fmt: skip
    assert r.status_code == 422 and "network twin" in r.text
    # the same store through the CLI: the options ranked by expected utility
    env = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}
    from medtwin.cli.main import app

    res = CliRunner().invoke(app, ["recommend", pid, "--db", db], env=env)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "version 2 (network acute-ischaemic-stroke)" in out and "oedema=yes" in out
    rows = [line for line in out.splitlines() if line.startswith("│ ")]
    assert [r.split("│")[1].strip() for r in rows[:4]] == [o["option"] for o in after["options"]]
    eu = float(rows[0].split("│")[3])
    assert eu == pytest.approx(after["options"][0]["expected_utility"], abs=5e-5)
    assert store.verify_audit().ok


@pytest.mark.parametrize(
    ("code", "system", "value", "unit", "says"),
    [
        ("9269-2", LOINC, 2.0, "{score}", "outside the physically possible range [3, 15]"),
        ("9269-2", LOINC, 9.5, "{score}", "expected an integer in 3..15"),
        ("stroke-lvo", SYSTEM, 0.5, "1", "expected an integer in 0..1"),
        ("stroke-ivt", SYSTEM, 2.0, "1", "outside the physically possible range [0, 1]"),
        ("8480-6", LOINC, 150.0, "mg/dL", "Unit 'mg/dL' is not accepted for LOINC 8480-6"),
        ("stroke-foo", SYSTEM, 1.0, "1", "no LOINC coding"),
    ],
)
def test_a_value_that_is_no_state_is_refused_with_nothing_stored(admitted, code, system, value,
                                                                 unit, says):  # fmt: skip
    store, client, auth, pid = admitted
    before = (len(store.observations(pid, actor="t")), len(store.twin_versions(pid, actor="t")))
    body = observation(f"bad-{code}-{value}", code, system, 100, value, unit, f"Patient/{pid}")
    r = _fhir(client, auth, f"/patients/{pid}/observations", body)
    if says == "no LOINC coding":  # an unknown code of the system: skipped, said so
        assert r.status_code == 200 and r.json()["observations"]["added"] == 0, r.text[:300]
        assert r.json()["skipped"][0]["reason"] == "no LOINC coding in Observation.code"
    else:
        assert r.status_code == 422, r.text[:300]
        assert says in r.text, r.text[:500]
    after = (len(store.observations(pid, actor="t")), len(store.twin_versions(pid, actor="t")))
    assert after == before
