"""Trials: arms on virtual patients, paired randomness, endpoints, bootstrap results, subgroup
flags, executors giving identical endpoint values, and the ``medtwin trial run`` command."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.cohorts import (
    GlucoseEndpoint,
    MealScenario,
    Population,
    ProcessExecutor,
    RegimenArm,
    SerialExecutor,
    T1DRegimen,
    TrialResult,
    run_trial,
    subject_rng,
)
from medtwin.cohorts._trials import subjects
from medtwin.data import virtual_population
from medtwin.errors import ModelError, SimulationError
from medtwin.models import UVAPadova

DAY = MealScenario(days=1)
SAVEAT = np.arange(0.0, DAY.horizon + 1.0, 5.0)
NAMES = ["adolescent#001", "adult#001", "adult#005", "child#003"]
ENDPOINTS = (GlucoseEndpoint("tir"), GlucoseEndpoint("mean"), GlucoseEndpoint("tbr70"))


def _arm(name: str, **kw) -> RegimenArm:
    return RegimenArm(name, UVAPadova(), T1DRegimen(DAY, **kw), t1=DAY.horizon, saveat=SAVEAT)


@pytest.fixture(scope="module")
def small_trial() -> TrialResult:
    arms = [_arm("carb-counted"), _arm("no-bolus", bolus_scale=0.0)]
    return run_trial(virtual_population(NAMES), arms, ENDPOINTS, chunk=2, seed=5)


def test_arms_share_each_patients_meals_and_boluses_follow_the_carb_ratio():
    pop = virtual_population(NAMES)
    seed = np.random.SeedSequence(5).spawn(1)[0]
    subj = subjects(pop)[1]
    a = T1DRegimen(DAY)(subj, subject_rng(seed, 1))
    b = T1DRegimen(DAY, bolus_scale=0.0)(subj, subject_rng(seed, 1))
    meals_a = [(e.time, e.amount) for e in a.events if getattr(e, "input", "") == "carbs"]
    meals_b = [(e.time, e.amount) for e in b.events if getattr(e, "input", "") == "carbs"]
    assert meals_a == meals_b and len(meals_a) == 3
    boluses = [e.amount for e in a.events if e.label == "bolus"]
    cr = float(pop.covariates["carb_ratio"][1])
    np.testing.assert_allclose(boluses, [round(g / cr, 2) for _, g in meals_a])
    # another patient of the chunk draws other meals
    c = T1DRegimen(DAY)(subjects(pop)[0], subject_rng(seed, 0))
    assert [e.time for e in c.events if e.label == "meal"] != [t for t, _ in meals_a]


def test_leaving_out_boluses_raises_every_patients_glucose(small_trial):
    mean_with = small_trial.value("carb-counted", "mean")
    mean_without = small_trial.value("no-bolus", "mean")
    assert np.all(mean_without > mean_with + 20.0)
    assert np.all(small_trial.status == 0)
    (d_mean,) = [d for d in small_trial.differences() if d.endpoint == "mean"]
    assert d_mean.n == 4 and d_mean.low > 20.0
    np.testing.assert_allclose(d_mean.mean, np.mean(mean_without - mean_with))
    cols = small_trial.columns()
    assert len(cols["id"]) == 8 and list(cols["arm"][:4]) == ["carb-counted"] * 4
    np.testing.assert_array_equal(cols["mean"][4:], mean_without)


def _same_values_on(executor, expected: TrialResult) -> None:
    arms = [_arm("carb-counted"), _arm("no-bolus", bolus_scale=0.0)]
    seen: list[tuple[int, int]] = []
    res = run_trial(virtual_population(NAMES), arms, ENDPOINTS, chunk=2, seed=5,
                    executor=executor, progress=lambda d, n: seen.append((d, n)))  # fmt: skip
    np.testing.assert_array_equal(res.values, expected.values)
    assert sorted(seen) == [(1, 2), (2, 2)]


@pytest.mark.slow
def test_serial_and_dask_give_identical_endpoint_values(small_trial, dask_executor):
    _same_values_on(SerialExecutor(), small_trial)
    _same_values_on(dask_executor, small_trial)


@pytest.mark.slow
def test_process_executor_gives_identical_endpoint_values(small_trial):
    _same_values_on(ProcessExecutor(2), small_trial)


def test_bootstrap_intervals_and_paired_differences():
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 2.0, 400)
    values = np.stack([x, x + 1.0 + rng.normal(0, 0.1, 400)])[:, None, :]
    res = TrialResult(
        Population(np.zeros((400, 1)), ("a",)), ("A", "B"), ("y",), ("u",), values,
        np.zeros((2, 400), dtype=int),
    )  # fmt: skip
    a, _ = res.summary(n_boot=4000)
    # the percentile interval matches the normal-theory one, mean +- 1.96 sd / sqrt(n)
    half = 1.96 * x.std(ddof=1) / 20.0
    assert abs((a.high - a.low) / 2 - half) < 0.1 * half and a.low < x.mean() < a.high
    (d,) = res.differences("A")
    assert abs(d.mean - 1.0) < 0.02 and d.high - d.low < 0.03  # paired: the spread of x cancels


def test_subgroup_report_flags_small_and_under_represented_groups():
    n = 200
    group = np.array(["adult"] * 150 + ["child"] * 40 + ["elderly"] * 10, dtype=object)
    effect = np.where(group == "child", -5.0, 3.0)
    values = np.stack([np.full(n, 70.0), 70.0 + effect])[:, None, :]
    res = TrialResult(
        Population(np.zeros((n, 1)), ("a",), {"age_group": group}), ("A", "B"), ("tir",),
        ("%",), values, np.zeros((2, n), dtype=int),
    )  # fmt: skip
    rep = res.subgroups(
        "age_group", "tir", target_shares={"adult": 0.5, "child": 0.25, "elderly": 0.1, "x": 0.1},
        min_n=30,
    )  # fmt: skip
    rows = {r.group: r for r in rep.rows}
    assert rows["child"].differences["B"].mean == -5.0 and rows["adult"].means["B"] == 73.0
    assert not rows["adult"].flagged and not rows["child"].flagged  # child: 20 % = 0.8 x 25 %
    assert rows["elderly"].flagged and "n = 10 < 30" in rows["elderly"].reason
    assert rows["x"].flagged and rows["x"].n == 0
    strict = res.subgroups("age_group", "tir", target_shares={"child": 0.3}, under_ratio=1.0)
    assert {r.group: r.flagged for r in strict.rows}["child"]


class _PolicyArm:
    """An arm that returns endpoint values directly (as a closed-loop policy arm may)."""

    name = "policy"

    def run(self, population, seed):
        return {"tir": population.param("BW"), "mean": np.zeros(len(population))}


def test_arms_may_return_endpoint_values_and_errors_are_explicit():
    pop = virtual_population(NAMES)
    res = run_trial(pop, [_PolicyArm()], [GlucoseEndpoint("tir"), GlucoseEndpoint("mean")])
    np.testing.assert_array_equal(res.value("policy", "tir"), pop.param("BW"))
    with pytest.raises(SimulationError, match="without \\['tbr70'\\]"):
        run_trial(pop, [_PolicyArm()], [GlucoseEndpoint("tbr70")])
    with pytest.raises(ModelError, match="unique"):
        run_trial(pop, [_PolicyArm(), _PolicyArm()], [GlucoseEndpoint("tir")])
    with pytest.raises(ModelError, match="Unknown glucose endpoint"):
        GlucoseEndpoint("time-in-happiness")


def test_trial_run_command_prints_the_report_and_writes_the_csv(tmp_path):
    from typer.testing import CliRunner

    from medtwin.cli.main import app

    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "seed: 3\npopulation: {patients: [adult#001, adult#002, child#001]}\ndays: 1\n"
        "arms: [{name: standard}, {name: pre-bolus, bolus_delay: -20}]\n"
        "endpoints: [tir, tbr70]\nn_boot: 200\nchunk: 3\n"
        "subgroups: [{by: age_group, endpoint: tir, min_n: 2, target_shares: {child: 0.5}}]\n"
    )
    out = tmp_path / "subjects.csv"
    res = CliRunner().invoke(app, ["trial", "run", str(spec), "--out", str(out)],
                             env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Paired differences vs standard" in res.output
    assert "UNDER-REPRESENTED" in res.output  # child: 1 of 3 patients, target 50 %
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {r["arm"] for r in rows} == {"standard", "pre-bolus"}
    assert all(0.0 <= float(r["tir"]) <= 100.0 for r in rows)
    bad = tmp_path / "bad.yaml"
    bad.write_text("arms: [{name: a}]\nendpoints: [tir]\ncolour: blue\n")
    res = CliRunner().invoke(app, ["trial", "run", str(bad)])
    assert res.exit_code != 0 and "colour" in str(res.exception)
