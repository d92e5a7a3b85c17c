"""Findings 3 and 7 of issue 14: an existing identifier is never silently merged into or claimed,
and an invalid batch is answered alike whether or not its patient exists.

cli2 registers the hospital's MRN first (squatting); the hospital's ingest -- CLI, admin bundle or
admin POST /patients -- must then neither drop the real demographics nor send the data to the
squatter's record, and must never report "0 new patients" as if nothing happened.
"""

from __future__ import annotations

import base64
import json

import pytest
from typer.testing import CliRunner

from medtwin.cli.main import app

from .conftest import KEY, collection, glucose, patient_resource

ENV = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}
MRN = "MRN-900001"
MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


@pytest.fixture
def cli(world):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [*args, "--db", world.url], env=ENV)


def real(**kw) -> dict:
    """The hospital's record of the patient."""
    return patient_resource(MRN, name="Real", birth="1950-02-03", **kw)


def hospital_bundle(resource: dict | None = None) -> dict:
    return collection(("urn:uuid:real", resource or real()), (None, glucose("urn:uuid:real", "h1")))


def n_obs(world, pid: str) -> int:
    return len(world.store.observations(pid, actor="test"))


def refusals(world) -> list:
    return [e for e in world.store.audit_entries() if e.outcome == "invalid"]


def hospital_ingests(world, cli, tmp_path, how: str, resource: dict | None = None, confirm=False):
    """(refused, message) of the hospital sending its patient (and one reading) by ``how``."""
    if how == "cli":
        path = tmp_path / "real.json"
        path.write_text(json.dumps(hospital_bundle(resource)))
        res = cli("ingest", str(path), *(["--confirm-existing"] if confirm else []))
        return res.exit_code != 0, res.output
    q = "?confirm=existing" if confirm else ""
    if how == "fhir":
        r = world.post("adm", f"/fhir{q}", hospital_bundle(resource))
    else:
        r = world.post("adm", f"/patients{q}", resource or real())
    ok = r.status_code in (200, 201)
    assert ok or r.status_code == 409, r.text
    return not ok, "" if ok else r.json()["issue"][0]["diagnostics"]


# -- squatting ----------------------------------------------------------------------------------

SQUATS = {  # what cli2 registers under the hospital's MRN first
    "identical": {"name": "Real", "birth": "1950-02-03"},
    "identifier only": {"name": None, "birth": None},
    "other name": {"name": "Squatter", "birth": "1950-02-03"},
    "other birth date": {"name": "Real", "birth": "1999-09-09"},
    "other gender": {"name": "Real", "birth": "1950-02-03", "gender": "male"},
}
WHY = {"identical": [], "identifier only": ["name", "birth_date"], "other name": ["name"],
       "other birth date": ["birth_date"], "other gender": ["gender"]}  # fmt: skip


@pytest.mark.parametrize("how", ["cli", "fhir", "patients"])
@pytest.mark.parametrize("squat", SQUATS)
def test_squatted_mrn_does_not_capture_the_hospitals_patient(world, cli, tmp_path, squat, how):
    squatter = world.new_patient("cli2", MRN, **SQUATS[squat])
    before = world.store.patient(squatter, actor="t")
    refused, msg = hospital_ingests(world, cli, tmp_path, how)
    assert refused, msg
    assert world.store.patient_ids() == [squatter] and n_obs(world, squatter) == 0
    assert world.store.patient(squatter, actor="t") == before
    for field in WHY[squat]:
        assert field in msg
    if not WHY[squat]:
        assert "registered by another user" in msg and "confirm" in msg
    for secret in ("Squatter", "1999-09-09", "male", "Real", "1950"):
        assert secret not in msg  # fields are named, never their values
    last = refusals(world)[-1]
    assert last.patient == squatter and last.detail["reason"] in ("identity-conflict", "claimed")
    assert "Real" not in json.dumps(last.detail)


@pytest.mark.parametrize("how", ["cli", "fhir", "patients"])
@pytest.mark.parametrize("route", ["fhir collection", "fhir transaction"])
def test_squat_by_bundle_does_not_capture_either(world, cli, tmp_path, route, how):
    bundle = collection(("urn:uuid:s", real()))
    if route == "fhir transaction":
        bundle["type"] = "transaction"
        bundle["entry"][0]["request"] = {"method": "POST", "url": "Patient"}
    r = world.post("cli2", "/fhir", bundle)
    assert r.status_code == 200, r.text
    squatter = r.json()["patients"][f"urn:hosp:mrn|{MRN}"]
    refused, msg = hospital_ingests(world, cli, tmp_path, how)
    assert refused and "registered by another user" in msg
    assert n_obs(world, squatter) == 0 and world.store.patient_ids() == [squatter]


