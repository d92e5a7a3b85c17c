"""Statin and ezetimibe prescriptions (MedicationRequest / MedicationStatement) and LDL-C /
total cholesterol results in, the LDL twin's events and observations out: the Synthea patient
of the shared reference data, a store ingest that a second ingest leaves unchanged, and the bad
inputs of issue 22 (a statin without a dose, an unknown drug code, LDL-C in an unknown unit, a
stop before a start), each refused with its reason and nothing stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fhir_builders import PATIENT_URL, bundle, patient

from medtwin.data.fhir import parse_bundle
from medtwin.errors import FhirError
from medtwin.loop._mapping import regimen_event, to_model_time
from medtwin.models import get_model
from medtwin.simulate import Regimen, simulate
from medtwin.store import open_store

RIOJAS = Path(
    "/work/shared/reference/fhir/Alejandro_Riojas_a9fcc685-c7a2-4474-bf25-26c8fe4b48f9.json"
)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
KEY = bytes(range(32))


def request(code="83367", display="atorvastatin", *, dose=(20, "mg"), start="2020-01-15T09:00:00Z",
            end=None, status="active", rt="MedicationRequest", freq=None):  # fmt: skip
    res = {
        "resourceType": rt,
        "id": "rx1",
        "status": status,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code,
                                                  "display": display}]},
        "subject": {"reference": PATIENT_URL},
    }  # fmt: skip
    period = {"start": start, **({"end": end} if end else {})}
    dosage: dict = {}
    if dose is not None:
        dosage["doseAndRate"] = [{"doseQuantity": {"value": dose[0], "unit": dose[1],
                                                   "system": "http://unitsofmeasure.org",
                                                   "code": dose[1]}}]  # fmt: skip
    if rt == "MedicationRequest":
        res["intent"] = "order"
        res["authoredOn"] = start
        repeat = {"boundsPeriod": period, **(freq or {})}
        res["dosageInstruction"] = [{**dosage, "timing": {"repeat": repeat}}]
    else:
        res["effectivePeriod"] = period
        if dosage:
            res["dosage"] = [dosage]
    return res


def ldl(value=3.1, unit="mmol/L", code="13457-7", rid="l1"):
    return {
        "resourceType": "Observation", "id": rid, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": PATIENT_URL},
        "effectiveDateTime": "2020-01-10T08:00:00Z",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }  # fmt: skip


def test_a_prescription_becomes_a_start_and_a_stop_event():
    parsed = parse_bundle(
        bundle(
            request(
                end="2021-01-15T09:00:00Z", freq={"frequency": 1, "period": 1, "periodUnit": "d"}
            )
        )
    )
    start, stop = parsed.events
    assert (start.kind, start.amount, start.time) == (
        "atorvastatin",
        20.0,
        datetime(2020, 1, 15, 9, tzinfo=UTC),
    )
    assert (stop.kind, stop.amount, stop.time) == (
        "atorvastatin",
        0.0,
        datetime(2021, 1, 15, 9, tzinfo=UTC),
    )
    assert start.source_id.endswith("#start") and stop.source_id.endswith("#stop")


def test_tablets_of_a_named_strength_twice_a_day_and_a_statement():
    rx = request("617311", "rosuvastatin calcium 10 MG Oral Tablet", dose=(1, "{tbl}"),
                 freq={"frequency": 2, "period": 1, "periodUnit": "d"})  # fmt: skip
    (ev,) = parse_bundle(bundle(rx)).events
    assert (ev.kind, ev.amount) == ("rosuvastatin", 20.0)
    st = request("341248", "ezetimibe", dose=(10, "mg"), rt="MedicationStatement")
    (ev,) = parse_bundle(bundle(st)).events
    assert (ev.kind, ev.amount) == ("ezetimibe", 10.0)


def test_ldl_in_mmol_per_litre_is_stored_in_mg_per_dl_under_the_direct_code():
    (obs,) = parse_bundle(bundle(ldl(3.1))).observations
    assert obs.code == "18262-6" and obs.unit == "mg/dL"
    assert obs.value == pytest.approx(3.1 * 38.665)
    (tc,) = parse_bundle(bundle(ldl(200.0, "mg/dL", "2093-3"))).observations
    assert (tc.code, tc.value) == ("2093-3", 200.0)


def test_other_drugs_and_inactive_prescriptions_are_skipped():
    other = request("313782", "Acetaminophen 325 MG Oral Tablet")
    cancelled = request(status="cancelled")
    plan = {**request(), "intent": "plan"}
    parsed = parse_bundle(bundle(other, cancelled, plan))
    assert parsed.events == ()
    assert [s.reason.split(" ")[0] for s in parsed.skipped] == ["MedicationRequest", "status",
                                                                "intent"]  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "expression", "message"),
    [
        (request(dose=None), "dosageInstruction[0].doseAndRate", "dose is required"),
        (request("861634", "pitavastatin 2 MG Oral Tablet"), "medicationCodeableConcept.coding",
         "RxNorm code medtwin knows"),
        (request("999999", "atorvastatin"), "medicationCodeableConcept.coding",
         "Got http://www.nlm.nih.gov/research/umls/rxnorm|999999"),
        (request(dose=(20, "g")), "doseQuantity", "Expected a atorvastatin dose in mg"),
        (request(end="2019-01-15T09:00:00Z"), "boundsPeriod.end", "stops (2019-01-15T09:00:00Z) "
         "before it starts"),
        (request(dose=(2000, "mg")), "entry[1].resource", "outside [0, 160] mg/d"),
        (ldl(3.1, "g/dL"), "valueQuantity", "g/dL"),
    ],
    ids=["no-dose", "pitavastatin", "unknown-code", "dose-unit", "stop-before-start",
         "dose-range", "ldl-unit"],
)  # fmt: skip
def test_bad_input_is_refused_with_its_reason(resource, expression, message):
    with pytest.raises(FhirError) as exc:
        parse_bundle(bundle(resource))
    assert any(expression in expr and message in diag for _, expr, diag in exc.value.issues), (
        exc.value.issues
    )


@pytest.mark.skipif(not RIOJAS.exists(), reason="shared reference data not present")
def test_the_synthea_patient_ingests_once(tmp_path):
    """Alejandro Riojas (Synthea): two LDL-C and two total-cholesterol results (2000, 2005)
    and an atorvastatin 80 mg prescription (RxNorm 259255, 2008-12-14, no dosage: one tablet a
    day). A second ingest of the same bundle adds nothing; a bad bundle stores nothing. The
    stored records become the LDL twin's observations and regimen by the loop's mapping."""
    raw = RIOJAS.read_bytes()
    parsed = parse_bundle(raw)
    got = sorted((o.code, o.time.date().isoformat(), round(o.value, 2))
                 for o in parsed.observations if o.code in ("18262-6", "2093-3"))  # fmt: skip
    assert got == [("18262-6", "2000-12-24", 84.54), ("18262-6", "2005-10-16", 58.2),
                   ("2093-3", "2000-12-24", 178.62), ("2093-3", "2005-10-16", 166.4)]  # fmt: skip
    (ev,) = parsed.events
    assert (ev.kind, ev.amount, ev.time.date().isoformat()) == ("atorvastatin", 80.0, "2008-12-14")
    store = open_store(f"sqlite:///{tmp_path / 'ldl.db'}", key=KEY)
    try:
        store.add_user("alice", "clinician")
        args = (parsed.patients, parsed.observations, parsed.events)
        first = store.ingest(*args, actor="alice", refs=parsed.patient_refs)
        (pid,) = first.patients.values()
        assert first.events.added == 1 and first.observations.added == len(parsed.observations)
        again = store.ingest(*args, actor="alice", refs=parsed.patient_refs)
        assert again.observations.added == 0 and again.events.added == 0
        stored_obs, stored_ev = (store.observations(pid, actor="alice"),
                                 store.events(pid, actor="alice"))  # fmt: skip
        n_obs, n_ev = len(stored_obs), len(stored_ev)
        # ... and become the LDL twin's observations and regimen (the loop's own mapping)
        model = get_model("ldl")
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        regimen = Regimen(tuple(
            regimen_event(model, e.kind, to_model_time(e.time, epoch, "d"), e.amount)
            for e in stored_ev))  # fmt: skip
        (start,) = regimen.events
        assert (start.input, start.rate) == ("atorvastatin", 80.0)
        assert start.time == pytest.approx(3270 + (3 * 3600 + 11 * 60 + 33) / 86400)  # 03:11:33
        ldl = sorted((to_model_time(o.time, epoch, "d"), o.value) for o in stored_obs
                     if model.observable_for_code(o.code) == "ldl")  # fmt: skip
        assert [round(v, 1) for _, v in ldl] == [84.5, 58.2]
        p = model.make_params(LDL0=180.0, slope=0.0)
        end = simulate(model, p, regimen, t1=4000.0, saveat=np.array([3000.0, 4000.0]))
        before, after = np.asarray(end.observable("ldl"))
        x = (80 / 15.2) ** 0.417
        assert before == pytest.approx(180.0) and after == pytest.approx(
            180 * (1 - 0.758 * x / (1 + x))
        )
        bad = json.loads(raw)
        entry = next(e for e in bad["entry"] if "259255" in json.dumps(e))
        entry["resource"]["medicationCodeableConcept"]["coding"][0]["code"] = "83367"  # no dose
        with pytest.raises(FhirError, match="dose"):
            parse_bundle(json.dumps(bad))
        assert (len(store.observations(pid, actor="alice")),
                len(store.events(pid, actor="alice"))) == (n_obs, n_ev)  # fmt: skip
    finally:
        store.close()


def test_patient_builder_is_the_shared_one():
    assert patient()["resourceType"] == "Patient"
