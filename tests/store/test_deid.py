"""The de-identified export on SQLite and PostgreSQL: Safe Harbor years by default, one stored
shift per patient and recipient, the export rate limit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.errors import StoreError
from medtwin.store import ExportLimitReached

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
AS_OF = date(2025, 6, 1)
PATIENTS = [
    PatientRecord(
        "Patient/old",
        mrn="MRN-0001",
        name="Olga Oldest",
        birth_date=date(1930, 2, 3),
        gender="female",
    ),
    PatientRecord(
        "Patient/young",
        mrn="MRN-0002",
        name="Yuri Young",
        birth_date=date(1990, 12, 24),
        gender="male",
    ),
    PatientRecord("Patient/edge", mrn="MRN-0003", name="Eda Edge", birth_date=date(1936, 6, 2)),
]
SECRETS = ["MRN-000", "Olga", "Yuri", "Eda", "Patient/", "o0-", "1930-02-03", "1990-12-24",
           "1936-06-02"]  # fmt: skip


@pytest.fixture
def pids(store):
    out = []
    for k, rec in enumerate(PATIENTS):
        pid = store.add_patient(rec, actor="a")
        obs = [
            ObservationRecord(
                f"o{k}-{i}",
                rec.source_id,
                "2339-0",
                T0 + timedelta(hours=k, minutes=90 * i),
                100.0 + i,
                "mg/dL",
            )
            for i in range(3)
        ]
        store.add_observations(pid, obs, actor="a")
        store.add_events(
            pid,
            [EventRecord(f"e{k}", rec.source_id, "meal", T0 + timedelta(minutes=30), 50.0)],
            actor="a",
        )
        out.append(pid)
    return out


_SHIFTS = {timedelta(days=d) for d in range(-365, 366) if d}
# index in PATIENTS by exported age (export year minus birth year) in 2025
K_BY_AGE = {"90+": 0, 35: 1, 89: 2}


def test_shifted_export_keeps_one_shift_per_recipient_and_intervals(store, pids):
    out = store.export_deidentified(actor="rita", recipient="rita", dates="shift", as_of=AS_OF)
    dump = json.dumps(out)
    for secret in [*SECRETS, *pids]:
        assert secret not in dump
    assert "Safe Harbor" not in out["method"].replace("not Safe Harbor", "")
    assert out["recipient"] == "rita"
    by_age = {p["age"]: p for p in out["patients"]}
    shifts = []
    for p in out["patients"]:
        times = [datetime.fromisoformat(o["time"]) for o in p["observations"]]
        assert [b - a for a, b in pairwise(times)] == [timedelta(minutes=90)] * 2
        k = next(k for k in range(3) if times[0] - timedelta(hours=k) - T0 in _SHIFTS)
        shift = times[0] - (T0 + timedelta(hours=k))
        assert shift.seconds == 0 and 1 <= abs(shift.days) <= 365
        meal = datetime.fromisoformat(p["events"][0]["time"])
        assert meal - (T0 + timedelta(minutes=30)) == shift  # one shift per patient
        if "birth_date" in p:
            shifted = date.fromisoformat(p["birth_date"])
            assert shifted - PATIENTS[k].birth_date == shift
            assert p["age"] == AS_OF.year - shifted.year  # from the shifted date only
        assert [o["value"] for o in p["observations"]] == [100.0, 101.0, 102.0]
        shifts.append(shift)
    assert "birth_date" not in by_age["90+"]
    assert len(set(shifts)) > 1  # drawn per patient
    # The same recipient gets the same shifts and study ids again; another gets others.
    again = store.export_deidentified(actor="rita", recipient="rita", dates="shift", as_of=AS_OF)
    assert again == out
    other = store.export_deidentified(actor="sam", recipient="sam", dates="shift", as_of=AS_OF)
    assert {p["study_id"] for p in other["patients"]}.isdisjoint(
        p["study_id"] for p in out["patients"]
    )
    assert len(store.audit_entries(action="patient.export")) == 9
    assert [e.detail["recipient"] for e in store.audit_entries(action="export.deidentified")] == [
        "rita",
        "rita",
        "sam",
    ]


def test_year_only_export_is_the_default(store, pids):
    out = store.export_deidentified(actor="rita", as_of=AS_OF)
    assert out["method"] == "HIPAA Safe Harbor (45 CFR 164.514(b)(2))"
    assert out["dates"] == "year only" and out["recipient"] is None
    by_age = {p["age"]: p for p in out["patients"]}
    assert set(by_age) == set(K_BY_AGE)  # 1930 -> "90+"; 1936 is 89 in 2025
    assert "birth_year" not in by_age["90+"] and by_age[89]["birth_year"] == 1936
    young = by_age[35]
    assert young["birth_year"] == 1990 and young["gender"] == "male"
    assert young["first_year"] == 2025
    # Hours since the patient's first record (the meal at 08:30; readings from 09:00).
    assert [o["hours"] for o in young["observations"]] == [0.5, 2.0, 3.5]
    assert young["events"][0]["hours"] == 0.0
    dump = json.dumps(out)
    assert "time" not in json.dumps(out["patients"]) and '"year"' not in dump
    for secret in [*SECRETS, *pids]:
        assert secret not in dump
    with pytest.raises(StoreError, match="year, shift"):
        store.export_deidentified(actor="rita", dates="month")
    with pytest.raises(StoreError, match="needs the recipient"):
        store.export_deidentified(actor="rita", dates="shift")


def test_study_ids_are_random_without_a_recipient_and_stable_with_one(store, pids):
    ids = [{p["study_id"] for p in store.export_deidentified(actor="x")["patients"]}
           for _ in range(3)]  # fmt: skip
    assert all(len(s) == 3 for s in ids) and ids[0] != ids[1]
    stable = [{p["study_id"] for p in store.export_deidentified(actor="x", recipient="r")[
        "patients"]} for _ in range(3)]  # fmt: skip
    assert stable[0] == stable[1] == stable[2]


def test_the_rate_limit_counts_successful_exports_of_the_last_hour(store, pids, monkeypatch):
    for _ in range(3):
        store.export_deidentified(actor="rita", recipient="rita", max_per_hour=3)
    with pytest.raises(ExportLimitReached, match="At most 3") as exc:
        store.export_deidentified(actor="rita", recipient="rita", max_per_hour=3)
    assert 3500 < exc.value.retry_after_s <= 3600
    denied = store.audit_entries(action="export.deidentified")[-1]
    assert denied.outcome == "denied" and denied.detail["reason"] == "rate limit"
    assert len(store.audit_entries(action="patient.export")) == 9  # the refusal read nothing
    store.export_deidentified(actor="sam", recipient="sam", max_per_hour=3)  # others unaffected
    later = datetime.now(UTC) + timedelta(hours=1, seconds=5)
    monkeypatch.setattr("medtwin.store._deid._now", lambda: later)
    store.export_deidentified(actor="rita", recipient="rita", max_per_hour=3)
    with pytest.raises(StoreError, match="at least 1"):
        store.export_deidentified(actor="rita", max_per_hour=0)
