"""Clinical scores on hand-computed cases, every threshold from both sides, and bad inputs.

Thresholds: SOFA from Vincent et al. 1996 (Table 1), Sepsis-3 from Singer et al. 2016, KDIGO
AKI stages from the KDIGO 2012 guideline (Table 2), Berlin ARDS from the 2012 Task Force.
"""

from __future__ import annotations

import numpy as np
import pytest

import medtwin.analysis as analysis
from medtwin.analysis.score_inputs import SCORE_INPUTS, to_canonical
from medtwin.analysis.scores import (
    BERLIN_SEVERITY,
    berlin_ards,
    kdigo_stage,
    sepsis3,
    septic_shock,
    sofa,
    sofa_cardiovascular,
    sofa_cns,
    sofa_coagulation,
    sofa_liver,
    sofa_renal,
    sofa_respiration,
)
from medtwin.errors import DataError


def test_respiration_boundaries():
    pf = [450.0, 400.0, 399.9, 300.0, 299.9, 200.0, 199.9, 100.0, 99.9]
    np.testing.assert_array_equal(sofa_respiration(pf, True), [0, 0, 1, 1, 2, 2, 3, 3, 4])
    # Without respiratory support a low ratio stops at 2 points.
    np.testing.assert_array_equal(sofa_respiration(pf, False), [0, 0, 1, 1, 2, 2, 2, 2, 2])
    # kPa: 40 kPa = 300.02 mm[Hg] (1 point); 26.6 kPa = 199.5 mm[Hg] (3 when ventilated).
    assert sofa_respiration(40.0, False, units={"pf_ratio": "kPa"}) == 1
    assert sofa_respiration(26.6, True, units={"pf_ratio": "kPa"}) == 3


def test_coagulation_boundaries():
    plt = [150.0, 149.0, 100.0, 99.0, 50.0, 49.0, 20.0, 19.0, 0.0]
    np.testing.assert_array_equal(sofa_coagulation(plt), [0, 1, 1, 2, 2, 3, 3, 4, 4])
    assert sofa_coagulation(45_000.0, units={"platelets": "/uL"}) == 3
    assert sofa_coagulation(150.0, units={"platelets": "10*9/L"}) == 0


def test_liver_boundaries():
    bili = [1.1, 1.2, 1.9, 2.0, 5.9, 6.0, 11.9, 12.0, 30.0]
    np.testing.assert_array_equal(sofa_liver(bili), [0, 1, 1, 2, 2, 3, 3, 4, 4])
    # 34.2 umol/L = 2.0 mg/dL (molar mass 584.66 g/mol): 2 points.
    assert sofa_liver(34.3, units={"bilirubin": "umol/L"}) == 2
    assert sofa_liver(34.0, units={"bilirubin": "umol/L"}) == 1


def test_cardiovascular_boundaries():
    assert sofa_cardiovascular(70.0) == 0
    assert sofa_cardiovascular(69.9) == 1
    assert sofa_cardiovascular(80.0, {"dopamine": 5.0}) == 2
    assert sofa_cardiovascular(80.0, {"dobutamine": 20.0}) == 2
    assert sofa_cardiovascular(80.0, {"dopamine": 5.1}) == 3
    assert sofa_cardiovascular(80.0, {"dopamine": 15.0}) == 3
    assert sofa_cardiovascular(80.0, {"dopamine": 15.1}) == 4
    assert sofa_cardiovascular(80.0, {"norepinephrine": 0.1}) == 3
    assert sofa_cardiovascular(80.0, {"norepinephrine": 0.11}) == 4
    assert sofa_cardiovascular(80.0, {"epinephrine": 0.1}) == 3
    assert sofa_cardiovascular(80.0, {"epinephrine": 0.2}) == 4
    assert sofa_cardiovascular(65.0, {"norepinephrine": 0.0}) == 1  # stopped: MAP counts
    # Vectorised: one MAP per patient, one dose per patient.
    np.testing.assert_array_equal(
        sofa_cardiovascular([75.0, 75.0, 60.0], {"norepinephrine": [0.0, 0.05, 0.3]}), [0, 3, 4]
    )


