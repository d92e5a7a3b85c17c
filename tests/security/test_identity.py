"""Finding 1 and 2 of issue 14: nobody can pose as another patient's pseudonym.

Pseudonyms (``p-`` + 16 hex) are a reserved namespace: a Patient named in that form (fullUrl, id,
identifier) is refused, and a reference in that form (``p-…``, ``Patient/p-…``, a URL ending in
``/Patient/p-…``) only ever names the stored patient with that pseudonym -- on every route and
CLI command, even if a decoy was stored under such a source id before this fix.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from medtwin.cli.main import app

from .conftest import KEY, collection, glucose, patient_resource

ENV = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}


@pytest.fixture
def cli(world):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [*args, "--db", world.url], env=ENV)


@pytest.fixture
def victim(world) -> str:
    """A patient the hospital (admin) registered; cli1 has no grant."""
    return world.new_patient("adm", "MRN-VICTIM", name="Victim")


def n_obs(world, pid: str) -> int:
    return len(world.store.observations(pid, actor="test"))


def forms(pid: str) -> dict[str, str]:
    """The ways a reference can name ``pid``."""
    return {
        "bare": pid,
        "relative": f"Patient/{pid}",
        "absolute": f"https://evil.example/fhir/Patient/{pid}",
        "history": f"Patient/{pid}/_history/1",
        "upper": pid.upper(),
        "upper-hex": "p-" + pid[2:].upper(),
        "relative-upper": f"Patient/{pid.upper()}",
    }


def admin_posts_to_victim(world, victim: str) -> None:
    """The admin's next write for the victim lands on the victim, not on a decoy."""
    r = world.post("adm", f"/patients/{victim}/observations",
                   glucose(f"Patient/{victim}", "after-decoy", 151.0))  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["patients"] == {} and n_obs(world, victim) == 1
    assert world.get("cli1", f"/patients/{victim}/observations").status_code == 404


# -- a decoy named like the victim's pseudonym is refused -----------------------------------

# (fullUrl, extra Patient fields) of the decoy entry; {v} is the victim's pseudonym
BUNDLE_DECOYS = {
    "fullUrl bare": ("{v}", {}),
    "fullUrl relative": ("Patient/{v}", {}),
    "fullUrl absolute": ("https://evil.example/fhir/Patient/{v}", {}),
    "fullUrl http history": ("http://evil.example/Patient/{v}/_history/2", {}),
    "fullUrl uppercase": ("{V}", {}),
    "fullUrl uppercase hex": ("p-{H}", {}),
    "id": ("urn:uuid:6f1d2a7e-0000-4000-8000-000000000001", {"id": "{v}"}),
    "id uppercase hex": (None, {"id": "p-{H}"}),
    "id without fullUrl": (None, {"id": "{v}"}),
    "id beside a real identifier": (
        None, {"id": "{v}", "identifier": [{"system": "urn:hosp:mrn", "value": "MRN-7"}]}),
    "fullUrl beside a real identifier": (
        "Patient/{v}", {"identifier": [{"system": "urn:hosp:mrn", "value": "MRN-7"}]}),
    "identifier without system": (None, {"identifier": [{"value": "{v}"}]}),
    "identifier with system": (None, {"identifier": [{"system": "urn:x", "value": "{v}"}]}),
    "identifier relative": (None, {"identifier": [{"system": "urn:x", "value": "Patient/{v}"}]}),
}  # fmt: skip


def _fill(node, victim: str):
    if isinstance(node, str):
        return node.format(v=victim, V=victim.upper(), H=victim[2:].upper())
    if isinstance(node, dict):
        return {k: _fill(x, victim) for k, x in node.items()}
    if isinstance(node, list | tuple):
        return type(node)(_fill(x, victim) for x in node)
    return node


def decoy_bundle(victim: str, case: str, kind: str = "collection", with_data: bool = False):
    url, extra = _fill(BUNDLE_DECOYS[case], victim)
    entry: dict = {"resource": {"resourceType": "Patient", **extra}}
    if url is not None:
        entry["fullUrl"] = url
    entries = [entry]
    if with_data:  # data in the same bundle, addressed to the victim's pseudonym
        entries.append({"resource": glucose(f"Patient/{victim}", "planted", 42.0)})
    if kind == "transaction":
        for e in entries:
            e["request"] = {"method": "POST", "url": e["resource"]["resourceType"]}
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


