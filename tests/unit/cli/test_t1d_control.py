"""`medtwin trial t1d-control`: all four policies (basal-bolus, PID, the OpenAPS-style APS and
MPC) on a small cohort with erroneous therapy settings, and the oracle scenario
(``--therapy-error 0``) equal bit for bit to the trial as it ran with the true settings."""

from __future__ import annotations

import csv

import jax
import numpy as np
import pytest

from medtwin.cli._control import (
    METRICS,
    UNITS,
    control_result,
    paired_table,
    run_t1d_control,
)
from medtwin.control import MPC, BasalBolus, ClosedLoop, HypoTreatment, LowAlert, random_meals
from medtwin.data import (
    T1D_CGM_FILTER,
    T1D_LOOP_FREE,
    load_virtual_patients,
    t1d_population_prior,
    therapy_settings,
)
from medtwin.models import UVAPadova

NAMES = ["adolescent#003", "adult#004", "child#005"]


def _trial(run_main, tmp_path, policies: str) -> tuple[list[dict[str, str]], str]:
    out = tmp_path / "trial.csv"
    code, text, err = run_main([
        "trial", "t1d-control", "--policies", policies, "--patients", ",".join(NAMES),
        "--days", "0.125", "--seed", "4", "--therapy-error", "0.3", "--particles", "16",
        "--mpc-particles", "4", "--out", str(out),
    ])  # fmt: skip
    assert code == 0, err
    assert "therapy settings with error sd(log) 0.3 (seed 4)" in text
    rows = list(csv.DictReader(out.read_text().splitlines()))
    pols = policies.split(",")
    assert [r["policy"] for r in rows] == [p for p in pols for _ in NAMES]
    assert {r["group"] for r in rows} == {"adolescent", "adult", "child"}
    for r in rows:
        assert 0.0 <= float(r["tir"]) <= 100.0 and 40.0 < float(r["mean"]) < 400.0
    for group in ("adolescent", "adult", "child", "all"):
        assert text.count(f" {group} ") >= len(pols)  # a row per policy and age group
    return rows, text


def test_the_fast_policies_run_with_erroneous_settings(run_main, tmp_path):
    rows, text = _trial(run_main, tmp_path, "bb,pid,aps")
    # the paired comparison to basal-bolus; none to the OpenAPS-style loop without MPC
    assert "paired difference to bb" in text and "paired difference to aps" not in text
    by = {(r["policy"], r["patient"]): r for r in rows}
    # the same meals, noise and settings: every policy starts from the same reading, and the
    # APS's temp basal differs from basal-bolus's fixed schedule
    assert any(by["aps", n]["mean"] != by["bb", n]["mean"] for n in NAMES)


# slow (about 2 min on 2 cores: MPC's compilation): all four policies through the CLI
@pytest.mark.slow
def test_all_four_policies_run_with_erroneous_settings(run_main, tmp_path):
    rows, text = _trial(run_main, tmp_path, "bb,pid,aps,mpc")
    assert "paired difference to bb" in text and "paired difference to aps" in text
    assert all(0 <= float(r["fallbacks"]) <= 100 for r in rows if r["policy"] == "mpc")
    assert all(0 <= float(r["band"]) <= 100 for r in rows if r["policy"] == "mpc")


def _today(names, pols, *, days, seed, particles, mpc_particles):
    """The trial's bb and MPC arms built as before therapy errors existed: the true basal and
    simglucose's carb ratio and correction factor (and the 15-15 rule's rescue carbohydrate,
    logged, and MPC's low alert)."""
    model = UVAPadova()
    truth = np.asarray(load_virtual_patients(names))
    basal = np.array([model.steady_state_basal(p) for p in truth]) * 60
    ther = [therapy_settings(n) for n in names]
    bbs = [BasalBolus(float(b), t.carb_ratio, t.correction_factor, correct_between_meals=False)
           for b, t in zip(basal, ther, strict=True)]  # fmt: skip
    mpcs = [MPC(b, particles=mpc_particles, announce=True, bolus_reference="basal-bolus",
                bolus_levels=(0.7, 1.0), basal_levels=(0.0, 1.0, 2.0, 3.0),
                switch_margin=1.0, p_hypo_max=0.02,
                fallback_to="aps", low_guard=True, anchor_plan="aps", max_iob=2.0,
                low_alert=LowAlert(anchor="reading"), aps_glucose="twin")
            for b in bbs]  # fmt: skip
    scenario = random_meals(len(names), 1, seed=seed, announce=True)
    priors = [t1d_population_prior(T1D_LOOP_FREE, exclude=(n,)) for n in names]
    loop = ClosedLoop(model, priors, method=T1D_CGM_FILTER, particles=particles,
                      rescue=HypoTreatment(logged=True))  # fmt: skip
    return {
        pol: loop.run(arm, truth, scenario, days=days, key=jax.random.key(seed)).metrics()
        for pol, arm in (("bb", bbs), ("mpc", mpcs))
        if pol in pols
    }


