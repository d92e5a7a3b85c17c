"""The stroke twin's evidence codes: each maps a stored value to the state of its node the
network's own bins say, and refuses a value that is no state, naming the code."""

from __future__ import annotations

import pytest

from medtwin.bn import find_network, ott_bin, stroke_network
from medtwin.bn._evidence_codes import STROKE_LOOP, SYSTEM
from medtwin.data.units import is_valid_loinc
from medtwin.errors import DataError


def _code(node: str):
    (c,) = [c for c in STROKE_LOOP.codes if c.node == node]
    return c


def test_every_code_names_a_node_with_its_states():
    net = stroke_network().net
    assert {c.node for c in STROKE_LOOP.codes} == set(net.nodes)
    for c in STROKE_LOOP.codes:
        assert c.states == net.states[c.node], c.code
        assert c.system == SYSTEM or is_valid_loinc(c.code), c.code
    assert find_network("stroke").loop is STROKE_LOOP


@pytest.mark.parametrize(
    ("node", "value", "state"),
    [
        ("sbp", 139.9, "<140"), ("sbp", 140.0, "140-185"), ("sbp", 185.0, "140-185"),
        ("sbp", 185.5, ">185"), ("glucose", 49.0, "<50"), ("glucose", 50.0, "50-180"),
        ("glucose", 180.0, "50-180"), ("glucose", 181.0, ">180"), ("gcs", 3, "3-8"),
        ("gcs", 8, "3-8"), ("gcs", 9, "9-12"), ("gcs", 12, "9-12"), ("gcs", 13, "13-15"),
        ("gcs", 15, "13-15"), ("lvo", 0, "no"), ("lvo", 1, "yes"), ("mrs", 6, "6"),
        ("ivt", 1, "yes"), ("mt", 0, "no"),
    ],
)  # fmt: skip
def test_a_value_maps_to_its_state(node, value, state):
    assert _code(node).state(value) == state


@pytest.mark.parametrize("minutes", [0.0, 59.0, 60.0, 119.5, 180.0, 270.0, 377.0, 378.0, 480.0,
                                     600.0])  # fmt: skip
def test_onset_to_treatment_follows_the_networks_bins(minutes):
    assert _code("ott").state(minutes) == ott_bin(minutes)


@pytest.mark.parametrize(
    ("node", "value", "says"),
    [
        ("gcs", 2, "an integer in 3..15"), ("gcs", 9.5, "an integer in 3..15"),
        ("gcs", 16, "an integer in 3..15"), ("lvo", 0.5, "an integer in 0..1"),
        ("lvo", 2, "an integer in 0..1"), ("mrs", 7, "an integer in 0..6"),
        ("sbp", -1.0, "a number in [0, 400]"), ("sbp", float("nan"), "a number in [0, 400]"),
        ("ott", -5.0, "a number in [0, 10080]"),
    ],
)  # fmt: skip
def test_a_value_that_is_no_state_is_refused_naming_the_code(node, value, says):
    c = _code(node)
    with pytest.raises(DataError) as err:
        c.state(value)
    msg = str(err.value)
    assert c.code in msg and says in msg and repr(value) in msg and c.states[0] in msg
