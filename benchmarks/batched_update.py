"""Throughput of twin updates batched across patients (issue 15): K T1D twins with 200
particles each get one new CGM reading (5 min after their time) and a 60-minute forecast every
5 minutes; one-by-one (``assimilate_with_report`` then ``forecast`` per twin, as the store's
update does) against batched (one ``assimilate_many`` and one ``forecast_many`` for all K).

Both paths are warmed up first (compilation excluded), then timed over ``--rounds`` rounds of K
readings each, the two paths alternating on the same inputs; prints readings/s both ways (wall
clock) and their ratio, the CPU time per reading (less sensitive to other load on the machine),
and whether the two paths gave the same ensembles, reports and forecast draws bit for bit.
The target of issue 15 is >= 100 readings/s through the service with 20 clients.

    python benchmarks/batched_update.py [--sizes 1 5 20 50] [--particles 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

import medtwin  # noqa: F401
from medtwin.assimilate import assimilate_many, assimilate_with_report, observations
from medtwin.data import T1D_FILTER, VIRTUAL_PATIENTS, load_virtual_patients, t1d_population_prior
from medtwin.forecast import forecast, forecast_many
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, meal, simulate
from medtwin.twin import Twin

HORIZON, EVERY = 60.0, 5.0


def cgm_streams(model, k: int, minutes: int) -> np.ndarray:
    """Noise-free CGM of ``k`` virtual patients (a meal at 20 min), every 5 min."""
    names = [VIRTUAL_PATIENTS[i % len(VIRTUAL_PATIENTS)] for i in range(k)]
    truth = np.asarray(load_virtual_patients(names))
    traj = simulate(model, truth, Regimen((meal(20, 40),)), t1=minutes,
                    saveat=np.arange(0, minutes + 1, 5.0))  # fmt: skip
    return np.asarray(traj.observable("sc_glucose"))


def one_by_one(twins, obs):
    out = []
    for tw, o in zip(twins, obs, strict=True):
        a = assimilate_with_report(tw, o)
        fc = forecast(a.twin, HORIZON, every=EVERY)
        out.append((a, fc))
    return out


def batched(twins, obs):
    res = assimilate_many(twins, obs)
    fcs = forecast_many([a.twin for a in res], HORIZON, every=EVERY)
    return list(zip(res, fcs, strict=True))


def same(a, b) -> bool:
    (x, fx), (y, fy) = a, b
    ex, ey = x.twin.ensemble, y.twin.ensemble
    return (
        x.report == y.report
        and all(np.array_equal(np.asarray(getattr(ex, f)), np.asarray(getattr(ey, f)))
                for f in ("params", "states", "log_weights"))
        and np.array_equal(fx.draws, fy.draws, equal_nan=True)
    )  # fmt: skip


def run(k: int, particles: int, rounds: int) -> dict[str, float | bool]:
    model = UVAPadova()
    prior = t1d_population_prior()
    cgm = cgm_streams(model, k, 5 * (rounds + 4))
    twins = [Twin.create(model, prior, key=jax.random.key(i), n=particles, method=T1D_FILTER)
             for i in range(k)]  # fmt: skip

    def readings(r):
        return [observations([5.0 * r], [cgm[i, r]], "sc_glucose") for i in range(k)]

    # warm-up: compile both paths, with a reading far from every forecast first (so that the
    # filter resamples and that code is compiled too), then move the twins along one-by-one
    far = [observations([5.0], [400.0], "sc_glucose") for _ in range(k)]
    for path in (one_by_one, batched):
        path(twins, far)
    for r in (1, 2):
        batched(twins, readings(r))
        twins = [a.twin for a, _ in one_by_one(twins, readings(r))]
    wall = {"one": 0.0, "bat": 0.0}
    cpu = {"one": 0.0, "bat": 0.0}
    agree = True
    for r in range(3, rounds + 3):
        obs = readings(r)
        outs = {}
        for name, path in (("one", one_by_one), ("bat", batched)):
            t, c = time.perf_counter(), time.process_time()
            outs[name] = path(twins, obs)
            jax.block_until_ready([a.twin.ensemble.states for a, _ in outs[name]])
            wall[name] += time.perf_counter() - t
            cpu[name] += time.process_time() - c
        agree = agree and all(same(a, b) for a, b in zip(outs["one"], outs["bat"], strict=True))
        twins = [a.twin for a, _ in outs["one"]]
    n = k * rounds
    return {
        "one": n / wall["one"], "bat": n / wall["bat"], "one_cpu": 1000 * cpu["one"] / n,
        "bat_cpu": 1000 * cpu["bat"] / n, "agree": agree,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 20, 50])
    ap.add_argument("--particles", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"T1D twins, {args.particles} particles, 1 CGM reading + {HORIZON:g}-min forecast "
          f"every {EVERY:g} min per update, float64, {jax.default_backend()}")  # fmt: skip
    print("readings/s by wall clock; CPU ms per reading (all threads of this process)")
    print(f"{'K':>4} {'one-by-one/s':>13} {'batched/s':>10} {'ratio':>6} "
          f"{'CPU ms one':>11} {'CPU ms batched':>15}  identical")  # fmt: skip
    for k in args.sizes:
        m = run(k, args.particles, args.rounds)
        print(f"{k:>4} {m['one']:>13.1f} {m['bat']:>10.1f} {m['bat'] / m['one']:>6.2f} "
              f"{m['one_cpu']:>11.1f} {m['bat_cpu']:>15.1f}  {m['agree']}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
