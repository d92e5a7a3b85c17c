"""Route x role x patient: every route that touches patient data, called by every kind of
caller for a granted patient, another clinician's patient and a patient that does not exist.
Nobody gets beyond their grants, and a refused patient looks exactly like a missing one."""

from __future__ import annotations

import itertools

import pytest

from .conftest import glucose

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


def test_patient_list_holds_only_granted_patients(world):
    assert world.get("alice", "/patients").json()["patients"] == [world.p1]
    assert world.get("bob", "/patients").json()["patients"] == [world.p2]
    assert set(world.get("admin", "/patients").json()["patients"]) >= {world.p1, world.p2}


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
