"""The cardiac twin (models/cardiology/twin.py) and its QRS-duration observable
(personalise.py): the QRS likelihood against a brute-force quadrature, QRS alone and with the
map, batches, the posterior as personalise_conduction's, the forecast and the ranked plans on a
small sheet, the reference speed, sites, and bad input. The LAT calibration over 200 seeds is
tests/reference/test_cardiac_personalise.py's (the twin's posterior is that function's, checked
here to the bit)."""

import functools

import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.errors import DataError, ModelError
from medtwin.models.cardiology import (
    BORDER,
    HEALTHY,
    SCAR,
    CardiacTwin,
    ConductionPrior,
    MappingPoints,
    MitchellSchaeffer,
    PESProtocol,
    QRSDuration,
    VTDefinition,
    cable_speed,
    mapping_times,
    pacing_source,
    personalise_conduction,
    scar_channel_sheet,
    spread_sites,
)
from medtwin.models.cardiology import mitchell_schaeffer as ms_mod

N, H, TRUTH = 20, 1.0, 0.55
LABELS = np.full((N, N), HEALTHY)
SRC = np.zeros((N, N), bool)
SRC[1, 1] = True


@functools.cache
def t_true() -> np.ndarray:
    """Activation times at the true cv (computed on first use, not when pytest collects)."""
    return mapping_times(LABELS, H, SRC, TRUTH)


def qrs_true() -> float:
    return float(np.max(t_true()))  # the total activation time at the true cv


def _points(seed, n=20, sd=1.0):
    rng = np.random.default_rng(seed)
    ok = np.argwhere(t_true() > 0)
    cells = ok[rng.choice(len(ok), n, replace=False)]
    return MappingPoints((cells + 0.5) * H, t_true()[tuple(cells.T)] + sd * rng.standard_normal(n),
                         sd)  # fmt: skip


def _brute(points, qrs, prior):
    """Quantiles (5, 50, 95 %) and log evidence by a 200,001-point quadrature over log cv
    (fixed shape node), written out independently of personalise.py."""
    g = np.linspace(np.log(prior.bounds[0]), np.log(prior.bounds[1]), 200_001)
    s = np.exp(-g)[:, None]
    t1 = mapping_times(LABELS, H, SRC, 1.0)
    lp = -0.5 * ((g - np.log(prior.median)) / prior.log_sd) ** 2
    norm = np.log(prior.log_sd * np.sqrt(2 * np.pi))
    if points is not None:
        at = t1[tuple(np.floor(points.positions / H).astype(int).T)]
        sd = np.broadcast_to(points.sd, at.shape)
        lp = lp - 0.5 * np.sum(((points.times - at * s) / sd) ** 2, 1)
        norm += np.sum(np.log(sd * np.sqrt(2 * np.pi)))
    if qrs is not None:
        sd = np.broadcast_to(qrs.sd, qrs.durations.shape)
        lp = lp - 0.5 * np.sum(((qrs.durations - np.max(t1) * s) / sd) ** 2, 1)
        norm += np.sum(np.log(sd * np.sqrt(2 * np.pi)))
    c = np.cumsum(np.exp(lp - lp.max()))
    q = np.exp(np.interp([0.05, 0.5, 0.95], c / c[-1], g))
    from scipy.stats import norm as gauss

    z = (np.log(prior.bounds) - np.log(prior.median)) / prior.log_sd
    mass = gauss.cdf(z[1]) - gauss.cdf(z[0])
    return q, lp.max() + np.log(c[-1] * (g[1] - g[0]) / mass) - norm


def test_qrs_alone_matches_brute_force_and_its_interval_holds_the_truth():
    """The QRS term of the likelihood (total activation time / cv, Gaussian) against an
    independent quadrature (1e-4 relative; the LAT term's own check is test_personalise.py's),
    and one noisy QRS (sd 3 ms) pins cv with a 90 % interval around the truth."""
    qrs = QRSDuration(qrs_true() + 1.7, 3.0)  # a 0.6-sd error
    prior = ConductionPrior()
    post = personalise_conduction(None, LABELS, H, SRC, prior=prior, qrs=qrs)
    q = post.quantiles()["cv"]
    ref, ev = _brute(None, qrs, prior)
    np.testing.assert_allclose(q, ref, rtol=1e-4)
    assert abs(post.log_evidence - ev) < 1e-6
    assert q[0] < TRUTH < q[2]
    # informative: 3 ms of a 47 ms total activation time is 6.4 %, so the 90 % interval spans
    # about exp(2 x 1.645 x 0.064) = 1.23 (measured 1.229); the prior's spans 5.2
    assert 1.15 < q[2] / q[0] < 1.3


