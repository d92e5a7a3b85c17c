"""Route x role x patient: every route that touches patient data, called by every kind of
caller for a granted patient, another clinician's patient and a patient that does not exist.
Nobody gets beyond their grants, and a refused patient looks exactly like a missing one.
The cardiac twin's routes (issue 18) on a cardiac patient of each clinician's."""

from __future__ import annotations

import base64
import functools
import itertools

import pytest

from _cardiac_case import PACE, cardiac_case

from .conftest import glucose, patient_resource

GHOST = "p-0123456789abcdef"  # well-formed, never stored
_seq = itertools.count()


def insulin(pid: str, ident: str) -> dict:
    return {
        "resourceType": "MedicationAdministration", "status": "completed",
        "identifier": [{"system": "urn:test:dose", "value": ident}],
        "medicationCodeableConcept": {"text": "insulin lispro"},
        "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-01-01T00:20:00Z",
        "dosage": {"dose": {"value": 1.0, "unit": "U", "system": "http://unitsofmeasure.org",
                            "code": "U"}},
    }  # fmt: skip


# (method, path, body(pid) or None)
PATIENT_ROUTES = [
    ("GET", "/patients/{pid}", None),
    ("GET", "/patients/{pid}/observations", None),
    ("GET", "/patients/{pid}/observations?code=99504-3&date=ge2026-01-01", None),
    ("POST", "/patients/{pid}/observations",
     lambda pid: glucose(pid, 10, 150.0, f"m-{next(_seq)}")),
    ("GET", "/patients/{pid}/regimen", None),
    ("POST", "/patients/{pid}/regimen", lambda pid: insulin(pid, f"d-{next(_seq)}")),
    ("GET", "/patients/{pid}/twin", None),
    ("GET", "/patients/{pid}/twin/versions", None),
    ("GET", "/patients/{pid}/twin/versions/0/provenance", None),
    ("GET", "/patients/{pid}/forecasts", None),
    ("GET", "/patients/{pid}/forecasts/fhir", None),
    ("POST", "/patients/{pid}/what-if",
     lambda pid: {"horizon": 60, "options": {"none": [], "bolus": [
         {"after": 0, "kind": "bolus", "amount": 1.0}]}}),
    ("GET", "/patients/{pid}/skill", None),
    ("GET", "/fhir/Observation?patient={pid}", None),
    ("GET", "/fhir/Observation?patient=Patient/{pid}&code=99504-3", None),
]  # fmt: skip

OWNER = {"alice": "p1", "bob": "p2"}


def expected(who: str, target: str) -> int | None:
    """The status class a caller must get: 2 (success), or the exact refusal."""
    if who in ("anonymous", "forged"):
        return 401
    if who == "rita":
        return 403  # researchers see de-identified exports only
    if target == "ghost":
        return 404
    if who == "admin" or OWNER[who] == target:
        return 2
    return 404  # another clinician's patient: indistinguishable from a missing one


def call(world, who, method, path, body):
    if method == "GET":
        return world.get(who, path)
    return world.post(who, path, body)