def test_cns_boundaries():
    gcs = [15, 14, 13, 12, 10, 9, 6, 5, 3]
    np.testing.assert_array_equal(sofa_cns(gcs), [0, 1, 1, 2, 2, 3, 3, 4, 4])
    with pytest.raises(DataError, match="whole number"):
        sofa_cns(13.5)
    with pytest.raises(DataError, match=r"\[3, 15\]"):
        sofa_cns(2)


def test_renal_boundaries():
    scr = [1.1, 1.2, 1.9, 2.0, 3.4, 3.5, 4.9, 5.0]
    np.testing.assert_array_equal(sofa_renal(scr), [0, 1, 1, 2, 2, 3, 3, 4])
    # Urine output: 500 mL/d -> no points from urine; 499 -> 3; 200 -> 3; 199 -> 4.
    uo = np.array([500.0, 499.0, 200.0, 199.0]) / 24.0
    np.testing.assert_array_equal(sofa_renal(1.0, uo), [0, 3, 3, 4])
    assert sofa_renal(2.5, 300.0, units={"urine_output": "mL/d"}) == 3  # max(2, 3)
    # 442 umol/L = 5.0 mg/dL (molar mass 113.12 g/mol).
    assert sofa_renal(443.0, units={"creatinine": "umol/L"}) == 4


def test_total_sofa_hand_case():
    # P/F 180 ventilated (3), platelets 90 (2), bilirubin 2.5 (2), norepinephrine 0.2 (4),
    # GCS 13 (1), creatinine 1.5 (1) with 400 mL/d of urine (3): 3+2+2+4+1+3 = 15.
    s = sofa(pf_ratio=180.0, ventilated=True, platelets=90.0, bilirubin=2.5, map_mmhg=68.0,
             vasopressors={"norepinephrine": 0.2}, gcs=13, creatinine=1.5,
             urine_output=400.0 / 24.0)  # fmt: skip
    parts = (s.respiration, s.coagulation, s.liver, s.cardiovascular, s.cns, s.renal)
    assert tuple(int(p) for p in parts) == (3, 2, 2, 4, 1, 3)
    assert int(s.total) == 15
    healthy = sofa(pf_ratio=450.0, ventilated=False, platelets=250.0, bilirubin=0.6,
                   map_mmhg=85.0, gcs=15, creatinine=0.8)  # fmt: skip
    assert int(healthy.total) == 0


def test_sepsis3():
    np.testing.assert_array_equal(sepsis3([0, 1, 2, 3], 0), [False, False, True, True])
    np.testing.assert_array_equal(sepsis3([3, 4, 5], 2), [False, True, True])
    assert not sepsis3(6, 0, infection=False)
    with pytest.raises(DataError, match="0-24"):
        sepsis3(25)
    with pytest.raises(DataError, match="True/False"):
        sepsis3(4, infection="yes")


def test_septic_shock():
    lac = [2.0, 2.1, 4.0]
    np.testing.assert_array_equal(
        septic_shock({"norepinephrine": 0.1}, lac), [False, True, True]
    )  # lactate must exceed 2 mmol/L
    np.testing.assert_array_equal(septic_shock({}, lac), [False, False, False])
    assert not septic_shock({"norepinephrine": 0.0}, 5.0)  # not running
    assert not septic_shock({"dopamine": 8.0}, 5.0, sepsis=False)
    # 20 mg/dL of lactate = 2.22 mmol/L (molar mass 90.08 g/mol).
    assert septic_shock({"epinephrine": 0.05}, 20.0, units={"lactate": "mg/dL"})
    assert not septic_shock({"epinephrine": 0.05}, 18.0, units={"lactate": "mg/dL"})


def test_kdigo_boundaries():
    base = 1.0
    scr = [1.0, 1.49, 1.5, 1.99, 2.0, 2.99, 3.0]
    np.testing.assert_array_equal(kdigo_stage(scr, base), [0, 0, 1, 1, 2, 2, 3])
    # A rise of 0.3 mg/dL within 48 h is stage 1 even below 1.5 x baseline.
    np.testing.assert_array_equal(kdigo_stage([1.2, 1.29], 1.0, rise_48h=[0.3, 0.29]), [1, 0])
    # >= 4.0 mg/dL is stage 3 only with an acute criterion met (a stable CKD patient is not).
    assert kdigo_stage(4.5, 4.4) == 0
    assert kdigo_stage(4.0, 2.6) == 3  # 1.54 x baseline and >= 4.0
    assert kdigo_stage(3.9, 2.6) == 1
    assert kdigo_stage(1.0, 1.0, rrt=True) == 3
    # umol/L: 177 / 88.4 = 2.0 x baseline.
    assert kdigo_stage(177.0, 88.4, units={"creatinine": "umol/L"}) == 2


