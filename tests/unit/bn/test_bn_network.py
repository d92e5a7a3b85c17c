"""BayesNet and BIF: the checks that name the bad item, and exact round trips."""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.bn import BayesNet, dumps_bif, loads_bif, query, read_bif, write_bif
from medtwin.errors import ModelError

SPRINKLER = """
network sprinkler {
}
variable rain {
  type discrete [ 2 ] { no, yes };
}
variable sprinkler {
  type discrete [ 2 ] { off, on };
}
variable wet {
  type discrete [ 3 ] { dry, damp, soaked };
  property "a comment the reader skips" ;
}
probability ( rain ) {
  table 0.8, 0.2;
}
probability ( sprinkler | rain ) {
  (no) 0.6, 0.4;
  (yes) 0.99, 0.01;
}
// two parents, one row per configuration
probability ( wet | rain, sprinkler ) {
  (no, off) 0.9, 0.08, 0.02;
  (no, on) 0.1, 0.6, 0.3;
  (yes, off) 0.2, 0.5, 0.3;
  (yes, on) 0.01, 0.19, 0.8;
}
"""


def test_bif_reads_and_round_trips_exactly(tmp_path):
    net = loads_bif(SPRINKLER)
    assert net.nodes == ("rain", "sprinkler", "wet")
    assert net.parents["wet"] == ("rain", "sprinkler")
    assert net.tables["wet"][1, 0].tolist() == [0.2, 0.5, 0.3]
    again = loads_bif(dumps_bif(net))
    assert again == net
    write_bif(net, tmp_path / "s.bif")
    assert read_bif(tmp_path / "s.bif") == net
    # P(rain | wet=soaked) by hand: sum over the sprinkler
    pr = {"no": 0.8, "yes": 0.2}
    ps = {"no": (0.6, 0.4), "yes": (0.99, 0.01)}
    pw = {("no", 0): 0.02, ("no", 1): 0.3, ("yes", 0): 0.3, ("yes", 1): 0.8}
    joint = {r: pr[r] * sum(ps[r][s] * pw[(r, s)] for s in (0, 1)) for r in pr}
    post = query(net, "rain", {"wet": "soaked"})["rain"]
    assert post[1] == pytest.approx(joint["yes"] / sum(joint.values()), abs=1e-15)


def test_table_form_with_parents_lists_the_child_slowest():
    text = SPRINKLER.replace("(no) 0.6, 0.4;\n  (yes) 0.99, 0.01;", "table 0.6, 0.99, 0.4, 0.01;")
    assert loads_bif(text) == loads_bif(SPRINKLER)


def test_cycle_is_refused_and_named():
    rows = "  (dry) 0.8, 0.2;\n  (damp) 0.8, 0.2;\n  (soaked) 0.8, 0.2;"
    text = SPRINKLER.replace(
        "probability ( rain ) {\n  table 0.8, 0.2;", "probability ( rain | wet ) {\n" + rows
    )
    with pytest.raises(ModelError, match="directed acyclic") as info:
        loads_bif(text)
    assert "rain -> " in str(info.value) and "wet" in str(info.value)


def test_column_not_summing_to_one_names_node_and_parents():
    text = SPRINKLER.replace("(yes, off) 0.2, 0.5, 0.3;", "(yes, off) 0.2, 0.5, 0.4;")
    with pytest.raises(ModelError, match=r"'wet' given rain=yes, sprinkler=off must sum to 1"):
        loads_bif(text)


def test_other_bad_networks_name_the_item():
    with pytest.raises(ModelError, match="parent 'cloud'"):
        BayesNet({"a": ("x", "y")}, {"a": ("cloud",)}, {"a": [0.5, 0.5]})
    with pytest.raises(ModelError, match="must have shape"):
        BayesNet({"a": ("x", "y")}, {}, {"a": [0.2, 0.3, 0.5]})
    with pytest.raises(ModelError, match=r"'a' must sum to 1 \(within 1e-06\). Got 1.1"):
        BayesNet({"a": ("x", "y")}, {}, {"a": [0.6, 0.5]})
    with pytest.raises(ModelError, match=">= 0"):
        BayesNet({"a": ("x", "y")}, {}, {"a": [1.5, -0.5]})
    with pytest.raises(ModelError, match="no probability block"):
        loads_bif(SPRINKLER.split("probability ( wet")[0])
    with pytest.raises(ModelError, match="no row for"):
        loads_bif(SPRINKLER.replace("  (yes, on) 0.01, 0.19, 0.8;\n", ""))
    with pytest.raises(ModelError, match="names the state 'maybe' of 'rain'"):
        loads_bif(SPRINKLER.replace("(yes, on)", "(maybe, on)"))
    with pytest.raises(ModelError, match="not a BIF file at line 2"):
        loads_bif("network x {\n} garbage")
    with pytest.raises(ModelError, match="Cannot read the BIF file"):
        read_bif("/nonexistent/x.bif")


def test_printed_digits_are_rescaled_but_exact_columns_keep_their_bits():
    net = BayesNet({"a": ("x", "y", "z")}, {}, {"a": [0.3333333, 0.3333333, 0.3333333]})
    assert net.tables["a"].sum() == pytest.approx(1.0, abs=1e-15)
    exact = np.array([0.1, 0.2, 0.7])
    assert np.array_equal(BayesNet({"a": ("x", "y", "z")}, {}, {"a": exact}).tables["a"], exact)
