"""A virtual trial: does giving the meal bolus 20 minutes before the meal beat giving it at the
meal? simglucose's 30 UVA/Padova virtual patients (10 children, 10 adolescents, 10 adults),
two days of three meals, each patient in both arms with the same meals (paired).

Run: ``python examples/trial.py`` (about 25 s on 2 cores).

The same trial at scale, with an enlarged population and a subgroup report, is the YAML spec
``examples/trial_two_regimens.yaml`` (``medtwin trial run``; see docs/trials.md). Endpoints are
computed from the 5-minute plasma glucose trace: time in range 70-180 mg/dL (TIR) and time
below 70 mg/dL (TBR), in % of the time; confidence intervals are 95 % bootstrap intervals.
"""

import numpy as np

import medtwin  # noqa: F401  (enables float64 in JAX)
from medtwin.cohorts import GlucoseEndpoint, MealScenario, RegimenArm, T1DRegimen, run_trial
from medtwin.data import virtual_population
from medtwin.models import UVAPadova

population = virtual_population()  # 30 patients with age_group, carb ratio, ...
days = MealScenario(days=2)  # 07:00 45 g, 12:30 70 g, 19:00 60 g, each moved and scaled a little
saveat = np.arange(0.0, days.horizon + 1, 5.0)
arms = [
    RegimenArm("at meal", UVAPadova(), T1DRegimen(days), t1=days.horizon, saveat=saveat),
    RegimenArm(
        "20 min before",
        UVAPadova(),
        T1DRegimen(days, bolus_delay=-20),
        t1=days.horizon,
        saveat=saveat,
    ),
]
endpoints = [GlucoseEndpoint("tir"), GlucoseEndpoint("tbr70")]
result = run_trial(population, arms, endpoints, chunk=30, seed=1)

for d in result.differences("at meal"):
    print(
        f"{d.arm} vs {d.reference}: {d.endpoint} {d.mean:+.2f} points "
        f"(95 % CI {d.low:+.2f} to {d.high:+.2f}), n = {d.n}"
    )
report = result.subgroups("age_group", "tir", reference="at meal", min_n=10)
for row in report.rows:
    d = row.differences["20 min before"]
    ci = f"[{d.low:+.2f}, {d.high:+.2f}]"
    print(f"  TIR difference, {row.group:>10} (n = {row.n}): {d.mean:+.2f} {ci}")
