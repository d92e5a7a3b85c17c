"""The concurrent mode of ``service_load.py`` (``--concurrent``; see its docstring): many
clients posting CGM readings at once, with the store's micro-batching of twin updates on and
off, on SQLite and on PostgreSQL."""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from _pg import start_postgres
from medtwin._jax_cache import enable_compilation_cache
from medtwin.store import Batching, _twin_update
from medtwin.store._store_twin_batch import TwinBatchMethods
from service_load import EPOCH, KEY, Server, patient, reading  # the sequential mode's pieces

RTOL = 1e-12


def value(i: int, k: int) -> float:
    """Reading ``k`` of patient ``i``: the same in every run."""
    return float(np.random.default_rng([i, k]).uniform(90.0, 200.0))


def warm_up(particles: int, most: int) -> float:
    """Compile the update kernels of every batch size up to ``most`` twins (and one by one)
    before the clock starts; seconds taken."""
    from medtwin import loop
    from medtwin.assimilate._batched_kernel import bucket
    from medtwin.loop import PendingObservation, TwinConfig

    t = time.perf_counter()
    t0 = datetime.fromisoformat(EPOCH)
    cfg = TwinConfig("t1d", t0, n=particles, seed=1, horizon=60.0)
    twin = loop.create(cfg).twin
    first = [PendingObservation(1, "99504-3", t0 + timedelta(minutes=5), 150.0, 0)]
    twin = loop.update(cfg, twin, first, []).twin  # one by one (and the 5-min window)
    sizes = sorted({bucket(k) for k in range(2, most + 1)})
    obs = [PendingObservation(2, "99504-3", t0 + timedelta(minutes=10), 150.0, 0)]
    for k in range(2, most + 1):  # every size: some small steps are compiled per exact size
        loop.update_many([(cfg, twin, obs, [])] * k)
    print(f"warm-up: batch sizes 2..{most} (padded to {sizes}) compiled in "
          f"{time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip
    return time.perf_counter() - t


class Phases:
    """Time spent in the store's update phases, and the sizes of the batches computed (the
    store's own functions wrapped for the benchmark's process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.sizes: list[int] = []
        self.originals = []
        targets = ((TwinBatchMethods, "_read_plans", "read (phase 1)"),
                   (_twin_update, "compute_updates", "compute (phase 2)"),
                   (_twin_update, "compute_update", "compute, one twin alone"),
                   (TwinBatchMethods, "_write_batch", "write (phase 3)"))  # fmt: skip
        for owner, name, label in targets:
            original = getattr(owner, name)
            self.originals.append((owner, name, original))
            setattr(owner, name, self._timed(original, label, name == "compute_updates"))

    def _timed(self, fn, label: str, sizes: bool):
        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                with self.lock:
                    self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t
                    if sizes:
                        self.sizes.append(len(a[0]))

        return timed

    def close(self) -> None:
        for owner, name, original in self.originals:
            setattr(owner, name, original)


def client(
    base: str, token: str, pids: list[tuple[int, str]], rounds: int, lat: list, errors: list
) -> None:
    """Post readings 0..rounds-1 (5, 10, ... min) of each of ``pids``, one at a time."""
    headers = {"authorization": f"Bearer {token}", "content-type": "application/fhir+json"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=600) as c:
            for k in range(rounds):
                for i, pid in pids:
                    t1 = time.perf_counter()
                    body = reading(pid, k, value(i, k))
                    r = c.post(f"/patients/{pid}/observations", content=body)
                    lat.append(time.perf_counter() - t1)
                    if r.status_code != 200 or not r.json()["twin_versions"]:
                        errors.append(f"{pid} reading {k}: {r.status_code} {r.text[:300]}")
    except Exception as exc:  # reported by the caller
        errors.append(repr(exc))


def run(url: str, args, batching) -> tuple[dict[str, float], list[dict[str, np.ndarray]]]:
    """One run on a fresh database: figures, and each patient's final ensemble."""
    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(url, key=KEY)
    store.set_update_batching(batching)
    store.add_user("bench", "admin")
    names = [f"bench-c{c}" for c in range(args.clients)]
    for name in names:  # one user per client: each has its own heavy-request slots
        store.add_user(name, "admin")
    tokens = [store.issue_token(name) for name in names]
    auth = {"authorization": f"Bearer {store.issue_token('bench')}",
            "content-type": "application/fhir+json"}  # fmt: skip
    out: dict[str, float] = {}
    phases = Phases()
    try:
        with Server(create_app(store)) as base, httpx.Client(base_url=base, headers=auth,
                                                             timeout=600) as c:  # fmt: skip
            pids = [c.post("/patients", content=patient(i)).json()["id"]
                    for i in range(args.patients)]  # fmt: skip
            config = {"model": "t1d", "epoch": EPOCH, "n": args.particles, "seed": 1,
                      "horizon": 60}  # fmt: skip
            for pid in pids:
                r = c.post(f"/patients/{pid}/twin", json=config)
                assert r.status_code == 201, r.text
            shares = [[(i, pids[i]) for i in range(c_, args.patients, args.clients)]
                      for c_ in range(args.clients)]  # fmt: skip
            lat: list[float] = []
            errors: list[str] = []
            threads = [threading.Thread(target=client,
                                        args=(base, tok, share, args.rounds, lat, errors))
                       for tok, share in zip(tokens, shares, strict=True)]  # fmt: skip
            phases.seconds.clear()
            phases.sizes.clear()
            t = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t
            phases.close()
        n = args.patients * args.rounds
        assert not errors and len(lat) == n, (len(lat), n, errors[:5])
        out["readings/s (with twin update)"] = n / wall
        out["ingest p50 ms"] = 1000 * statistics.median(lat)
        out["ingest p95 ms"] = 1000 * float(np.quantile(lat, 0.95))
        out["ingest max ms"] = 1000 * max(lat)
        if phases.sizes:
            out["batches computed"] = len(phases.sizes)
            out["twins per batch (mean)"] = float(np.mean(phases.sizes))
        for label, sec in sorted(phases.seconds.items()):
            out[f"{label} ms/reading"] = 1000 * sec / n
        final = []
        for pid in pids:  # every reading applied once, in its own version
            versions = store.twin_versions(pid, actor="bench")
            assert [v.version for v in versions] == list(range(args.rounds + 1)), pid
            assert all(o.status == "applied" for o in store.observations(pid, actor="bench"))
            ens = store.twin(pid, actor="bench").ensemble
            final.append({k: np.asarray(getattr(ens, k))
                          for k in ("params", "states", "log_weights")})  # fmt: skip
        out["audit verify ok"] = float(store.verify_audit().ok)
    finally:
        phases.close()
        store.close()
    return out, final


def largest_difference(a: list[dict], b: list[dict]) -> float:
    """The largest relative difference between the ensembles of two runs."""
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        for k in x:
            scale = np.maximum(np.abs(x[k]), np.abs(y[k]))
            diff = np.abs(x[k] - y[k])
            finite = np.isfinite(scale) & (scale > 0)
            if not np.array_equal(np.isfinite(x[k]), np.isfinite(y[k])):
                return float("inf")
            if finite.any():
                worst = max(worst, float(np.max(diff[finite] / scale[finite])))
    return worst


def main_concurrent(args) -> None:
    enable_compilation_cache(args.jax_cache)
    warm = warm_up(args.particles, args.clients)
    batched = Batching()
    results: dict[str, dict[str, float]] = {}
    for backend in args.backends.split(","):
        server, tmp = None, tempfile.TemporaryDirectory()
        try:
            if backend == "postgresql":
                server = start_postgres()

            def url(tag: str, server=server, tmp=tmp) -> str:
                if server is None:
                    return f"sqlite:///{tmp.name}/{tag}.db"
                return server.url(server.create_database())

            label = "SQLite" if backend == "sqlite" else "PostgreSQL"
            res_b, ens_b = run(url("batched"), args, batched)
            res_o, ens_o = run(url("one"), args, None)
            results[f"{label} batched"] = res_b
            results[f"{label} one-by-one"] = res_o
            res_b["ratio batched / one-by-one"] = (
                res_b["readings/s (with twin update)"] / res_o["readings/s (with twin update)"]
            )
            res_b["max rel. diff. of ensembles"] = largest_difference(ens_b, ens_o)
            assert res_b["max rel. diff. of ensembles"] <= RTOL, res_b
        finally:
            if server is not None:
                server.stop()
            tmp.cleanup()
    print(f"\n{args.clients} clients, {args.patients} patients x {args.rounds} readings, "
          f"{args.particles} particles, 60-min forecast per reading; loopback HTTP (uvicorn), "
          f"server and clients in one process; batching: wait <= {batched.wait_s * 1000:g} ms, "
          f"<= {batched.max_batch} twins; warm-up (compiles) {warm:.0f} s")  # fmt: skip
    cols = list(results)
    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    print(f"{'':36s}" + "".join(f"{c:>24s}" for c in cols))
    for k in keys:
        cells = [results[c].get(k) for c in cols]
        row = "".join(f"{'':>24s}" if v is None else f"{v:24.3g}" for v in cells)
        print(f"{k:36s}{row}")