@pytest.mark.parametrize("case", BUNDLE_DECOYS)
def test_decoy_named_as_a_pseudonym_is_refused_on_fhir(world, victim, case):
    before = world.store.patient_ids()
    r = world.post("cli1", "/fhir", decoy_bundle(victim, case))
    assert r.status_code == 422, r.text
    assert "pseudonym" in r.json()["issue"][0]["diagnostics"]
    assert world.store.patient_ids() == before and world.get("cli1", "/patients").json() == {
        "patients": []
    }
    admin_posts_to_victim(world, victim)


@pytest.mark.parametrize("who", ["cli1", "adm"])
@pytest.mark.parametrize("case", ["fullUrl bare", "id", "fullUrl absolute", "identifier relative"])
def test_decoy_in_a_transaction_with_planted_data_is_refused(world, victim, case, who):
    r = world.post(who, "/fhir", decoy_bundle(victim, case, "transaction", with_data=True))
    assert r.status_code == 422, r.text
    assert n_obs(world, victim) == 0 and len(world.store.patient_ids()) == 1


POST_DECOYS = {
    "id": {"id": "{v}"},
    "id uppercase": {"id": "{V}"},
    "id beside a real identifier": {
        "id": "{v}", "identifier": [{"system": "urn:hosp:mrn", "value": "MRN-8"}]},
    "identifier without system": {"identifier": [{"value": "{v}"}]},
    "identifier with system": {"identifier": [{"system": "urn:hosp:mrn", "value": "{v}"}]},
    "identifier absolute": {
        "identifier": [{"system": "urn:x", "value": "https://h.example/Patient/{v}"}]},
    "identifier uppercase hex": {"identifier": [{"system": "urn:x", "value": "p-{H}"}]},
}  # fmt: skip


@pytest.mark.parametrize("who", ["cli1", "adm"])
@pytest.mark.parametrize("case", POST_DECOYS)
def test_decoy_named_as_a_pseudonym_is_refused_on_post_patients(world, victim, case, who):
    r = world.post(
        who, "/patients", {"resourceType": "Patient", **_fill(POST_DECOYS[case], victim)}
    )
    assert r.status_code == 422, r.text
    assert "pseudonym" in r.json()["issue"][0]["diagnostics"]
    assert world.store.patient_ids() == [victim]
    admin_posts_to_victim(world, victim)


@pytest.mark.parametrize(
    "case", ["fullUrl bare", "fullUrl absolute", "id", "identifier with system"]
)
def test_cli_ingest_refuses_a_decoy_named_as_a_pseudonym(world, victim, cli, tmp_path, case):
    path = tmp_path / "decoy.json"
    path.write_text(json.dumps(decoy_bundle(victim, case, with_data=True)))
    res = cli("ingest", str(path))
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "pseudonym" in lines[0]
    assert world.store.patient_ids() == [victim] and n_obs(world, victim) == 0


def test_refused_decoy_is_audited(world, victim):
    world.post("cli1", "/fhir", decoy_bundle(victim, "fullUrl bare"))
    last = [e for e in world.store.audit_entries() if e.actor == "cli1"][-1]
    assert (last.action, last.outcome) == ("ingest", "invalid")
    assert last.detail == {"reason": "pseudonym-namespace"}


# -- a decoy stored before the fix (source id in the namespace) is never matched -------------

LEGACY = ["bare", "relative", "absolute", "upper"]


def legacy_decoy(world, source: str, owner: str = "cli1") -> str:
    """A patient stored under ``source`` as the old code allowed, granted to ``owner``."""
    from medtwin.store._schema import PatientRow

    pid = "p-" + secrets.token_hex(8)
    with world.store._tx() as s:
        s.add(PatientRow(pid=pid, source_key=world.store._cipher.lookup(source),
                         created_at=datetime.now(UTC), created_by=owner))  # fmt: skip
    world.store.grant(owner, pid)
    return pid


def _insulin(subject: str) -> dict:
    return {
        "resourceType": "MedicationAdministration", "status": "completed",
        "identifier": [{"system": "urn:test:dose", "value": "d1"}],
        "medicationCodeableConcept": {"text": "insulin lispro"},
        "subject": {"reference": subject}, "effectiveDateTime": "2026-01-01T00:20:00Z",
        "dosage": {"dose": {"value": 1.0, "unit": "U", "system": "http://unitsofmeasure.org",
                            "code": "U"}},
    }  # fmt: skip


