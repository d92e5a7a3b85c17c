"""Twins in the store, on SQLite and PostgreSQL: updates on new data equal an uninterrupted
in-memory run bit for bit, are idempotent, keep late and unobservable data with a reason, store
forecasts that can be scored, and serialise concurrent updates."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import jax
import numpy as np
import pytest

from medtwin.assimilate import ParticleFilter, assimilate, observations
from medtwin.data import T1D_FILTER, t1d_population_prior
from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.errors import StoreError
from medtwin.forecast import forecast, score_forecasts
from medtwin.loop import build_twin, observable_for, regimen_event
from medtwin.models import Reynolds2006, UVAPadova
from medtwin.simulate import Dose, Regimen, SetRate, basal, bolus, meal
from medtwin.store import AddResult, TwinConfig
from medtwin.twin import Twin

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CONFIG = TwinConfig("t1d", T0, n=64, seed=3, horizon=30.0)
CGM = "99504-3"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def cgm(i: int, minute: float, value: float, code: str = CGM) -> ObservationRecord:
    return ObservationRecord(f"cgm-{i}", "P", code, at(minute), value, "mg/dL")


@pytest.fixture
def pid(store):
    pid = store.add_patient(PatientRecord("Patient/twin"), actor="a")
    store.create_twin(pid, CONFIG, actor="a")
    return pid


def arrays(twin):
    e = twin.ensemble
    return [np.asarray(e.params), np.asarray(e.states), np.asarray(e.log_weights), e.time]


def assert_same(a, b):
    for x, y in zip(arrays(a), arrays(b), strict=True):
        np.testing.assert_array_equal(x, y)


# Batches as they arrive: (observations as (minute, mg/dL), events as (kind, minute, amount)).
BATCHES = [
    ([(5, 151.0), (10, 149.5)], [("meal", 7, 40.0), ("bolus", 7, 3.0)]),
    ([(15, 156.0)], []),
    ([(20, 170.5), (25, 181.0), (30, 188.0)], [("basal", 22, 1.1)]),
    ([(35, 191.0)], []),
]


def test_store_updates_equal_an_uninterrupted_in_memory_run(store, pid):
    n_obs = n_ev = 0
    for obs_rows, ev_rows in BATCHES:
        events = []
        for kind, minute, amount in ev_rows:
            events.append(EventRecord(f"ev-{n_ev}", "P", kind, at(minute), amount))
            n_ev += 1
        assert store.add_events(pid, events, actor="a", update=False).added == len(events)
        recs = []
        for minute, value in obs_rows:
            recs.append(cgm(n_obs, minute, value))
            n_obs += 1
        res = store.add_observations(pid, recs, actor="a")
        assert res.added == len(recs) and res.twin_version is not None

    builders = {"meal": meal, "bolus": bolus, "basal": basal}
    prior = t1d_population_prior()
    mem = Twin.create(UVAPadova(), prior, key=jax.random.key(3), n=64, method=T1D_FILTER)
    memory = [mem]
    for obs_rows, ev_rows in BATCHES:
        o = observations([m for m, _ in obs_rows], [v for _, v in obs_rows], "sc_glucose")
        reg = Regimen(tuple(builders[k](m, a) for k, m, a in ev_rows))
        mem = assimilate(mem, o, reg)
        memory.append(mem)

    versions = store.twin_versions(pid, actor="a")
    assert [v.version for v in versions] == [0, 1, 2, 3, 4]
    assert [v.parent_version for v in versions] == [None, 0, 1, 2, 3]
    assert [len(v.observations) for v in versions] == [0, 2, 1, 3, 1]
    assert versions[-1].time == at(35) and versions[-1].model == "uva-padova"
    for k, expected in enumerate(memory):
        assert_same(store.twin(pid, actor="a", version=k), expected)
    # The restored latest twin continues exactly as the in-memory one does.
    nxt = observations([40.0], [189.0], "sc_glucose")
    assert_same(assimilate(store.twin(pid, actor="a"), nxt), assimilate(mem, nxt))
    # The stored forecast of the last version is the in-memory forecast's summary: median and
    # times exactly, bands and quantiles to the stored step (loop._codec: max(IQR, range / 4)
    # / (2 sqrt(draws))); the forecast made again from the restored twin, bit for bit.
    fc = store.forecasts(pid, actor="a", limit=1)[0]
    ref = forecast(mem, 30.0)
    assert fc.version == 4 and fc.issued_at == at(35)
    np.testing.assert_array_equal(fc.forecast.median, ref.median)
    np.testing.assert_array_equal(fc.forecast.times, ref.times)
    q = np.nanquantile(ref.draws, np.arange(1, 100) / 100, axis=0)
    half = np.maximum(q[74] - q[24], (q[98] - q[0]) / 4) / (2 * np.sqrt(len(ref.draws))) / 2
    assert np.all(np.abs(fc.forecast.draws - q) <= half * (1 + 1e-6))
    assert np.all(np.abs(fc.forecast.lower - ref.lower) <= half * (1 + 1e-6))
    np.testing.assert_array_equal(forecast(store.twin(pid, actor="a"), 30.0).draws, ref.draws)
    applied = [o.version for o in store.observations(pid, actor="a")]
    assert applied == [1, 1, 2, 3, 3, 3, 4]
    assert [e.status for e in store.events(pid, actor="a")] == ["applied"] * 3


def test_the_same_observation_twice_changes_nothing(store, pid):
    first = store.add_observations(pid, [cgm(0, 5, 150.0)], actor="a")
    assert first == AddResult(1, 0, 1)
    again = store.add_observations(pid, [cgm(0, 5, 150.0)], actor="a")
    assert again == AddResult(0, 1, None)
    assert store.update_twin(pid, actor="a") is None
    assert [v.version for v in store.twin_versions(pid, actor="a")] == [0, 1]


def test_late_and_unobservable_data_are_kept_and_reported(store, pid):
    store.add_observations(pid, [cgm(0, 5, 150.0)], actor="a")
    # cgm-1 at 4 min lies on or before the twin's 5 min (on the 1-min grid): late.
    recs = [cgm(1, 4, 149.0), cgm(2, 10, 152.0), cgm(3, 10, 9.1, code="6690-2")]
    ev = [EventRecord("abx", "P", "antibiotic", at(7), 0.5)]
    store.add_events(pid, ev, actor="a", update=False)
    assert store.add_observations(pid, recs, actor="a").twin_version == 2
    report = store.twin_versions(pid, actor="a")[-1].report
    assert report["late"] == 1 and report["unobserved_codes"] == {"6690-2": 1}
    assert report["data"]["used"] == 1 and report["unused_events"] == 1
    status = {o.source_id: (o.status, o.version) for o in store.observations(pid, actor="a")}
    key = store._cipher.source_key  # source ids are stored as keyed hashes
    assert status == {
        key("observations", "cgm-0"): ("applied", 1),
        key("observations", "cgm-1"): ("late", 2),
        key("observations", "cgm-2"): ("applied", 2),
        key("observations", "cgm-3"): ("unobserved", 2),
    }
    assert [(e.status, e.version) for e in store.events(pid, actor="a")] == [("unused", 2)]


def test_stored_forecasts_are_scored_against_later_data(store, pid):
    values = [150.0, 152.0, 155.0, 158.0, 160.0, 161.0, 163.0, 162.0]
    for i, v in enumerate(values):
        store.add_observations(pid, [cgm(i, 5 * (i + 1), v)], actor="a")
    stored = store.forecasts(pid, actor="a")
    assert [f.version for f in stored] == list(range(len(values), -1, -1))
    assert stored[0].target_times()[0] == at(5 * len(values) + 5)
    fcs = [f.forecast for f in stored]
    np.testing.assert_array_equal(fcs[0].draws[49], fcs[0].median)  # 50 % quantile = median
    obs = observations([5.0 * (i + 1) for i in range(len(values))], values, "sc_glucose")
    skill = score_forecasts(fcs, obs, "sc_glucose")
    # Forecasts every 5 min, 30 min ahead: each later reading is a target of up to 6 of them.
    assert skill.scored == sum(min(i, 6) for i in range(1, len(values) + 1))
    assert skill.at(5.0).n == len(values)
    assert 0.0 <= skill.at(5.0).coverage[0.95] <= 1.0 and skill.at(5.0).crps > 0


def test_concurrent_updates_make_one_version(store, pid):
    store.add_observations(pid, [cgm(0, 5, 150.0)], actor="a", update=False)
    results, errors = [], []

    def run():
        try:
            results.append(store.update_twin(pid, actor="a"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.version for r in results if r is not None) == [1]
    assert results.count(None) == 2
    assert [v.version for v in store.twin_versions(pid, actor="a")] == [0, 1]


def test_twin_configuration_is_checked(store, pid):
    with pytest.raises(StoreError, match="another configuration"):
        store.create_twin(pid, TwinConfig("t1d", T0, n=32, seed=3), actor="a")
    assert store.create_twin(pid, CONFIG, actor="a").version == 0  # same config: version 0
    other = store.add_patient(PatientRecord("Patient/sepsis"), actor="a")
    with pytest.raises(StoreError, match="population"):
        store.create_twin(other, TwinConfig("sepsis", T0, n=16), actor="a")
    with pytest.raises(StoreError, match="k_pm of 'reynolds2006' declare none"):
        store.create_twin(other, TwinConfig("sepsis", T0, prior="spec", free=("k_pg", "k_pm")),
                          actor="a")  # fmt: skip
    with pytest.raises(StoreError, match="Unknown model"):
        store.create_twin(other, TwinConfig("nope", T0), actor="a")
    with pytest.raises(StoreError, match="has no twin"):
        store.update_twin(other, actor="a")
    with pytest.raises(StoreError, match="timezone-aware"):
        TwinConfig("t1d", datetime(2025, 1, 1))
    with pytest.raises(StoreError, match="drift"):
        TwinConfig("t1d", T0, drift=-1.0)
    assert TwinConfig.from_json(CONFIG.to_json()) == CONFIG
    # The filter: the T1D default drifts; a configured drift is used as given.
    assert build_twin(CONFIG)[2] == T1D_FILTER and T1D_FILTER.drift > 0
    assert build_twin(TwinConfig("t1d", T0, drift=0.0))[2] == ParticleFilter(drift=0.0)


def test_records_map_onto_each_models_observables_and_inputs():
    t1d, sepsis = UVAPadova(), Reynolds2006()
    assert observable_for(t1d, "2339-0") == "bg" and observable_for(t1d, CGM) == "sc_glucose"
    assert observable_for(sepsis, "6690-2") == "wbc" and observable_for(t1d, "6690-2") is None
    assert regimen_event(t1d, "meal", 7.0, 40.0) == Dose(7.0, "carbs", 40.0, 5.0, "meal")
    assert regimen_event(t1d, "basal", 1.0, 1.2) == SetRate(1.0, "insulin", 0.02, "basal")
    assert regimen_event(t1d, "bolus", 3.0, 2.0) == Dose(3.0, "insulin", 2.0, None, "bolus")
    assert regimen_event(t1d, "antibiotic", 3.0, 2.0) is None
    assert regimen_event(sepsis, "antibiotic", 6.0, 0.5) == SetRate(
        6.0, "antibiotic", 0.5, "antibiotic"
    )
    ai = regimen_event(sepsis, "anti_inflammatory", 2.0, 0.1)
    assert (ai.input, ai.rate) == ("anti_inflammatory", 0.1)
    assert regimen_event(sepsis, "meal", 1.0, 40.0) is None
