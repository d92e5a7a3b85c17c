"""A cardiac twin in the store, on SQLite and PostgreSQL: version 0 from the tissue handed to
the kind (its state blob holds it; no table of its own), a version per batch of mapping points,
every version restored to the bytes the twin in memory packs (those whose state is no longer
kept made again from version 0 and the records each applied), points off the tissue refused
with nothing stored, the audit chain intact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from _cardiac_case import PACE, H, cardiac_case
from medtwin import loop
from medtwin.data.records import ObservationRecord, PatientRecord
from medtwin.errors import StoreError
from medtwin.store import TwinConfig

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CONFIG = TwinConfig("cardiac", T0, seed=3)
CASE = cardiac_case()


def _tissue() -> loop.CardiacTissue:
    return loop.CardiacTissue(CASE.labels, H, PACE)


def _batch(k: int, n: int) -> list[ObservationRecord]:
    rows = [line.split(",") for line in CASE.csv(k, n).decode().split()[1:]]
    t = T0 + timedelta(hours=k + 1)
    return [ObservationRecord(f"lat-{k}-{i}", "P", loop.lat_code([float(x), float(y)]), t,
                              float(v), "ms") for i, (x, y, v) in enumerate(rows)]  # fmt: skip


@pytest.fixture
def pid(store):
    pid = store.add_patient(PatientRecord("Patient/vt"), actor="a")
    with pytest.raises(StoreError, match="made from the patient's tissue"):
        store.create_twin(pid, CONFIG, actor="a")  # a configuration alone makes no twin
    with loop.given_tissue(_tissue()):
        v0 = store.create_twin(pid, CONFIG, actor="a")
    assert (v0.version, v0.model, v0.report["tissue"]["shape"]) == (0, "cardiac", [40, 28])
    return pid


def test_versions_of_the_cardiac_twin_restore_bit_for_bit(store, pid):
    for k in range(4):
        res = store.add_observations(pid, _batch(k, 6), actor="a")
        assert (res.added, res.twin_version) == (6, k + 1)
    versions = store.twin_versions(pid, actor="a")
    assert [v.version for v in versions] == list(range(5))
    assert [v.report.get("mapping_points") for v in versions] == [None, 6, 12, 18, 24]
    assert versions[-1].model_time == pytest.approx(4.0)
    # the same twin in memory, from the same records, packs to the same bytes
    with loop.given_tissue(_tissue()):
        twin = loop.create(CONFIG).twin
    assert loop.packed(CONFIG, loop.Step(store.twin(pid, actor="a", version=0), None, {}, (), {},
                                         {}, {})).state == _packed(twin)  # fmt: skip
    by_version: dict[int, list] = {}
    for o in store.observations(pid, actor="a"):
        by_version.setdefault(o.version, []).append(
            loop.PendingObservation(o.id, o.code, o.time, o.value, o.censored)
        )
    for v in range(1, 5):
        twin = loop.update(CONFIG, twin, by_version[v], []).twin
        stored = store.twin(pid, actor="a", version=v)  # 1-3 made again from version 0
        assert _packed(stored) == _packed(twin)
    cv = loop.summary("cardiac", stored)["parameters"]["cv"]
    assert cv["q05"] < 0.49 < cv["q95"]
    assert store.forecasts(pid, actor="a") == []  # P(inducible) is computed when asked
    assert store.verify_audit().ok
    updates = store.audit_entries(patient=pid, action="twin.update")
    assert [e.detail["version"] for e in updates] == [1, 2, 3, 4]


def test_a_point_off_the_tissue_is_refused_with_nothing_stored(store, pid):
    bad = [*_batch(0, 3), ObservationRecord("scar", "P", "lat@10.25,4.25", T0, 30.0, "ms")]
    with pytest.raises(StoreError, match=r"lat@10.25,4.25 at .*lies scar"):
        store.add_observations(pid, bad, actor="a")
    assert store.observations(pid, actor="a") == []
    assert [v.version for v in store.twin_versions(pid, actor="a")] == [0]
    assert store.verify_audit().ok


def _packed(twin) -> bytes:
    return loop.packed(CONFIG, loop.Step(twin, None, {}, (), {}, {}, {})).state


def test_the_blob_holds_the_tissue():
    with loop.given_tissue(_tissue()):
        step = loop.create(CONFIG)
    back = loop.restore(CONFIG, 0, _packed(step.twin), ())
    assert np.array_equal(back.tissue.labels, CASE.labels) and back.tissue.pace == PACE
