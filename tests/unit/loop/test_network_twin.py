"""A Bayesian-network twin in the twin loop: the loop chooses the kind of twin from what the
model's registry declares (no model name in the loop), maps stored records to findings through
the network's declared codes, marks what it cannot take, and makes every step again bit for
bit from the stored state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from medtwin import bn, loop
from medtwin.bn import _registry
from medtwin.bn._evidence_codes import SYSTEM, Bins, EvidenceCode, Levels, NetworkLoop
from medtwin.bn._expert import ExpertNetwork
from medtwin.errors import DataError, StoreError

EPOCH = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _obs(i: int, code: str, minutes: float, value: float, censored: int = 0):
    return loop.PendingObservation(i, code, EPOCH + timedelta(minutes=minutes), value, censored)


def _fever() -> ExpertNetwork:
    """Two nodes, one deterministic column: no fever never gives a high temperature."""
    net = bn.BayesNet(
        {"fever": ("no", "yes"), "temp": ("normal", "high")},
        {"temp": ("fever",)},
        {"fever": np.array([0.9, 0.1]), "temp": np.array([[1.0, 0.0], [0.3, 0.7]])},
        name="fever",
    )
    return ExpertNetwork(net, bn.column_prior(net, 5.0), (), (), 5.0)


FEVER_LOOP = NetworkLoop(
    (
        EvidenceCode("8310-5", "http://loinc.org", "temp", "Cel", "Body temperature",
                     (25.0, 45.0), ("normal", "high"), Bins((38.0,), (True,))),
        EvidenceCode("test-fever", SYSTEM, "fever", "1", "Fever (clinician)", (0.0, 1.0),
                     ("no", "yes"), Levels(0, (1, 1))),
    )
)  # fmt: skip


@pytest.fixture
def fever_network(monkeypatch):
    """A network registered at run time (and gone after the test)."""
    monkeypatch.setattr(_registry, "_REGISTERED", [])
    bn.register_network(bn.NetworkEntry("test-fever", (), "Fever", "a test", _fever, FEVER_LOOP))
    return "test-fever"


def test_the_kind_comes_from_the_registries():
    assert isinstance(loop.kind_of("stroke"), loop.NetworkKind)
    assert isinstance(loop.kind_of("acute-ischaemic-stroke"), loop.NetworkKind)
    assert isinstance(loop.kind_of("t1d"), loop.OdeKind)
    cfg = loop.TwinConfig("stroke", EPOCH)
    assert cfg.time_unit == "min"
    with pytest.raises(StoreError, match="Unknown model 'no-such-model'"):
        loop.TwinConfig("no-such-model", EPOCH)
    with pytest.raises(StoreError, match=r"expert prior.*prior='spec'"):
        loop.TwinConfig("stroke", EPOCH, prior="spec")
    with pytest.raises(StoreError, match=r"free=\('sbp',\)"):
        loop.TwinConfig("stroke", EPOCH, free=("sbp",))


def test_a_network_registered_at_run_time_is_a_twin(fever_network):
    assert isinstance(loop.kind_of(fever_network), loop.NetworkKind)
    step = loop.create(loop.TwinConfig(fever_network, EPOCH))
    assert step.forecast is None and step.twin.version == 0 and step.twin.network == "test-fever"
    # a network without loop codes is no twin: the ODE registry then says it is unknown
    monkey = bn.NetworkEntry("plain", (), "Plain", "a test", _fever)
    bn.register_network(monkey)
    assert isinstance(loop.kind_of("plain"), loop.OdeKind)


def test_an_update_marks_each_record_and_takes_the_findings():
    cfg = loop.TwinConfig("stroke", EPOCH)
    twin = loop.create(cfg).twin
    obs = [_obs(1, "8480-6", 10, 190.0), _obs(2, "stroke-lvo", 12, 1.0),
           _obs(3, "9269-2", 14, 2.0), _obs(4, "99504-3", 15, 120.0),
           _obs(5, "stroke-ott", 20, 100.0), _obs(6, "8480-6", 30, 150.0),
           _obs(7, "2339-0", 31, 60.0, censored=-1)]  # fmt: skip
    step = loop.update(cfg, twin, obs, [loop.PendingEvent(9, "meal", EPOCH, 10.0)])
    assert step.obs_marks == {1: "applied", 2: "applied", 3: "invalid", 4: "unobserved",
                              5: "applied", 6: "applied", 7: "invalid"}  # fmt: skip
    assert step.ev_marks == {9: "unused"}
    assert dict(step.twin.bn.evidence) == {"sbp": "140-185", "lvo": "yes", "ott": "60-120"}
    assert step.twin.version == 1 and step.twin.time == pytest.approx(30.0)
    rep = step.report
    assert rep["data"]["used"] == 4 and rep["data"]["dropped"] == 2
    assert rep["unobserved_codes"] == {"99504-3": 1}
    # the reported outcome is P(mRS | evidence) of the network itself
    want = bn.query(step.twin.bn.net, "mrs", step.twin.bn.evidence)["mrs"]
    np.testing.assert_allclose(rep["outcome"], want, rtol=0, atol=1e-15)
    assert rep["log_evidence"] == pytest.approx(
        np.log(bn.evidence_probability(step.twin.bn.net, step.twin.bn.evidence)), rel=1e-12
    )


def test_impossible_findings_are_marked_and_refused_by_admit(fever_network):
    cfg = loop.TwinConfig(fever_network, EPOCH)
    twin = loop.create(cfg).twin
    step = loop.update(cfg, twin, [_obs(1, "test-fever", 1, 0.0), _obs(2, "8310-5", 2, 39.2)], [])
    assert step.obs_marks == {1: "applied", 2: "impossible"}
    assert dict(step.twin.bn.evidence) == {"fever": "no"}
    with pytest.raises(DataError, match=r"impossible.*'test-fever' twin.*fever.*no"):
        loop.admit(cfg, lambda: step.twin, [("8310-5", EPOCH, 39.2, 0)])
    with pytest.raises(DataError, match=r"Body temperature \(8310-5, node 'temp'\)"):
        loop.admit(cfg, lambda: step.twin, [("8310-5", EPOCH, 50.0, 0)])
    loop.admit(cfg, lambda: step.twin, [("8310-5", EPOCH, 37.0, 0), ("1234-5", EPOCH, 1.0, 0)])
    # an ODE twin admits anything (it marks what it does not observe when it updates)
    loop.admit(loop.TwinConfig("t1d", EPOCH, n=16), lambda: None, [("8310-5", EPOCH, 99.0, 0)])


def test_the_stored_state_restores_and_redoes_exactly():
    cfg = loop.TwinConfig("stroke", EPOCH)
    v0 = loop.create(cfg)
    p0 = loop.packed(cfg, v0)
    assert p0.forecast is None and p0.model == "acute-ischaemic-stroke"
    twin0 = loop.restore(cfg, 0, p0.state, ())
    obs = [_obs(1, "8480-6", 10, 150.0), _obs(2, "stroke-lvo", 12, 1.0)]
    step = loop.update(cfg, twin0, obs, [])
    p1 = loop.packed(cfg, step)
    again = loop.redo(cfg, loop.restore(cfg, 0, p0.state, ()), obs, [], None)
    assert loop.packed(cfg, loop.Step(again, None, step.report, (), {}, {}, {})).state == p1.state
    back = loop.restore(cfg, 1, p1.state, ())
    assert dict(back.bn.evidence) == dict(step.twin.bn.evidence) and back.time == 12.0
    for n in back.bn.net.nodes:
        assert np.array_equal(back.bn.counts[n], step.twin.bn.counts[n])
    with pytest.raises(StoreError, match="version 1, not 2"):
        loop.restore(cfg, 2, p1.state, ())
    with pytest.raises(StoreError, match="not a network twin"):
        loop.restore(cfg, 1, b"\x00garbage", ())
    with pytest.raises(DataError, match="cannot be recomputed"):
        loop.redo(cfg, twin0, [_obs(3, "9269-2", 5, 1.0)], [], None)


def test_summary_gives_the_posterior_and_the_ranked_options():
    cfg = loop.TwinConfig("stroke", EPOCH)
    obs = [_obs(1, "stroke-lvo", 5, 1.0), _obs(2, "stroke-ott", 6, 100.0),
           _obs(3, "8480-6", 7, 150.0)]  # fmt: skip
    twin = loop.update(cfg, loop.create(cfg).twin, obs, []).twin
    view = loop.summary("acute-ischaemic-stroke", twin)
    nodes = {n["name"]: n for n in view["nodes"]}
    post = bn.query(twin.bn.net, None, twin.bn.evidence)
    for name, p in post.items():
        np.testing.assert_allclose(nodes[name]["posterior"], p, rtol=0, atol=1e-15)
    assert nodes["lvo"]["posterior"] == [0.0, 1.0]
    ranked = bn.recommend(twin.bn)
    assert [o["option"] for o in view["options"]] == [r.option for r in ranked]
    assert view["options"][0]["option"] == "ivt+mt"
    for o, r in zip(view["options"], ranked, strict=True):
        assert o["expected_utility"] == pytest.approx(r.expected_utility, rel=0, abs=1e-12)
        np.testing.assert_allclose(o["mrs"], r.mrs, rtol=0, atol=1e-12)


def test_update_many_hands_each_kind_its_own_twins():
    cfg = loop.TwinConfig("stroke", EPOCH)
    twin = loop.create(cfg).twin
    a = [_obs(1, "8480-6", 10, 150.0)]
    b = [_obs(2, "9269-2", 10, 14.0)]
    one = [loop.update(cfg, twin, a, []), loop.update(cfg, twin, b, [])]
    many = loop.update_many([(cfg, twin, a, []), (cfg, twin, b, [])])
    for x, y in zip(one, many, strict=True):
        assert loop.packed(cfg, x).state == loop.packed(cfg, y).state
    bad = loop.update_many([(cfg, "not a twin", a, [])], errors="return")
    assert isinstance(bad[0], Exception)