def test_kdigo_urine_output():
    uo = [0.5, 0.49, 0.49, 0.49, 0.29, 0.3, 0.0, 0.0]
    hours = [24.0, 5.9, 6.0, 12.0, 24.0, 24.0, 11.9, 12.0]  # anuria 11.9 h: < 0.5 for >= 6 h
    np.testing.assert_array_equal(
        kdigo_stage(1.0, 1.0, urine_ml_kg_h=uo, urine_hours=hours), [0, 0, 1, 2, 3, 2, 1, 3]
    )
    with pytest.raises(DataError, match="together"):
        kdigo_stage(1.0, 1.0, urine_ml_kg_h=0.2)
    with pytest.raises(DataError, match=">= 0"):
        kdigo_stage(1.0, 1.0, urine_ml_kg_h=-0.1, urine_hours=6.0)
    with pytest.raises(DataError, match="baseline"):
        kdigo_stage(1.0, 0.0)


def test_berlin_boundaries():
    pf = [301.0, 300.0, 201.0, 200.0, 101.0, 100.0, 50.0]
    np.testing.assert_array_equal(berlin_ards(pf, 5.0), [0, 1, 1, 2, 2, 3, 3])
    assert [BERLIN_SEVERITY[g] for g in berlin_ards([250.0, 150.0, 80.0], 8.0)] == [
        "mild", "moderate", "severe"
    ]  # fmt: skip
    assert berlin_ards(80.0, 4.9) == 0  # PEEP below 5 cm[H2O]: not classifiable as ARDS
    assert berlin_ards(80.0, 10.0, bilateral_opacities=False) == 0
    assert berlin_ards(80.0, 10.0, not_cardiac=False) == 0
    assert berlin_ards(80.0, 10.0, acute=False) == 0


def test_bad_inputs_give_clear_errors():
    with pytest.raises(DataError, match="platelets must lie in") as err:
        sofa_coagulation(-5.0)
    assert "cannot be negative" in str(err.value)
    with pytest.raises(DataError, match="not accepted for bilirubin") as err:
        sofa_liver(2.0, units={"bilirubin": "g/L"})
    assert "mg/dL, umol/L" in str(err.value)
    with pytest.raises(DataError, match="has no dose"):
        sofa_cardiovascular(60.0, {"norepinephrine": None})
    with pytest.raises(DataError, match="has no dose"):
        septic_shock({"dopamine": float("nan")}, 3.0)
    with pytest.raises(DataError, match="Unknown vasopressor 'vasopressin'"):
        sofa_cardiovascular(60.0, {"vasopressin": 0.03})
    with pytest.raises(DataError, match="must lie in"):
        sofa_liver(float("nan"))
    with pytest.raises(DataError, match="True/False"):
        sofa_respiration(150.0, 1)
    with pytest.raises(DataError, match="Unknown score input"):
        to_canonical("sodium", 140.0)


def test_input_table():
    expected = {"pao2": "2703-7", "fio2": "3150-0", "pf_ratio": "50984-4", "peep": "20077-4",
                "platelets": "777-3", "bilirubin": "1975-2", "map": "8478-0", "gcs": "9269-2",
                "creatinine": "2160-0", "urine_output": "9187-6", "lactate": "2524-7",
                "vasopressor": None}  # fmt: skip
    assert {k: v.loinc for k, v in SCORE_INPUTS.items()} == expected
    for spec in SCORE_INPUTS.values():
        assert spec.units[spec.unit] == 1.0, spec.name  # the canonical unit is accepted as is
    assert float(to_canonical("fio2", 60.0, "%")) == pytest.approx(0.6)
    assert float(to_canonical("pao2", 10.0, "kPa")) == pytest.approx(75.0062, rel=1e-5)
    assert float(to_canonical("urine_output", 2.4, "L/d")) == pytest.approx(100.0)


def test_public_api():
    for name in ("SOFA", "sofa", "sepsis3", "septic_shock", "kdigo_stage", "berlin_ards",
                 "SCORE_INPUTS"):  # fmt: skip
        assert name in analysis.__all__ and hasattr(analysis, name)