@pytest.mark.parametrize("route", ["fhir", "patients"])
def test_only_an_admin_may_confirm_a_merge(world, route):
    squatter = world.new_patient("cli2", MRN, name="Real", birth="1950-02-03")
    body = hospital_bundle() if route == "fhir" else real()
    for who in ("cli1", "cli2", "res"):
        r = world.post(who, f"/{route}?confirm=existing", body)
        assert r.status_code == 403, r.text
    assert n_obs(world, squatter) == 0 and world.store.granted("cli1") == set()


@pytest.mark.parametrize("how", ["cli", "fhir"])
def test_a_confirmed_merge_is_reported_not_silent(world, cli, tmp_path, how):
    squatter = world.new_patient("cli2", MRN, name="Real", birth="1950-02-03")
    refused, out = hospital_ingests(world, cli, tmp_path, how, confirm=True)
    assert not refused, out
    assert n_obs(world, squatter) == 1 and world.store.patient_ids() == [squatter]
    if how == "cli":
        assert "Stored 0 new patient(s) (1 matched a stored patient)" in out
        assert f"{squatter}  <- urn:hosp:mrn|{MRN}  (already stored)" in out


# per identifying field: (what is stored, what the hospital sends); MRN via an MR identifier
FIELDS = {
    "name": ({"name": "Ann"}, {"name": "Anne"}),
    "birth_date": ({"birth": "1950-02-03"}, {"birth": "1950-02-04"}),
    "gender": ({"gender": "female"}, {"gender": "unknown"}),
    "mrn": ({"identifier": [{"system": "urn:hosp:id", "value": "X1"},
                            {"type": MR, "system": "urn:hosp:mrn", "value": "M1"}]},
            {"identifier": [{"system": "urn:hosp:id", "value": "X1"},
                            {"type": MR, "system": "urn:hosp:mrn", "value": "M2"}]}),
    "name (stored empty)": ({"name": None}, {"name": "Ann"}),
    "birth_date (stored empty)": ({"birth": None}, {"birth": "1950-02-03"}),
    "mrn (stored empty)": ({"identifier": [{"system": "urn:hosp:id", "value": "X1"}]},
                           {"identifier": [{"system": "urn:hosp:id", "value": "X1"},
                                           {"type": MR, "system": "urn:hosp:mrn",
                                            "value": "M1"}]}),
}  # fmt: skip


@pytest.mark.parametrize("how", ["cli", "fhir", "patients"])
@pytest.mark.parametrize("field", FIELDS)
def test_other_demographics_are_refused_even_when_confirmed(world, cli, tmp_path, field, how):
    stored, sent = FIELDS[field]
    pid = world.new_patient("adm", MRN, **stored)
    before = world.store.patient(pid, actor="t")
    refused, msg = hospital_ingests(world, cli, tmp_path, how, patient_resource(MRN, **sent),
                                    confirm=True)  # fmt: skip
    assert refused, msg
    assert field.split()[0] in msg and "differ" in msg
    for value in ("Anne", "1950-02-04", "unknown", "female", "M2", "M1"):
        assert value not in msg
    assert world.store.patient(pid, actor="t") == before and n_obs(world, pid) == 0
    assert refusals(world)[-1].detail == {"reason": "identity-conflict",
                                          "fields": [field.split()[0]]}  # fmt: skip


def test_an_ungranted_clinician_gets_the_same_404_whatever_it_guesses(world):
    pid = world.new_patient("cli1", MRN, name="Real", birth="1950-02-03")
    right = world.post("cli2", "/patients", real())
    wrong = world.post("cli2", "/patients", patient_resource(MRN, name="Guess"))
    assert right.status_code == wrong.status_code == 404
    assert right.json() == wrong.json()
    assert world.store.granted("cli2") == set() and world.store.patient_ids() == [pid]


# -- what must keep working: the same patient sent again by someone who may ------------------


