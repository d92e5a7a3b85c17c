"""Twin storage that grows with what changed (issue 16): a twin keeps the ensemble of its head
and of every ``CHECKPOINT_EVERY``-th version; every other version is restored by making its
steps again, bit for bit -- events and moves over empty spans included -- and the next update
from a restored twin is that of an uninterrupted run. On SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from medtwin import limits
from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.forecast import forecast
from medtwin.loop import PendingEvent, PendingObservation, TwinConfig, new_twin, update
from medtwin.store import _twin_update

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CONFIG = TwinConfig("t1d", T0, n=64, seed=3, horizon=30.0)  # as tests/store/test_twins.py
EVERY = 3  # a checkpoint every 3rd version here, to cross several with few updates


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# Arrivals: (observations as (minute, mg/dL), events as (kind, minute, amount)); the last
# reading comes 3 h later, past what one update may advance (a week; 1 h here, to keep the test
# short), so the twin moves on over the empty span first ("until" in the version's report) and
# takes it in a later one.
ARRIVALS = [
    ([(5, 151.0)], [("meal", 3, 40.0), ("bolus", 3, 3.0)]),
    ([(10, 149.5), (15, 156.0)], []),
    ([(20, 170.5)], [("basal", 18, 1.1)]),
    ([(25, 181.0)], []),
    ([(30, 188.0), (35, 191.0)], [("bolus", 32, 1.0)]),
    ([(40, 187.0)], []),
    ([(220, 140.0)], []),
]


@pytest.fixture
def thin(monkeypatch):
    monkeypatch.setattr(_twin_update, "CHECKPOINT_EVERY", EVERY)
    monkeypatch.setattr(limits, "UPDATE_SPAN", replace(limits.UPDATE_SPAN, high=60.0))


def kept_versions(store, pid):
    with store._engine.connect() as c:
        rows = c.execute(
            text("SELECT v.version FROM twin_ensembles e JOIN twin_versions v "
                 "ON v.id = e.version_id WHERE v.pid = :pid ORDER BY v.version"),
            {"pid": pid},
        )  # fmt: skip
        return [r[0] for r in rows]


def same(a, b):
    ea, eb = a.ensemble, b.ensemble
    for x, y in ((ea.params, eb.params), (ea.states, eb.states), (ea.log_weights, eb.log_weights)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert ea.time == eb.time and a.version == b.version


def test_every_version_restores_bit_for_bit_from_the_kept_ones(store, thin):
    pid = store.add_patient(PatientRecord("Patient/thin"), actor="a")
    store.create_twin(pid, CONFIG, actor="a")
    twin = new_twin(CONFIG)
    memory = [twin]  # the uninterrupted in-memory run of the same records, one step each
    n_obs = n_ev = 0
    for obs_rows, ev_rows in ARRIVALS:
        evs = [EventRecord(f"ev-{n_ev + i}", "P", k, at(m), a)
               for i, (k, m, a) in enumerate(ev_rows)]  # fmt: skip
        recs = [ObservationRecord(f"cgm-{n_obs + i}", "P", "99504-3", at(m), v, "mg/dL")
                for i, (m, v) in enumerate(obs_rows)]  # fmt: skip
        store.add_events(pid, evs, actor="a", update=False)
        store.add_observations(pid, recs, actor="a", update=False)
        while store.update_twin(pid, actor="a") is not None:
            pass
        pend_o = [PendingObservation(n_obs + i, "99504-3", at(m), v, 0)
                  for i, (m, v) in enumerate(obs_rows)]  # fmt: skip
        pend_e = [PendingEvent(n_ev + i, k, at(m), a) for i, (k, m, a) in enumerate(ev_rows)]
        while pend_o or pend_e:
            step = update(CONFIG, twin, pend_o, pend_e)
            twin = step.twin
            memory.append(twin)
            pend_o = [o for o in pend_o if o.id not in step.obs_marks]
            pend_e = [e for e in pend_e if e.id not in step.ev_marks]
        n_obs, n_ev = n_obs + len(obs_rows), n_ev + len(ev_rows)

    versions = store.twin_versions(pid, actor="a")
    head = versions[-1].version
    assert head == len(memory) - 1 and head >= 8
    assert any(v.report.get("until") is not None for v in versions)  # a move over empty span
    # Kept: every 3rd version and the head; the rest were deleted when their child was written.
    assert kept_versions(store, pid) == sorted({*range(0, head, EVERY), head})
    for v, expected in enumerate(memory):
        same(store.twin(pid, actor="a", version=v), expected)
    # The forecast of a thinned version, made again from its restored twin, is the one issued.
    v = next(v for v in range(head) if v % EVERY)
    np.testing.assert_array_equal(
        forecast(store.twin(pid, actor="a", version=v), 30.0).median,
        next(f for f in store.forecasts(pid, actor="a") if f.version == v).forecast.median,
    )
    # The next update continues from the head as the uninterrupted run does.
    rec = ObservationRecord("cgm-last", "P", "99504-3", at(225), 142.0, "mg/dL")
    store.add_observations(pid, [rec], actor="a")
    nxt = update(CONFIG, twin, [PendingObservation(99, "99504-3", rec.time, 142.0, 0)], [])
    same(store.twin(pid, actor="a"), nxt.twin)
    assert kept_versions(store, pid)[-1] == head + 1
