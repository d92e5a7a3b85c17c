"""Malformed and hostile input through the API: each gets a 4xx with an OperationOutcome, no
stack trace, and stores nothing (patients, observations, events and twin versions unchanged).
A good bundle sent afterwards is stored, so the refusals are not a broken store."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "data" / "fhir"))
from fhir_builders import bundle, glucose, insulin, patient

FIXTURES = Path(__file__).parents[1] / "fixtures" / "fhir"
BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Bundle xmlns="http://hl7.org/fhir"><type value="&lol3;"/></Bundle>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Observation xmlns="http://hl7.org/fhir"><status value="&x;"/></Observation>"""


def tx(*resources, **kw) -> bytes:
    return json.dumps(bundle(*resources, **kw)).encode()


def edited(res: dict, path: str, value) -> dict:
    out = copy.deepcopy(res)
    *head, last = path.split(".")
    node = out
    for part in head:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is ...:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return out


def with_good(*bad) -> bytes:
    """A transaction of a valid Patient, one valid glucose and the bad resources."""
    return tx(glucose(id="ok1"), *bad)


BODIES = {
    "not-json": b"hello world",
    "empty": b"",
    "truncated": tx(glucose())[:-7],
    "json-array": b"[1, 2, 3]",
    "xml": b'<?xml version="1.0"?><Bundle xmlns="http://hl7.org/fhir"/>',
    "xml-billion-laughs": BILLION_LAUGHS,
    "xml-external-entity": XXE,
    "not-utf8": tx(glucose()).replace(b"final", "fin\xe9l".encode("latin-1")),
    "nan-literal": tx(glucose()).replace(b"120.0", b"NaN"),
    "huge-number": tx(glucose()).replace(b"120.0", b"1e400"),
    "deep-nesting": b'{"resourceType": "Bundle", "x": ' + b"[" * 100 + b"]" * 100 + b"}",
    "not-a-bundle": json.dumps(glucose()).encode(),
    "searchset": tx(glucose(), kind="searchset"),
    "batch": tx(glucose(), kind="batch"),
    "string-value": with_good(glucose(id="g2", value="abc")),
    "number-as-id": with_good(glucose(id=123)),
    "unknown-element": with_good(glucose(id="g2", flavour="sweet")),
    "unknown-resource-type": with_good({"resourceType": "Glucometer"}),
    "r5-resource": with_good(
        {"resourceType": "ActorDefinition", "status": "active", "type": "person"}
    ),
    "r5-element": with_good(
        glucose(
            id="g2", triggeredBy=[{"observation": {"reference": "Observation/x"}, "type": "reflex"}]
        )
    ),
    "loinc-bad-check-digit": with_good(edited(glucose(id="g2"), "code.coding.0.code", "2339-1")),
    "loinc-injection": with_good(
        edited(glucose(id="g2"), "code.coding.0.code", "2339-0' OR '1'='1")
    ),
    "unknown-unit": with_good(glucose(id="g2", unit="mg")),
    "wrong-dimension-unit": with_good(glucose(id="g2", unit="%")),
    "negative-glucose": with_good(glucose(id="g2", value=-5)),
    "impossible-glucose": with_good(glucose(id="g2", value=700.0, unit="mmol/L")),
    "missing-subject": with_good(edited(glucose(id="g2"), "subject", ...)),
    "subject-group": with_good(glucose(id="g2", subject={"reference": "Group/g1"})),
    "subject-path-traversal": with_good(
        glucose(id="g2", subject={"reference": "Patient/../../etc/passwd"})
    ),
    "naive-datetime": with_good(glucose(id="g2", effectiveDateTime="2024-05-01T08:30:00")),
    "impossible-date": with_good(glucose(id="g2", effectiveDateTime="2024-02-30T08:30:00Z")),
    "insulin-in-mg": with_good(insulin(code="mg")),
    "negative-insulin": with_good(insulin(dose=-2)),
    "patient-wrong-type": with_good(patient(id="pt2", birthDate=19800229)),
    "script-in-text": with_good(edited(glucose(id="g2"), "status", "<script>alert(1)</script>")),
    "oversized": b'{"resourceType": "Bundle", "x": "' + b"x" * 6_000_000 + b'"}',
}

