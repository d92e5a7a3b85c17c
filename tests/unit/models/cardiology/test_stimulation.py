"""Programmed stimulation, the VT definition, the inducibility interval, isthmus location and
lesions, on tiny grids (the phantom-sized checks of the issue are in
tests/reference/test_cardiac_inducibility.py, marked slow)."""

import math

import numpy as np
import pytest
from scipy import ndimage

import medtwin  # noqa: F401
from medtwin.errors import ModelError
from medtwin.models.cardiology import (
    BORDER,
    HEALTHY,
    LESION,
    SCAR,
    MitchellSchaeffer,
    PESProtocol,
    VTDefinition,
    ablate,
    clopper_pearson,
    homogeneous_sheet,
    locate_isthmus,
    programmed_stimulation,
    scar_channel_sheet,
    what_if,
    with_lesion,
)

TINY = PESProtocol(n_s1=1, couplings=((400.0, 150.0), (400.0, 150.0)))
SHORT = VTDefinition(cycle_length=(100.0, 300.0), sustained_ms=400.0)


@pytest.fixture(scope="module")
def tiny():
    ph = homogeneous_sheet((10.0, 8.0), 0.5)
    m = ph.model()
    p = ph.params(m)
    sites = [[1.0, 1.0], [9.0, 4.0]]
    res = programmed_stimulation(m, p, sites, protocol=TINY, definition=SHORT)
    return m, p, sites, res


def test_a_homogeneous_sheet_is_not_inducible_and_the_protocol_steps_as_the_clinic(tiny):
    _, _, _, res = tiny
    assert res.ok.all() and not res.induced.any() and res.score == 0.0
    assert np.isnan(res.cycle_length).all() and np.isnan(res.activation).all()
    # S2 at 400 ms captures, at 150 ms (inside the action potential) it does not: S2 is held at
    # 400 ms and S3 tried at both; S3 at 150 ms fails too, which ends the protocol
    assert res.couplings == ((400.0, 150.0), (400.0, 150.0))
    # exact interval of 0 / 2: upper bound 1 - 0.025^(1/2)
    assert res.interval[0] == 0.0
    assert math.isclose(res.interval[1], 1 - 0.025**0.5, rel_tol=1e-9)


def test_clopper_pearson_matches_its_closed_forms():
    # k = 0: upper = 1 - (a/2)^(1/n); k = n: lower = (a/2)^(1/n); symmetric in k <-> n - k
    assert clopper_pearson(0, 5) == (0.0, pytest.approx(1 - 0.025 ** (1 / 5), rel=1e-9))
    assert clopper_pearson(5, 5) == (pytest.approx(0.025 ** (1 / 5), rel=1e-9), 1.0)
    lo, hi = clopper_pearson(2, 7, 0.9)
    lo2, hi2 = clopper_pearson(5, 7, 0.9)
    assert math.isclose(lo, 1 - hi2, rel_tol=1e-9) and math.isclose(hi, 1 - lo2, rel_tol=1e-9)
    assert 0.0 < lo < 2 / 7 < hi < 1.0
    with pytest.raises(ModelError, match="needs 0 <= k <= n"):
        clopper_pearson(3, 2)


def test_the_vt_definition_reads_activation_sequences():
    vt = VTDefinition(cycle_length=(200.0, 600.0), sustained_ms=2000.0, min_beats=3)
    t_last, t_end = np.full(4, 1000.0), np.full(4, 3000.0)
    sustained = 1120.0 + 480.0 * np.arange(4)  # 1120 ... 2560: within 600 ms of the end
    terminated = np.array([1100.0, 1580.0, 2060.0])  # three beats, then silence
    too_fast = 1050.0 + 150.0 * np.arange(13)  # 150 ms: faster than the range
    paced_only = np.array([400.0, 1005.0])  # one response to the last stimulus
    k = vt.buffer

    def row(t):
        return np.pad(t, (k - len(t), 0), constant_values=np.nan)

    times = np.stack(
        [np.stack([row(x), row(paced_only)]) for x in (sustained, terminated, too_fast, paced_only)]
    )
    induced, cl = vt.evaluate(times, t_last, t_end)
    assert induced.tolist() == [True, False, False, False]
    assert cl[0] == pytest.approx(480.0) and np.isnan(cl[1:]).all()


def _ring_reentry(n=40, h=0.5, neck=2, cycle=300.0):
    """A wave rotating around a central obstacle on an n x n sheet, its annulus narrowed to
    ``neck`` cells at angle 0 by scar: activation time = angle / (2 pi) x cycle."""
    m0 = MitchellSchaeffer((n, n), h)
    x, y = np.meshgrid(*m0.centres(), indexing="ij")
    c = n * h / 2
    r, th = np.hypot(x - c, y - c), np.arctan2(y - c, x - c)
    labels = np.full((n, n), HEALTHY)
    labels[r < 4.0] = SCAR
    inner = np.abs(y - c) < 0.5 * h + 1e-9  # the neck's row band, to the right of the hole
    wall = (x > c) & (r >= 4.0 + neck * h) & (np.abs(y - c) < 2.0)
    labels[wall & ~inner] = SCAR
    labels[(x > c) & (r >= 4.0 + neck * h) & inner] = SCAR
    m = MitchellSchaeffer((n, n), h, labels=labels)
    lat = (th % (2 * np.pi)) / (2 * np.pi) * cycle
    live = np.asarray(m.excitable()) > 0
    last = np.where(live, lat + 2 * cycle, np.nan)
    prev = np.where(live, lat + cycle, np.nan)
    return m, np.stack([last, prev]), cycle, 3.5 * cycle, (r, th, x, c)


