"""How fast the store grows with a CGM patient's twin (issue 16): bytes per twin version and per
patient-day of CGM (288 readings, one every 5 minutes, each a twin update with its forecast).

One T1D patient on a fresh SQLite store gets ``--readings`` CGM readings 5 minutes apart
(``--particles`` particles, a 60-minute forecast per reading, as the service's twins); printed:
the database file's growth per version and per patient-day (extrapolated linearly), and what each
kind of row holds per version (ensemble blob, forecast blob, report JSON). The target of issue 16
is a 10x smaller growth per patient-day, with every kept version still replayed bit for bit.

    python benchmarks/store_growth.py [--readings 36] [--particles 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import text

from medtwin._jax_cache import enable_compilation_cache
from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.loop import TwinConfig
from medtwin.store import open_store

PER_DAY = 288  # CGM readings a day, one every 5 minutes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=36)
    ap.add_argument("--particles", type=int, default=200)
    args = ap.parse_args()
    enable_compilation_cache()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "growth.db")
        store = open_store(f"sqlite:///{path}", key=bytes(range(32)))
        try:
            store.add_user("bench", "admin")
            t0 = datetime(2026, 1, 1, tzinfo=UTC)
            pid = store.add_patient(PatientRecord("urn:bench|1"), actor="bench")
            cfg = TwinConfig("t1d", t0, n=args.particles, seed=1, horizon=60.0)
            store.create_twin(pid, cfg, actor="bench")
            rng = np.random.default_rng(0)
            store._engine.dispose()
            start = os.path.getsize(path)
            for k in range(args.readings):
                when = t0 + timedelta(minutes=5 * (k + 1))
                rec = ObservationRecord(f"cgm-{k}", pid, "99504-3", when,
                                        float(rng.uniform(90, 200)), "mg/dL")  # fmt: skip
                store.add_observations(pid, [rec], actor="bench")
            with store._engine.connect() as c:
                n = c.execute(text("select count(*) from twin_versions")).scalar_one()
                parts = {
                    "ensemble blob": "select avg(length(ensemble)) from twin_versions",
                    "forecast blob": "select avg(length(data)) from forecasts",
                    "report JSON": "select avg(length(report)) from twin_versions",
                }
                sizes = {k: float(c.execute(text(q)).scalar_one()) for k, q in parts.items()}
            store._engine.dispose()
            grown = os.path.getsize(path) - start
        finally:
            store.close()
    per_version = grown / args.readings
    print(f"T1D twin, {args.particles} particles, 60-min forecast per reading; SQLite; "
          f"{args.readings} readings ({n} versions)")  # fmt: skip
    print(f"  database growth per version    {per_version / 1024:9.1f} KB")
    print(f"  per patient-day of CGM ({PER_DAY})   {per_version * PER_DAY / 2**20:9.1f} MB")
    for k, v in sizes.items():
        print(f"  {k:30s} {v / 1024:9.1f} KB per version")


if __name__ == "__main__":
    main()
