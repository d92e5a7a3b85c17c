"""`medtwin twin create PATIENT`: a twin for an ingested patient, so `recommend` has one."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.store import open_store

KEY = bytes(range(32))
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.slow  # a twin's prior and one update: about 30 s
def test_twin_create_makes_a_twin_from_the_first_observation(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDTWIN_KEY", base64.b64encode(KEY).decode())
    monkeypatch.delenv("MEDTWIN_KEY_FILE", raising=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url, key=KEY)
    pid = store.add_patient(PatientRecord("Patient/rec"), actor="t")
    store.add_observations(
        pid,
        [ObservationRecord(f"c{i}", "Patient/rec", "99504-3", T0 + timedelta(minutes=5 * i),
                           150.0 + i, "mg/dL") for i in range(4)],
        actor="t",
    )  # fmt: skip
    store.close()
    args = ["twin", "create", "Patient/rec", "--db", url, "--particles", "32", "--horizon", "30"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"Twin of {pid}: model t1d, epoch 2025-03-01T08:00:00+00:00, version 0." in res.output
    assert "version 1" in res.output and f"medtwin recommend {pid}" in res.output
    with open_store(url, key=KEY, create=False) as store:
        twin = store.twin(pid, actor="t")
        assert twin.version == 1 and twin.ensemble.params.shape[0] == 32
    again = CliRunner().invoke(app, [*args[:-2], "--horizon", "60"])  # another config: refused
    assert again.exit_code == 2 and "error:" in again.output
