"""The curated LOINC table and its UCUM conversions (medtwin.data.units)."""

from __future__ import annotations

import pytest

from medtwin.data.loinc import LOINC
from medtwin.data.units import (
    GLUCOSE_MG_DL_PER_MMOL_L,
    is_valid_loinc,
)

ISSUE_CODES = ["2339-0", "15074-8", "99504-3", "8867-4", "8310-5", "6690-2", "2524-7", "32693-4",
               "18262-6", "13457-7", "2089-1", "2093-3"]  # fmt: skip


def test_the_table_holds_the_issues_codes_and_carbohydrate_intake():
    # and the codes the stroke twin (a Bayesian network, issue 19) takes as evidence
    stroke = {"8480-6", "9269-2", "75859-9", "stroke-lvo", "stroke-ott", "stroke-ivt",
              "stroke-mt", "stroke-sich", "stroke-oedema"}  # fmt: skip
    # and the inputs of the clinical scores (analysis.score_inputs, issue 20): LOINC codes, a
    # second creatinine code, the vasopressors' rates under the drugs' names
    scores = {
        "2703-7",
        "3150-0",
        "50984-4",
        "20077-4",
        "777-3",
        "1975-2",
        "8478-0",
        "2160-0",
        "38483-4",
        "9187-6",
        "norepinephrine",
        "epinephrine",
        "dopamine",
        "dobutamine",
    }
    # and the observables' own codes the table lacks: SOFA Total Score (Reynolds' ordinal link)
    observed = {"96790-1"}
    assert set(ISSUE_CODES) | {"9059-7"} | stroke | scores | observed == set(LOINC)
    assert LOINC["9059-7"].event == "meal"
    assert all(LOINC[c].event is None for c in [*ISSUE_CODES, *stroke])
    assert (LOINC["9269-2"].valid_range, LOINC["9269-2"].canonical_unit) == ((3.0, 15.0), "{score}")
    assert LOINC["2339-0"].display == "Glucose [Mass/volume] in Blood"  # the curated row stays


@pytest.mark.parametrize("code", [*ISSUE_CODES, "9059-7", "2345-7", "718-7", "4548-4"])
def test_real_loinc_codes_pass_the_check_digit(code):
    assert is_valid_loinc(code)


@pytest.mark.parametrize(
    "code", ["2339-1", "15074-9", "8867-5", "0-0", "2339", "2339-00", "abc-0", "", "23390", None]
)
def test_malformed_loinc_codes_fail(code):
    assert not is_valid_loinc(code)


def test_glucose_molar_mass():
    assert GLUCOSE_MG_DL_PER_MMOL_L == pytest.approx(18.0156, abs=1e-12)
    _, conv = LOINC["2339-0"].match_unit("mmol/L", None)
    assert conv.apply(5.5) == pytest.approx(99.0858, abs=1e-9)
    assert LOINC["15074-8"].canonical_code == "2339-0"
    assert LOINC["15074-8"].canonical_unit == "mg/dL"
    assert LOINC["99504-3"].canonical_code == "99504-3"  # CGM stays interstitial


@pytest.mark.parametrize(
    "code, ucum, value, expected",
    [
        ("2339-0", "mg/dL", 100.0, 100.0),
        ("15074-8", "mmol/L", 6.3, 113.49828),
        ("99504-3", "mmol/l", 10.0, 180.156),
        ("2524-7", "mg/dL", 18.016, 2.0),  # lactate 90.08 g/mol
        ("32693-4", "mmol/L", 2.5, 2.5),
        ("8310-5", "[degF]", 98.6, 37.0),
        ("8310-5", "K", 310.15, 37.0),
        ("6690-2", "10*9/L", 7.2, 7.2),
        ("6690-2", "/uL", 7200.0, 7.2),
        ("8867-4", "{beats}/min", 72.0, 72.0),
        ("9059-7", "g", 45.0, 45.0),
    ],
)
def test_conversions_to_the_canonical_unit(code, ucum, value, expected):
    key, conv = LOINC[code].match_unit(ucum, None)
    assert key == ucum
    assert conv.apply(value) == pytest.approx(expected, rel=1e-12)


def test_ucum_codes_match_exactly_and_human_units_only_without_a_code():
    row = LOINC["2339-0"]
    assert row.match_unit("MG/DL", None) is None  # UCUM codes are case-sensitive
    assert row.match_unit(None, "MG/DL") == ("mg/dL", row.units["mg/dL"])  # human text
    assert row.match_unit("mmol", "mg/dL") is None  # a bad code is not rescued by the text
    assert row.match_unit(None, None) is None
    temp = LOINC["8310-5"]
    assert temp.match_unit(None, "°F")[0] == "[degF]"
    assert LOINC["8867-4"].match_unit(None, "bpm")[0] == "/min"


def test_no_row_accepts_insulin_or_mass_for_a_count():
    assert all("U" not in row.units for row in LOINC.values())
    assert LOINC["6690-2"].match_unit("mg/dL", None) is None


def test_ranges_are_in_the_canonical_unit():
    lo, hi = LOINC["2339-0"].valid_range
    assert (lo, hi) == (0.0, 10_000.0)
    assert all(r.valid_range[0] <= r.valid_range[1] for r in LOINC.values())