@pytest.mark.parametrize("route", PATIENT_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_route_role_patient_matrix(world, route):
    method, template, make = route
    for who in ("admin", "alice", "bob", "rita", "anonymous", "forged"):
        for target in ("p1", "p2", "ghost"):
            pid = {"p1": world.p1, "p2": world.p2, "ghost": GHOST}[target]
            body = make(pid) if make else None
            r = call(world, who, method, template.format(pid=pid), body)
            want = expected(who, target)
            got = r.status_code // 100 if want == 2 else r.status_code
            assert got == want, (who, target, method, template, r.status_code, r.text[:300])
            if want != 2:
                assert r.json()["resourceType"] == "OperationOutcome"
                assert "Traceback" not in r.text and 'File "' not in r.text


def test_a_refused_patient_looks_like_a_missing_one(world):
    for method, template, make in PATIENT_ROUTES:
        answers = []
        for pid in (world.p2, GHOST):
            r = call(world, "alice", method, template.format(pid=pid), make(pid) if make else None)
            answers.append((r.status_code, r.json()))
        assert answers[0] == answers[1], template


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/patients", {"admin", "alice", "bob"}),
        ("GET", "/audit", {"admin"}),
        ("GET", "/audit?format=fhir", {"admin"}),
        ("GET", "/audit/verify", {"admin"}),
        ("GET", "/research/export", {"admin", "rita"}),
    ],
)
def test_non_patient_routes(world, method, path, allowed):
    for who in ("admin", "alice", "bob", "rita", "anonymous", "forged"):
        r = world.get(who, path)
        want = 200 if who in allowed else (401 if who in ("anonymous", "forged") else 403)
        assert r.status_code == want, (who, path, r.text[:200])


def test_patient_list_holds_only_granted_patients(world, cardiac):
    assert sorted(world.get("alice", "/patients").json()["patients"]) == sorted(
        [world.p1, cardiac["p1"]])  # fmt: skip
    assert sorted(world.get("bob", "/patients").json()["patients"]) == sorted(
        [world.p2, cardiac["p2"]])  # fmt: skip
    assert set(world.get("admin", "/patients").json()["patients"]) >= {
        world.p1, world.p2, *cardiac.values()}  # fmt: skip


def test_export_is_deidentified(world):
    text = world.get("rita", "/research/export").text
    for secret in ("MRN-1", "MRN-2", "Doe", "1970-05-04", world.p1, world.p2):
        assert secret not in text


def test_admin_only_writes(world):
    for who in ("alice", "rita"):
        assert world.post(who, "/users", {"name": "eve", "role": "admin"}).status_code == 403
        assert world.post(who, "/grants", {"user": who, "patient": world.p2}).status_code == 403
    r = world.post("admin", "/users", {"name": "carol", "role": "clinician"})
    assert r.status_code == 201
    world.tokens["carol"] = r.json()["token"]
    assert world.get("carol", f"/patients/{world.p1}").status_code == 404
    assert world.post("admin", "/grants", {"user": "carol", "patient": world.p1}).status_code == 201
    assert world.get("carol", f"/patients/{world.p1}").status_code == 200


def test_every_patient_access_is_audited(world):
    before = len(world.store.audit_entries())
    world.get("alice", f"/patients/{world.p1}/observations")
    world.get("alice", f"/patients/{world.p2}/observations")  # refused: audited as denied
    new = world.store.audit_entries()[before:]
    assert any(e.actor == "alice" and e.patient == world.p1 for e in new)
    assert any(e.actor == "alice" and e.outcome == "denied" for e in new)
    assert world.store.verify_audit().ok


# ---- the cardiac twin's routes ----------------------------------------------------------------

case = functools.cache(cardiac_case)  # built on first use, not at collection


def lat() -> bytes:
    return case().csv(0, 6)


QUICK = {"draws": 1, "sites": 1, "s1_beats": 1, "couplings": [[300]],
         "vt_cycle_length": [100, 400], "vt_sustained_ms": 400}  # fmt: skip


def upload() -> dict:
    return {"epoch": "2026-03-02T08:00:00+00:00", "pace": list(PACE), "bz": [0.3, 0.7],
            "lge": base64.b64encode(case().lge).decode(),
            "segmentation": base64.b64encode(case().segmentation).decode()}  # fmt: skip


