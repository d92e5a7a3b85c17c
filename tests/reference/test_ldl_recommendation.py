"""The LDL recommendation on a known person (one particle: the formula, no uncertainty): for an
untreated LDL-C of 160 mg/dL (no age slope) the least atorvastatin and rosuvastatin doses and
the combinations are those the Vargo et al. (2014) formula implies.

Derivation (typical person, baseline LDL-C 160: Emax = 0.758 + 0.14 ln(160/180) = 0.74151;
fraction of Emax at dose D: x/(1+x), x = (D/ED50)^0.417; ezetimibe 10 mg: fe = 0.184 x 10 /
10.228 = 0.17990; combined f = fs + fe (1 - 0.523 fs)); LDL-C = 160 (1 - f):

* target < 100 (f >= 0.375): atorvastatin 10 mg fs = 0.3385 -> 105.8; 20 mg fs = 0.3919 ->
  97.3, so **atorvastatin 20 mg**; rosuvastatin 5 mg fs = 0.3714 -> 100.6 (just above: the
  baseline-LDL covariate lowers Emax from 0.758), 10 mg fs = 0.4246 -> 92.1, so
  **rosuvastatin 10 mg**;
* target < 70 (f >= 0.5625): the largest monotherapies fall short (atorvastatin 80 mg 80.9,
  rosuvastatin 40 mg 76.4), so a combination is needed: atorvastatin 20 + ezetimibe 74.4,
  **atorvastatin 40 + ezetimibe 10** 66.8; rosuvastatin 5 + ezetimibe 77.4,
  **rosuvastatin 10 + ezetimibe 10** 69.7.
"""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.control import lipid_target, recommend_lipid_therapy, therapy_ladder
from medtwin.models import get_model

MODEL = get_model("ldl")


def known_person(ldl0=160.0):
    p = np.asarray(MODEL.make_params(LDL0=ldl0, slope=0.0))[None]
    return p, np.asarray(MODEL.initial_state(p[0]))[None], np.ones(1)


@pytest.mark.parametrize(
    ("drug", "target", "expected", "ldl"),
    [
        ("atorvastatin", 100.0, "atorvastatin 20 mg", 97.3),
        ("rosuvastatin", 100.0, "rosuvastatin 10 mg", 92.1),
        ("atorvastatin", 70.0, "atorvastatin 40 mg + ezetimibe 10 mg", 66.8),
        ("rosuvastatin", 70.0, "rosuvastatin 10 mg + ezetimibe 10 mg", 69.7),
    ],
)
def test_least_dose_is_the_one_the_formula_implies(drug, target, expected, ldl):
    rec = recommend_lipid_therapy(MODEL, *known_person(), 0.0, target=target,
                                  therapies=therapy_ladder(MODEL, (drug,)))  # fmt: skip
    assert rec.therapy.name == expected and rec.feasible and rec.p_above == 0.0
    i = rec.therapies.index(rec.therapy)
    assert rec.cone[i, 2, -1] == pytest.approx(ldl, abs=0.05)  # the median at two years
    assert rec.cone[i - 1, 2, -1] > target  # the step below does not reach it
    assert rec.interval == pytest.approx(365.25)  # no uncertainty: the fewest checks


def test_no_monotherapy_reaches_70_and_the_ladder_orders_by_intensity():
    rec = recommend_lipid_therapy(MODEL, *known_person(), 0.0, target=70.0)
    assert "ezetimibe" in rec.therapy.name and "+" in rec.therapy.name
    mono = [t for t in rec.therapies if 0 < len(t.doses) < 2]
    end = np.array([rec.cone[rec.therapies.index(t), 2, -1] for t in mono])
    assert np.all(np.diff(end) <= 1e-9) and end.min() > 70.0  # weaker to stronger, none < 70
    assert rec.therapies[0].name == "no drug"


def test_uncertainty_asks_for_more_treatment_and_an_infeasible_target_says_so():
    """Two equally likely persons, a typical and a weak responder (resp 0.7): atorvastatin 20
    mg keeps only the typical one below 100 (p = 0.5), so the twin climbs the ladder: the weak
    responder needs f >= 0.375 / 0.7 = 0.536, which atorvastatin 80 mg (0.494 -> 104.6) and
    20 mg + ezetimibe (0.535 -> 100.1) miss and 40 mg + ezetimibe (0.583 -> 94.7) reaches. A
    target of 20 mg/dL is out of reach: the least-violating option is returned, flagged."""
    p = np.asarray(MODEL.make_params(LDL0=160.0, slope=0.0))
    params = np.stack([p, np.asarray(MODEL.make_params(p, resp=0.7))])
    states = np.stack([np.asarray(MODEL.initial_state(x)) for x in params])
    w = np.array([0.5, 0.5])
    ladder = therapy_ladder(MODEL, ("atorvastatin",))
    rec = recommend_lipid_therapy(MODEL, params, states, w, 0.0, target=100.0, therapies=ladder)
    assert rec.therapy.name == "atorvastatin 40 mg + ezetimibe 10 mg" and rec.p_above == 0.0
    rec = recommend_lipid_therapy(MODEL, params, states, w, 0.0, target=100.0, therapies=ladder,
                                  max_prob=0.6)  # fmt: skip
    assert rec.therapy.name == "atorvastatin 20 mg" and rec.p_above == 0.5
    rec = recommend_lipid_therapy(MODEL, params, states, w, 0.0, target=20.0, therapies=ladder)
    assert not rec.feasible and rec.p_above == 1.0


def test_targets_from_the_esc_eas_2019_risk_categories():
    assert [lipid_target(risk=r) for r in ("very-high", "high", "moderate", "low")] == [
        55.0, 70.0, 100.0, 116.0]  # fmt: skip
    assert lipid_target(100.0) == 100.0
    with pytest.raises(Exception, match="Unknown ESC/EAS 2019 risk category 'extreme'"):
        lipid_target(risk="extreme")


def test_another_model_is_refused():
    other = get_model("bergman")
    with pytest.raises(Exception, match="needs the LDL model"):
        recommend_lipid_therapy(other, *known_person(), 0.0, target=100.0)