def test_qrs_narrows_the_map_posterior_and_repeats_concatenate():
    prior = ConductionPrior()
    pts = _points(4, n=10, sd=2.0)
    lat = personalise_conduction(pts, LABELS, H, SRC, prior=prior).quantiles()["cv"]
    qrs = QRSDuration([qrs_true() - 1.0, qrs_true() + 0.5], [1.5, 2.5])
    both = personalise_conduction(pts, LABELS, H, SRC, prior=prior, qrs=qrs)
    qb = both.quantiles()["cv"]
    assert qb[2] - qb[0] <= (lat[2] - lat[0]) * (1 + 1e-9), (lat, qb)
    assert qb[0] < TRUTH < qb[2]
    ref, ev = _brute(pts, qrs, prior)
    np.testing.assert_allclose(qb, ref, rtol=1e-4)
    assert abs(both.log_evidence - ev) < 1e-6


def test_two_batches_equal_one_batch():
    """Points with different noise in two batches plus a QRS each: the same posterior as one
    batch of everything (bit for bit in the same order, to round-off in the other), and as a
    brute-force quadrature with per-point noise."""
    prior = ConductionPrior(bz=(0.35, 0.7))
    a, b = _points(1, n=8, sd=1.0), _points(2, n=6, sd=2.5)
    qa, qb = QRSDuration(qrs_true() + 1.0, 4.0), QRSDuration(qrs_true() - 2.0, 4.0)
    twin = CardiacTwin(LABELS, H, SRC, prior=prior)
    two = twin.assimilate(a, qrs=qa).assimilate(b, qrs=qb)
    one = twin.assimilate(a.join(b), qrs=qa.join(qb))
    back = twin.assimilate(b, qrs=qb).assimilate(a, qrs=qa)
    np.testing.assert_array_equal(two.posterior.weights, one.posterior.weights)
    assert two.posterior.log_evidence == one.posterior.log_evidence
    assert np.shape(two.points.sd) == (14,) and np.shape(two.qrs.sd) == ()
    np.testing.assert_allclose(back.posterior.weights, one.posterior.weights, rtol=1e-9,
                               atol=1e-14)  # fmt: skip
    np.testing.assert_allclose(back.quantiles()["cv"], one.quantiles()["cv"], rtol=1e-12)
    ref, ev = _brute(two.points, two.qrs, ConductionPrior())  # bz does not act: no border zone
    np.testing.assert_allclose(two.quantiles()["cv"], ref, rtol=1e-4)
    assert abs(two.posterior.log_evidence - ev) < 1e-6


def test_the_twin_posterior_is_personalise_conductions():
    """The twin computes no posterior of its own: bit-for-bit personalise_conduction's (whose
    calibration the reference test checks over 200 seeds); its median within 5 %."""
    pts = _points(3)
    twin = CardiacTwin(LABELS, H, SRC).assimilate(pts)
    direct = personalise_conduction(pts, LABELS, H, SRC)
    np.testing.assert_array_equal(twin.posterior.weights, direct.weights)
    np.testing.assert_array_equal(twin.posterior.cv, direct.cv)
    assert abs(twin.quantiles()["cv"][1] / TRUTH - 1) < 0.05
    assert twin.draws(5, seed=1).shape == (5, 3)
    np.testing.assert_array_equal(twin.draws(5, seed=1), direct.sample(1, 5))


def test_cable_speed_against_the_front_speed_and_simulate():
    """The reference speed of the forecast's diffusivities: Mitchell-Schaeffer on a 1D cable by
    the tissue's own step, within 1.5 % of the analytic cubic front (0.3436 mm/ms) and within
    0.1 % of what simulate() + activation_times give on the same cable (0.34054 mm/ms at
    h = 0.1 mm, docs/cardiology.md's verification table)."""
    c = cable_speed(MitchellSchaeffer, 0.1, {"D": 0.1}, length=8.0)
    assert abs(c / ms_mod.front_speed(0.1) - 1) < 0.015
    assert abs(c / 0.34054 - 1) < 1e-3


SHEET = scar_channel_sheet((20.0, 12.0), 0.5, scar=(12.0, 6.0), channel_width=1.0)
PROTOCOL = PESProtocol(n_s1=1, couplings=((300.0, 200.0),))
VT = VTDefinition(cycle_length=(100.0, 400.0), sustained_ms=400.0)


