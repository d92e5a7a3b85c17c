"""The first twin update after a restart, with and without JAX's persistent compilation cache.

A fresh process compiles every jitted function of a twin update before its first use; the
persistent cache (``medtwin._jax_cache``) lets a later process load them instead. Each run is
a fresh Python subprocess, in order:

1. ``cold``: an EMPTY cache directory. Opens a new SQLite store, creates a T1D twin
   (``TwinConfig("t1d", epoch, n=200)``) and stores one CGM reading (LOINC 99504-3), which
   runs the first update (assimilate + the 60-min forecast), timed; then six more readings,
   one update each (untimed), as a running service would. This fills the cache.
2. ``warm``: the same, in a new store, with the cache that run 1 filled.
3. ``restart, no cache``: reopens run 1's store (``MEDTWIN_JAX_CACHE=off``) and stores the
   next reading: the first update of a restarted service without the cache.
4. ``restart, warm``: the same on a copy of run 1's store, with the warm cache.
5. ``restart, warmed up``: the same on another copy, with the warm cache, after the warm-up a
   starting ``medtwin serve`` runs in the background (``loop.warm_up`` of each stored twin's
   shape, timed apart): the first update of a restarted service once it has warmed up.

Prints each phase's wall time (import, open, create twin, first update), the CPU time of
create and update (all threads: less sensitive than wall time to other load on the machine),
and the ratios no cache / warm cache, next to the target of issue 15 (first update after a
restart, warm cache: <= 3 s). ``--profile`` adds, per run, the compile count and the time inside XLA
compiles or cache loads, tracing and lowering (from ``jax.log_compiles``' log records).

    python benchmarks/first_update.py [--particles 200] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

KEY = bytes(range(32))
CGM = "99504-3"
TARGET_S = 3.0
BURN_IN = 6  # further updates of the cold run, so the cache holds the resampling path too


def worker(db: Path, mode: str, particles: int, profile: bool, more: int) -> None:
    """One run in this (fresh) process; prints its timings as one JSON line. ``new``: a new
    patient and twin, then readings at 5, 10, ... min, one update each (the first timed, the
    ``more`` after it untimed); ``restart``: the next reading for the stored twin."""
    t = time.perf_counter()
    from datetime import UTC, datetime, timedelta

    import jax

    from medtwin._jax_cache import enable_compilation_cache
    from medtwin.data.records import ObservationRecord, PatientRecord
    from medtwin.store import TwinConfig, open_store

    out: dict[str, float | int | str | None] = {"import_s": time.perf_counter() - t}
    cache = enable_compilation_cache()
    out["cache"] = str(cache) if cache else None
    log = _CompileLog() if profile else None
    if log is not None:
        jax.config.update("jax_log_compiles", True)
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    t = time.perf_counter()
    store = open_store(f"sqlite:///{db}", key=KEY)
    out["open_s"] = time.perf_counter() - t
    state = db.with_suffix(".json")  # the patient and the minute of its last reading
    if mode == "new":
        pid = store.add_patient(PatientRecord("Patient/bench"), actor="bench")
        t, c = time.perf_counter(), time.process_time()
        store.create_twin(pid, TwinConfig("t1d", epoch, n=particles), actor="bench")
        out["create_s"] = time.perf_counter() - t
        out["create_cpu_s"] = time.process_time() - c
        if log is not None:
            out.update(log.take("create"))
        minute = 0
    else:
        pid, minute = json.loads(state.read_text())
    if mode == "warmed":
        from medtwin.loop import warm_up

        t, c = time.perf_counter(), time.process_time()
        for config in store.twin_shapes():
            warm_up(config)
        out["warm_up_s"], out["warm_up_cpu_s"] = time.perf_counter() - t, time.process_time() - c

    def update(minute: int) -> tuple[float, float]:
        value = 150.0 + 0.8 * minute  # rising glucose: the filter resamples now and then
        rec = ObservationRecord(
            f"cgm-{minute}", "Patient/bench", CGM, epoch + timedelta(minutes=minute), value, "mg/dL"
        )
        t, c = time.perf_counter(), time.process_time()
        res = store.add_observations(pid, [rec], actor="bench")
        if res.twin_version is None:
            raise SystemExit(f"the reading at {minute} min did not update the twin: {res}")
        return time.perf_counter() - t, time.process_time() - c

    minute += 5
    out["update_s"], out["update_cpu_s"] = update(minute)
    if log is not None:
        out.update(log.take("update"))
    for _ in range(more if mode == "new" else 0):
        minute += 5
        out["later_update_s"] = update(minute)[0]
    state.write_text(json.dumps([pid, minute]))
    store.close()
    print(json.dumps(out))


class _CompileLog:
    """Counts JAX's compile log records and sums the seconds they report (tracing, lowering,
    XLA compile or cache load), per phase."""

    KINDS: ClassVar[dict[str, str]] = {
        "Finished tracing": "trace",
        "Finished jaxpr to MLIR": "lower",
        "Finished XLA compilation": "compile_or_load",
    }

    def __init__(self) -> None:
        import logging

        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        handler = logging.Handler(logging.DEBUG)
        handler.emit = self._emit  # type: ignore[method-assign]
        lg = logging.getLogger("jax")
        lg.addHandler(handler)
        lg.propagate = False

    def _emit(self, record) -> None:
        msg = record.getMessage()
        for prefix, kind in self.KINDS.items():
            if msg.startswith(prefix):
                seconds = float(msg.rsplit(" in ", 1)[1].split()[0])
                self.sums[kind] = self.sums.get(kind, 0.0) + seconds
                self.counts[kind] = self.counts.get(kind, 0) + 1
                return
        if msg.startswith("Persistent compilation cache hit"):
            self.counts["cache_hit"] = self.counts.get("cache_hit", 0) + 1

    def take(self, phase: str) -> dict[str, float | int]:
        out: dict[str, float | int] = {}
        for k, v in self.sums.items():
            out[f"{phase}.{k}_s"] = v
        for k, v in self.counts.items():
            out[f"{phase}.{k}_n"] = v
        self.sums, self.counts = {}, {}
        return out


def run(db: Path, mode: str, cache: str, args: argparse.Namespace, more: int = 0) -> dict:
    env = dict(os.environ, MEDTWIN_JAX_CACHE=cache)
    cmd = [sys.executable, __file__, "--worker", mode, "--db", str(db), "--more", str(more),
           "--particles", str(args.particles)]  # fmt: skip
    cmd += ["--profile"] if args.profile else []
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{proc.stderr[-4000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=200)
    ap.add_argument("--profile", action="store_true", help="count and time JAX's compiles")
    ap.add_argument("--worker", choices=["new", "restart", "warmed"], help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--more", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.db, args.worker, args.particles, args.profile, args.more)
        return

    with tempfile.TemporaryDirectory(prefix="medtwin-first-update-") as tmp:
        root = Path(tmp)
        cache = root / "jax-cache"  # empty: enable_compilation_cache creates it
        runs = {}
        runs["cold"] = run(root / "a.db", "new", str(cache), args, more=BURN_IN)
        n_entries = sum(1 for _ in cache.glob("*-cache"))
        size_mb = sum(p.stat().st_size for p in cache.glob("*-cache")) / 1e6
        shutil.copy(root / "a.db", root / "c.db")
        shutil.copy(root / "a.json", root / "c.json")
        shutil.copy(root / "a.db", root / "d.db")
        shutil.copy(root / "a.json", root / "d.json")
        runs["warm"] = run(root / "b.db", "new", str(cache), args)
        runs["restart, no cache"] = run(root / "a.db", "restart", "off", args)
        runs["restart, warm"] = run(root / "c.db", "restart", str(cache), args)
        runs["restart, warmed up"] = run(root / "d.db", "warmed", str(cache), args)

    print(f"First twin update, T1D twin, {args.particles} particles, SQLite store, "
          f"{os.cpu_count()} CPUs; each run a fresh process")  # fmt: skip
    print(f"cache after the cold run: {n_entries} entries, {size_mb:.1f} MB")
    print(f"{'run':<19}{'import':>8}{'open':>7}{'create':>8}{'(cpu)':>8}{'update':>8}{'(cpu)':>8}"
          f"{'process':>9}  (s; cpu = this process's CPU time, all threads)")  # fmt: skip
    for name, r in runs.items():
        create = f"{r['create_s']:8.2f}{r['create_cpu_s']:8.2f}" if "create_s" in r else " " * 16
        print(f"{name:<19}{r['import_s']:8.2f}{r['open_s']:7.2f}{create}"
              f"{r['update_s']:8.2f}{r['update_cpu_s']:8.2f}{r['process_s']:9.2f}")  # fmt: skip
    cold, warm = runs["cold"], runs["warm"]
    print(f"a later update in the cold run (all compiled): {cold['later_update_s']:.2f} s")
    new_cold, new_warm = cold["create_s"] + cold["update_s"], warm["create_s"] + warm["update_s"]
    print(f"new twin, create + first update: cold {new_cold:.2f} s, warm {new_warm:.2f} s -> "
          f"{new_cold / new_warm:.1f} x")  # fmt: skip
    rc, rw = runs["restart, no cache"]["update_s"], runs["restart, warm"]["update_s"]
    verdict = "met" if rw <= TARGET_S else "NOT met"
    print(f"first update after a restart: no cache {rc:.2f} s, warm cache {rw:.2f} s -> "
          f"{rc / rw:.1f} x  (target <= {TARGET_S:g} s: {verdict})")  # fmt: skip
    wu = runs["restart, warmed up"]
    verdict = "met" if wu["update_s"] <= TARGET_S else "NOT met"
    print(f"after the service's warm-up ({wu['warm_up_s']:.2f} s, {wu['warm_up_cpu_s']:.2f} s "
          f"CPU, in the background): first update {wu['update_s']:.2f} s  (target <= "
          f"{TARGET_S:g} s: {verdict})")  # fmt: skip
    if args.profile:
        for name, r in runs.items():
            prof = {k: round(v, 2) for k, v in r.items() if "." in k}
            print(f"{name}: {json.dumps(prof)}")


if __name__ == "__main__":
    main()