# route -> (the source id the old code matched first for this write, url, body); {v}: victim
API_WRITES = {
    "observation route": ("{v}", "/patients/{v}/observations",
                          lambda v: glucose(f"Patient/{v}", "o")),
    "regimen route": ("{v}", "/patients/{v}/regimen", lambda v: _insulin(f"Patient/{v}")),
    "fhir relative": ("Patient/{v}", "/fhir",
                      lambda v: collection((None, glucose(f"Patient/{v}", "o")))),
    "fhir absolute": ("https://hosp.example/fhir/Patient/{v}", "/fhir", lambda v: collection(
        (None, glucose(f"https://hosp.example/fhir/Patient/{v}", "o")))),
    "fhir history": ("Patient/{v}/_history/3", "/fhir",
                     lambda v: collection((None, glucose(f"Patient/{v}/_history/3", "o")))),
    "fhir regimen": ("Patient/{v}", "/fhir",
                     lambda v: collection((None, _insulin(f"Patient/{v}")))),
}  # fmt: skip


@pytest.mark.parametrize("route", API_WRITES)
def test_legacy_decoy_does_not_capture_the_admins_writes(world, victim, route):
    source, url, body = API_WRITES[route]
    decoy = legacy_decoy(world, source.format(v=victim))
    r = world.post("adm", url.format(v=victim), body(victim))
    assert r.status_code == 200, r.text
    stored = n_obs(world, victim) + len(world.store.events(victim, actor="t"))
    assert stored == 1
    assert n_obs(world, decoy) == 0 and world.store.events(decoy, actor="t") == []
    assert world.get("cli1", f"/patients/{victim}/observations").status_code == 404
    assert world.get("cli1", f"/patients/{decoy}/observations").json()["observations"] == []


@pytest.mark.parametrize("form", [*LEGACY, "history", "relative-upper"])
def test_legacy_decoy_does_not_capture_cli_grant(world, victim, cli, form):
    decoy = legacy_decoy(world, forms(victim)[form], owner="cli1")
    res = cli("users", "grant", "cli2", forms(victim)[form])
    assert res.exit_code == 0, res.output
    assert victim in res.stdout and decoy not in res.stdout
    assert world.store.granted("cli2") == {victim}
    assert world.get("cli2", f"/patients/{victim}").status_code == 200


@pytest.mark.parametrize("form", [*LEGACY, "history", "upper-hex"])
def test_legacy_decoy_does_not_defeat_cli_revoke(world, victim, cli, form):
    legacy_decoy(world, forms(victim)[form], owner="cli1")
    world.store.grant("cli1", victim)
    assert world.get("cli1", f"/patients/{victim}").status_code == 200
    res = cli("users", "revoke", "cli1", forms(victim)[form])
    assert res.exit_code == 0, res.output
    assert victim not in world.store.granted("cli1")
    assert world.get("cli1", f"/patients/{victim}").status_code == 404
    assert world.get("cli1", f"/patients/{victim}/observations").status_code == 404


@pytest.mark.parametrize("form", LEGACY)
def test_legacy_decoy_does_not_divert_audit_export(world, victim, cli, tmp_path, form):
    decoy = legacy_decoy(world, forms(victim)[form])
    world.get("adm", f"/patients/{victim}")
    world.get("cli1", f"/patients/{decoy}")
    out = tmp_path / "audit.json"
    res = cli("audit", "export", "--out", str(out), "--patient", forms(victim)[form])
    assert res.exit_code == 0, res.output
    whats = {e["what"]["reference"] for entry in json.loads(out.read_text())["entry"]
             for e in entry["resource"].get("entity", ()) if "what" in e and
             e["what"].get("reference", "").startswith("Patient/")}  # fmt: skip
    assert whats == {f"Patient/{victim}"}


@pytest.mark.parametrize("form", LEGACY)
def test_legacy_decoy_does_not_divert_recommend(world, victim, cli, form):
    decoy = legacy_decoy(world, forms(victim)[form])
    res = cli("recommend", forms(victim)[form])
    assert res.exit_code == 2  # the victim has no twin: the error is about the victim
    assert victim in res.output and decoy not in res.output


