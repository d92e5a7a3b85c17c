"""Twin updates of many patients at once (on SQLite and PostgreSQL): ``update_twins`` writes
what one-by-one updates write (to 1e-12), each pid its own result, a failing pid failing alone;
concurrent writers' updates are coalesced into one batch and each writer gets its own versions;
a version written meanwhile by another process makes only that twin redo, alone."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.errors import StoreError
from medtwin.store import Batching, TwinConfig, _twin_update
from medtwin.store._batcher import BATCH_MAX_ENV, BATCH_WAIT_ENV, UpdateBatcher, batching_from_env

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CONFIG = TwinConfig("t1d", T0, n=16, seed=5, horizon=15.0)
CGM = "99504-3"
K = 3  # twins per batch (one batch size: its kernels compile once)


def cgm(pid: str, i: int, minute: float, value: float) -> ObservationRecord:
    return ObservationRecord(f"cgm-{pid}-{i}", "P", CGM, T0 + timedelta(minutes=minute), value,
                             "mg/dL")  # fmt: skip


def patients(store, k: int = K, twin: bool = True) -> list[str]:
    pids = []
    for i in range(k):
        pid = store.add_patient(PatientRecord(f"Patient/batch-{i}-{twin}"), actor="a")
        if twin:
            store.create_twin(pid, CONFIG, actor="a")
        pids.append(pid)
    return pids


def pend(store, pids: list[str], rounds: range) -> None:
    for j, pid in enumerate(pids):
        recs = [cgm(pid, i, 5 * (i + 1), 120.0 + 10 * j + 3 * i) for i in rounds]
        store.add_observations(pid, recs, actor="a", update=False)


@pytest.fixture
def spy(monkeypatch):
    """The number of twins each batched compute took."""
    sizes: list[int] = []
    original = _twin_update.compute_updates

    def counting(plans):
        sizes.append(len(plans))
        return original(plans)

    monkeypatch.setattr(_twin_update, "compute_updates", counting)
    return sizes


def same_twins(store, a: list[str], b: list[str]) -> None:
    for pa, pb in zip(a, b, strict=True):
        ea, eb = store.twin(pa, actor="t").ensemble, store.twin(pb, actor="t").ensemble
        assert ea.time == eb.time
        for name in ("params", "states", "log_weights"):
            x, y = np.asarray(getattr(ea, name)), np.asarray(getattr(eb, name))
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=0)
        fa, fb = (store.forecasts(p, actor="t", limit=1)[0].forecast for p in (pa, pb))
        np.testing.assert_allclose(fa.draws, fb.draws, rtol=1e-12, atol=0)


def test_update_twins_writes_what_one_by_one_updates_write(store, spy):
    batch, alone = patients(store), patients(store, twin=False)
    for pid in alone:
        store.create_twin(pid, CONFIG, actor="a")
    pend(store, batch, range(2))
    pend(store, alone, range(2))
    out = store.update_twins(batch, actor="a")
    assert spy == [K]
    assert [out[p].version for p in batch] == [1] * K
    for pid in alone:
        assert store.update_twin(pid, actor="a").version == 1
    same_twins(store, batch, alone)
    for pid in batch:
        assert [o.status for o in store.observations(pid, actor="t")] == ["applied"] * 2
        entries = store.audit_entries(actor="a", action="twin.update", patient=pid)
        assert [e.detail["version"] for e in entries] == [1]
    assert store.update_twins(batch, actor="a") == dict.fromkeys(batch)  # nothing pending
    assert store.verify_audit().ok


def test_a_failing_twin_fails_alone(store):
    pids = patients(store)
    bare = store.add_patient(PatientRecord("Patient/no-twin"), actor="a")
    pend(store, pids, range(1))
    asked = [pids[0], bare, *pids[1:]]
    out = store.update_twins(asked, actor="a", errors="return")
    assert isinstance(out[bare], StoreError) and "has no twin" in str(out[bare])
    assert [out[p].version for p in pids] == [1] * K
    pend(store, pids, range(1, 2))
    with pytest.raises(StoreError, match="has no twin"):
        store.update_twins(asked, actor="a")
    assert all(len(store.twin_versions(p, actor="t")) == 3 for p in pids)  # written all the same


def test_concurrent_writers_share_one_batch_and_each_gets_its_versions(store, spy):
    store.set_update_batching(Batching(wait_s=0.5, max_batch=64))
    pids = patients(store)
    results: dict[str, object] = {}
    go = threading.Barrier(K)

    def write(j: int, pid: str) -> None:
        go.wait()
        try:
            results[pid] = store.add_observations(pid, [cgm(pid, 0, 5, 130.0 + j)], actor=f"u{j}")
        except Exception as exc:  # pragma: no cover - reported below
            results[pid] = exc

    threads = [threading.Thread(target=write, args=(j, p)) for j, p in enumerate(pids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert all(getattr(results[p], "twin_version", None) == 1 for p in pids), results
    assert sum(spy) == K and max(spy) > 1  # coalesced (the writers arrived within 0.5 s)
    for j, pid in enumerate(pids):  # each writer audited its own patient's update
        entries = store.audit_entries(action="twin.update", patient=pid)
        assert [e.actor for e in entries] == [f"u{j}"]
    # A lone writer waits for no one, and batching off updates one by one as before.
    store.set_update_batching(None)
    assert (
        store.add_observations(pids[0], [cgm(pids[0], 1, 10, 140.0)], actor="a").twin_version == 2
    )


def test_a_version_written_meanwhile_makes_only_that_twin_redo(store, monkeypatch):
    pids = patients(store)
    pend(store, pids, range(1))
    original = _twin_update.compute_updates
    sneaky = pids[1]

    def meanwhile(plans):
        done = original(plans)
        with store._tx() as s:  # another process applies the first reading of one twin first
            plan = _twin_update.read_update(s, sneaky)
        other = _twin_update.compute_update(plan)
        with store._tx() as s:
            assert _twin_update.write_update(s, plan, other).version == 1
        store.add_observations(sneaky, [cgm(sneaky, 1, 10, 150.0)], actor="b", update=False)
        return done

    monkeypatch.setattr(_twin_update, "compute_updates", meanwhile)
    out = store.update_twins(pids, actor="a")
    assert [out[p].version for p in pids] == [1, 2, 1]  # redone from version 1: the new reading
    versions = store.twin_versions(sneaky, actor="t")
    assert [len(v.observations) for v in versions] == [0, 1, 1]
    assert [o.version for o in store.observations(sneaky, actor="t")] == [1, 2]


# -- the batcher alone (no database) -------------------------------------------------------------


class Recorder:
    """A batch runner that records its batches; pid ``bad`` fails."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str]]] = []

    def __call__(self, pairs):
        self.batches.append(list(pairs))
        return {pid: StoreError("no") if pid == "bad" else f"v-{pid}" for pid, _ in pairs}


