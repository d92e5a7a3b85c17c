"""Evidence: hard, soft (virtual), missing; the errors name the finding."""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.bn import BayesNet, evidence_probability, intervene, query
from medtwin.errors import DataError

NET = BayesNet(
    states={"d": ("no", "yes"), "t": ("neg", "pos")},
    parents={"t": ("d",)},
    tables={"d": [0.99, 0.01], "t": [[0.95, 0.05], [0.0, 1.0]]},
    name="screen",
)


def test_hard_soft_and_missing_evidence_by_bayes_rule():
    post = query(NET, "d", {"t": "pos"})["d"]
    assert post[1] == pytest.approx(0.01 / (0.01 + 0.99 * 0.05), abs=1e-15)
    # soft: a reading that is 4 times as likely if positive (virtual evidence)
    soft = query(NET, "d", {"t": [1.0, 4.0]})["d"]
    like_yes = 0.01 * (0.0 * 1 + 1.0 * 4)
    like_no = 0.99 * (0.95 * 1 + 0.05 * 4)
    assert soft[1] == pytest.approx(like_yes / (like_yes + like_no), abs=1e-15)
    # (node, state) pairs are the same evidence; no evidence is the prior
    assert np.array_equal(query(NET, "d", [("t", "pos")])["d"], post)
    assert query(NET, "d")["d"][1] == pytest.approx(0.01)
    assert evidence_probability(NET, {"t": "pos"}) == pytest.approx(0.01 + 0.99 * 0.05)


def test_do_is_surgery_not_conditioning():
    assert query(NET, "d", do={"t": "pos"})["d"][1] == pytest.approx(0.01, abs=1e-15)
    cut = intervene(NET, {"t": "pos"})
    assert cut.parents["t"] == () and cut.tables["t"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    ("evidence", "fragment"),
    [
        ({"t": "maybe"}, "Unknown state 'maybe' of 't'"),
        ({"x": "pos"}, "Unknown node 'x'"),
        ({"t": [1.0, 2.0, 3.0]}, "must be 2 finite likelihoods"),
        ({"t": [0.0, 0.0]}, "all zero"),
        ({"t": [-1.0, 2.0]}, "finite likelihoods >= 0"),
        ({"d": "yes", "t": "neg"}, "The evidence d=yes, t=neg is impossible"),
        ([("t", "pos"), ("t", "neg")], "names 't' twice"),
    ],
)
def test_bad_evidence_names_the_item(evidence, fragment):
    with pytest.raises(DataError, match=fragment.replace("(", r"\(")):
        query(NET, "d", evidence)


def test_bad_do_and_target():
    with pytest.raises(DataError, match="Unknown do\\(\\) state"):
        query(NET, "d", do={"t": "maybe"})
    with pytest.raises(ValueError, match="Unknown target 'z'"):
        query(NET, "z")
