"""A cardiac twin in the twin loop: version 0 from an uploaded tissue (refused without one, or
with a site off tissue), mapping points and QRS durations as coded observations, each update
the library's posterior of every observation so far, the stored state restored and every step
made again bit for bit, invalid readings marked and refused by admit, and the summary's
quantiles (the prior's before any data, against scipy's truncated normal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.stats import truncnorm

from medtwin import loop
from medtwin.errors import DataError, LimitError, StoreError
from medtwin.models.cardiology import (
    ConductionPrior,
    MappingPoints,
    PESProtocol,
    QRSDuration,
    VTDefinition,
    mapping_times,
    pacing_source,
    scar_channel_sheet,
)

EPOCH = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
SHEET = scar_channel_sheet((20.0, 12.0), 0.5, scar=(12.0, 6.0), channel_width=1.0)
PACE = (1.0, 6.0)
PRIOR = ConductionPrior(bz=(0.3, 0.7))
CONFIG = loop.TwinConfig("cardiac", EPOCH)


def _tissue() -> loop.CardiacTissue:
    return loop.CardiacTissue(SHEET.labels, SHEET.spacing, PACE, PRIOR, lat_sd=2.0)


def _points(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    lab, h = SHEET.labels, SHEET.spacing
    truth = mapping_times(lab, h, pacing_source(lab, h, PACE), 0.49, bz=0.3)
    rng = np.random.default_rng(seed)
    ok = np.argwhere(np.isfinite(truth) & (truth > 0))
    cells = ok[rng.choice(len(ok), n, replace=False)]
    pos = np.round((cells + 0.5) * h, 2)
    return pos, truth[tuple(cells.T)] + rng.standard_normal(n)


def _obs(first: int, pos: np.ndarray, lat: np.ndarray, hours: float):
    t = EPOCH + timedelta(hours=hours)
    return [loop.PendingObservation(first + i, loop.lat_code(p), t, float(v), 0)
            for i, (p, v) in enumerate(zip(pos, lat, strict=True))]  # fmt: skip


def _created() -> loop.Step:
    with loop.given_tissue(_tissue()):
        return loop.create(CONFIG)


def test_version_0_needs_the_tissue_and_the_kind_checks_the_configuration():
    assert isinstance(loop.kind_of("cardiac"), loop.CardiacKind)
    assert CONFIG.time_unit == "h" and loop.name_taken("cardiac")
    with pytest.raises(StoreError, match=r"made from the patient's tissue.*twin/cardiac"):
        loop.create(CONFIG)
    with pytest.raises(StoreError, match=r"not by a filter.*free=\('cv',\)"):
        loop.TwinConfig("cardiac", EPOCH, free=("cv",))
    with pytest.raises(DataError, match=r"pacing site.*lies scar"):
        loop.CardiacTissue(SHEET.labels, SHEET.spacing, (10.0, 4.0))
    with pytest.raises(DataError, match="outside the tissue's grid"):
        loop.CardiacTissue(SHEET.labels, SHEET.spacing, (25.0, 4.0))
    with pytest.raises(DataError, match="values 0-4"):
        loop.CardiacTissue(np.full((4, 4), 7), 1.0, (0.5, 0.5))
    with pytest.raises(DataError, match="no conducting tissue"):
        loop.CardiacTissue(np.zeros((4, 4), int), 1.0, (0.5, 0.5))
    step = _created()
    assert step.forecast is None and step.twin.version == 0
    assert step.report["tissue"]["shape"] == [40, 24]
    assert step.report["tissue"]["cells"]["border_zone"] == int((SHEET.labels == 2).sum())


def test_summary_before_data_is_the_prior():
    view = loop.summary("cardiac", _created().twin)
    assert view["kind"] == "cardiac" and not view["calibrated"] and view["mapping_points"] == 0
    lo, hi = (np.log(PRIOR.bounds) - np.log(PRIOR.median)) / PRIOR.log_sd
    want = PRIOR.median * np.exp(PRIOR.log_sd * truncnorm.ppf([0.05, 0.5, 0.95], lo, hi))
    cv = view["parameters"]["cv"]
    np.testing.assert_allclose([cv["q05"], cv["median"], cv["q95"]], want, rtol=1e-9)
    bz = view["parameters"]["bz"]
    assert (bz["q05"], bz["median"], bz["q95"]) == (0.3, 0.3, 0.7)


def test_updates_assimilate_every_observation_so_far_and_mark_the_rest():
    step0 = _created()
    pos, lat = _points(0, 12)
    t = EPOCH + timedelta(hours=2)
    extra = [loop.PendingObservation(50, "lat@10,4", t, 30.0, 0),  # in the scar
             loop.PendingObservation(51, "lat@x,y", t, 30.0, 0),
             loop.PendingObservation(52, loop.QRS_CODE, t, 40.0, -1),
             loop.PendingObservation(53, "99504-3", t, 120.0, 0),
             loop.PendingObservation(54, loop.QRS_CODE, t, 38.0, 0)]  # fmt: skip
    s1 = loop.update(CONFIG, step0.twin, _obs(1, pos[:8], lat[:8], 1.0) + extra, [])
    assert s1.obs_marks == {**{i: "applied" for i in range(1, 9)}, 50: "invalid", 51: "invalid",
                            52: "invalid", 53: "unobserved", 54: "applied"}  # fmt: skip
    assert s1.twin.version == 1 and s1.twin.time == pytest.approx(2.0)
    assert (s1.report["mapping_points"], s1.report["qrs_durations"]) == (8, 1)
    assert s1.report["unobserved_codes"] == {"99504-3": 1}
    s2 = loop.update(CONFIG, s1.twin, _obs(60, pos[8:], lat[8:], 3.0), [])
    # the posterior is the library's of all the points so far and the QRS, to the bit
    lib = _tissue().twin().assimilate(MappingPoints(pos[:8], lat[:8], 2.0),
                                      qrs=QRSDuration(np.array([38.0]), 10.0))  # fmt: skip
    lib = lib.assimilate(MappingPoints(pos[8:], lat[8:], 2.0))
    assert np.array_equal(s2.twin.twin.posterior.weights, lib.posterior.weights)
    view = loop.summary("cardiac", s2.twin)
    assert view["calibrated"] and view["mapping_points"] == 12
    cv = view["parameters"]["cv"]
    assert cv["q05"] < 0.49 < cv["q95"] and cv["q95"] / cv["q05"] < 1.5  # 12 points pin cv


def test_the_stored_state_restores_and_redoes_exactly():
    step0 = _created()
    p0 = loop.packed(CONFIG, step0)
    assert p0.forecast is None and p0.model == "cardiac"
    assert loop.packed(CONFIG, _created()).state == p0.state  # the same twin, the same bytes
    pos, lat = _points(1, 10)
    qrs = loop.PendingObservation(20, loop.QRS_CODE, EPOCH + timedelta(hours=1), 41.0, 0)
    obs = [*_obs(1, pos, lat, 1.5), qrs]
    step = loop.update(CONFIG, loop.restore(CONFIG, 0, p0.state, ()), obs, [])
    p1 = loop.packed(CONFIG, step)
    again = loop.redo(CONFIG, loop.restore(CONFIG, 0, p0.state, ()), obs, [], None)
    assert loop.packed(CONFIG, loop.Step(again, None, {}, (), {}, {}, {})).state == p1.state
    back = loop.restore(CONFIG, 1, p1.state, ())
    assert back.time == 1.5 and np.array_equal(back.tissue.labels, SHEET.labels)
    for a, b in ((back.twin.posterior.weights, step.twin.twin.posterior.weights),
                 (back.twin.points.positions, step.twin.twin.points.positions),
                 (back.twin.qrs.durations, step.twin.twin.qrs.durations)):  # fmt: skip
        assert np.array_equal(a, b)
    # a further update from the restored twin: the same bytes as from the twin in memory
    more = _obs(30, pos[:3], lat[:3] + 1.0, 4.0)
    assert loop.packed(CONFIG, loop.update(CONFIG, back, more, [])).state == \
        loop.packed(CONFIG, loop.update(CONFIG, step.twin, more, [])).state  # fmt: skip
    with pytest.raises(StoreError, match="version 1, not 2"):
        loop.restore(CONFIG, 2, p1.state, ())
    with pytest.raises(StoreError, match="not a cardiac twin"):
        loop.restore(CONFIG, 1, b"\x00garbage", ())
    with pytest.raises(DataError, match="cannot be recomputed"):
        loop.redo(CONFIG, step0.twin, [loop.PendingObservation(9, "lat@10,4", EPOCH, 3.0, 0)],
                  [], None)  # fmt: skip


def test_admit_refuses_what_the_twin_could_never_take():
    twin = _created().twin
    with pytest.raises(DataError, match=r"lat@10,4 at .*lies scar.*Nothing was stored"):
        loop.admit(CONFIG, lambda: twin, [("lat@10,4", EPOCH, 30.0, 0)])
    with pytest.raises(DataError, match=r"QRS duration .*measured value > 0"):
        loop.admit(CONFIG, lambda: twin, [(loop.QRS_CODE, EPOCH, 0.0, 0)])
    with pytest.raises(DataError, match="needs 2 finite coordinates"):
        loop.admit(CONFIG, lambda: twin, [("lat@1,2,3", EPOCH, 3.0, 0)])
    loop.admit(CONFIG, lambda: twin, [("lat@1.25,6.75", EPOCH, 3.0, 0), ("99504-3", EPOCH, 1, 0)])
    assert loop.lat_code([1.234567, 6.0]) == "lat@1.23,6"


def test_activation_map_and_the_bounds_of_p_inducible():
    twin = _created().twin
    m = loop.activation_map(twin)
    assert m["shape"] == [40, 24] and m["times"][2][12] == 0.0  # the paced cell
    assert m["times"][20][8] is None and m["times"][20][12] > 0  # scar, channel
    with pytest.raises(DataError, match="no mapping points"):
        loop.inducibility(twin, 1, draws=2, seed=0, protocol=PESProtocol(),
                          definition=VTDefinition())  # fmt: skip
    pos, lat = _points(2, 8)
    twin = loop.update(CONFIG, twin, _obs(1, pos, lat, 1.0), []).twin
    with pytest.raises(LimitError, match=r"at most 40000.*medtwin twin cardiac"):
        loop.inducibility(twin, 4, draws=20, seed=0, protocol=PESProtocol(),
                          definition=VTDefinition())  # fmt: skip
    with pytest.raises(DataError, match=r"sites: .*lies scar"):
        loop.inducibility(twin, [[10.0, 4.0]], draws=1, seed=0, protocol=PESProtocol(n_s1=1),
                          definition=VTDefinition())  # fmt: skip
