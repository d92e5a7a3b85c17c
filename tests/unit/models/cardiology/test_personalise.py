"""Personalised conduction from mapping points: the forward map's exact 1/cv scaling, the
posterior against a brute-force one, a border-zone factor learnt on a scar phantom, and bad
input. The 20-seed calibration (issue 18's Done-when) is in
tests/reference/test_cardiac_personalise.py."""

import numpy as np
import pytest

import medtwin  # noqa: F401
from medtwin.errors import DataError, ModelError
from medtwin.models.cardiology import (
    BORDER,
    HEALTHY,
    SCAR,
    ConductionPrior,
    MappingPoints,
    mapping_times,
    personalise_conduction,
)

N, H = 20, 1.0
LABELS = np.full((N, N), HEALTHY)
SRC = np.zeros((N, N), bool)
SRC[1, 1] = True


def _points(times_map, seed, n=20, sd=1.0, live=None):
    rng = np.random.default_rng(seed)
    ok = np.argwhere(np.isfinite(times_map) & (times_map > 0) if live is None else live)
    cells = ok[rng.choice(len(ok), n, replace=False)]
    t = times_map[tuple(cells.T)] + sd * rng.standard_normal(n)
    return MappingPoints((cells + 0.5) * H, t, sd)


def test_times_scale_exactly_with_one_over_cv():
    """The eikonal solution is homogeneous of degree -1 in the velocities: the posterior's
    one-solve-per-shape-node rests on it (relative difference measured ~1e-16)."""
    a = mapping_times(LABELS, H, SRC, 1.0, 0.5, fibres=0.4)
    b = mapping_times(LABELS, H, SRC, 0.37, 0.5, fibres=0.4)
    live = a > 0
    assert np.max(np.abs(b[live] * 0.37 / a[live] - 1.0)) < 1e-12
    assert np.max(a) > 10.0


def test_posterior_matches_brute_force_quadrature():
    """Median and 90 % interval against a direct 200,000-point quadrature of the same
    posterior over cv in (0.05, 3) mm/ms (agreement to 1e-4 relative)."""
    truth = 0.55
    pts = _points(mapping_times(LABELS, H, SRC, truth), seed=3)
    prior = ConductionPrior()
    post = personalise_conduction(pts, LABELS, H, SRC, prior=prior)
    t1 = mapping_times(LABELS, H, SRC, 1.0)[tuple(np.floor(pts.positions / H).astype(int).T)]
    g = np.linspace(np.log(0.05), np.log(3.0), 200_001)
    lp = -0.5 * np.sum(((pts.times[None] - t1[None] * np.exp(-g)[:, None]) / pts.sd) ** 2, 1)
    lp += -0.5 * ((g - np.log(prior.median)) / prior.log_sd) ** 2
    c = np.cumsum(np.exp(lp - lp.max()))
    ref = np.exp(np.interp([0.05, 0.5, 0.95], c / c[-1], g))
    got = post.quantiles()["cv"]
    np.testing.assert_allclose(got, ref, rtol=1e-4)
    # the log evidence: the same integral with the likelihood's and the prior's constants
    # (the prior truncated to the bounds keeps 99.99 % of its mass, computed exactly here)
    from scipy.stats import norm

    z = (np.log([0.05, 3.0]) - np.log(prior.median)) / prior.log_sd
    lnorm = -20 * np.log(pts.sd * np.sqrt(2 * np.pi)) - np.log(prior.log_sd * np.sqrt(2 * np.pi))
    ev = lp.max() + np.log(c[-1] * (g[1] - g[0]) / (norm.cdf(z[1]) - norm.cdf(z[0]))) + lnorm
    assert abs(post.log_evidence - ev) < 1e-6, post.log_evidence - ev
    assert got[0] < truth < got[2]
    assert abs(got[1] / truth - 1) < 0.05
    draws = post.sample(0, 4000)
    assert draws.shape == (4000, 3)
    assert abs(np.median(draws[:, 0]) / got[1] - 1) < 0.01  # Monte Carlo error ~0.1 %


