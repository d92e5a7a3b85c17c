"""Load on the twin service over loopback HTTP: sustained observation ingest with twin updates
for many patients, then API read latency -- on SQLite (a file) and on a real PostgreSQL 15
server this script starts and stops itself.

Every POST of a CGM reading stores it and runs the patient's twin update (assimilate + a
60-minute forecast) before answering, so the ingest rate is the rate of complete twin updates.
Bounded: ``--rounds`` readings per patient, a request timeout, and the server on 127.0.0.1.

    python benchmarks/service_load.py [--patients 50] [--rounds 6] [--particles 200] [--reads 400]

``--concurrent``: ``--clients`` client threads (default 20, each its own user and connection)
post one CGM reading at a time for their share of ``--patients`` (default 40) T1D twins, each
reading answered after its twin's update (200 particles, a 60-minute forecast), on SQLite and on
PostgreSQL; each backend twice, on fresh databases: with the store's micro-batching of
concurrent twin updates (``medtwin.store._batcher``: one vmapped update for the readings that
arrive together) and with it off (each request updates its twin alone, as before). Printed:
readings/s, p50/p95/max ingest latency, the ratio batched / one-by-one, and the largest
relative difference between the twins' final ensembles of the two runs (same data: they must
agree to 1e-12). The kernels of every batch size are compiled before the clock starts (JAX's
persistent compilation cache in ``--jax-cache`` makes later invocations skip that).

    python benchmarks/service_load.py --concurrent [--clients 20] [--patients 40] [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

EPOCH = "2026-01-01T00:00:00+00:00"
KEY = bytes(range(32))


def patient(i: int) -> bytes:
    return json.dumps({
        "resourceType": "Patient",
        "identifier": [{"type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "system": "urn:bench:mrn", "value": f"B-{i:04d}"}],
        "name": [{"family": f"Bench{i}", "given": ["Pat"]}], "birthDate": "1975-01-01",
    }).encode()  # fmt: skip


def reading(pid: str, k: int, value: float) -> bytes:
    minute = 5 * (k + 1)
    return json.dumps({
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:bench:cgm", "value": f"{pid}-{k}"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "99504-3"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
        "valueQuantity": {"value": value, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                          "code": "mg/dL"},
    }).encode()  # fmt: skip


class Server:
    def __init__(self, app) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def run(url: str, args) -> dict[str, float]:
    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(url, key=KEY)
    store.add_user("bench", "admin")
    auth = {"authorization": f"Bearer {store.issue_token('bench')}",
            "content-type": "application/fhir+json"}  # fmt: skip
    out = {}
    try:
        with Server(create_app(store)) as base, httpx.Client(base_url=base, headers=auth,
                                                             timeout=120) as c:  # fmt: skip
            pids = [c.post("/patients", content=patient(i)).json()["id"]
                    for i in range(args.patients)]  # fmt: skip
            config = {"model": "t1d", "epoch": EPOCH, "n": args.particles, "seed": 1}
            t = time.perf_counter()
            for pid in pids:
                r = c.post(f"/patients/{pid}/twin", json=config)
                assert r.status_code == 201, r.text
            out["twin create s"] = time.perf_counter() - t
            rng = np.random.default_rng(0)
            c.post(f"/patients/{pids[0]}/observations", content=reading(pids[0], 0, 140.0))
            t, n, lat = time.perf_counter(), 0, []
            for k in range(1, args.rounds + 1):
                for pid in pids:
                    t1 = time.perf_counter()
                    r = c.post(f"/patients/{pid}/observations",
                               content=reading(pid, k, float(rng.uniform(90, 200))))  # fmt: skip
                    lat.append(time.perf_counter() - t1)
                    assert r.status_code == 200 and r.json()["twin_versions"], r.text
                    n += 1
            wall = time.perf_counter() - t
            out["ingest obs/s (with twin update)"] = n / wall
            out["ingest p50 ms"] = 1000 * statistics.median(lat)
            out["ingest p95 ms"] = 1000 * float(np.quantile(lat, 0.95))
            routes = ["/patients/{}/forecasts", "/patients/{}/observations", "/patients/{}/twin",
                      "/fhir/Observation?patient={}&code=99504-3"]  # fmt: skip
            for route in routes:
                lat = []
                for i in range(args.reads // len(routes)):
                    t1 = time.perf_counter()
                    r = c.get(route.format(pids[i % len(pids)]))
                    lat.append(time.perf_counter() - t1)
                    assert r.status_code == 200, r.text
                out[f"GET {route.replace('{}', '<id>')} p50 ms"] = 1000 * statistics.median(lat)
                out[f"GET {route.replace('{}', '<id>')} p95 ms"] = 1000 * float(
                    np.quantile(lat, 0.95)
                )
            out["audit entries"] = len(store.audit_entries())
            out["audit verify ok"] = float(store.verify_audit().ok)
    finally:
        store.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--patients", type=int, default=None)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--particles", type=int, default=200)
    p.add_argument("--reads", type=int, default=400)
    p.add_argument("--concurrent", action="store_true")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--jax-cache", default=str(Path(tempfile.gettempdir()) / "medtwin-bench-jax"))
    args = p.parse_args()
    if args.concurrent:
        from service_load_concurrent import main_concurrent

        args.patients = args.patients or 40
        main_concurrent(args)
        return
    args.patients = args.patients or 50
    from _pg import start_postgres

    results = {}
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: compile the twin's kernels once
        run(
            f"sqlite:///{tmp}/warm.db",
            argparse.Namespace(**{**vars(args), "patients": 2, "rounds": 2, "reads": 8}),
        )
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = run(f"sqlite:///{tmp}/bench.db", args)
    server = start_postgres()
    try:
        name = server.create_database()
        results["PostgreSQL"] = run(server.url(name), args)
    finally:
        server.stop()
    print(f"{args.patients} patients x {args.rounds} readings, {args.particles} particles per "
          f"twin, {args.reads} reads; loopback HTTP (uvicorn), one client")  # fmt: skip
    keys = list(results["SQLite"])
    print(f"{'':48s} {'SQLite':>12s} {'PostgreSQL':>12s}")
    for k in keys:
        print(f"{k:48s} {results['SQLite'][k]:12.1f} {results['PostgreSQL'][k]:12.1f}")


if __name__ == "__main__":
    main()
