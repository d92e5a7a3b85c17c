"""The validated domain without running evidence, the applicability of a twin step against it,
and the one sentence every surface shows (the twin in a store: tests/service/
test_credibility_twin.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from medtwin import loop
from medtwin.assimilate import Ensemble
from medtwin.credibility import applicability, default_context, describe, validated_domain
from medtwin.credibility._domain import merge_ranges
from medtwin.credibility.evidence.uva_padova import virtual_patient
from medtwin.models import get_model
from medtwin.models.glucose.uva_padova import T1D_FREE, population_rows


def test_the_t1d_domain_is_the_30_patients_range_of_each_learnt_parameter():
    d = validated_domain("t1d")  # an alias
    assert d is not None and d.model == "uva-padova"
    assert tuple(r.name for r in d.parameters) == T1D_FREE
    m = get_model("uva-padova")
    pop = np.stack([np.asarray(virtual_patient(m, n)) for n in population_rows()])
    assert len(pop) == 30
    for r in d.parameters:
        col = pop[:, m.param_index(r.name)]
        assert (r.low, r.high) == (col.min(), col.max())
    kp2 = d.parameter("kp2")
    assert kp2 is not None and kp2.unit == "1/min"
    assert (kp2.low, kp2.high) == pytest.approx((0.001989104, 0.023318))
    meal, bolus = d.input("meal"), d.input("bolus")
    assert meal is not None and (meal.low, meal.high, meal.unit) == (0.0, 70.0, "g")
    assert bolus is not None and (bolus.low, bolus.high, bolus.unit) == (0.0, 6.0, "U")


def test_models_without_a_declared_domain_have_none():
    assert validated_domain("glioma") is None  # evidence, but no cheap domain
    assert validated_domain("bergman") is None  # no evidence at all
    assert validated_domain("no-such-model") is None
    assert default_context("bergman") is None
    assert default_context("t1d").outside_domain == "degrade"


def test_the_sepsis_domain_is_the_outcome_cases_span_and_flags_a_fast_pathogen():
    d = validated_domain("sepsis")
    assert d is not None and d.model == "reynolds2006" and d.inputs == ()
    k, p0 = d.parameter("k_pg"), d.parameter("P0")
    assert (k.low, k.high, p0.low, p0.high) == (0.3, 0.6, 0.1, 20.0)  # Reynolds 2006 Fig. 2 cases
    flag = applicability(d, {"k_pg": 0.9, "P0": 1.0}, {"k_pg": 0.95, "P0": 0.0}, [])
    assert flag is not None and [o["name"] for o in flag["outside"]] == ["k_pg"]
    assert applicability(d, {"k_pg": 0.9}, {"k_pg": 0.5}, [])["inside"] is True  # not sure yet


def test_applicability_flags_a_median_or_an_input_outside_and_nothing_inside():
    d = validated_domain("t1d")
    inside = {r.name: 0.5 * (r.low + r.high) for r in d.parameters}
    assert applicability(d, inside, {}, [("meal", 70.0), ("bolus", 6.0)]) == {
        "inside": True, "outside": [],
    }  # fmt: skip
    out = applicability(d, {**inside, "kp2": 0.03}, {"kp2": 0.9}, [("meal", 90.0),
                                                                   ("basal", 99.0)])  # fmt: skip
    assert out["inside"] is False
    assert [(o["kind"], o["name"]) for o in out["outside"]] == [("parameter", "kp2"),
                                                                ("input", "meal")]  # fmt: skip
    assert out["outside"][0]["mass_outside"] == 0.9
    text = describe(out)
    assert text.startswith("Outside the model's validated domain: parameter kp2 = 0.03 1/min")
    assert "input meal = 90 g (validated 0 to 70)" in text
    assert describe({"inside": True, "outside": []}) == "" and describe(None) == ""
    assert applicability(None, inside, {}, []) is None  # no domain: no flag
    # a centre past the edge with 69 % of the weight outside is not flagged (the sample
    # bundle's adult#001 after two hours: kp3); 90 % or more is
    low = d.parameter("kp3").low
    assert applicability(d, {**inside, "kp3": 0.75 * low}, {"kp3": 0.69}, [])["inside"] is True
    assert applicability(d, {**inside, "kp3": 0.75 * low}, {"kp3": 0.9}, [])["inside"] is False


def test_the_loop_checks_the_weighted_median_and_reports_the_mass_outside():
    config = loop.TwinConfig("t1d", datetime(2025, 1, 1, tzinfo=UTC), n=16, seed=1)
    twin = loop.new_twin(config)
    flag = loop.applicability_of(twin, ())
    assert flag == {"inside": True, "outside": []}  # drawn from the 30 patients' density
    # move kp2 of every particle but one (weight 1/16) above the range: the median leaves it
    d = validated_domain("t1d")
    i = twin.model.param_index("kp2")
    params = twin.ensemble.params.at[1:, i].set(2 * d.parameter("kp2").high)
    ens = Ensemble(params, twin.ensemble.states, twin.ensemble.log_weights, twin.ensemble.time)
    moved = replace(twin, ensemble=ens)
    flag = loop.applicability_of(moved, [("bolus", 2.0)])
    assert flag["inside"] is False
    (kp2,) = flag["outside"]
    assert kp2["name"] == "kp2" and kp2["mass_outside"] == pytest.approx(15 / 16)
    assert kp2["value"] == pytest.approx(2 * d.parameter("kp2").high)
    assert np.allclose(np.exp(np.asarray(twin.ensemble.log_weights)), 1 / 16)  # equal weights


def test_the_dossier_merges_ranges_as_the_domain_lists_them():
    d = validated_domain("t1d")
    merged = merge_ranges([("calibration", r) for r in (*d.parameters, *d.inputs)])
    assert [p["name"] for p in merged["parameters"]] == sorted(T1D_FREE)
    assert [p["name"] for p in merged["inputs"]] == ["bolus", "meal"]
    assert merged["inputs"][1]["sources"] == ["calibration: the calibration scenario's events"]