def test_border_zone_factor_on_a_scar_phantom():
    """A scar with a border-zone rim: with bz on a grid of nodes, the posterior's median node
    is the true one (0.3) and cv's median is within 5 % of the truth."""
    lab = LABELS.copy()
    lab[6:14, 6:14] = BORDER
    lab[8:12, 8:12] = SCAR
    truth = mapping_times(lab, H, SRC, 0.6, bz=0.3)
    rim = (lab == BORDER) | ((lab == HEALTHY) & (np.add.outer(np.arange(N), np.arange(N)) > 26))
    pts = _points(truth, seed=1, n=20, sd=1.0, live=rim)
    prior = ConductionPrior(bz=(0.2, 0.3, 0.45, 0.7))
    q = personalise_conduction(pts, lab, H, SRC, prior=prior).quantiles()
    assert q["bz"][1] == 0.3
    assert abs(q["cv"][1] / 0.6 - 1) < 0.05


def test_bad_input():
    with pytest.raises(DataError, match="noise sd"):
        MappingPoints(np.zeros((2, 2)), np.zeros(2), 0.0)
    with pytest.raises(DataError, match=r"shape \[n, 2\]"):
        MappingPoints(np.zeros((2, 2)), np.zeros(3), 1.0)
    lab = LABELS.copy()
    lab[5, 5] = SCAR
    with pytest.raises(DataError, match="not on conducting tissue"):
        personalise_conduction(MappingPoints([[5.5, 5.5]], [3.0], 1.0), lab, H, SRC)
    with pytest.raises(DataError, match="outside the grid"):
        personalise_conduction(MappingPoints([[50.0, 5.0]], [3.0], 1.0), lab, H, SRC)
    with pytest.raises(DataError, match="3D"):
        personalise_conduction(MappingPoints([[5.0, 5.0, 1.0]], [3.0], 1.0), lab, H, SRC)
    with pytest.raises(ModelError, match="median"):
        ConductionPrior(median=5.0)
    with pytest.raises(ModelError, match="conducts"):
        mapping_times(np.full((N, N), SCAR), H, SRC, 0.6)


def test_posterior_draws_become_tissue_parameters():
    """cv scales D quadratically about the reference (a monodomain front's speed grows as
    sqrt(D)); the ratio and border-zone factors square into D_ratio and bz_D."""
    from medtwin.models.cardiology import MitchellSchaeffer, tissue_params

    m = MitchellSchaeffer((10, 10), 0.5, D_max=0.4, dt=0.04)
    p = np.asarray(m.make_params(None, D=0.2))
    out = tissue_params(m, p, [[0.5, 1.0, 0.3], [0.6, 0.5, 1.0]], cv_ref=0.5)
    D, R, B = (m.param_index(n) for n in ("D", "D_ratio", "bz_D"))
    np.testing.assert_allclose(out[:, D], [0.2, 0.2 * 1.44], rtol=1e-14)
    np.testing.assert_allclose(out[:, R], [1.0, 0.25], rtol=1e-14)
    np.testing.assert_allclose(out[:, B], [0.09, 1.0], rtol=1e-14)
    keep = [i for i in range(m.n_params) if i not in (D, R, B)]
    np.testing.assert_array_equal(out[:, keep], np.tile(p[keep], (2, 1)))
    with pytest.raises(ModelError, match="D_max="):
        tissue_params(m, p, [[1.0, 1.0, 0.3]], cv_ref=0.5)  # D = 0.8 > what dt allows
    with pytest.raises(ModelError, match=r"\[n, 3\]"):
        tissue_params(m, p, [[0.5, 1.0]], cv_ref=0.5)
    with pytest.raises(ModelError, match="cv_ref"):
        tissue_params(m, p, [[0.5, 1.0, 0.3]], cv_ref=0.0)
