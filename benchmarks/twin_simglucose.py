"""The T1D twin tracking a CGM stream made by an independent implementation.

simglucose 0.2.11 simulates a virtual patient minute by minute with its own T1DPatient and
reads it with its own CGM sensor (GuardianRT: 5-minute sampling, Johnson-transformed noise). The
twin is told the meals and boluses but not who the patient is: its prior is the population of
the other 29 virtual patients. It replays the stream as if live, forecasting after every reading,
and this script prints the 30- and 60-minute MARD and band coverage.

    python benchmarks/twin_simglucose.py [--patient adolescent#005] [--hours 24] [--particles 500]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np

import medtwin  # noqa: F401
from medtwin.assimilate import ParticleFilter, observations
from medtwin.data import t1d_population_prior
from medtwin.loop import replay_stream
from medtwin.simulate import Regimen, bolus, meal

MEALS = {7 * 60: 50.0, 12 * 60: 70.0, 18 * 60 + 30: 60.0}


def simglucose_stream(name: str, minutes: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from simglucose.patient.t1dpatient import Action, T1DPatient
        from simglucose.sensor.cgm import CGMSensor
    logging.getLogger("simglucose").setLevel(logging.WARNING)
    patient = T1DPatient.withName(name)
    sensor = CGMSensor.withName("GuardianRT", seed=seed)
    basal = float(patient._params.u2ss * patient._params.BW / 6000.0)
    from medtwin.data import therapy_settings

    cr = therapy_settings(name).carb_ratio
    boluses = {t: round(g / cr, 2) for t, g in MEALS.items()}
    times, cgm = [], []
    for k in range(minutes + 1):
        if k % 5 == 0:
            times.append(float(k))
            cgm.append(sensor.measure(patient))
        if k == minutes:
            break
        patient.step(Action(CHO=MEALS.get(k % 1440, 0.0), insulin=basal + boluses.get(k, 0.0)))
    return np.array(times), np.array(cgm), boluses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patient", default="adolescent#005")
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--particles", type=int, default=500)
    ap.add_argument(
        "--drift",
        type=float,
        default=None,
        help="parameter drift per sqrt(h) (default: the T1D twin's, 0.05)",
    )
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    minutes = 60 * args.hours
    t = time.perf_counter()
    times, cgm, boluses = simglucose_stream(args.patient, minutes, args.seed)
    t_sg = time.perf_counter() - t
    events = Regimen(
        tuple(meal(t, g) for t, g in MEALS.items() if t < minutes)
        + tuple(bolus(t, u) for t, u in boluses.items() if t < minutes)
    )
    prior = t1d_population_prior(exclude=(args.patient,))
    t = time.perf_counter()
    res = replay_stream(
        observations(times, cgm, "sc_glucose"), events, horizon=60, particles=args.particles,
        seed=args.seed, prior=prior,
        method=None if args.drift is None else ParticleFilter(drift=args.drift),
    )  # fmt: skip
    t_twin = time.perf_counter() - t
    print(
        f"simglucose {args.patient}, GuardianRT CGM, {args.hours} h ({t_sg:.1f} s); twin with "
        f"{args.particles} particles, prior = the other 29 patients ({t_twin:.1f} s)"
    )
    print(f"readings {len(times)}, assimilated {res.used}, dropped {res.dropped or 'none'}")
    for h in (30.0, 60.0):
        row = res.skill.at(h)
        cov = ", ".join(
            f"{round(100 * lv)} % band {100 * c:.0f} %" for lv, c in row.coverage.items()
        )
        print(f"{h:.0f} min ahead: n {row.n}, MARD {row.mard:.1f} %, RMSE {row.rmse:.1f} mg/dL, "
              f"CRPS {row.crps:.1f}; coverage {cov}")  # fmt: skip
    print(f"drift flagged at the end: {res.skill.drifting}")


if __name__ == "__main__":
    main()
