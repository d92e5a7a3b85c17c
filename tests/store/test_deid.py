"""The de-identified export (HIPAA Safe Harbor) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.errors import StoreError
from medtwin.store._deid import age_years

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
    PatientRecord("Patient/edge", mrn="MRN-0003", name="Eda Edge", birth_date=date(1935, 6, 2)),
]


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


K_BY_AGE = {"90+": 0, 34: 1, 89: 2}  # index in PATIENTS by exported age on AS_OF


def test_shifted_export_hides_identifiers_and_keeps_intervals(store, pids):
    out = store.export_deidentified(actor="rita", seed=7, as_of=AS_OF)
    dump = json.dumps(out)
    for secret in [
        "MRN-000",
        "Olga",
        "Yuri",
        "Eda",
        "Patient/",
        "o0-",
        "1930-02-03",
        "1990-12-24",
        "1935-06-02",
        *pids,
    ]:
        assert secret not in dump
    assert sorted(p["study_id"] for p in out["patients"]) == ["S0001", "S0002", "S0003"]
    by_age = {p["age"]: p for p in out["patients"]}
    assert set(by_age) == set(K_BY_AGE)  # 95 -> "90+"; 89 stays a number
    assert "birth_date" not in by_age["90+"] and "birth_year" not in by_age["90+"]
    shifts = []
    for age, p in by_age.items():
        k = K_BY_AGE[age]
        times = [datetime.fromisoformat(o["time"]) for o in p["observations"]]
        assert [b - a for a, b in pairwise(times)] == [timedelta(minutes=90)] * 2
        shift = times[0] - (T0 + timedelta(hours=k))
        assert shift.seconds == 0 and 1 <= abs(shift.days) <= 365
        meal = datetime.fromisoformat(p["events"][0]["time"])
        assert meal - (T0 + timedelta(minutes=30)) == shift  # one shift per patient
        if k > 0:
            assert date.fromisoformat(p["birth_date"]) - PATIENTS[k].birth_date == shift
        assert [o["value"] for o in p["observations"]] == [100.0, 101.0, 102.0]
        shifts.append(shift)
    assert len(set(shifts)) > 1  # drawn per patient
    assert by_age[34]["gender"] == "male"
    # Another seed shifts differently (the shift is random, not derived from the data).
    assert json.dumps(store.export_deidentified(actor="rita", seed=8, as_of=AS_OF)) != dump
    assert len(store.audit_entries(action="patient.export")) == 6
    assert len(store.audit_entries(action="export.deidentified")) == 2


def test_year_only_export(store, pids):
    out = store.export_deidentified(actor="rita", dates="year", seed=1, as_of=AS_OF)
    young = next(p for p in out["patients"] if p["age"] == 34)
    assert young["birth_year"] == 1990 and "birth_date" not in young
    assert [o["year"] for o in young["observations"]] == [2025] * 3
    # Hours since the patient's first record (the meal at 08:30; readings from 09:00).
    assert [o["hours"] for o in young["observations"]] == [0.5, 2.0, 3.5]
    assert young["events"][0]["hours"] == 0.0
    assert "time" not in json.dumps(out["patients"])
    with pytest.raises(StoreError, match="shift, year"):
        store.export_deidentified(actor="rita", dates="month")


def test_age_in_completed_years():
    assert age_years(date(1935, 6, 2), date(2025, 6, 1)) == 89
    assert age_years(date(1935, 6, 1), date(2025, 6, 1)) == 90
    assert age_years(date(2000, 2, 29), date(2001, 2, 28)) == 0
