"""A UVA/Padova virtual trial at scale: patient-days per second and peak memory, serial against a
Dask LocalCluster with 2 workers, in one invocation.

The population is simglucose's 30 virtual patients repeated to ``patient_days / days`` members;
each member gets its own seeded random meal days (3 meals a day, +-30 min, +-30 %), a basal rate
from its steady state and carb-counted boluses (``T1DRegimen``), and the trial computes time in
range, time below 70 mg/dL and mean glucose from the 5-minute trace. The work is cut into chunks
of ``--chunk`` members (one vmapped simulation each), which bounds peak memory; the Dask run must
give the same endpoint values as the serial one.

    python benchmarks/trial_scale.py                          # 1,000,000 patient-days
    python benchmarks/trial_scale.py --patient-days 21000     # a quick check
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import medtwin  # noqa: F401  (float64)
from medtwin.cohorts import (
    DaskExecutor,
    GlucoseEndpoint,
    MealScenario,
    Population,
    RegimenArm,
    SerialExecutor,
    T1DRegimen,
    run_trial,
)
from medtwin.data import virtual_population
from medtwin.models import UVAPadova


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0**2


def population(n: int) -> Population:
    base = virtual_population()
    idx = np.arange(n) % len(base)
    return Population(
        base.params[idx],
        base.parameter_names,
        {k: v[idx] for k, v in base.covariates.items()},
        [f"{base.ids[i]}/{k}" for k, i in enumerate(idx)],
    )


def run(pop: Population, days: int, chunk: int, executor, seed: int) -> tuple[float, object]:
    scenario = MealScenario(days=days)
    arm = RegimenArm(
        "carb-counted", UVAPadova(), T1DRegimen(scenario), t1=scenario.horizon,
        saveat=np.arange(0.0, scenario.horizon + 1.0, 5.0),
    )  # fmt: skip
    endpoints = [GlucoseEndpoint("tir"), GlucoseEndpoint("tbr70"), GlucoseEndpoint("mean")]
    t = time.perf_counter()
    res = run_trial(pop, [arm], endpoints, chunk=chunk, executor=executor, seed=seed)
    return time.perf_counter() - t, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patient-days", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=7, help="days per member")
    ap.add_argument("--chunk", type=int, default=600, help="members per vmapped chunk")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-dask", action="store_true", help="serial run only")
    args = ap.parse_args()

    n = max(1, args.patient_days // args.days)
    pd = n * args.days
    pop = population(n)
    # warm-up: compile the kernel for this chunk shape outside the timing
    run(population(min(n, args.chunk)), args.days, args.chunk, SerialExecutor(), args.seed)
    serial_s, serial = run(pop, args.days, args.chunk, SerialExecutor(), args.seed)
    ok = int(np.sum(serial.status == 0))
    print(
        f"serial : {pd:,} patient-days ({n:,} members x {args.days} d, chunks of {args.chunk}), "
        f"{ok:,} ok, {serial_s:.1f} s -> {pd / serial_s:,.0f} patient-days/s, "
        f"peak RSS {rss_gib():.2f} GiB"
    )
    tir = serial.value("carb-counted", "tir")
    print(f"         mean TIR {np.nanmean(tir):.1f} %, TBR70 "
          f"{np.nanmean(serial.value('carb-counted', 'tbr70')):.2f} %")  # fmt: skip
    if args.no_dask:
        return
    with DaskExecutor(n_workers=args.workers) as ex:
        run(population(min(n, 2 * args.chunk)), args.days, args.chunk, ex, args.seed)  # warm
        dask_s, dask = run(pop, args.days, args.chunk, ex, args.seed)
        worker_rss = ex.client.run(lambda: rss_gib())
    same = np.array_equal(dask.values, serial.values, equal_nan=True)
    print(
        f"dask   : LocalCluster {args.workers} workers x 1 thread, {dask_s:.1f} s -> "
        f"{pd / dask_s:,.0f} patient-days/s; peak worker RSS "
        f"{max(worker_rss.values()):.2f} GiB; identical endpoint values: {same}"
    )
    print(f"ratio  : serial time / Dask time = {serial_s / dask_s:.2f}")


if __name__ == "__main__":
    main()
