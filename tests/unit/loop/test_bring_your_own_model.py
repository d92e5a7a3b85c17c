"""A model defined here, in the test file, becomes a twin everywhere with no edit to the store,
the service or the CLI: FHIR ingestion of its LOINC-coded measurements, events of a kind only it
declares, twin updates, stored forecasts (recording the model, with explicit quantiles), the
dashboard's patient page and its JSON, and ``medtwin twin replay``.

The model: C-reactive protein (CRP) made at a rate ``k_prod`` that an IL-6 blocker infusion
``u`` lowers, cleared at ``k_el`` -- ``dC/dt = k_prod / (1 + u / EC50) - k_el C``, CRP's
plasma half-life about 19 h (Vigushin DM et al., J Clin Invest 91:1351-1357, 1993, so
``k_el`` ~ 0.036/h). Its steady state ``C* = k_prod / k_el`` is checked against the twin's
forecast with no data (an analytic solution).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from medtwin import loop
from medtwin.assimilate import Observations, assimilate, observations
from medtwin.data.records import EventRecord, PatientRecord
from medtwin.forecast import forecast
from medtwin.models import (
    AbstractODEModel,
    AlertRule,
    EventSpec,
    GaussianNoise,
    InputSpec,
    LogNormal,
    ObservableSpec,
    ParameterSpec,
    StateSpec,
    TwinDefaults,
    register_model,
)
from medtwin.models._registry import unregister_model
from medtwin.simulate import Regimen, simulate

KEY = bytes(range(32))
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
CRP = "1988-5"  # C reactive protein [Mass/volume] in Serum or Plasma


class CRPKinetics(AbstractODEModel):
    name: ClassVar[str] = "test-crp-kinetics"
    title: ClassVar[str] = "CRP production and clearance under an IL-6 blocker (test model)"
    reference: ClassVar[str] = "Vigushin DM et al., J Clin Invest 91:1351 (1993) for k_el"
    time_unit: ClassVar[str] = "h"
    states: ClassVar = (StateSpec("C", "mg/L", "plasma CRP"),)
    parameters: ClassVar = (
        ParameterSpec("k_prod", "mg/L/h", 3.6, (0.01, 50.0), LogNormal(3.6, 0.5)),
        ParameterSpec("k_el", "1/h", 0.036, (0.005, 0.5), LogNormal(0.036, 0.3)),
        ParameterSpec("EC50", "mg/h", 2.0, (0.1, 100.0)),
    )
    inputs: ClassVar = (InputSpec("il6_blocker", "mg/h", "IL-6 blocker infusion rate"),)
    observables: ClassVar = (
        ObservableSpec("crp", "mg/L", CRP, "plasma CRP", GaussianNoise(1.0, 0.05)),
    )
    events: ClassVar = (EventSpec("il6_blocker_rate", "mg/h", "il6_blocker", "rate"),)
    twin_defaults: ClassVar = TwinDefaults(
        prior="spec", free=("k_prod", "k_el"), alerts=(AlertRule("crp", high=150.0, within=12.0),)
    )
    input_dt: float = 1.0

    def initial_state(self, params):
        p = self.named(params)
        return jnp.stack([p.k_prod / p.k_el])

    def vector_field(self, t, y, u, params):
        p = self.named(params)
        return jnp.stack([p.k_prod / (1.0 + u[0] / p.EC50) - p.k_el * y[0]])

    def observe(self, t, y, params):
        return y


@pytest.fixture(scope="module", autouse=True)
def registered():
    """The model is registered for this module's tests only (other tests see the published
    models alone)."""
    register_model(CRPKinetics)
    yield
    unregister_model(CRPKinetics.name)


def crp_observation(i: int, hour: int, value: float, pid_ref: str) -> dict:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:test:crp", "value": f"crp-{i}"}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": CRP}]},
        "subject": {"reference": pid_ref},
        "effectiveDateTime": (EPOCH + timedelta(hours=hour)).isoformat().replace("+00:00", "Z"),
        "valueQuantity": {"value": value, "unit": "mg/L", "system": "http://unitsofmeasure.org",
                          "code": "mg/L"},
    }  # fmt: skip


PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:test:mrn", "value": "CRP-1"}],
    "name": [{"family": "Doe", "given": ["Jo"]}],
    "birthDate": "1960-01-01",
}
READINGS = ((1, 140.0, 6), (2, 121.0, 12), (3, 95.0, 24))  # (i, value, hour)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('byom') / 'm.db'}", key=KEY)
    store.add_user("alice", "clinician")
    token = store.issue_token("alice")
    app = create_app(store, login_limit=1000)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield store, client, {"authorization": f"Bearer {token}"}
    store.close()


def test_a_model_defined_here_becomes_a_twin_in_the_store_service_and_dashboard(world):
    store, client, auth = world
    fhir = {"content-type": "application/fhir+json", **auth}
    # FHIR ingestion: a transaction bundle with the patient and a first CRP reading.
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": PATIENT,
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": crp_observation(0, 2, 150.0, "urn:uuid:p1"),
         "request": {"method": "POST", "url": "Observation"}},
    ]}  # fmt: skip
    r = client.post("/fhir", content=json.dumps(bundle), headers=fhir)
    assert r.status_code == 200, r.text
    pid = next(iter(r.json()["patients"].values()))
    config = {"model": CRPKinetics.name, "epoch": EPOCH.isoformat(), "prior": "spec", "n": 16,
              "seed": 3, "horizon": 10}  # fmt: skip
    r = client.post(f"/patients/{pid}/twin", json=config, headers=auth)
    assert r.status_code == 201, r.text
    # An event of a kind only this model declares, then readings: each one a twin update.
    store.add_events(pid, [EventRecord("blk-1", pid, "il6_blocker_rate", EPOCH + timedelta(
        hours=4), 5.0)], actor="alice", update=False)  # fmt: skip
    for i, value, hour in READINGS:
        r = client.post(f"/patients/{pid}/observations",
                        content=json.dumps(crp_observation(i, hour, value, f"Patient/{pid}")),
                        headers=fhir)  # fmt: skip
        assert r.status_code == 200, r.text
    versions = client.get(f"/patients/{pid}/twin/versions", headers=auth).json()["versions"]
    # Creating the twin applied the pending reading (version 1); each reading posted since,
    # one more version (the event taken with the first of them).
    assert [v["version"] for v in versions] == [0, 1, 2, 3, 4]
    assert [len(v["observations"]) for v in versions] == [0, 1, 1, 1, 1]
    assert versions[2]["report"]["events"] == 1 and versions[2]["report"]["data"]["used"] == 1
    assert all(v["model"] == CRPKinetics.name for v in versions)
    # The stored forecast records its model and holds quantiles with their levels, and equals
    # the same twin run in memory (the loop's own numbers, through the store bit for bit).
    stored = store.forecasts(pid, actor="alice", limit=1)[0]
    assert stored.model == CRPKinetics.name and stored.forecast.quantile_levels[0] == 0.01
    twin = loop.new_twin(loop.TwinConfig(CRPKinetics.name, EPOCH, prior="spec", n=16, seed=3,
                                         horizon=10.0))  # fmt: skip
    reg = Regimen((loop.regimen_event(twin.model, "il6_blocker_rate", 4.0, 5.0),))
    twin = assimilate(twin, observations([2.0], [150.0], "crp"))
    twin = assimilate(twin, observations([6.0], [140.0], "crp"), reg)
    for value, hour in ((121.0, 12.0), (95.0, 24.0)):
        twin = assimilate(twin, observations([hour], [value], "crp"))
    ref = forecast(twin, 10.0)
    np.testing.assert_array_equal(stored.forecast.median, ref.median)
    assert stored.version == 4 and float(stored.forecast.times[-1]) == 34.0
    fcs = client.get(f"/patients/{pid}/forecasts", headers=auth).json()["forecasts"]
    assert "crp" in fcs[0]["observables"]
    fhir_fcs = client.get(f"/patients/{pid}/forecasts/fhir", headers=auth)
    assert fhir_fcs.status_code == 200, fhir_fcs.text
    # The alert rule the model declares was evaluated on every forecast the twin issued.
    assert versions[-1]["report"]["alerts"][0]["observable"] == "crp"
    # The dashboard's patient page and the JSON it draws.
    page = client.get(f"/ui/patients/{pid}", headers=auth)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    cone = client.get(f"/ui/api/patients/{pid}/cone", headers=auth)
    assert cone.status_code == 200, cone.text
    doc = cone.json()
    assert doc["model"] == CRPKinetics.name and doc["observable"] == "crp"
    assert doc["event_kinds"] == [{"kind": "il6_blocker_rate", "unit": "mg/h"}]
    assert doc["thresholds"] == [150.0] and doc["alert"]["severity"] in ("ok", "watch", "alert")
    assert doc["observations"]["values"] == [150.0, 140.0, 121.0, 95.0]
    skill = client.get(f"/patients/{pid}/skill", headers=auth)
    assert skill.status_code == 200 and skill.json()["scored"] >= 1


def test_the_model_reproduces_the_analytic_solution():
    # C(0) = k_prod / k_el; a blocker at u from t = 0 moves C to C* = k_prod / (1 + u/EC50) / k_el
    # as C(t) = C* + (C(0) - C*) exp(-k_el t). RK4 with 1-h steps: relative error < 1e-8.
    model = CRPKinetics()
    p = model.default_params()
    k_prod, k_el, ec50 = (float(x) for x in p)
    u = 5.0
    reg = Regimen((loop.regimen_event(model, "il6_blocker_rate", 0.0, u),))
    traj = simulate(model, p, reg, t1=48.0)
    t = np.asarray(traj.ts)
    c0, c_star = k_prod / k_el, k_prod / (1.0 + u / ec50) / k_el
    exact = c_star + (c0 - c_star) * np.exp(-k_el * t)
    np.testing.assert_allclose(np.asarray(traj.observable("crp")), exact, rtol=1e-8)
    # The twin's particles start at their own steady state.
    twin = loop.new_twin(loop.TwinConfig(CRPKinetics.name, EPOCH, prior="spec", n=64, seed=0,
                                         horizon=10.0))  # fmt: skip
    params = np.asarray(twin.ensemble.params)
    np.testing.assert_allclose(
        np.asarray(twin.ensemble.states)[:, 0], params[:, 0] / params[:, 1], rtol=1e-12
    )


def test_twin_replay_runs_the_model_defined_here(tmp_path):
    from medtwin.cli.main import app as cli

    data = tmp_path / "crp.csv"
    data.write_text("time,1988-5\n2,150\n6,140\n12,121\n18,104\n24,95\n")
    events = tmp_path / "events.csv"
    events.write_text("time,kind,amount\n4,il6_blocker_rate,5\n")
    out = tmp_path / "forecasts.csv"
    res = CliRunner().invoke(cli, ["twin", "replay", "--model", CRPKinetics.name, "--data",
                                   str(data), "--events", str(events), "--horizon", "10",
                                   "--particles", "16", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "5 readings: 5 assimilated" in res.output and "Forecast skill" in res.output
    header = out.read_text().splitlines()[0].split(",")
    assert header[:4] == ["issued_at_h", "target_h", "horizon_h", "median_mg_l"]


def test_the_stream_reader_names_what_the_model_observes(tmp_path):
    from medtwin.data import read_stream_csv
    from medtwin.errors import DataError

    bad = tmp_path / "bad.csv"
    bad.write_text("time,glucose\n1,2\n")
    with pytest.raises(DataError, match=r"column 'glucose' is no observable .* crp \(LOINC"):
        read_stream_csv(bad, CRPKinetics())
    good = tmp_path / "good.csv"
    good.write_text("time,crp\n1,2\n2,\n")
    obs = read_stream_csv(good, CRPKinetics())
    assert isinstance(obs, Observations) and obs.observable == ("crp", "crp")


def test_a_starting_service_warms_up_for_the_stored_twin_shapes(world):
    store, _, _ = world
    # A twin of the shape the twin test above makes (that test may run in another xdist
    # worker): the shapes are one however many twins share it.
    pid = store.add_patient(PatientRecord("Patient/warm"), actor="alice")
    config = loop.TwinConfig(CRPKinetics.name, EPOCH, prior="spec", n=16, seed=4, horizon=10.0)
    store.create_twin(pid, config, actor="alice")
    shapes = store.twin_shapes()
    assert [(c.model, c.n, c.horizon) for c in shapes] == [(CRPKinetics.name, 16, 10.0)]
    assert loop.warm_up(shapes[0]) > 0.0
