"""Speed of the closed loop's MPC arm with the t1d-control trial's settings (issue 21 item 4):
seconds of wall time per simulated patient-day, steady state (a second run of the same length,
after the first compiled), and the compile time apart (first run minus second).

The trial's MPC (``medtwin trial t1d-control``): 200-particle twins from the leave-one-out
population prior, 32 particles resampled per decision, basal 0/1/2 x the usual rate per block,
the patient's boluses plus 0 or 60 % of an automatic correction (18 plans), therapy settings
with a log-normal error of 0.3, random meals with seed 1. The machine is shared: the load
average is printed with each figure. ``--policy`` times another arm for comparison.

    python benchmarks/closed_loop.py [--patients 8] [--hours 12] [--policy mpc]

Measured (2-core CPU shared with other work, 8 patients, 12 h), before and after MPC's
scoring shared the plans' first block, simulated copies of plans once and laid the members on
the last axis: 2.04 -> 0.86 s per patient-day at load average 1.5 (compile 18 -> 24 s),
4.19 -> 1.73 s at load average 5.5 (compile 26 -> 35 s).
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

import medtwin  # noqa: F401
from medtwin.control import (
    APS,
    MPC,
    PID,
    BasalBolus,
    ClosedLoop,
    random_meals,
    therapy_with_error,
    total_daily_insulin,
)
from medtwin.data import (
    T1D_CGM_FILTER,
    VIRTUAL_PATIENTS,
    load_virtual_patients,
    t1d_population_prior,
    therapy_settings,
)
from medtwin.models import UVAPadova

MIXED = ["adolescent#001", "adolescent#005", "adult#001", "adult#004", "adult#008",
         "child#002", "child#006", "child#009"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=8, help="8: mixed ages; else the first N")
    ap.add_argument("--hours", type=float, default=12.0)
    ap.add_argument("--policy", choices=("bb", "pid", "aps", "mpc"), default="mpc")
    args = ap.parse_args()

    names = MIXED if args.patients == 8 else list(VIRTUAL_PATIENTS[: args.patients])
    model, seed = UVAPadova(), 1
    truth = np.asarray(load_virtual_patients(names))
    ther = [therapy_settings(n) for n in names]
    basal, cr, cf = therapy_with_error(
        np.array([model.steady_state_basal(p) for p in truth]) * 60,
        np.array([t.carb_ratio for t in ther]), np.array([t.correction_factor for t in ther]),
        error=0.3, seed=seed, patients=[VIRTUAL_PATIENTS.index(n) for n in names],
    )  # fmt: skip
    bbs = [BasalBolus(float(b), float(c), float(f), correct_between_meals=False)
           for b, c, f in zip(basal, cr, cf, strict=True)]  # fmt: skip
    make = {
        "bb": lambda: bbs,
        "pid": lambda: [PID(b.basal).scaled(total_daily_insulin(b.basal)) for b in bbs],
        "aps": lambda: [APS(b) for b in bbs],
        "mpc": lambda: [
            MPC(
                b,
                particles=32,
                bolus_reference="basal-bolus",
                bolus_levels=(1.0,),
                basal_levels=(0.0, 1.0, 2.0),
                correction_levels=(0.0, 0.6),
                switch_margin=3.0,
            )
            for b in bbs
        ],
    }
    days = args.hours / 24.0
    scenario = random_meals(len(names), max(1, int(np.ceil(days))), seed=seed, announce=True)
    priors = [t1d_population_prior(exclude=(n,)) for n in names]
    loop = ClosedLoop(model, priors, method=T1D_CGM_FILTER, particles=200)
    policies = make[args.policy]()
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