@pytest.fixture(scope="module")
def cardiac(world):
    """A cardiac patient of alice's ("p1") and one of bob's ("p2"), each with its twin made by
    the upload route, one LAT batch (version 1) and a stored P(inducible) (written to the store
    directly: the matrix reads it, nothing here computes one)."""
    out = {}
    for who, key, mrn in (("alice", "p1", "MRN-C1"), ("bob", "p2", "MRN-C2")):
        pid = world.post(who, "/patients", patient_resource(mrn)).json()["id"]
        r = world.post(who, f"/patients/{pid}/twin/cardiac", upload())
        assert r.status_code == 201, r.text[:300]
        r = world.post(who, f"/patients/{pid}/twin/cardiac/lat?time=2026-03-02T09:00:00Z", lat())
        assert r.status_code == 200 and r.json()["twin_versions"], r.text[:300]
        world.store.add_recommendation(pid, {"kind": "cardiac-inducibility", "version": 1,
                                             "probability": 0.0}, actor=who)  # fmt: skip
        out[key] = pid
    return out


# (method, path, body(pid) or None, what a caller who may see the patient gets: 2 (success)
# or the route's own answer, reached only past the access check)
CARDIAC_ROUTES = [
    ("POST", "/patients/{pid}/twin/cardiac", lambda pid: upload(), 409),  # one twin a patient
    ("POST", "/patients/{pid}/twin/cardiac/lat?time=2026-03-02T09:00:00Z",
     lambda pid: lat(), 2),  # the fixture's batch again: duplicates, no new version
    ("POST", "/patients/{pid}/twin/inducibility",
     lambda pid: {**QUICK, "sites": 5}, 422),  # read the twin, refused before computing
    ("GET", "/patients/{pid}/twin/inducibility", None, 2),
    ("GET", "/patients/{pid}/twin/activation-map", None, 2),
]  # fmt: skip


ROUTE_ANSWER = {409: "already has a twin", 422: "sites: 1 to 4 stimulation sites"}


@pytest.mark.parametrize("route", CARDIAC_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_cardiac_route_role_patient_matrix(world, cardiac, route):
    method, template, make, allowed = route
    for who in ("admin", "alice", "bob", "rita", "anonymous", "forged"):
        for target in ("p1", "p2", "ghost"):
            pid = cardiac.get(target, GHOST)
            r = call(world, who, method, template.format(pid=pid), make(pid) if make else None)
            want = expected(who, target)
            want = allowed if want == 2 else want
            got = r.status_code // 100 if want == 2 else r.status_code
            assert got == want, (who, target, method, template, r.status_code, r.text[:300])
            if r.status_code >= 400:
                assert r.json()["resourceType"] == "OperationOutcome"
                assert "Traceback" not in r.text and 'File "' not in r.text
            if want == 404:
                assert "No patient with this id that you may access" in r.text
            if want == allowed and allowed != 2:  # the route's own answer, not a refusal
                assert ROUTE_ANSWER[allowed] in r.text, (who, target, template, r.text[:300])


def test_a_refused_cardiac_patient_looks_like_a_missing_one(world, cardiac):
    for method, template, make, _ in CARDIAC_ROUTES:
        answers = []
        for pid in (cardiac["p2"], GHOST):
            r = call(world, "alice", method, template.format(pid=pid), make(pid) if make else None)
            answers.append((r.status_code, r.json()))
        assert answers[0] == answers[1], template


def test_a_refused_inducibility_request_computes_and_stores_nothing(world, cardiac):
    """A request the route would run (P(inducible) over one draw) from callers who may not see
    the patient: refused before any work, nothing stored, the refusal audited."""
    pid = cardiac["p2"]
    before = len(world.store.recommendations(pid, actor="test"))
    audit = len(world.store.audit_entries())
    for who, want in (("alice", 404), ("rita", 403), ("anonymous", 401), ("forged", 401)):
        r = world.post(who, f"/patients/{pid}/twin/inducibility", QUICK)
        assert r.status_code == want, (who, r.text[:300])
    assert len(world.store.recommendations(pid, actor="test")) == before
    new = world.store.audit_entries()[audit:]
    assert {(e.actor, e.outcome) for e in new if e.actor == "alice"} == {("alice", "denied")}
    assert not any(e.action == "recommendation.create" for e in new)
