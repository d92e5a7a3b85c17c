"""The same simulate kernel on a GPU: numbers against the CPU backend, and cohort throughput.

Run where JAX sees a GPU (nothing in medtwin assumes one):

    PYTHONPATH=src python benchmarks/gpu_check.py [--members 100000]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

import medtwin  # noqa: F401
from medtwin.data import load_virtual_patients
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, meal, simulate

DAY = Regimen((meal(420, 45), bolus(420, 4.5), meal(750, 70), bolus(750, 7.0), meal(1140, 60)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=100_000)
    args = ap.parse_args()
    print("devices:", jax.devices(), "backend:", jax.default_backend())
    model = UVAPadova()
    p30 = np.asarray(load_virtual_patients())
    accel = simulate(model, p30, DAY, t1=1440, save_states=False)
    with jax.default_device(jax.devices("cpu")[0]):
        cpu = simulate(model, p30, DAY, t1=1440, save_states=False)
    diff = float(np.max(np.abs(np.asarray(accel.observables) - np.asarray(cpu.observables))))
    print(f"30 patients x 1 day: max |default backend - CPU| over all observables = {diff:.2e}")

    params = p30[np.arange(args.members) % 30]
    saveat = np.arange(0.0, 1441.0, 5.0)
    for label in ("first (compile)", "steady"):
        t = time.perf_counter()
        traj = simulate(model, params, DAY, t1=1440, saveat=saveat, save_states=False)
        traj.observables.block_until_ready()
        dt = time.perf_counter() - t
        print(f"{args.members} patient-days, {label}: {dt:.2f} s -> {args.members / dt:,.0f} /s, "
              f"{int(np.sum(np.asarray(traj.status) == 0))} ok")  # fmt: skip


if __name__ == "__main__":
    main()