def test_the_isthmus_is_the_shortest_isochrone_and_its_lesion_transects_it():
    m, act, cycle, t_end, (r, th, x, c) = _ring_reentry()
    isth = locate_isthmus(m, act, cycle, t_end)
    # the neck: 2 cells (1 mm) of tissue between the hole (r < 4 mm) and the scar wall
    assert 0.5 < isth.width < 2.0, isth.width
    assert 2 <= isth.lesion.sum() <= 12, isth.lesion.sum()
    assert np.all(x[isth.lesion] > c) and np.all(np.abs(np.sin(th[isth.lesion])) < 0.35)
    # the circuit is cut: the hole, the lesion and the scar wall now form one non-conducting
    # region (8-connected: conduction is through faces) reaching the edge of the sheet, so no
    # conducting loop is left around the hole; before the lesion the neck kept them apart
    ablated = with_lesion(m, isth.lesion)
    lab = np.asarray(ablated.labels)
    assert (lab[isth.lesion] == LESION).all()
    hole = np.unravel_index(np.argmin(r), r.shape)
    for labels, joined in ((np.asarray(m.labels), False), (lab, True)):
        comp, _ = ndimage.label(~np.isin(labels, (HEALTHY, BORDER)), structure=np.ones((3, 3)))
        mine = comp == comp[hole]
        edge = mine[0].any() or mine[-1].any() or mine[:, 0].any() or mine[:, -1].any()
        assert edge == joined


def test_lesion_plans_are_compared_by_the_whole_protocol(tiny):
    m, p, sites, res = tiny
    plan = np.zeros(m.shape, bool)
    plan[9:11, 4:12] = True
    out = what_if(m, p, sites, {"none": np.zeros(m.shape, bool), "line": plan},
                  protocol=TINY, definition=SHORT)  # fmt: skip
    assert [o.name for o in out] == ["none", "line"]
    assert out[0].cells == 0 and out[1].cells == 16 and out[1].area == pytest.approx(4.0)
    assert all(o.inducibility.score == 0.0 for o in out)
    # nothing inducible: ablate proposes no lesion and keeps the model
    ab = ablate(m, p, sites, protocol=TINY, definition=SHORT, baseline=res)
    assert not ab.lesion.any() and ab.rounds == () and ab.final is res
    assert ab.stopped == "non-inducible" and ab.isthmuses == ()


def test_bad_input_is_refused_with_what_to_do(tiny):
    m, p, _, _ = tiny
    with pytest.raises(ModelError, match="at least one pacing site"):
        programmed_stimulation(m, p, np.zeros((0, 2)))
    ph = scar_channel_sheet((20.0, 12.0), 0.5, scar=(10.0, 6.0), channel_width=1.0)
    ms = ph.model()
    with pytest.raises(ModelError, match=r"Pacing site 1 at \(10.0, 4.5\) mm stimulates no tissue"):
        programmed_stimulation(ms, ph.params(ms, stim_r=0.5), [[1.0, 1.0], [10.0, 4.5]])
    with pytest.raises(ModelError, match="strictly decrementing"):
        PESProtocol(couplings=((300.0, 320.0),))
    with pytest.raises(ModelError, match="strictly decrementing"):
        PESProtocol(couplings=((300.0, -20.0),))
    with pytest.raises(ModelError, match="one to three tuples"):
        PESProtocol(couplings=((300.0,),) * 4)
    with pytest.raises(ModelError, match="on the model's 1 ms input grid"):
        programmed_stimulation(m, p, [[1.0, 1.0]], protocol=PESProtocol(couplings=((300.5,),)))
    with pytest.raises(ModelError, match="cycle_length must be"):
        VTDefinition(cycle_length=(600.0, 200.0))
    with pytest.raises(ModelError, match="channel_label must be HEALTHY"):
        scar_channel_sheet(channel_label=SCAR)
    with pytest.raises(ModelError, match="boolean array of the grid's shape"):
        with_lesion(m, np.zeros((3, 3), bool))
    with pytest.raises(ModelError, match="cycle length"):
        locate_isthmus(m, np.full((2, *m.shape), np.nan), float("nan"), 100.0)


def test_one_site_of_the_phantom_induces_vt_and_its_isthmus_lesion_ends_it():
    """The whole chain on the phantom with the cheapest protocol that induces: the left site,
    2 S1 beats at 600 ms and one S2 at 340 ms (the full five-site protocol and ablate() are in
    tests/reference/test_cardiac_inducibility.py)."""
    ph = scar_channel_sheet()
    m = ph.model()
    p = ph.params(m)
    proto = PESProtocol(n_s1=2, couplings=((340.0,),))
    vt = VTDefinition(sustained_ms=1500.0)
    res = programmed_stimulation(m, p, ph.sites[:1], protocol=proto, definition=vt)
    assert res.induced.tolist() == [True] and 400.0 < res.cycle_length[0] < 550.0
    assert res.couplings == ((340.0,),)
    isth = locate_isthmus(m, res.activation[0], res.cycle_length[0], res.t_end[0])
    assert abs(isth.width - 2.0) < 1.0 and (isth.lesion <= ph.channel).all()
    after = programmed_stimulation(with_lesion(m, isth.lesion), p, ph.sites[:1], protocol=proto,
                                   definition=vt)  # fmt: skip
    assert after.induced.tolist() == [False]
