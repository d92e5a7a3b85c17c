"""The network twin's life cycle: assimilate, forecast, what_if, learn, serialise."""

from __future__ import annotations

import numpy as np
import pytest

from medtwin.bn import (
    BayesNet,
    Cases,
    assimilate,
    create_twin,
    forecast,
    learn,
    twin_from_bytes,
    twin_to_bytes,
    what_if,
)
from medtwin.errors import DataError

NET = BayesNet(
    states={"smoke": ("no", "yes"), "cancer": ("no", "yes"), "xray": ("clear", "shadow")},
    parents={"cancer": ("smoke",), "xray": ("cancer",)},
    tables={
        "smoke": [0.7, 0.3],
        "cancer": [[0.99, 0.01], [0.9, 0.1]],
        "xray": [[0.9, 0.1], [0.2, 0.8]],
    },
    name="toy",
)


def test_assimilate_forecast_and_what_if():
    twin = create_twin(NET)
    assert twin.version == 0 and not twin.evidence
    seen = assimilate(twin, {"xray": "shadow"})
    assert seen.version == 1 and twin.evidence == {}  # a new twin; the old one unchanged
    p_smoke = forecast(seen, "smoke")["smoke"][1]
    assert p_smoke > 0.3  # a shadow makes smoking more likely (conditioning)
    done = what_if(seen, {"cancer": "yes"}, ["smoke", "xray"])
    assert done["smoke"][1] == pytest.approx(0.3, abs=1e-12)  # do() says nothing upstream
    # the later finding on a node replaces the earlier one; soft findings are kept as given
    again = assimilate(seen, {"xray": [1.0, 3.0]})
    assert again.evidence["xray"] == (1.0, 3.0) and again.version == 2
    with pytest.raises(DataError, match="Unknown state"):
        assimilate(twin, {"xray": "fog"})


def test_impossible_evidence_is_refused_and_nothing_changes():
    sure = NET.replace(tables={"cancer": [[1.0, 0.0], [1.0, 0.0]]})
    twin = assimilate(create_twin(sure, {n: 1000 * sure.tables[n] for n in sure.nodes}),
                      {"smoke": "yes"})  # fmt: skip
    with pytest.raises(DataError, match="impossible"):
        assimilate(twin, {"cancer": "yes"})
    assert dict(twin.evidence) == {"smoke": "yes"}


def test_learn_adds_counts_and_uses_em_for_missing_values():
    twin = create_twin(NET, {n: 10 * NET.tables[n] for n in NET.nodes})
    cases = Cases(("smoke", "cancer", "xray"), np.array([[1, 1, 1], [1, -1, 1], [0, 0, -1]]))
    new = learn(twin, cases)
    assert new.version == 1
    total = sum(float(new.counts[n].sum()) for n in NET.nodes)
    assert total == pytest.approx(sum(float(twin.counts[n].sum()) for n in NET.nodes) + 3 * 3)


def test_bytes_round_trip_exactly():
    twin = assimilate(create_twin(NET, {n: np.pi * NET.tables[n] for n in NET.nodes}),
                      {"xray": [0.1, 0.7], "smoke": "yes"})  # fmt: skip
    back = twin_from_bytes(twin_to_bytes(twin))
    assert back.net == twin.net and back.version == twin.version
    assert dict(back.evidence) == dict(twin.evidence)
    for n in NET.nodes:
        assert np.array_equal(back.counts[n], twin.counts[n])
    assert twin_to_bytes(back) == twin_to_bytes(twin)
    with pytest.raises(DataError, match="Not a serialised network twin"):
        twin_from_bytes(b'{"format": "other"}')
