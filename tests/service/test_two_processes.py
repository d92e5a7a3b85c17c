"""Two ``medtwin serve`` processes on one PostgreSQL database under concurrent load: no reading
lost or applied twice, each twin's version chain without gaps or forks, one audit chain.

Real processes (``_serve.py``) on a real PostgreSQL server (``tests/_pg.py``). The patients and
users are made through a store in this process; the twins are created (each through both
processes at once) and fed only through the two services, by client threads that post at the
same moment (a barrier per round):

* a *duplicate* round posts the same CGM reading of each patient to both processes at once
  (idempotence, and two processes updating the same twin at once);
* a *pair* round posts two different readings of each patient at once, 5 minutes apart, one to
  each process. The earlier one may arrive after the later one was assimilated: it is then kept
  as ``late`` (the twin never goes back in time), which the check allows for that reading only,
  and only when the twin had already passed its time;
* a *bundle* round posts a Bundle of two readings to one process and the same two in the other
  order to the other, at once.

Then, through the store: every reading stored once and taken by exactly one twin version;
versions 0..n, each one's parent the one before, one forecast and one ``twin.update`` audit
entry each; the audit chain verifies. The timings are printed (``pytest -s``).

The second test drives the store's retry after a deadlock directly, with batches large enough
to make one likely.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

import httpx
import pytest

from _pg import postgres_server  # noqa: F401  (session fixture)
from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.store import open_store
from medtwin.store._batcher import BATCH_WAIT_ENV, DEFAULT_WAIT_S

from ._serve import serving
from .conftest import EPOCH, KEY, glucose

PATIENTS = 4
ROUNDS = 6  # duplicate, pair and bundle rounds in turn: 10 readings and 12 posts per patient
CLIENTS = 2 * PATIENTS  # two posts per patient per round, all at once
CONFIG = {"model": "t1d", "epoch": EPOCH, "n": 16, "seed": 7, "horizon": 30.0}
T0 = datetime.fromisoformat(EPOCH)
TIMEOUT_S = 180.0  # a first request per process compiles the twin's functions
ENV = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}


@dataclass(frozen=True)
class Post:
    """One request of the load: the readings at ``minutes`` of patient ``p`` to server
    ``server`` (one Observation, or a Bundle of them in this order)."""

    p: int
    minutes: tuple[int, ...]
    server: int
    kind: str  # "dup", "early" / "later" (pair round), "bundle"


def schedule() -> list[list[Post]]:
    """The posts of each round (minutes: 5-minute CGM times, distinct per patient):

    * ``dup``: one reading to both servers at once;
    * ``early``/``later``: two readings 5 minutes apart at once, one to each server;
    * ``bundle``: a Bundle of two readings to one server and the same two in the other order
      to the other, at once (each insert then waits for the other's first row).
    """
    rounds, minute = [], 0
    for r in range(ROUNDS):
        posts, a, b = [], minute + 5, minute + 10
        for p in range(PATIENTS):
            first = (p + r) % 2  # which server gets the earlier reading
            if r % 3 == 0:
                posts += [Post(p, (a,), 0, "dup"), Post(p, (a,), 1, "dup")]
            elif r % 3 == 1:
                posts += [Post(p, (a,), first, "early"), Post(p, (b,), 1 - first, "later")]
            else:
                posts += [Post(p, (a, b), first, "bundle"), Post(p, (b, a), 1 - first, "bundle")]
        minute = a if r % 3 == 0 else b
        rounds.append(posts)
    return rounds


def tails(servers) -> str:
    """The end of each server's log, for a failure's message."""
    return "\n".join(f"--- server {i}:\n{s.output()[-3000:]}" for i, s in enumerate(servers))


def value(p: int, minute: int) -> float:
    """A plausible CGM value (mg/dL), different for each reading."""
    return 120.0 + 10.0 * p + 0.5 * minute


# Micro-batching of twin updates (``store._batcher``) on or off in the servers. On, each
# process compiles the vmapped update once per batch size and shape it meets (15-35 CPU s each
# on 2 cores; 150-190 CPU s per server here), so that run is marked slow for now.
BATCHING = [
    pytest.param("off", id="one-by-one"),
    pytest.param(str(DEFAULT_WAIT_S * 1000), id="batched", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("batch_wait_ms", BATCHING)
def test_two_processes_apply_every_reading_once(
    postgres_server,  # noqa: F811
    tmp_path,
    batch_wait_ms,
):
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    try:
        _run(url, tmp_path, {**ENV, BATCH_WAIT_ENV: batch_wait_ms})
    finally:
        postgres_server.drop_database(name)


def _run(url: str, tmp_path, env: dict[str, str]) -> None:
    t_start, cpu_start = time.monotonic(), time.process_time()
    with open_store(url, key=KEY) as store:
        users = [f"clin{i}" for i in range(CLIENTS)]
        tokens = {}
        for u in users:
            store.add_user(u, "clinician")
            tokens[u] = store.issue_token(u)
        pids = [
            store.add_patient(PatientRecord(f"urn:test:mrn|TWO-{p}"), actor="test")
            for p in range(PATIENTS)
        ]
        for u in users:
            for pid in pids:
                store.grant(u, pid)

        with (
            serving(url, n=2, logs=tmp_path, env=env) as servers,
            httpx.Client(timeout=TIMEOUT_S) as http,  # thread-safe; one connection pool
        ):
            t_up = time.monotonic()
            bases = [s.base for s in servers]

            def auth(slot: int) -> dict[str, str]:
                return {"authorization": f"Bearer {tokens[users[slot]]}"}

            # The twins: each created through both processes at once (the same configuration).
            def create(job: tuple[int, int]) -> httpx.Response:
                p, srv = job
                barrier.wait()
                return http.post(f"{bases[srv]}/patients/{pids[p]}/twin", json=CONFIG,
                                 headers=auth(2 * p + srv))  # fmt: skip

            jobs = [(p, srv) for p in range(PATIENTS) for srv in (0, 1)]
            barrier = threading.Barrier(len(jobs))
            with ThreadPoolExecutor(len(jobs)) as pool:
                made = list(pool.map(create, jobs))
            for (p, srv), r in zip(jobs, made, strict=True):
                assert r.status_code == 201, (p, srv, r.text[:500], tails(servers))
                assert r.json()["version"] == 0
            t_twins = time.monotonic()

            # The load: rounds of posts, all posts of a round released at once.
            def post(job: tuple[int, Post]) -> tuple[Post, httpx.Response]:
                slot, x = job
                pid = pids[x.p]
                obs = [glucose(pid, m, value(x.p, m), f"{pid}-cgm-{m}") for m in x.minutes]
                if len(obs) == 1:
                    url, body = f"{bases[x.server]}/patients/{pid}/observations", obs[0]
                else:
                    url = f"{bases[x.server]}/fhir"
                    body = {"resourceType": "Bundle", "type": "collection",
                            "entry": [{"resource": o} for o in obs]}  # fmt: skip
                headers = {**auth(slot), "content-type": "application/fhir+json"}
                barrier.wait()
                return x, http.post(url, content=json.dumps(body).encode(), headers=headers)

            done: list[tuple[Post, httpx.Response]] = []
            round_s = []
            with ThreadPoolExecutor(CLIENTS) as pool:
                for posts in schedule():
                    t = time.monotonic()
                    barrier = threading.Barrier(len(posts))
                    done += pool.map(post, enumerate(posts))
                    round_s.append(time.monotonic() - t)
            t_load = time.monotonic()
            for x, r in done:
                assert r.status_code == 200, (x, r.status_code, r.text[:500], tails(servers))

            # What the posts left pending (an update gives way after TRIES lost races), then a
            # final update of each twin (POST .../twin again updates what is pending).
            pending_before = sum(
                o.status == "pending" for pid in pids for o in store.observations(pid, actor="test")
            )
            for p, pid in enumerate(pids):
                r = http.post(f"{bases[p % 2]}/patients/{pid}/twin", json=CONFIG,
                              headers=auth(2 * p))  # fmt: skip
                assert r.status_code == 201, (r.text[:500], tails(servers))
            logs = [s.output() for s in servers]
            cpu = [s.cpu_s() for s in servers]
        for i, log in enumerate(logs):
            assert "Traceback" not in log, f"server {i}:\n{log[-4000:]}"

        # -- the checks, through the store ----------------------------------------------------
        added = sum(r.json()["observations"]["added"] for _, r in done)
        dups = sum(r.json()["observations"]["duplicates"] for _, r in done)
        readings = {(x.p, m): x.kind for x, _ in done for m in x.minutes}
        sent = sum(len(x.minutes) for x, _ in done)
        assert added == len(readings) and dups == sent - len(readings), (added, dups)
        n_late = sum(
            check_twin(store, pid, {m: k for (q, m), k in readings.items() if q == p})
            for p, pid in enumerate(pids)
        )
        report = store.verify_audit()
        assert report.ok, str(report)
        assert not [e for e in store.audit_entries() if e.outcome == "error"]
    print(
        f"\ntwo processes: servers up {t_up - t_start:.1f} s, twins {t_twins - t_up:.1f} s, "
        f"load {t_load - t_twins:.1f} s (rounds {', '.join(f'{s:.1f}' for s in round_s)} s), "
        f"{len(done)} posts, {len(readings)} readings, {n_late} late, {pending_before} pending "
        f"before the final update, {report.entries} audit entries; server CPU {cpu} s, "
        f"test CPU {time.process_time() - cpu_start:.1f} s; "
        f"total {time.monotonic() - t_start:.1f} s"
    )


def check_twin(store, pid: str, sent: dict[int, str]) -> int:
    """Check what ``pid``'s twin made of the readings ``sent`` (minute -> round kind); returns
    how many were kept as late."""
    obs = store.observations(pid, actor="test")
    minute = {o.id: (o.time - T0) // timedelta(minutes=1) for o in obs}
    got = Counter(minute.values())
    assert set(got) == set(sent) and max(got.values()) == 1, (pid, got)  # each stored once

    versions = store.twin_versions(pid, actor="test")
    assert [v.version for v in versions] == list(range(len(versions)))
    assert versions[0].parent_version is None
    assert [v.parent_version for v in versions[1:]] == list(range(len(versions) - 1))
    assert [v.parent_id for v in versions[1:]] == [v.id for v in versions[:-1]]
    assert all(a.time <= b.time for a, b in pairwise(versions))
    taker = Counter(i for v in versions for i in v.observations)
    assert set(taker) == set(minute) and max(taker.values()) == 1, taker  # each taken once
    by_id = {i: v for v in versions for i in v.observations}
    late = 0
    for o in obs:  # none pending: each applied by the version that took it, or late
        v, kind = by_id[o.id], sent[minute[o.id]]
        parent = versions[v.version - 1]
        assert o.version == v.version, (o, v.version)
        if o.status == "late":  # only an earlier reading of a pair, once the twin passed it
            assert kind == "early" and o.time <= parent.time, (o, kind, parent.time)
            late += 1
        else:
            assert o.status == "applied", o
            assert parent.time < o.time <= v.time, (o, parent.time, v.time)
    fcs = store.forecasts(pid, actor="test")
    assert [f.version for f in fcs] == [v.version for v in reversed(versions)]
    updates = store.audit_entries(patient=pid, action="twin.update")
    assert sorted(e.detail["version"] for e in updates) == list(range(1, len(versions)))
    return late


def at_once(*calls):
    """Run the zero-argument ``calls`` in threads released together; their results (or the
    exceptions they raised), in order."""
    barrier, out = threading.Barrier(len(calls)), [None] * len(calls)

    def run(k):
        barrier.wait()
        try:
            out[k] = calls[k]()
        except Exception as exc:
            out[k] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_the_same_batch_from_two_writers_in_opposite_orders_is_stored_once(
    postgres_server,  # noqa: F811
):
    """Two writers inserting the same records in opposite orders wait for each other's first row:
    PostgreSQL aborts one of them (deadlock detected). The store runs the victim's transaction
    again, which then finds the records stored: both calls succeed, each record is stored once.
    (Two engines in two threads lock as two processes do; 300 records make the overlap likely.)"""
    name = postgres_server.create_database()
    try:
        url = postgres_server.url(name)
        with open_store(url, key=KEY) as a, open_store(url, key=KEY) as b:
            pid = a.add_patient(PatientRecord("urn:test:mrn|ORDER"), actor="test")
            for trial in range(8):
                recs = [
                    ObservationRecord(f"t{trial}-{i}", "P", "99504-3",
                                      T0 + timedelta(days=trial, minutes=5 * i), 100.0 + i, "mg/dL")
                    for i in range(300)
                ]  # fmt: skip
                got = at_once(
                    lambda recs=recs: a.add_observations(pid, recs, actor="a", update=False),
                    lambda recs=recs: b.add_observations(pid, recs[::-1], actor="b", update=False),
                )
                assert not [r for r in got if isinstance(r, Exception)], got
                assert sorted((r.added, r.duplicates) for r in got) == [(0, 300), (300, 0)], got
            assert len(a.observations(pid, actor="test")) == 8 * 300
            assert a.verify_audit().ok
    finally:
        postgres_server.drop_database(name)
