"""`medtwin recommend PATIENT --target-ldl 100` end to end from a stored LDL twin (issue 22):
a person's lipid panels, stored as records, become a twin timed in days in a real SQLite
store; the command reads it back and ranks the therapies. Its choice is the one
:func:`~medtwin.control.recommend_lipid_therapy` makes on the stored posterior."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.control import recommend_lipid_therapy
from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.store import TwinConfig, open_store

KEY = bytes(range(32))
T0 = datetime(2020, 1, 6, tzinfo=UTC)
# an untreated person near 160 mg/dL: four labs over a year (within-person scatter ~10 %)
LABS = ((0, 166.0), (120, 152.0), (240, 163.0), (365, 158.0))


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDTWIN_KEY", base64.b64encode(KEY).decode())
    monkeypatch.delenv("MEDTWIN_KEY_FILE", raising=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with open_store(url, key=KEY) as store:
        pid = store.add_patient(PatientRecord("Patient/ldl"), actor="t")
        config = TwinConfig("ldl", T0, prior="spec", n=256, seed=2, horizon=1800.0, every=30.0)
        store.create_twin(pid, config, actor="t")
        store.add_observations(
            pid,
            [ObservationRecord(f"l{d}", "Patient/ldl", "18262-6", T0 + timedelta(days=d), v,
                               "mg/dL") for d, v in LABS],
            actor="t",
        )  # fmt: skip
    return url


@pytest.mark.slow  # a store, an LDL twin update and the therapy ladder's compile: ~30-60 s
def test_recommend_target_ldl_from_the_store(db):
    res = CliRunner().invoke(app, ["recommend", "Patient/ldl", "--db", db, "--target-ldl", "100"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("Twin of Patient/ldl, version 1 (model ldl-vargo2014), at ")
    assert lines[0].endswith("; model time 365 d")  # the last lab, a year after the epoch
    with open_store(db, key=KEY) as store:
        twin = store.twin(store.lookup_patient("Patient/ldl"), actor="t")
    ens = twin.ensemble
    rec = recommend_lipid_therapy(twin.model, ens.params, ens.states, ens.weights, twin.time,
                                  target=100.0, history=twin.regimen)  # fmt: skip
    assert rec.summary() in res.output.replace("\n", " ") or rec.summary() in res.output
    # from ~160 mg/dL a < 100 target needs a ~38 % cut: one statin, not none, not a combination
    assert rec.feasible and rec.therapy.name.split()[0] in ("atorvastatin", "rosuvastatin",
                                                            "simvastatin")  # fmt: skip
    assert "ezetimibe" not in rec.therapy.name
    assert rec.therapy.name in res.output
