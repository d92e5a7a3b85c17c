"""A Bayesian-network twin (the stroke twin) in the store, on SQLite and PostgreSQL: versioned
updates whose blobs are the network twin's exact bytes, each version restored (also those whose
state is no longer kept, made again from the records it applied), the audit chain intact, and
findings the twin could never take refused with nothing stored. The store knows no kind of
twin: it keeps what ``medtwin.loop.packed`` gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medtwin import bn, loop
from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.errors import StoreError
from medtwin.store import TwinConfig

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CONFIG = TwinConfig("stroke", T0)


def rec(i: int, code: str, minute: float, value: float) -> ObservationRecord:
    return ObservationRecord(f"obs-{i}", "P", code, T0 + timedelta(minutes=minute), value, "x")


@pytest.fixture
def pid(store):
    pid = store.add_patient(PatientRecord("Patient/stroke"), actor="a")
    v0 = store.create_twin(pid, CONFIG, actor="a")
    assert (v0.version, v0.model, v0.report["prior"]) == (0, "acute-ischaemic-stroke", "expert")
    return pid


def test_updates_are_versions_of_the_network_twin(store, pid):
    res = store.add_observations(pid, [rec(1, "stroke-lvo", 5, 1.0), rec(2, "stroke-ott", 6, 95.0),
                                       rec(3, "8480-6", 7, 150.0)], actor="a")  # fmt: skip
    assert (res.added, res.twin_version) == (3, 1)
    sbp = [170.0, 120.0, 200.0, 150.0, 135.0]
    for k, value in enumerate(sbp):  # five more versions, one reading each
        store.add_observations(pid, [rec(10 + k, "8480-6", 20 + k, value)], actor="a")
    versions = store.twin_versions(pid, actor="a")
    assert [v.version for v in versions] == list(range(7))
    assert [v.report.get("evidence", {}).get("sbp") for v in versions] == [
        None, "140-185", "140-185", "<140", ">185", "140-185", "<140"]  # fmt: skip
    assert versions[-1].model_time == 24.0 and versions[-1].time == T0 + timedelta(minutes=24)
    # the same twin, in memory, from the same records
    twin = loop.create(CONFIG).twin
    for v, row in zip(versions[1:], _applied(store, pid), strict=True):
        twin = loop.update(CONFIG, twin, row, []).twin
        stored = store.twin(pid, actor="a", version=v.version)  # most restored by redo
        assert bn.twin_to_bytes(stored.bn) == bn.twin_to_bytes(twin.bn)
        assert stored.time == twin.time
    assert store.forecasts(pid, actor="a") == []  # a network twin answers when asked
    assert store.verify_audit().ok
    updates = store.audit_entries(patient=pid, action="twin.update")
    assert [e.detail["version"] for e in updates] == list(range(1, 7))


def _applied(store, pid):
    by_version: dict[int, list] = {}
    for o in store.observations(pid, actor="a"):
        by_version.setdefault(o.version, []).append(
            loop.PendingObservation(o.id, o.code, o.time, o.value, o.censored)
        )
    return [by_version[k] for k in sorted(by_version)]


@pytest.mark.parametrize(
    ("records", "says"),
    [
        ([("9269-2", 2.0)], "Glasgow Coma Scale total (9269-2, node 'gcs'): expected an integer"),
        ([("stroke-lvo", 0.5)], "Large-vessel occlusion (stroke-lvo, node 'lvo')"),
        ([("8480-6", 150.0), ("stroke-mt", 3.0)], "stroke-mt"),
    ],
)
def test_a_finding_that_is_no_state_is_refused_with_nothing_stored(store, pid, records, says):
    before = len(store.audit_entries())
    recs = [rec(i, code, 3 + i, value) for i, (code, value) in enumerate(records)]
    with pytest.raises(StoreError) as err:
        store.add_observations(pid, recs, actor="a")
    assert says in str(err.value)
    assert store.observations(pid, actor="a") == []
    assert [v.version for v in store.twin_versions(pid, actor="a")] == [0]
    assert len(store.audit_entries()) == before + 2  # the two reads above, no write
    assert store.verify_audit().ok


def test_impossible_findings_are_refused_with_nothing_stored(store, monkeypatch):
    """A network registered at run time whose table has a zero: no fever never gives a high
    temperature. The finding that contradicts what the twin holds is refused whole."""
    import numpy as np

    from medtwin.bn import _registry
    from medtwin.bn._evidence_codes import SYSTEM, Bins, EvidenceCode, Levels, NetworkLoop
    from medtwin.bn._expert import ExpertNetwork

    def build() -> ExpertNetwork:
        net = bn.BayesNet({"fever": ("no", "yes"), "temp": ("normal", "high")},
                          {"temp": ("fever",)},
                          {"fever": np.array([0.9, 0.1]),
                           "temp": np.array([[1.0, 0.0], [0.3, 0.7]])}, name="fever")  # fmt: skip
        return ExpertNetwork(net, bn.column_prior(net, 5.0), (), (), 5.0)

    codes = NetworkLoop((
        EvidenceCode("8310-5", "http://loinc.org", "temp", "Cel", "Body temperature",
                     (25.0, 45.0), ("normal", "high"), Bins((38.0,), (True,))),
        EvidenceCode("test-fever", SYSTEM, "fever", "1", "Fever", (0.0, 1.0), ("no", "yes"),
                     Levels(0, (1, 1))),
    ))  # fmt: skip
    monkeypatch.setattr(_registry, "_REGISTERED", [])
    bn.register_network(bn.NetworkEntry("test-fever", (), "Fever", "a test", build, codes))
    pid = store.add_patient(PatientRecord("Patient/fever"), actor="a")
    store.create_twin(pid, TwinConfig("test-fever", T0), actor="a")
    assert store.add_observations(pid, [rec(1, "test-fever", 1, 0.0)], actor="a").twin_version == 1
    with pytest.raises(StoreError, match=r"findings \{'temp': 'high'\} are impossible"):
        store.add_observations(pid, [rec(2, "8310-5", 2, 36.5), rec(3, "8310-5", 3, 39.1)],
                               actor="a")  # fmt: skip
    assert [o.code for o in store.observations(pid, actor="a")] == ["test-fever"]
    assert [v.version for v in store.twin_versions(pid, actor="a")] == [0, 1]
    # the same reading, possible: taken
    assert store.add_observations(pid, [rec(4, "8310-5", 4, 36.5)], actor="a").twin_version == 2
    assert store.verify_audit().ok