def _oracle_check(pols: list[str]) -> None:
    kw = {"days": 2 / 24, "seed": 6, "particles": 16, "mpc_particles": 4}
    names = NAMES[1:]
    now = run_t1d_control(pols, names, therapy_error=0.0, progress=False, **kw)
    before = _today(names, pols, **kw)
    for pol in pols:
        for k, v in before[pol].items():
            assert np.array_equal(now[pol][k], v, equal_nan=True), (pol, k)


@pytest.mark.slow
def test_the_oracle_scenario_is_todays_basal_bolus_bit_for_bit():
    _oracle_check(["bb"])
    kw = {"days": 2 / 24, "seed": 6, "progress": False}
    erroneous = run_t1d_control(["bb"], NAMES[1:], therapy_error=0.3, **kw)
    oracle = run_t1d_control(["bb"], NAMES[1:], therapy_error=0.0, **kw)
    assert not np.array_equal(erroneous["bb"]["mean"], oracle["bb"]["mean"])


# slow (about 1.5 min on 2 cores): MPC's compilation
@pytest.mark.slow
def test_the_oracle_scenario_is_todays_mpc_bit_for_bit():
    _oracle_check(["mpc"])


def test_the_paired_table_is_the_per_patient_difference_with_its_bootstrap_interval():
    names = [f"{g}#{i:03d}" for g in ("adolescent", "adult", "child") for i in range(1, 5)]
    rng = np.random.default_rng(3)
    bb = {k: rng.uniform(0, 100, len(names)) for k, _ in METRICS}
    shift = np.arange(len(names), dtype=float)  # mpc = bb + 0, 1, ..., 11 per patient
    res = {"bb": bb, "mpc": {k: v + shift for k, v in bb.items()}, "aps": dict(bb)}
    result = control_result(res, names)
    assert result.arms == ("bb", "mpc", "aps")
    assert set(UNITS) == {k for k, _ in METRICS}  # every metric declares its unit
    assert dict(zip(result.endpoints, result.units, strict=True))["tir"] == "%"
    assert dict(zip(result.endpoints, result.units, strict=True))["rescues"] == "1/day"
    assert np.array_equal(result.value("mpc", "tir"), bb["tir"] + shift)
    rows = {(r[0], r[1]): r[3:] for r in _cells(paired_table(res, names, seed=1))}
    assert set(rows) == {(p, g) for p in ("mpc", "aps")
                         for g in ("adolescent", "adult", "child", "all")}  # fmt: skip
    # adults are patients 4-7: mean shift 5.5 on every endpoint, its interval within 4-7
    for cell in rows["mpc", "adult"]:
        mean, lo, hi = (
            float(x) for x in cell.replace("(", "").replace(")", "").replace(",", "").split()
        )
        assert mean == pytest.approx(5.5) and 4.0 <= lo < 5.5 < hi <= 7.0
    assert rows["mpc", "all"][0].startswith("+5.50")
    # a policy equal to basal-bolus: a zero difference with a zero-width interval
    assert all(c == "+0.00 (+0.00, +0.00)" for c in rows["aps", "child"])
    only = _cells(paired_table(res, names, seed=1, reference="aps", arms=("mpc",)))
    assert [r[0] for r in only] == ["mpc"] * 4


def _cells(table) -> list[list[str]]:
    cols = [list(c.cells) for c in table.columns]
    return [list(r) for r in zip(*cols, strict=True)]
