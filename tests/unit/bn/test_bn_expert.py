"""Expert statements, the DELPHI consensus rule, and the network and prior they make."""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.bn import (
    BayesNet,
    Cases,
    ConsensusRule,
    ExpertStatement,
    expert_network,
    fit,
    loads_statements,
    statement_prior,
)
from medtwin.errors import DataError, ModelError


def _s(sid, agree, panel=18, cause="a", effect="b", status="rated", direction=1):
    """A statement whose panel of ``panel`` has ``agree`` experts rating 6 or 7."""
    rest = panel - agree
    ratings = (0, 0, 0, rest // 2, rest - rest // 2, agree // 2, agree - agree // 2)
    return ExpertStatement(sid, cause, effect, direction, ratings, "test", status=status)


def test_the_rule_of_dang_2023_on_a_panel_of_18():
    rule = ConsensusRule()  # >= 80 % rating 6-7
    assert rule.verdict(_s("x", 15)) == "consensus"  # 83.3 %
    assert rule.verdict(_s("x", 14)) == "no consensus"  # 77.8 %: 14.4 experts are needed
    assert rule.verdict(_s("x", 18, status="excluded")) == "excluded"
    assert rule.agreement(_s("x", 15)) == pytest.approx(15 / 18)
    # The study's 120 sub-statements: 93 reached consensus, 11 were excluded, 16 did not.
    rng = np.random.default_rng(0)
    statements = (
        [_s(f"c{i}", int(rng.integers(15, 19))) for i in range(93)]
        + [_s(f"e{i}", int(rng.integers(0, 19)), status="excluded") for i in range(11)]
        + [_s(f"n{i}", int(rng.integers(5, 15))) for i in range(16)]
    )
    tally = rule.tally(statements)
    assert tally == {"consensus": 93, "excluded": 11, "no consensus": 16}
    share = {k: round(100 * v / 120, 1) for k, v in tally.items()}
    assert share == {"consensus": 77.5, "excluded": 9.2, "no consensus": 13.3}  # as published


def test_network_from_statements_keeps_consensus_edges_and_weights_the_prior():
    states = {"a": ("lo", "hi"), "c": ("lo", "hi"), "b": ("lo", "mid", "hi")}
    statements = [
        _s("S1", 17, cause="a", effect="b"),
        _s("S2", 16, cause="c", effect="b", direction=-1),
        _s("S3", 10, cause="a", effect="c"),  # no consensus: no edge
    ]
    ex = expert_network(states, statements)
    assert ex.net.parents == {"a": (), "c": (), "b": ("a", "c")}
    assert [s.id for s, _ in ex.dropped] == ["S3"] and ex.ess == 18.0
    t = ex.net.tables["b"]
    assert t[1, 0, 2] > t[0, 0, 2]  # a increases b
    assert t[0, 1, 2] < t[0, 0, 2]  # c decreases b
    a_b = (17 / 18 + 16 / 18) / 2
    np.testing.assert_allclose(ex.prior["b"].sum(axis=-1), 18 * a_b)
    np.testing.assert_allclose(ex.prior["a"].sum(), 18.0)
    # data then update those counts: the posterior is prior + counts
    cases = Cases(("a", "c", "b"), np.array([[1, 0, 2]] * 5 + [[0, 0, 0]] * 3))
    res = fit(ex.net, cases, prior=ex.prior)
    np.testing.assert_allclose(res.counts["b"][1, 0], ex.prior["b"][1, 0] + [0, 0, 5])
    assert res.net.tables["b"][1, 0, 2] > ex.net.tables["b"][1, 0, 2]


def test_a_statement_naming_an_unknown_node_is_refused():
    with pytest.raises(ModelError, match="Statement 'S9' names the effect 'oedema'"):
        expert_network({"a": ("x", "y")}, [_s("S9", 18, cause="a", effect="oedema")])
    net = BayesNet({"a": ("x", "y"), "b": ("x", "y")}, {"b": ("a",)},
                   {"a": [0.5, 0.5], "b": [[0.9, 0.1], [0.2, 0.8]]})  # fmt: skip
    with pytest.raises(ModelError, match="Statement 'S9' names the cause 'z'"):
        statement_prior(net, [_s("S9", 18, cause="z", effect="b")], ess=5)
    with pytest.raises(ModelError, match="no such edge"):
        statement_prior(net, [_s("S1", 18, cause="b", effect="a")], ess=5)
    prior = statement_prior(net, [_s("S1", 15, cause="a", effect="b")], ess=18)
    np.testing.assert_allclose(prior["b"], 15 * net.tables["b"])


YAML = """
panel: {size: 18, scale: 7, source: "test"}
nodes:
  ivt: {states: ["no", "yes"]}
  mrs: {states: ["good", "poor"]}
statements:
  - id: S1
    cause: ivt
    effect: mrs
    direction: decreases
    ratings: [0, 0, 0, 0, 1, 5, 12]
    source: "Emberson 2014"
"""


def test_yaml_loader_and_its_errors():
    sf = loads_statements(YAML)
    assert sf.panel == 18 and sf.states["mrs"] == ("good", "poor")
    (s,) = sf.statements
    assert (s.cause, s.effect, s.direction, s.panel) == ("ivt", "mrs", -1, 18)
    bad = {
        "arms: [a\n  b: c: d\n": "not valid YAML at line",
        "- a list\n": "'statements' list",
        YAML.replace("direction: decreases", "direction: sideways"): "'increases' or",
        YAML.replace("[0, 0, 0, 0, 1, 5, 12]", "[1, 2]"): "must list 7 counts",
        YAML.replace("    cause: ivt\n", ""): "has no 'cause'",
        YAML.replace("size: 18", "size: -1"): "panel.size",
    }
    for text, fragment in bad.items():
        with pytest.raises(DataError, match=fragment):
            loads_statements(text)


def test_bde_with_a_uniform_prior_network_is_bdeu():
    from medtwin.bn import bde_prior, bdeu_prior

    states = {"a": ("x", "y"), "b": ("p", "q", "r"), "c": ("u", "v")}
    parents = {"b": ("a",), "c": ("a", "b")}
    uniform = {"a": np.full(2, 0.5), "b": np.full((2, 3), 1 / 3), "c": np.full((2, 3, 2), 0.5)}
    net = BayesNet(states, parents, uniform)
    bde, bdeu = bde_prior(net, 12.0), bdeu_prior(net, 12.0)
    for n in net.nodes:
        np.testing.assert_allclose(bde[n], bdeu[n], rtol=1e-14)
        assert bdeu[n].sum() == pytest.approx(12.0)
