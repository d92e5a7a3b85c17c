"""Reads while another user runs the largest allowed request -- on SQLite (a file) and on a real
PostgreSQL 15 server this script starts and stops itself, over loopback HTTP (uvicorn in a
thread on 127.0.0.1).

User A (a clinician) creates the largest twin ``medtwin.limits`` allows: 5,000 particles, a
7-day forecast every 5 minutes, applying at once the most one update takes (288 readings and
288 boluses pending over the 7-day span); then runs the largest what-if (6 options x 50 boluses
over 2 days). Meanwhile user B (another clinician) polls ``GET /patients/{pid}``,
``/patients/{pid}/forecasts`` and ``/patients`` back to back. Printed: B's read latency idle and
during A's requests (p50, p95, max, and p95 over idle p95), and A's request durations. Twin
computations run outside the database's write lock, so reads wait only for CPU.

The first heavy run in the process compiles the 5,000-particle kernels; it is done once on a
warm-up patient and reported separately ("cold").

    python benchmarks/service_heavy_load.py [--particles 5000] [--backends sqlite,postgresql]
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

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from medtwin import limits
from service_load import Server  # the same loopback uvicorn server (benchmarks/)

EPOCH = "2026-01-01T00:00:00Z"
KEY = bytes(range(32))
SPACING = limits.UPDATE_SPAN.high / limits.UPDATE_TIMES.high  # 35 min: the span, filled


def at(minutes: float) -> str:
    h, m = divmod(int(minutes), 60)
    d, h = divmod(h, 24)
    return f"2026-01-{1 + d:02d}T{h:02d}:{m:02d}:00Z"


def patient(tag: str) -> dict:
    return {"resourceType": "Patient",
            "identifier": [{"system": "urn:bench:mrn", "value": tag}],
            "name": [{"family": f"Heavy{tag}", "given": ["Pat"]}],
            "birthDate": "1975-01-01"}  # fmt: skip


def reading(pid: str, k: int, minute: float, value: float) -> dict:
    return {"resourceType": "Observation", "status": "final",
            "identifier": [{"system": "urn:bench:cgm", "value": f"{pid}-{k}"}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "99504-3"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": at(minute),
            "valueQuantity": {"value": value, "unit": "mg/dL",
                              "system": "http://unitsofmeasure.org", "code": "mg/dL"}}  # fmt: skip


def bolus(pid: str, k: int, minute: float) -> dict:
    return {"resourceType": "MedicationAdministration", "status": "completed",
            "identifier": [{"system": "urn:bench:dose", "value": f"{pid}-{k}"}],
            "medicationCodeableConcept": {"text": "insulin lispro"},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": at(minute),
            "dosage": {"dose": {"value": 1.0, "unit": "U", "system": "http://unitsofmeasure.org",
                                "code": "U"}}}  # fmt: skip


def client(base: str, token: str) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/fhir+json"}
    return httpx.Client(base_url=base, headers=headers, timeout=900)


def ok(r: httpx.Response, status: int = 200) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


def heavy_patient(a: httpx.Client, tag: str) -> str:
    """A's patient with the most one update takes pending: 288 readings, 288 boluses."""
    pid = ok(a.post("/patients", json=patient(tag)), 201)["id"]
    rng = np.random.default_rng(0)
    n = limits.UPDATE_TIMES.high
    entries = [{"resource": reading(pid, k, (k + 1) * SPACING, float(rng.uniform(80, 220)))}
               for k in range(n)]  # fmt: skip
    entries += [{"resource": bolus(pid, k, (k + 0.5) * SPACING)} for k in range(n)]
    res = ok(a.post("/fhir", json={"resourceType": "Bundle", "type": "collection",
                                   "entry": entries}))  # fmt: skip
    assert res["observations"]["added"] == n and res["events"]["added"] == n, res
    return pid


def run_heavy(a: httpx.Client, pid: str, particles: int) -> dict[str, float]:
    """The largest twin creation, then the largest what-if; their durations (s)."""
    config = {"model": "t1d", "epoch": EPOCH, "n": particles, "seed": 1,
              "horizon": limits.FORECAST_HORIZON.high, "every": 5}  # fmt: skip
    t = time.perf_counter()
    v = ok(a.post(f"/patients/{pid}/twin", json=config), 201)
    out = {"twin create s": time.perf_counter() - t}
    assert v["version"] == 1 and len(v["observations"]) == limits.UPDATE_TIMES.high, v
    n_opt, n_ev = limits.WHAT_IF_OPTIONS.high, limits.WHAT_IF_EVENTS.high
    horizon = limits.WHAT_IF_HORIZON.high
    options = {f"plan {i}": [{"after": (j * horizon / n_ev) // 5 * 5, "kind": "bolus",
                              "amount": 0.2 * (i + 1)} for j in range(n_ev)]
               for i in range(n_opt)}  # fmt: skip
    t = time.perf_counter()
    res = ok(a.post(f"/patients/{pid}/what-if", json={"horizon": horizon, "options": options}))
    out["what-if s"] = time.perf_counter() - t
    assert len(res["options"]) == n_opt
    return out