def test_a_lone_writer_waits_for_no_one():
    run = Recorder()
    batcher = UpdateBatcher(run, Batching(wait_s=1.0))
    with batcher.arriving():
        t = time.perf_counter()
        assert batcher.update(["a", "b"], "u") == {"a": "v-a", "b": "v-b"}
    assert time.perf_counter() - t < 0.5 and run.batches == [[("a", "u"), ("b", "u")]]


def test_writers_still_storing_are_waited_for_and_each_gets_its_own_results():
    run = Recorder()
    batcher = UpdateBatcher(run, Batching(wait_s=1.0, max_batch=4))
    stored = threading.Barrier(4)
    results: dict[str, object] = {}

    def writer(pid: str, delay: float) -> None:
        with batcher.arriving():
            stored.wait()  # all four are storing records
            time.sleep(delay)
            try:
                results[pid] = batcher.update([pid], f"u-{pid}")
            except StoreError as exc:
                results[pid] = exc

    threads = [threading.Thread(target=writer, args=(p, d))
               for p, d in (("a", 0), ("bad", 0.05), ("c", 0.1), ("d", 0.15))]  # fmt: skip
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert time.perf_counter() - t < 0.9  # the batch was full: no one waited out the 1 s
    assert len(run.batches) == 1 and sorted(run.batches[0]) == [
        ("a", "u-a"), ("bad", "u-bad"), ("c", "u-c"), ("d", "u-d")]  # fmt: skip
    assert results["a"] == {"a": "v-a"} and results["d"] == {"d": "v-d"}
    assert isinstance(results["bad"], StoreError)  # only its own writer hears the failure


def test_the_wait_is_bounded_and_batches_are_capped():
    run = Recorder()
    batcher = UpdateBatcher(run, Batching(wait_s=0.2, max_batch=2))
    storing, late = threading.Event(), threading.Event()

    def straggler() -> None:
        with batcher.arriving():
            storing.set()
            late.wait(10)  # still storing when the leader gives up waiting

    th = threading.Thread(target=straggler)
    th.start()
    assert storing.wait(10)
    t = time.perf_counter()
    assert batcher.update(["a"], "u") == {"a": "v-a"}
    assert 0.15 < time.perf_counter() - t < 5.0  # waited for the straggler, then went alone
    t = time.perf_counter()
    assert batcher.update(["a", "b", "c"], "u") == {"a": "v-a", "b": "v-b", "c": "v-c"}
    assert time.perf_counter() - t < 0.15  # a full batch waits for no one
    late.set()
    th.join()
    # One caller's pids are never split, even beyond max_batch.
    assert run.batches == [[("a", "u")], [("a", "u"), ("b", "u"), ("c", "u")]]
    with pytest.raises(StoreError, match="batch size"):
        Batching(max_batch=0)
    assert batching_from_env({BATCH_WAIT_ENV: "off"}) is None
    assert batching_from_env({BATCH_WAIT_ENV: "5", BATCH_MAX_ENV: "8"}) == Batching(0.005, 8)


def test_callers_arriving_while_batches_run_queue_for_one_next_batch():
    release, started = threading.Event(), threading.Event()
    batches: list[list[str]] = []

    def run(pairs):
        batches.append([pid for pid, _ in pairs])
        if len(batches) == 1:
            started.set()
            release.wait(10)  # the first batch computes until released
        return {pid: pid.upper() for pid, _ in pairs}

    batcher = UpdateBatcher(run, Batching(wait_s=0.0, max_running=1))
    first = threading.Thread(target=batcher.update, args=(["a"], "u"))
    first.start()
    assert started.wait(10)
    results: dict[str, object] = {}
    later = [threading.Thread(target=lambda p=p: results.update(batcher.update([p], "u")))
             for p in ("b", "c", "d")]  # fmt: skip
    for th in later:
        th.start()
    deadline = time.monotonic() + 10
    while len(batcher._queue) < 3 and time.monotonic() < deadline:  # all queue behind it
        time.sleep(0.01)
    release.set()
    for th in [first, *later]:
        th.join(timeout=10)
    assert batches[0] == ["a"] and sorted(batches[1]) == ["b", "c", "d"] and len(batches) == 2
    assert results == {"b": "B", "c": "C", "d": "D"}