@pytest.mark.slow
def test_forecast_and_ranked_plans_on_a_small_sheet():
    """A 20 x 12 mm sheet is too small for reentry: every draw non-inducible, and the plans
    ranked by probability then area -- no ablation before a lesion of the whole channel. The
    forecast's runs are reused, and a forecast of other draws is refused."""
    lab, h = SHEET.labels, SHEET.spacing
    src = pacing_source(lab, h, [1.0, 6.0])
    truth = mapping_times(lab, h, src, 0.49, bz=0.3)
    rng = np.random.default_rng(0)
    ok = np.argwhere(np.isfinite(truth) & (truth > 0))
    cells = ok[rng.choice(len(ok), 15, replace=False)]
    pts = MappingPoints((cells + 0.5) * h, truth[tuple(cells.T)] + rng.standard_normal(15), 1.0)
    # cv_ref given (cable_speed measures 0.4874 here; its own test is above): no cable run
    twin = CardiacTwin(lab, h, src, prior=ConductionPrior(bz=(0.3, 0.7)), cv_ref=0.4874)
    twin = twin.assimilate(pts)
    sites = spread_sites(lab, h, 2)
    fc = twin.forecast(sites, draws=2, protocol=PROTOCOL, definition=VT)
    assert fc.probability == 0.0 and fc.interval == (0.0, pytest.approx(0.8419, abs=1e-4))
    rec = twin.recommend(sites, draws=2, forecast=fc, plans={"channel": SHEET.channel},
                         protocol=PROTOCOL, definition=VT)  # fmt: skip
    assert [p.name for p in rec.plans] == ["no ablation", "channel"]
    assert rec.plans[1].area == pytest.approx(SHEET.channel.sum() * h * h)
    assert rec.ablation is None and rec.targeted is None and rec.best.name == "no ablation"
    assert rec.forecast is fc
    with pytest.raises(ModelError, match="other posterior draws"):
        twin.recommend(sites, draws=2, seed=5, forecast=fc, protocol=PROTOCOL, definition=VT)
    with pytest.raises(ModelError, match="may not be named"):
        twin.recommend(sites, draws=2, forecast=fc, plans={"no ablation": SHEET.channel},
                       protocol=PROTOCOL, definition=VT)  # fmt: skip


def test_sites_and_sources():
    lab, h = SHEET.labels, SHEET.spacing
    sites = spread_sites(lab, h, 3)
    assert sites.shape == (3, 2)
    cells = np.floor(sites / h).astype(int)
    assert (lab[tuple(cells.T)] == HEALTHY).all()
    assert min(np.linalg.norm(sites[0] - sites[1]), np.linalg.norm(sites[1] - sites[2])) > 8.0
    src = pacing_source(lab, h, [0.2, 0.2])
    assert src.sum() == 1 and src[0, 0]
    with pytest.raises(DataError, match="lies scar"):
        pacing_source(lab, h, [10.0, 4.0])
    with pytest.raises(DataError, match="outside the tissue's grid"):
        pacing_source(lab, h, [25.0, 4.0])
    with pytest.raises(DataError, match="2 finite coordinates"):
        pacing_source(lab, h, [1.0, 2.0, 3.0])


def test_bad_input():
    twin = CardiacTwin(LABELS, H, SRC)
    with pytest.raises(ModelError, match="no posterior yet"):
        twin.forecast([[5.0, 5.0]])
    with pytest.raises(DataError, match="Got neither"):
        twin.assimilate()
    with pytest.raises(DataError, match="Got neither"):
        personalise_conduction(None, LABELS, H, SRC)
    with pytest.raises(DataError, match="durations > 0"):
        QRSDuration([-3.0], 1.0)
    with pytest.raises(DataError, match="noise sd > 0"):
        QRSDuration(80.0, 0.0)
    with pytest.raises(DataError, match="one per value"):
        MappingPoints(np.zeros((2, 2)), np.zeros(2), [1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="Cannot join 2D"):
        MappingPoints([[1.0, 1.0]], [1.0], 1.0).join(MappingPoints([[1.0, 1.0, 1.0]], [1.0], 1.0))
    lab = LABELS.copy()
    lab[1, 1] = SCAR
    with pytest.raises(ModelError, match="pacing site on conducting tissue"):
        CardiacTwin(lab, H, SRC)
    with pytest.raises(ModelError, match="MonodomainTissue class"):
        CardiacTwin(LABELS, H, SRC, tissue=int)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="values 0-4"):
        CardiacTwin(np.full((N, N), 7), H, SRC)
    border = LABELS.copy()
    border[5:8, 5:8] = BORDER
    assert CardiacTwin(border, H, SRC).labels.dtype == np.int32
