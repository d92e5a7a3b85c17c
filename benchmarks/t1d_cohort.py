"""Cohort throughput of medtwin's UVA/Padova patient against simglucose, in one invocation.

medtwin simulates a cohort of >= 10,000 patient-days (the 30 virtual patients, each member with
its own seeded random day of meals and carb-counted boluses) in one vmapped call; simglucose's
``T1DPatient`` is stepped minute by minute for a few of the same patient-days. The script prints
patient-days per second for both, their ratio, medtwin's peak memory, and the largest plasma
glucose difference on the patient-days both ran.

In the same invocation it times a plain vmapped RK4 of the same model (``jax.jit(jax.vmap(
member))`` of a ``lax.scan`` of 1-min RK4 steps on each member's precomputed per-minute input
rates, ``on_step`` included, no refinement near doses, bg saved every 5 min): what a user gets
from the model's right-hand side without medtwin's simulator. Its figure moves with the
machine's load as medtwin's does; the ratio of the two is what to compare across runs.

    python benchmarks/t1d_cohort.py [--members 10020] [--days 1] [--peer-days 3]
"""

from __future__ import annotations

import argparse
import resource
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import medtwin  # noqa: F401  (enables float64)
from medtwin.data import VIRTUAL_PATIENTS, load_virtual_patients, therapy_settings
from medtwin.models import UVAPadova
from medtwin.simulate import Regimen, bolus, meal, simulate

DAY = 1440


def scenario(rng: np.random.Generator, cr: float, days: int) -> tuple[dict, dict]:
    """One member's meals and boluses: {minute: grams}, {minute: units}."""
    meals, boluses = {}, {}
    for d in range(days):
        for clock, grams in ((7 * 60, 45), (12 * 60 + 30, 70), (19 * 60, 60)):
            t = d * DAY + clock + int(rng.integers(-30, 31))
            g = float(np.round(grams * rng.uniform(0.7, 1.3)))
            meals[t] = g
            boluses[t] = round(g / cr, 2)
    return meals, boluses


def to_regimen(meals: dict, boluses: dict) -> Regimen:
    return Regimen(
        tuple(meal(t, g) for t, g in meals.items()) + tuple(bolus(t, u) for t, u in boluses.items())
    )


