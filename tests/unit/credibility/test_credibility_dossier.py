"""The dossier cannot report green on bad evidence: a registered copy of the Reynolds 2006
model with one wrong constant (s_c, the source of the anti-inflammatory mediator, 0.02 instead
of Table 1's 0.0125) fails the equilibria evidence, and the dossier shows the item failing, the
factor it supports failing and the verdict negative -- in the JSON (valid against the shipped
schema) and in the HTML. The same items pass on the real model."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest

from medtwin.credibility import (
    Evidence,
    build_dossier,
    dossier_schema,
    parse_context,
    render_html,
)
from medtwin.credibility.evidence import reynolds2006 as ev
from medtwin.errors import CredibilityError
from medtwin.models import register_model
from medtwin.models._registry import unregister_model
from medtwin.models.inflammation import Reynolds2006

# The cheap items of the real declaration (the twin item is run by the full dossier tests).
CHEAP = Evidence(
    intended_use=ev.EVIDENCE.intended_use,
    data=ev.EVIDENCE.data,
    limitations=ev.EVIDENCE.limitations,
    items=tuple(i for i in ev.EVIDENCE.items if i.key in ("outcomes", "equilibria")),
)
CONTEXT = {
    "question": "Which outcome?",
    "context_of_use": "Research only.",
    "model_influence": {"level": "medium", "rationale": "one input"},
    "decision_consequence": {"level": "low", "rationale": "no patient decision"},
}


class BrokenReynolds(Reynolds2006):
    """Reynolds 2006 with s_c = 0.02 (Table 1: 0.0125)."""

    name = "reynolds2006-broken"
    aliases = ()
    parameters = tuple(
        dataclasses.replace(p, default=0.02) if p.name == "s_c" else p
        for p in Reynolds2006.parameters
    )
    evidence = f"{__name__}:CHEAP"


class CheapReynolds(Reynolds2006):
    """The real model, declaring only the cheap items (the control)."""

    name = "reynolds2006-cheap"
    aliases = ()
    evidence = f"{__name__}:CHEAP"


@pytest.fixture(scope="module")
def dossiers():
    for cls in (BrokenReynolds, CheapReynolds):
        register_model(cls)
    try:
        yield {
            name: build_dossier(name, parse_context({**CONTEXT, "model": name}))
            for name in ("reynolds2006-broken", "reynolds2006-cheap")
        }
    finally:
        for cls in (BrokenReynolds, CheapReynolds):
            unregister_model(cls.name)


def test_the_real_model_passes_the_same_items(dossiers):
    d = dossiers["reynolds2006-cheap"]
    doc = json.loads(json.dumps(d.to_json(), allow_nan=False))
    jsonschema.validate(doc, dossier_schema())
    assert [e["passed"] for e in doc["evidence"]] == [True, True]
    status = {f["factor"]: f["status"] for f in doc["factors"]}
    assert status["code_verification"] == "met"
    assert status["model_form"] == "no evidence"  # no item claims it: never silently green
    assert not d.credible


def test_a_wrong_constant_fails_its_evidence_in_the_dossier(dossiers):
    d = dossiers["reynolds2006-broken"]
    doc = json.loads(json.dumps(d.to_json(), allow_nan=False))
    jsonschema.validate(doc, dossier_schema())
    by_key = {e["key"]: e for e in doc["evidence"]}
    eq = by_key["equilibria"]
    assert eq["passed"] is False
    failed = [c["check"] for c in eq["checks"] if not c["passed"]]
    assert any("0.125" in c for c in failed), failed  # resting C_A is no longer s_c/mu_c
    assert {f["factor"]: f["status"] for f in doc["factors"]}["code_verification"] == "failing"
    assert doc["credible"] is False
    html = render_html(d)
    assert 'id="item-equilibria"' in html and 'class="item failed"' in html
    assert "not every factor meets its goal" in html
    # a failing item covers no part of the applicability domain
    assert not any(s.startswith("equilibria") for r in doc["applicability_domain"]["parameters"]
                   for s in r["sources"])  # fmt: skip


def test_a_context_for_another_model_is_refused():
    with pytest.raises(CredibilityError, match="written for model 'glioma', not 'reynolds2006'"):
        build_dossier("reynolds2006", parse_context({**CONTEXT, "model": "glioma"}))


def test_an_item_that_raises_is_a_failure_not_a_crash():
    item = dataclasses.replace(ev.EVIDENCE.item("outcomes"),
                               profiles={"fast": {"cases": "none"}, "full": {}})  # fmt: skip
    from medtwin.credibility import run_item

    result = run_item(item, Reynolds2006, "fast")
    assert not result.passed and "KeyError" in result.error
