"""Speed of the closed loop's MPC arm with the t1d-control trial's settings (issue 21 item 4):
seconds of wall time per simulated patient-day, steady state (a second run of the same length,
after the first compiled), and the compile time apart (first run minus second).

The trial's own arms (``medtwin trial t1d-control --therapy-error 0.3 --seed 1``, built by
``medtwin.cli._control.t1d_control_trial``): for MPC 200-particle twins from the leave-one-out
population prior, 32 particles resampled per decision, basal 0/1/2/3 x the usual rate per
block, the patient's boluses (x 0.7 or 1; 32 plans) and the OpenAPS-style plan as anchor, the
OpenAPS-style guard and fallback, logged rescue carbohydrate. The machine is shared: the load
average is printed with each figure. ``--policy`` times another arm for comparison.

    python benchmarks/closed_loop.py [--patients 8] [--hours 12] [--policy mpc]

Measured with the trial's earlier MPC (18 plans, no guard; 2-core CPU shared with other work,
8 patients, 12 h), before and after MPC's
scoring shared the plans' first block, simulated copies of plans once and laid the members on
the last axis: 2.04 -> 0.86 s per patient-day at load average 1.5 (compile 18 -> 24 s),
4.19 -> 1.73 s at load average 5.5 (compile 26 -> 35 s).
"""

from __future__ import annotations

import argparse
import os
import time

import jax

import medtwin  # noqa: F401
from medtwin.cli._control import t1d_control_trial
from medtwin.data import VIRTUAL_PATIENTS

MIXED = ["adolescent#001", "adolescent#005", "adult#001", "adult#004", "adult#008",
         "child#002", "child#006", "child#009"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=8, help="8: mixed ages; else the first N")
    ap.add_argument("--hours", type=float, default=12.0)
    ap.add_argument("--policy", choices=("bb", "pid", "aps", "mpc"), default="mpc")
    args = ap.parse_args()

    names = MIXED if args.patients == 8 else list(VIRTUAL_PATIENTS[: args.patients])
    seed, days = 1, args.hours / 24.0
    # the trial's own arms: `medtwin trial t1d-control --therapy-error 0.3 --seed 1`
    trial = t1d_control_trial(names, days=days, seed=seed, therapy_error=0.3)
    loop, truth, scenario = trial.loop, trial.truth, trial.scenario
    policies = trial.arms[args.policy]()
    times = []
    for _ in range(2):  # the first run compiles
        t = time.perf_counter()
        loop.run(policies, truth, scenario, days=days, key=jax.random.key(seed))
        times.append(time.perf_counter() - t)
    patient_days = len(names) * days
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"device: {jax.default_backend()}, {len(os.sched_getaffinity(0))} cores, load "
          f"average {load}")  # fmt: skip
    print(
        f"{args.policy}: {len(names)} patients x {args.hours:g} h: {times[1] / patient_days:.2f} "
        f"s per patient-day steady ({patient_days / times[1]:.2f} patient-days/s), compile "
        f"{times[0] - times[1]:.1f} s"
    )


if __name__ == "__main__":
    main()