@pytest.mark.parametrize("command", ["grant", "revoke", "export", "recommend"])
def test_cli_refuses_a_pseudonym_that_is_not_stored(world, cli, tmp_path, command):
    ghost = "p-" + secrets.token_hex(8)
    legacy_decoy(world, ghost)  # a decoy under the ghost's name still does not answer for it
    args = {"grant": ("users", "grant", "cli2", ghost),
            "revoke": ("users", "revoke", "cli1", ghost),
            "export": ("audit", "export", "--out", str(tmp_path / "a.json"), "--patient", ghost),
            "recommend": ("recommend", ghost)}[command]  # fmt: skip
    res = cli(*args)
    assert res.exit_code == 2 and "No patient" in res.output
    assert world.store.granted("cli2") == set() and not (tmp_path / "a.json").exists()


# -- finding 2 as reported: revocation after a decoy attempt ----------------------------------


@pytest.mark.parametrize("form", ["bare", "relative", "absolute", "upper"])
def test_revoke_after_decoy_attempt_removes_access_to_the_real_patient(world, victim, cli, form):
    assert world.post("cli1", "/fhir", decoy_bundle(victim, "fullUrl bare")).status_code == 422
    assert cli("users", "grant", "cli1", forms(victim)[form]).exit_code == 0
    assert world.get("cli1", f"/patients/{victim}").status_code == 200
    res = cli("users", "revoke", "cli1", forms(victim)[form])
    assert res.exit_code == 0 and victim in res.stdout
    for path in ("", "/observations", "/regimen", "/forecasts"):
        assert world.get("cli1", f"/patients/{victim}{path}").status_code == 404
    assert world.get("cli1", "/patients").json() == {"patients": []}


# -- a clinician cannot reach the victim through another spelling of its pseudonym ----------


@pytest.mark.parametrize("form", ["bare", "relative", "absolute", "history", "upper"])
def test_own_patient_route_refuses_a_subject_naming_the_victim(world, victim, form):
    own = world.new_patient("cli1", "MRN-OWN")
    r = world.post("cli1", f"/patients/{own}/observations", glucose(forms(victim)[form], "x"))
    assert r.status_code in (400, 422), r.text
    assert n_obs(world, victim) == 0 and n_obs(world, own) == 0


@pytest.mark.parametrize("form", ["relative", "absolute", "history", "relative-upper"])
def test_fhir_data_for_the_victim_is_refused_to_an_ungranted_clinician(world, victim, form):
    r = world.post("cli1", "/fhir", collection((None, glucose(forms(victim)[form], "x"))))
    assert r.status_code == 404, r.text
    assert n_obs(world, victim) == 0


@pytest.mark.parametrize("form", ["relative", "absolute", "history", "relative-upper"])
def test_own_patient_addressed_by_another_spelling_still_works(world, form):
    own = world.new_patient("cli1", "MRN-OWN")
    r = world.post("cli1", "/fhir", collection((None, glucose(forms(own)[form], "x"))))
    assert r.status_code == 200, r.text
    assert n_obs(world, own) == 1


def test_bundle_reference_named_like_a_pseudonym_cannot_redirect_data(world, victim):
    """A Patient of the bundle named p-… would have caught data for the victim: refused, and
    the data for Patient/<victim> never reach a batch patient."""
    own = patient_resource("MRN-OWN2")
    bundle = collection((f"Patient/{victim}", own), (None, glucose(f"Patient/{victim}", "x")))
    assert world.post("cli1", "/fhir", bundle).status_code == 422
    assert world.post("adm", "/fhir", bundle).status_code == 422
    assert n_obs(world, victim) == 0 and world.store.patient_ids() == [victim]


def test_reported_hijack_fails_on_sqlite_and_postgresql(world_any):
    """The reproduction of finding 1 as filed, on both databases."""
    victim = world_any.new_patient("adm", "MRN-VICTIM")
    r = world_any.post("cli1", "/fhir", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": victim, "resource": {"resourceType": "Patient"}}]})  # fmt: skip
    assert r.status_code == 422, r.text
    assert world_any.store.patient_ids() == [victim]
    admin_posts_to_victim(world_any, victim)


@pytest.mark.parametrize("route", ["/patients", "/fhir"])
def test_refused_decoy_is_audited_on_each_route(world, victim, route):
    body = {"resourceType": "Patient", "id": victim} if route == "/patients" else decoy_bundle(
        victim, "id")  # fmt: skip
    assert world.post("cli2", route, body).status_code == 422
    last = [e for e in world.store.audit_entries() if e.actor == "cli2"][-1]
    want = "patient.create" if route == "/patients" else "ingest"
    assert (last.action, last.outcome, last.detail) == (
        want, "invalid", {"reason": "pseudonym-namespace"})  # fmt: skip