def plain_rk4(model: UVAPadova, params: np.ndarray, rates: np.ndarray, every: int) -> Any:
    """The reference: one jitted, vmapped scan of plain 1-min RK4 steps per member."""
    dt = model.input_dt

    def member(p, u):
        base = model.baseline_inputs(p)
        f = model.vector_field

        def step(y, uk):
            uk = uk + base
            y = model.on_step(0.0, y, uk, p)
            k1 = f(0.0, y, uk, p)
            k2 = f(0.0, y + dt / 2 * k1, uk, p)
            k3 = f(0.0, y + dt / 2 * k2, uk, p)
            k4 = f(0.0, y + dt * k3, uk, p)
            return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

        def segment(y, us):
            y, _ = jax.lax.scan(step, y, us)
            return y, model.observe(0.0, y, p)[0]

        y0 = model.initial_state(p)
        return jax.lax.scan(segment, y0, u.reshape(-1, every, u.shape[-1]))[1]

    return jax.jit(jax.vmap(member))(jnp.asarray(params), jnp.asarray(rates))


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=10_020)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--peer-days", type=int, default=3, help="patient-days run on simglucose")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    names = [VIRTUAL_PATIENTS[i % 30] for i in range(args.members)]
    crs = {n: therapy_settings(n).carb_ratio for n in VIRTUAL_PATIENTS}
    scen = [scenario(rng, crs[n], args.days) for n in names]
    params = np.asarray(load_virtual_patients(VIRTUAL_PATIENTS))[np.arange(args.members) % 30]
    regimens = [to_regimen(*s) for s in scen]
    model = UVAPadova()
    t1 = args.days * DAY
    saveat = np.arange(0.0, t1 + 1, 5.0)  # a CGM's 5-minute grid

    rss_before = rss_mib()
    t = time.perf_counter()
    traj = simulate(model, params, regimens, t1=t1, saveat=saveat, save_states=False)
    traj.observables.block_until_ready()
    first = time.perf_counter() - t
    t = time.perf_counter()
    traj = simulate(model, params, regimens, t1=t1, saveat=saveat, save_states=False)
    traj.observables.block_until_ready()
    steady = time.perf_counter() - t
    rss_after = rss_mib()
    patient_days = args.members * args.days
    ok = int(np.sum(np.asarray(traj.status) == 0))
    mt_rate = patient_days / steady

    # The plain vmapped RK4 on the same members: input rates per minute built on the host
    # (not timed), one compile call, then a timed call.
    rates = np.stack([r.compile(model.input_names, 0.0, model.input_dt, t1).dose_rate
                      for r in regimens])  # fmt: skip
    plain_rk4(model, params, rates, 5).block_until_ready()
    t = time.perf_counter()
    plain_bg = plain_rk4(model, params, rates, 5).block_until_ready()
    plain_rate = patient_days / (time.perf_counter() - t)
    del rates
    plain_diff = float(
        np.max(np.abs(np.asarray(plain_bg) - np.asarray(traj.observable("bg"))[:, 1:]))
    )

    # The peer: simglucose's own T1DPatient on members spread over the age groups, 1 day each.
    from medtwin.credibility.evidence.simglucose_oracle import run_simglucose

    peer_members = [(k * 10) % 30 + k // 3 for k in range(args.peer_days)]
    t = time.perf_counter()
    peer_bg = [
        run_simglucose(
            names[i],
            {k: g for k, g in scen[i][0].items() if k < DAY},
            {k: u for k, u in scen[i][1].items() if k < DAY},
            DAY,
        )[0]
        for i in peer_members
    ]
    peer_time = time.perf_counter() - t
    sg_rate = len(peer_members) / peer_time

    # The same members again on the 1-minute grid (a member's numbers do not depend on its batch).
    day_regimens = [
        Regimen(tuple(e for e in regimens[i].events if e.time < DAY)) for i in peer_members
    ]
    again = simulate(model, params[peer_members], day_regimens, t1=DAY, save_states=False)
    mt_bg = np.asarray(again.observable("bg"))
    diff = max(float(np.max(np.abs(mt_bg[k] - peer_bg[k]))) for k in range(len(peer_members)))
    cohort_bg = np.asarray(traj.observable("bg"))[peer_members, : DAY // 5 + 1]
    same = bool(np.array_equal(mt_bg[:, ::5], cohort_bg))

    shared = ", ".join(names[i] for i in peer_members)
    print(
        f"medtwin   : {patient_days} patient-days ({args.members} members x {args.days} d, "
        f"float64, RK4 1-min steps, 4 substeps near doses, 2 threads if 2 cores), {ok} ok"
    )
    print(
        f"            first call (incl. compile) {first:.2f} s, steady {steady:.2f} s "
        f"-> {mt_rate:,.0f} patient-days/s"
    )
    print(f"            peak RSS {rss_after:,.0f} MiB (before the cohort {rss_before:,.0f} MiB)")
    print(
        f"plain RK4 : the same {patient_days} patient-days, jax.jit(jax.vmap) of 1-min RK4 steps "
        f"(one call, no refinement near doses) -> {plain_rate:,.0f} patient-days/s"
    )
    print(
        f"ratio     : medtwin / plain RK4 = {mt_rate / plain_rate:.2f}; max |BG medtwin - BG "
        f"plain RK4| every 5 min {plain_diff:.2e} mg/dL (what the refinement near doses changes)"
    )
    print(
        f"simglucose: {len(peer_members)} patient-days in {peer_time:.1f} s "
        f"-> {sg_rate:.3f} patient-days/s"
    )
    print(f"ratio     : medtwin / simglucose = {mt_rate / sg_rate:,.0f} x")
    print(
        f"max |BG medtwin - BG simglucose| on the {len(peer_members)} shared patient-days "
        f"({shared}), every minute: {diff:.2e} mg/dL"
    )
    print(f"those members bit-identical in the cohort and in a separate run: {same}")


if __name__ == "__main__":
    main()
