"""Twin updates compute with no lock held (on SQLite and PostgreSQL): while an update is paused in
its compute phase, other writers commit; a version written meanwhile by another process makes
the paused update drop its result and redo, applying nothing twice; and one update takes at
most what ``medtwin.limits`` allows, leaving the rest pending for the next."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from medtwin import limits
from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.store import TwinConfig, _twin_update

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CONFIG = TwinConfig("t1d", T0, n=16, seed=5, horizon=15.0)
CGM = "99504-3"
WAIT = 120.0  # s: generous, the first compute compiles the model


def cgm(i: int, minute: float, value: float = 150.0) -> ObservationRecord:
    return ObservationRecord(f"cgm-{i}", "P", CGM, T0 + timedelta(minutes=minute), value, "mg/dL")


@pytest.fixture
def pid(store):
    pid = store.add_patient(PatientRecord("Patient/phases"), actor="a")
    store.create_twin(pid, CONFIG, actor="a")
    return pid


class Paused:
    """Pause ``compute_update`` of the store's updates until :meth:`release`."""

    def __init__(self, monkeypatch) -> None:
        self.inside, self.go = threading.Event(), threading.Event()
        self.original = _twin_update.compute_update

        def paused(plan):
            self.inside.set()
            assert self.go.wait(WAIT), "never released"
            return self.original(plan)

        monkeypatch.setattr(_twin_update, "compute_update", paused)

    def release(self) -> None:
        self.go.set()


def run_in_thread(fn):
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # pragma: no cover - reported by the test
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, out


def test_other_writes_commit_while_an_update_computes(store, pid, monkeypatch):
    store.add_observations(pid, [cgm(0, 5)], actor="a", update=False)
    paused = Paused(monkeypatch)
    updater, result = run_in_thread(lambda: store.update_twin(pid, actor="a"))
    assert paused.inside.wait(WAIT)

    def other_writes():
        other = store.add_patient(PatientRecord("Patient/other"), actor="b")
        store.add_observations(other, [cgm(9, 5)], actor="b", update=False)
        store.audit("b", "test.write", detail={"while": "computing"})
        return other

    writer, written = run_in_thread(other_writes)
    writer.join(timeout=30)  # a held write lock would keep it waiting (busy_timeout 60 s)
    committed = not writer.is_alive()
    if store.dialect == "postgresql":  # nor is the twin's row locked meanwhile
        with store._engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            conn.execute(text("SELECT pid FROM twins WHERE pid = :p FOR UPDATE"), {"p": pid})
    paused.release()
    updater.join(timeout=WAIT)
    writer.join(timeout=WAIT)
    assert committed, "another writer waited for the twin update's computation"
    assert "error" not in written and "error" not in result, (written, result)
    other = written["value"]
    assert [o.status for o in store.observations(other, actor="t")] == ["pending"]
    assert result["value"].version == 1
    assert [o.version for o in store.observations(pid, actor="t")] == [1]


def test_a_version_written_meanwhile_makes_the_update_redo_and_apply_nothing_twice(
    store, pid, monkeypatch
):
    store.add_observations(pid, [cgm(0, 5)], actor="a", update=False)
    paused = Paused(monkeypatch)
    updater, result = run_in_thread(lambda: store.update_twin(pid, actor="a"))
    assert paused.inside.wait(WAIT)
    # Another process applies the same pending reading first (its own three phases).
    with store._tx() as s:
        plan = _twin_update.read_update(s, pid)
    done = paused.original(plan)
    with store._tx() as s:
        assert _twin_update.write_update(s, plan, done).version == 1
    store.add_observations(pid, [cgm(1, 10)], actor="b", update=False)  # new data meanwhile
    paused.release()
    updater.join(timeout=WAIT)
    assert "error" not in result, result
    assert result["value"].version == 2  # redone from version 1: it took only the new reading
    versions = store.twin_versions(pid, actor="t")
    assert [v.version for v in versions] == [0, 1, 2]
    assert [v.parent_version for v in versions] == [None, 0, 1]
    assert [len(v.observations) for v in versions] == [0, 1, 1]
    assert [o.version for o in store.observations(pid, actor="t")] == [1, 2]


def test_a_stale_result_is_never_written(store, pid):
    store.add_observations(pid, [cgm(0, 5)], actor="a", update=False)
    with store._tx() as s:
        plan = _twin_update.read_update(s, pid)
    done = _twin_update.compute_update(plan)
    assert store.update_twin(pid, actor="a").version == 1
    with store._tx() as s:  # the head moved: nothing written
        assert _twin_update.write_update(s, plan, done) is None
    assert [v.version for v in store.twin_versions(pid, actor="t")] == [0, 1]


def test_one_update_takes_at_most_the_declared_number_of_times(store, pid):
    most = limits.UPDATE_TIMES.high
    recs = [cgm(i, 5 * (i + 1)) for i in range(most + 12)]
    res = store.add_observations(pid, recs, actor="a")
    assert res.twin_version == 1
    obs = store.observations(pid, actor="t")
    assert [o.status for o in obs].count("applied") == most
    assert [o.status for o in obs[most:]] == ["pending"] * 12
    report = store.twin_versions(pid, actor="t")[-1].report
    assert report["deferred"] == {"observations": 12, "events": 0}
    assert store.update_twin(pid, actor="a").version == 2  # the next update takes the rest
    assert all(o.status == "applied" for o in store.observations(pid, actor="t"))


def test_data_far_ahead_moves_the_twin_one_span_per_update(store, pid):
    span = limits.UPDATE_SPAN.high  # min
    far = 3.5 * span  # 3.5 weeks after the twin's time
    store.add_observations(pid, [cgm(0, far)], actor="a")
    versions = store.twin_versions(pid, actor="t")
    assert versions[-1].model_time == span and versions[-1].report["until"] == span
    assert [o.status for o in store.observations(pid, actor="t")] == ["pending"]
    for k in (2, 3):
        assert store.update_twin(pid, actor="a").model_time == k * span
    last = store.update_twin(pid, actor="a")
    assert last.model_time == far and len(last.observations) == 1
    assert [o.status for o in store.observations(pid, actor="t")] == ["applied"]
