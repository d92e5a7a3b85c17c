"""The context of use and V&V 40's vocabulary: the risk matrix, the goals it sets, and a clear
error for every malformed context (no JAX needed)."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from medtwin.credibility import FACTORS, goal_for_risk, model_risk, parse_context
from medtwin.errors import CredibilityError
from medtwin.models import declaration

GOOD = {
    "model": "reynolds2006",
    "question": "Which outcome?",
    "context_of_use": "Research only.",
    "model_influence": {"level": "medium", "rationale": "one input of several"},
    "decision_consequence": {"level": "low", "rationale": "no patient decision"},
}


def test_the_risk_matrix_runs_from_1_to_5_and_sets_the_goal():
    levels = ("low", "medium", "high")
    risks = [[model_risk(i, c) for c in levels] for i in levels]
    assert risks == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]
    assert [goal_for_risk(r) for r in range(1, 6)] == ["low", "low", "medium", "high", "high"]
    with pytest.raises(CredibilityError, match="model influence must be one of"):
        model_risk("huge", "low")


def test_nine_factors_of_vv40():
    assert [f.key for f in FACTORS] == [
        "code_verification", "calculation_verification", "model_form", "model_inputs",
        "test_samples", "test_conditions", "equivalence_of_inputs", "output_comparison",
        "relevance",
    ]  # fmt: skip


def test_a_context_gives_risk_goals_and_overrides():
    doc = {**GOOD, "factors": {"output_comparison": {"goal": "high", "rationale": "read"}}}
    ctx = parse_context(doc)
    assert ctx.risk == 2 and ctx.outside_domain == "flag"  # medium influence, low consequence
    assert ctx.goal("code_verification").goal == "low"
    assert ctx.goal("output_comparison").goal == "high"
    assert ctx.goal("output_comparison").rationale == "read"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"factors": {"code_review": {"goal": "high", "rationale": "x"}}},
         "'code_review' is not a V&V 40 credibility factor. Expected one of: code_verification"),
        ({"factors": {"model_form": {"goal": "extreme", "rationale": "x"}}},
         r"'factors.model_form' must be \{goal: low\|medium\|high"),
        ({"model_influence": "high"}, "needs 'model_influence' as"),
        ({"model_influence": {"level": "max", "rationale": "x"}},
         "'model_influence.level' must be one of low, medium, high"),
        ({"question": ""}, "needs 'question'"),
        ({"outside_domain": "ignore"}, "'outside_domain' must be one of flag, degrade, refuse"),
        ({"limitations": "none"}, "'limitations' must be a list of strings"),
        ({"risk": 5}, r"Unknown key\(s\) in the context of use: risk"),
    ],
)  # fmt: skip
def test_a_malformed_context_says_what_is_wrong(change, message):
    with pytest.raises(CredibilityError, match=message):
        parse_context({**GOOD, **change})


def test_not_a_mapping():
    with pytest.raises(CredibilityError, match="A context of use is a mapping"):
        parse_context(["model", "t1d"])


@pytest.mark.parametrize(
    ("name", "model"), [("t1d.yaml", "uva-padova"), ("sepsis.yaml", "reynolds2006"),
                        ("glioma.yaml", "glioma")],
)  # fmt: skip
def test_the_shipped_contexts_parse_and_name_a_model_with_evidence(name, model):
    text = resources.files("medtwin.credibility").joinpath("contexts", name).read_text()
    ctx = parse_context(yaml.safe_load(text))
    assert ctx.model == model
    assert declaration(model).evidence.endswith(":EVIDENCE")


def test_the_public_api_is_all_and_loads_no_jax_for_a_context():
    import subprocess
    import sys

    import medtwin.credibility as cred

    for name in cred.__all__:
        assert hasattr(cred, name), name
    probe = (
        "import sys, medtwin.credibility as c\n"
        "c.parse_context({'model': 'glioma', 'question': 'q', 'context_of_use': 'c',"
        " 'model_influence': {'level': 'low', 'rationale': 'r'},"
        " 'decision_consequence': {'level': 'low', 'rationale': 'r'}})\n"
        "print('jax' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)  # fmt: skip
    assert out.stdout.strip() == "False", out.stderr
