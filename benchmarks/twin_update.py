"""Latency of the T1D twin loop: one particle-filter assimilation step (one CGM reading, 5 min of
model time for every particle) and one 4-hour forecast, with 1,000 particles, float64.

Prints the median over repeated calls after warm-up, next to the targets of the twin-loop issue
(<= 100 ms per step, <= 200 ms per 4-h forecast). The peer is the same code's plain
``simulate`` of the 1,000 particles over 5 minutes (the floor an update cannot beat).

    python benchmarks/twin_update.py [--particles 1000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np

import medtwin  # noqa: F401
from medtwin.assimilate import PopulationPrior, assimilate, observations
from medtwin.data import T1D_FILTER, T1D_FREE, VIRTUAL_PATIENTS, load_virtual_patients
from medtwin.forecast import forecast
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, meal, simulate
from medtwin.twin import Twin

FREE = T1D_FREE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()

    model = UVAPadova()
    truth_name = "adult#003"
    pop = np.asarray(load_virtual_patients([n for n in VIRTUAL_PATIENTS if n != truth_name]))
    truth = load_virtual_patients([truth_name])[0]
    reg = Regimen((meal(30, 50), bolus(30, 5.0)))
    horizon = 5 * (args.repeats + 20)
    cgm = np.asarray(
        simulate(model, truth, reg, t1=horizon, saveat=np.arange(0, horizon + 1, 5.0)).observable(
            "sc_glucose"
        )
    )
    prior = PopulationPrior(pop, FREE)
    twin = Twin.create(model, prior, key=jax.random.key(0), n=args.particles, method=T1D_FILTER)

    step_ms, fc_ms = [], []
    for k in range(1, args.repeats + 10):
        obs = observations([5.0 * k], [cgm[k]], "sc_glucose")
        t = time.perf_counter()
        twin = assimilate(twin, obs, reg)
        jax.block_until_ready(twin.ensemble.states)
        step_ms.append(1000 * (time.perf_counter() - t))
        if k % 3 == 0:
            t = time.perf_counter()
            forecast(twin, 240)
            fc_ms.append(1000 * (time.perf_counter() - t))

    ens = twin.ensemble
    floor = []
    for _ in range(10):
        t = time.perf_counter()
        simulate(model, ens.params, reg, t0=ens.time, t1=ens.time + 5, y0=ens.states,
                 save_states=False).observables.block_until_ready()  # fmt: skip
        floor.append(1000 * (time.perf_counter() - t))

    step, fc = statistics.median(step_ms[5:]), statistics.median(fc_ms[2:])
    print(f"T1D twin, {args.particles} particles, {len(FREE)} free parameters, float64")
    print(f"assimilation step (1 CGM reading, 5 min): median {step:.1f} ms  (target <= 100 ms)")
    print(f"4-hour forecast (48 times, 3 observables): median {fc:.1f} ms  (target <= 200 ms)")
    print(f"plain simulate of the particles over 5 min: median {statistics.median(floor):.1f} ms "
          f"-> step / simulate = {step / statistics.median(floor):.1f} x")  # fmt: skip


if __name__ == "__main__":
    main()