def poll(b: httpx.Client, pid: str, stop: threading.Event, lat: list[float]) -> None:
    routes = [f"/patients/{pid}", f"/patients/{pid}/forecasts", "/patients"]
    k = 0
    while not stop.is_set():
        t = time.perf_counter()
        ok(b.get(routes[k % len(routes)]))
        lat.append(time.perf_counter() - t)
        k += 1


def stats(lat: list[float]) -> dict[str, float]:
    ms = 1000 * np.asarray(lat)
    return {"n": len(ms), "p50 ms": float(statistics.median(ms)),
            "p95 ms": float(np.quantile(ms, 0.95)), "max ms": float(ms.max())}  # fmt: skip


def run(url: str, args, warm: bool) -> dict[str, float]:
    from medtwin.service import create_app
    from medtwin.store import open_store

    store = open_store(url, key=KEY)
    tokens = {}
    for name in ("alice", "bob"):
        store.add_user(name, "clinician")
        tokens[name] = store.issue_token(name)
    out: dict[str, float] = {}
    try:
        with Server(create_app(store)) as base, client(base, tokens["alice"]) as a, \
                client(base, tokens["bob"]) as b:  # fmt: skip
            bp = ok(b.post("/patients", json=patient("B-1")), 201)["id"]
            small = {"model": "t1d", "epoch": EPOCH, "n": 100, "seed": 2, "horizon": 60}
            ok(b.post(f"/patients/{bp}/twin", json=small), 201)
            for k in range(6):
                ok(b.post(f"/patients/{bp}/observations",
                          json=reading(bp, k, 5 * (k + 1), 140.0 + k)))  # fmt: skip
            if warm:  # compile the largest kernels once, on a patient of their own
                cold = run_heavy(a, heavy_patient(a, "A-warm"), args.particles)
                out.update({f"cold {k}": v for k, v in cold.items()})
            idle: list[float] = []
            routes = [f"/patients/{bp}", f"/patients/{bp}/forecasts", "/patients"]
            for k in range(args.idle_reads):
                t = time.perf_counter()
                ok(b.get(routes[k % len(routes)]))
                idle.append(time.perf_counter() - t)
            ap = heavy_patient(a, "A-1")
            busy: list[float] = []
            stop = threading.Event()
            poller = threading.Thread(target=poll, args=(b, bp, stop, busy), daemon=True)
            poller.start()
            try:
                out.update(run_heavy(a, ap, args.particles))
            finally:
                stop.set()
                poller.join(timeout=60)
            s_idle, s_busy = stats(idle), stats(busy)
            out.update({f"idle read {k}": v for k, v in s_idle.items()})
            out.update({f"read during heavy {k}": v for k, v in s_busy.items()})
            out["p95 during heavy / idle p95"] = s_busy["p95 ms"] / s_idle["p95 ms"]
            out["p50 during heavy / idle p50"] = s_busy["p50 ms"] / s_idle["p50 ms"]
            out["audit verify ok"] = float(store.verify_audit().ok)
    finally:
        store.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--particles", type=int, default=limits.PARTICLES.high)
    p.add_argument("--idle-reads", type=int, default=150)
    p.add_argument("--backends", default="sqlite,postgresql")
    args = p.parse_args()
    limits.PARTICLES.check(args.particles, name="--particles")
    from _pg import start_postgres

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results: dict[str, dict[str, float]] = {}
    for i, backend in enumerate(backends):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results["SQLite"] = run(f"sqlite:///{tmp}/heavy.db", args, warm=i == 0)
        elif backend == "postgresql":
            server = start_postgres()
            try:
                results["PostgreSQL"] = run(server.url(server.create_database()), args,
                                            warm=i == 0)  # fmt: skip
            finally:
                server.stop()
        else:
            raise SystemExit(f"--backends: sqlite and/or postgresql. Got {backend!r}.")
    print(f"User A: twin of {args.particles} particles, 7-day forecast every 5 min, first update "
          f"of {limits.UPDATE_TIMES.high} readings + {limits.UPDATE_EVENTS.high} boluses over "
          f"7 days; what-if {limits.WHAT_IF_OPTIONS.high} options x "
          f"{limits.WHAT_IF_EVENTS.high} boluses over 2 days. User B: GET /patients/{{pid}}, "
          "/forecasts, /patients back to back. Loopback HTTP (uvicorn).")  # fmt: skip
    names = list(results)
    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    print(f"{'':40s}" + "".join(f"{n:>14s}" for n in names))
    for k in keys:
        cells = "".join(
            f"{results[n][k]:14.2f}" if k in results[n] else f"{'':>14s}" for n in names
        )
        print(f"{k:40s}{cells}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