@pytest.mark.parametrize("who", ["creator", "granted", "admin-created"])
def test_the_same_patient_sent_again_is_the_same_patient(world, who):
    creator = {"creator": "cli1", "granted": "cli1", "admin-created": "adm"}[who]
    pid = world.new_patient(creator, MRN, name="Real", birth="1950-02-03")
    sender = {"creator": "cli1", "granted": "cli2", "admin-created": "adm"}[who]
    if who == "granted":
        world.store.grant("cli2", pid)
    r = world.post(sender, "/patients", real())
    assert (r.status_code, r.json()) == (200, {"id": pid})
    r = world.post(sender, "/fhir", hospital_bundle())
    assert r.status_code == 200 and r.json()["created"] == 0 and n_obs(world, pid) == 1


def test_hospital_resend_of_its_own_patient_is_idempotent_on_the_cli(world, cli, tmp_path):
    refused, out = hospital_ingests(world, cli, tmp_path, "cli")
    assert not refused and "Stored 1 new patient(s) (0 matched" in out
    refused, out = hospital_ingests(
        world, cli, tmp_path, "cli", patient_resource(MRN, name=None, birth=None)
    )
    assert not refused and "Stored 0 new patient(s) (1 matched" in out
    assert "(already stored)" in out and len(world.store.patient_ids()) == 1


# -- finding 7: an invalid batch is answered alike whether or not its MRN exists --------------


def _insulin(subject: str, amount: float) -> dict:
    return {
        "resourceType": "MedicationAdministration", "status": "completed",
        "identifier": [{"system": "urn:test:dose", "value": "d1"}],
        "medicationCodeableConcept": {"text": "insulin lispro"},
        "subject": {"reference": subject}, "effectiveDateTime": "2026-01-01T00:20:00Z",
        "dosage": {"dose": {"value": amount, "unit": "U", "system": "http://unitsofmeasure.org",
                            "code": "U"}},
    }  # fmt: skip


def invalid_bundle(kind: str, mrn: str) -> dict:
    p = ("urn:uuid:p", patient_resource(mrn))
    if kind == "conflicting observations":
        return collection(
            p, (None, glucose("urn:uuid:p", "g", 100.0)), (None, glucose("urn:uuid:p", "g", 300.0))
        )
    if kind == "conflicting events":
        return collection(
            p, (None, _insulin("urn:uuid:p", 1.0)), (None, _insulin("urn:uuid:p", 9.0))
        )
    if kind == "conflict across reference forms":
        p = ("urn:uuid:p", patient_resource(mrn, id="loc1"))
        return collection(
            p,
            (None, glucose("urn:uuid:p", "g", 100.0)),
            (None, glucose("Patient/loc1", "g", 300.0)),
        )
    if kind == "patient twice with other name":
        return collection(p, ("urn:uuid:q", patient_resource(mrn, name="Other")))
    if kind == "patient twice with other birth date":
        return collection(p, ("urn:uuid:q", patient_resource(mrn, birth="2001-01-01")))
    assert kind == "patient beside a pseudonym-named patient"
    return collection(p, ("p-0123456789abcdef", {"resourceType": "Patient"}))  # fmt: skip


INVALID = ["conflicting observations", "conflicting events", "conflict across reference forms",
           "patient twice with other name", "patient twice with other birth date",
           "patient beside a pseudonym-named patient"]  # fmt: skip


@pytest.mark.parametrize("creator", ["adm", "cli1"])
@pytest.mark.parametrize("kind", INVALID)
def test_invalid_batch_does_not_reveal_whether_the_mrn_exists(world, kind, creator):
    absent = world.post("cli2", "/fhir", invalid_bundle(kind, MRN))
    audited = len(refusals(world))
    pid = world.new_patient(creator, MRN)
    present = world.post("cli2", "/fhir", invalid_bundle(kind, MRN))
    assert absent.status_code == present.status_code and absent.status_code in (409, 422)
    assert absent.json() == present.json()
    assert audited == 1 and len(refusals(world)) == 2  # each refusal is audited
    assert world.store.patient_ids() == [pid] and n_obs(world, pid) == 0
    assert world.store.granted("cli2") == set()


def test_reported_squat_fails_on_sqlite_and_postgresql(world_any):
    """Finding 3 as filed, on both databases: the hospital's bundle is refused, not merged."""
    squatter = world_any.new_patient("cli2", MRN)
    r = world_any.post("adm", "/fhir", hospital_bundle())
    assert r.status_code == 409 and "name, birth_date differ" in r.text
    assert world_any.store.patient_ids() == [squatter] and n_obs(world_any, squatter) == 0
    assert world_any.get("cli2", f"/patients/{squatter}").json()["name"] == "Jo Doe"