SEARCHES = [
    "/fhir/Observation?patient=' OR 1=1 --",
    "/fhir/Observation?patient=../../etc/passwd",
    "/fhir/Observation?patient={pid}&code=<script>alert(1)</script>",
    "/fhir/Observation?patient={pid}&code=2339-0 UNION SELECT * FROM users",
    "/fhir/Observation?patient={pid}&date=2024-01-01; DROP TABLE observations",
    "/fhir/Observation?patient={pid}&_count=100000",
    "/fhir/Observation?patient={pid}&_count=-1",
    "/fhir/Observation?patient=" + "p" * 10_000,
    "/patients/{pid}/observations?code=1' OR '1'='1",
    "/patients/{pid}/observations?date=ge2024-01-01%00",
    "/fhir/Observation",  # patient is required
]


def snapshot(world) -> tuple:
    s = world.store
    pids = tuple(s.patient_ids())
    obs = tuple(len(s.observations(p, actor="test")) for p in pids)
    evs = tuple(len(s.events(p, actor="test")) for p in pids)
    vers = tuple(len(s.twin_versions(p, actor="test")) for p in (world.p1, world.p2))
    return pids, obs, evs, vers


@pytest.mark.parametrize("name", list(BODIES))
def test_hostile_bundle_is_refused_and_stores_nothing(world, name):
    before = snapshot(world)
    r = world.post("admin", "/fhir", BODIES[name])
    assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
    doc = r.json()
    assert doc["resourceType"] == "OperationOutcome" and doc["issue"], name
    assert "Traceback" not in r.text and "/etc/passwd:" not in r.text
    assert snapshot(world) == before, name


@pytest.mark.parametrize("url", SEARCHES)
def test_hostile_search_parameters_are_refused(world, url):
    r = world.get("admin", url.format(pid=world.p1))
    assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:300])
    assert r.json()["resourceType"] == "OperationOutcome"


def test_xml_content_type_is_refused_with_415(world):
    r = world.client.post("/fhir", content=BILLION_LAUGHS, headers={
        **world.auth("admin"), "content-type": "application/fhir+xml"})  # fmt: skip
    assert r.status_code == 415 and r.json()["resourceType"] == "OperationOutcome"


def test_a_good_bundle_is_stored_after_the_refusals(world):
    before = snapshot(world)
    r = world.post("admin", "/fhir", tx(glucose(id="fine")))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1 and r.json()["observations"]["added"] == 1
    assert len(snapshot(world)[0]) == len(before[0]) + 1


def test_login_is_rate_limited(world):
    from fastapi.testclient import TestClient

    from medtwin.service import create_app

    app = create_app(world.store, login_limit=3, login_window_s=60)
    with TestClient(app, raise_server_exceptions=False) as c:
        codes = [c.get("/patients", headers={"authorization": f"Bearer wrong{i}"}).status_code
                 for i in range(5)]  # fmt: skip
        ok = c.get("/patients", headers=world.auth("admin")).status_code
    assert codes == [401, 401, 401, 429, 429] and ok == 429  # even a right token waits


def test_errors_never_leak_a_stack_trace(world):
    r = world.client.post(f"/patients/{world.p1}/what-if", headers=world.auth("admin"),
                          content=b'{"horizon": "soon", "options": 5}')  # fmt: skip
    assert r.status_code == 422 and "Traceback" not in r.text


def test_a_synthea_bundle_ingests_through_the_api(world):
    """A Synthea R4 transaction bundle (many resource types) posted as a clinician: the
    patient is created and granted, the glucose observations stored, the rest reported."""
    raw = (
        Path(__file__).parents[1] / "fixtures" / "fhir" / "synthea-Lupe_Little.json"
    ).read_bytes()
    expected = sum(
        1
        for e in json.loads(raw)["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and any(c.get("code") == "2339-0" for c in e["resource"]["code"].get("coding", []))
    )
    r = world.post("alice", "/fhir", raw)
    assert r.status_code == 200, r.text[:500]
    doc = r.json()
    (pid,) = doc["patients"].values()
    assert doc["created"] == 1 and doc["observations"]["added"] >= 1
    assert {s["resourceType"] for s in doc["skipped"]} >= {"Encounter", "Claim"}
    obs = world.get("alice", f"/patients/{pid}/observations?code=2339-0").json()["observations"]
    assert len(obs) == expected == 3
    assert all(o["unit"] == "mg/dL" for o in obs)
    assert world.post("alice", "/fhir", raw).json()["observations"]["added"] == 0  # idempotent
    assert world.get("bob", f"/patients/{pid}").status_code == 404
