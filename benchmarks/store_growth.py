"""How fast the store grows with a CGM patient's twin (issue 16): bytes per twin version and per
patient-day of CGM (288 readings, one every 5 minutes, each a twin update with its forecast),
for the storage layout before issue 16 and the one now, in one invocation.

One T1D patient on a fresh SQLite store gets ``--readings`` CGM readings 5 minutes apart
(``--particles`` particles, a 60-minute forecast per reading, as the service's twins), twice:

* *before*: every version keeps its ensemble, and each forecast is a float64 npz of its
  quantiles (what the store wrote before issue 16; emulated here by keeping a checkpoint at
  every version and packing forecasts with ``pack_forecast_exact``);
* *now*: ensembles kept for the head and every ``CHECKPOINT_EVERY``-th version only, forecasts
  packed (``medtwin.loop._codec``).

Printed: the database file's growth per version and per patient-day (extrapolated linearly),
what each kind of row holds per version, and the ratio. Then every version of the *now* store
is restored (kept ones read, the others made again from the nearest kept one) and compared with
the ensemble the *before* store kept for it: all must be equal bit for bit (exit status 1 if
not). The target of issue 16 is at least 10x less per patient-day.

    python benchmarks/store_growth.py [--readings 288] [--particles 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import text

from medtwin import loop
from medtwin._jax_cache import enable_compilation_cache
from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.loop import TwinConfig
from medtwin.store import _twin_update, open_store

PER_DAY = 288  # CGM readings a day, one every 5 minutes
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIZES = {
    "ensemble blobs": "SELECT (SELECT coalesce(sum(length(data)), 0) FROM twin_ensembles)",
    "forecast blobs": "SELECT sum(length(data)) FROM forecasts",
    "report JSON": "SELECT sum(length(report)) FROM twin_versions",
}


def grow(path: str, readings: int, particles: int, before: bool) -> dict:
    """Feed the readings to a fresh store at ``path``; its growth and row sizes."""
    keep, pack = _twin_update.CHECKPOINT_EVERY, loop.pack_forecast
    if before:  # the layout before issue 16
        _twin_update.CHECKPOINT_EVERY, loop.pack_forecast = 1, loop.pack_forecast_exact
    try:
        store = open_store(f"sqlite:///{path}", key=bytes(range(32)))
        store.add_user("bench", "admin")
        pid = store.add_patient(PatientRecord("urn:bench|1"), actor="bench")
        store.create_twin(pid, TwinConfig("t1d", T0, n=particles, seed=1, horizon=60.0),
                          actor="bench")  # fmt: skip
        store._engine.dispose()
        start = os.path.getsize(path)
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        for k in range(readings):
            when = T0 + timedelta(minutes=5 * (k + 1))
            rec = ObservationRecord(f"cgm-{k}", pid, "99504-3", when,
                                    float(rng.uniform(90, 200)), "mg/dL")  # fmt: skip
            store.add_observations(pid, [rec], actor="bench")
        seconds = time.perf_counter() - t
        with store._engine.connect() as c:
            n = c.execute(text("SELECT count(*) FROM twin_versions")).scalar_one()
            sizes = {k: float(c.execute(text(q)).scalar_one()) / n for k, q in SIZES.items()}
        store._engine.dispose()
        grown = os.path.getsize(path) - start
        return {"store": store, "pid": pid, "versions": n, "per_version": grown / readings,
                "sizes": sizes, "seconds": seconds}  # fmt: skip
    finally:
        _twin_update.CHECKPOINT_EVERY, loop.pack_forecast = keep, pack


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=PER_DAY)
    ap.add_argument("--particles", type=int, default=200)
    args = ap.parse_args()
    enable_compilation_cache()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {name: grow(os.path.join(tmp, f"{name}.db"), args.readings, args.particles,
                           before=name == "before")
                for name in ("before", "now")}  # fmt: skip
        print(f"T1D twin, {args.particles} particles, 60-min forecast per reading; SQLite; "
              f"{args.readings} readings; a checkpoint every "
              f"{_twin_update.CHECKPOINT_EVERY} versions now")  # fmt: skip
        print(f"  {'':34s} {'before':>10s} {'now':>10s}")
        b, a = runs["before"], runs["now"]
        print(f"  {'database growth per version, KB':34s} {b['per_version'] / 1024:10.1f} "
              f"{a['per_version'] / 1024:10.1f}")  # fmt: skip
        print(f"  {'per patient-day of CGM, MB':34s} {b['per_version'] * PER_DAY / 2**20:10.2f} "
              f"{a['per_version'] * PER_DAY / 2**20:10.2f}")  # fmt: skip
        for k in SIZES:
            print(f"  {k + ' per version, KB':34s} {b['sizes'][k] / 1024:10.1f} "
                  f"{a['sizes'][k] / 1024:10.1f}")  # fmt: skip
        print(f"  {'time for the readings, s':34s} {b['seconds']:10.1f} {a['seconds']:10.1f}")
        print(f"  ratio per patient-day (before / now): {b['per_version'] / a['per_version']:.1f}x")
        # Every version of the thinned store, restored, against the ensemble kept before.
        t = time.perf_counter()
        worst = []
        for v in range(a["versions"]):
            got = a["store"].twin(a["pid"], actor="bench", version=v).ensemble
            ref = b["store"].twin(b["pid"], actor="bench", version=v).ensemble
            same = all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in (
                (got.params, ref.params), (got.states, ref.states),
                (got.log_weights, ref.log_weights))) and got.time == ref.time  # fmt: skip
            if not same:
                worst.append(v)
        for run in runs.values():
            run["store"].close()
    print(f"  restored all {a['versions']} versions in {time.perf_counter() - t:.0f} s: "
          + ("bit for bit equal to the ensembles kept before" if not worst
             else f"DIFFERENT at versions {worst[:10]}"))  # fmt: skip
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
