"""Learning a network's tables, against pgmpy's Bayesian estimator and against the truth.

- Real data: the 1996 American National Election Study extract shipped with statsmodels
  (``statsmodels.datasets.anes96``, 944 respondents; "This is public domain." says its
  COPYRIGHT). Five discrete columns (education, TV news days, left-right self-placement, party
  identification, vote) on a small causal graph; the tables fitted with BDeu (ess 5) and with
  Dirichlet pseudo-counts equal ``pgmpy.estimators.BayesianEstimator`` to 1e-9 (the same
  closed form, counted by another library: only round-off differs).
- EM: samples from ALARM with 10 % of the values missing completely at random; EM from the
  available-case start recovers the tables. The error is the parent-weighted total variation
  ``sum_j P(pa=j) TV(P(.|j), Q(.|j))`` averaged over the 37 nodes (rare parent configurations,
  which no sample of this size sees, weigh little). Measured (seed 0; tol 1e-4):

      n cases          500      2000     8000
      EM (10 % MCAR)   0.0171   0.0085   0.0045   (19, 76, 39 iterations; 1, 11, 22 s)
      complete data    0.0164   0.0082   0.0043

  so the error falls like n^(-1/2) and EM with 10 % missing is within 5 % of the complete-data
  fit. The default run checks n = 500 and 2000 (~13 s); all three together are ``slow``.
- EM against pyAgrum's own EM (``BNLearner.useEM``) on Asia with 20 % missing: the same
  tables to 1e-9 (measured 2e-11).
"""

from __future__ import annotations

import gzip
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from medtwin.bn import BayesNet, Cases, bdeu_prior, fit, query, read_bif

pytestmark = pytest.mark.filterwarnings("ignore")  # pgmpy's and statsmodels' own warnings

HAVE = importlib.util.find_spec("pgmpy") is not None and importlib.util.find_spec("statsmodels")
MODELS = (
    Path(importlib.util.find_spec("pgmpy").origin).parent / "utils" / "example_models"
    if HAVE
    else None
)
COLUMNS = {"educ": 7, "TVnews": 8, "selfLR": 7, "PID": 7, "vote": 2}
PARENTS = {"educ": (), "TVnews": ("educ",), "selfLR": ("educ",), "PID": ("selfLR", "educ"),
           "vote": ("PID", "selfLR")}  # fmt: skip


def _anes():
    import statsmodels.api as sm

    df = sm.datasets.anes96.load_pandas().data
    lo = {"educ": 1, "TVnews": 0, "selfLR": 1, "PID": 0, "vote": 0}
    codes = np.column_stack([df[c].to_numpy().astype(int) - lo[c] for c in COLUMNS])
    states = {c: tuple(str(i + lo[c]) for i in range(k)) for c, k in COLUMNS.items()}
    uniform = {c: np.full((*(COLUMNS[p] for p in PARENTS[c]), k), 1.0 / k)
               for c, k in COLUMNS.items()}  # fmt: skip
    net = BayesNet(states=states, parents=PARENTS, tables=uniform, name="anes96")
    return net, Cases(tuple(COLUMNS), codes), df


def _pgmpy_tables(net, df, **kwargs):
    from pgmpy.estimators import BayesianEstimator
    from pgmpy.models import DiscreteBayesianNetwork

    data = df[list(COLUMNS)].astype(int).astype(str)
    model = DiscreteBayesianNetwork([(p, c) for c in COLUMNS for p in PARENTS[c]])
    est = BayesianEstimator(model, data, state_names={c: list(net.states[c]) for c in COLUMNS})
    out = {}
    for c in COLUMNS:
        extra = dict(kwargs)
        pars = list(est.estimate_cpd(c, prior_type="BDeu").variables[1:])  # pgmpy sorts them
        if "pseudo_counts" in extra:  # ours (our parents..., node) -> pgmpy's (node, configs)
            a = np.transpose(extra["pseudo_counts"][c],
                             [*(PARENTS[c].index(p) for p in pars), len(pars)])  # fmt: skip
            extra["pseudo_counts"] = a.reshape(-1, COLUMNS[c]).T
        cpd = est.estimate_cpd(c, **extra)
        shape = [COLUMNS[p] for p in pars]
        t = cpd.get_values().T.reshape(*shape, COLUMNS[c])
        out[c] = np.transpose(t, [*(pars.index(p) for p in PARENTS[c]), len(pars)])
    return out


@pytest.mark.skipif(not HAVE, reason="pgmpy and statsmodels (the oracle, the data) are dev-only")
def test_bdeu_and_dirichlet_fits_equal_pgmpy_on_anes96():
    net, cases, df = _anes()
    assert cases.n == 944
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _pgmpy_tables(net, df, prior_type="BDeu", equivalent_sample_size=5)
    ours = fit(net, cases, prior=bdeu_prior(net, 5.0))
    assert ours.iterations == 0
    for c in COLUMNS:
        np.testing.assert_allclose(ours.net.tables[c], ref[c], atol=1e-9, rtol=0)
    # Dirichlet pseudo-counts, one per cell
    rng = np.random.default_rng(7)
    alpha = {c: rng.uniform(0.5, 3.0, net.tables[c].shape) for c in COLUMNS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _pgmpy_tables(net, df, prior_type="dirichlet", pseudo_counts=alpha)
    ours = fit(net, cases, prior=alpha)
    for c in COLUMNS:
        np.testing.assert_allclose(ours.net.tables[c], ref[c], atol=1e-9, rtol=0)
    # and the data moved the tables: education shifts party identification
    p = query(ours.net, "PID", {"educ": "7"})["PID"]
    q = query(ours.net, "PID", {"educ": "1"})["PID"]
    assert np.abs(p - q).sum() > 0.1


def sample(net: BayesNet, n: int, seed: int) -> Cases:
    """Ancestral sampling of ``n`` cases (every node a column)."""
    rng = np.random.default_rng(seed)
    codes = np.zeros((n, len(net.nodes)), dtype=np.int64)
    pos = {v: i for i, v in enumerate(net.nodes)}
    for j, v in enumerate(net.nodes):
        t = net.tables[v]
        idx = tuple(codes[:, pos[p]] for p in net.parents[v])
        probs = t[idx] if idx else np.broadcast_to(t, (n, t.size))
        u = rng.random(n)[:, None]
        codes[:, j] = np.minimum((np.cumsum(probs, axis=1) < u).sum(axis=1), t.shape[-1] - 1)
    return Cases(net.nodes, codes)


def weighted_tv(truth: BayesNet, fitted: BayesNet) -> float:
    """Mean over nodes of sum_j P(pa=j) * TV(truth(.|j), fitted(.|j)) under the truth."""
    from medtwin.bn import bde_prior

    joint = bde_prior(truth, 1.0)  # P(pa, x) of every family under the truth
    errs = []
    for v in truth.nodes:
        p_pa = joint[v].sum(axis=-1)
        tv = 0.5 * np.abs(truth.tables[v] - fitted.tables[v]).sum(axis=-1)
        errs.append(float(np.sum(p_pa * tv)))
    return float(np.mean(errs))


def _em_error(alarm, n):
    full = sample(alarm, n, seed=0)
    codes = full.codes.copy()
    codes[np.random.default_rng(1).random(codes.shape) < 0.10] = -1
    prior = bdeu_prior(alarm, 1.0)
    em = fit(alarm, Cases(full.columns, codes), prior=prior, tol=1e-4)
    complete = fit(alarm, full, prior=prior)
    return em, weighted_tv(alarm, em.net), weighted_tv(alarm, complete.net)


@pytest.mark.skipif(not HAVE, reason="ALARM's BIF file ships with pgmpy (dev group)")
@pytest.mark.parametrize(
    ("n", "bound"), [(500, 0.025), pytest.param(2000, 0.012, marks=pytest.mark.slow)]
)
def test_em_recovers_alarm_with_values_missing_at_random(n, bound):
    alarm = read_bif(MODELS / "alarm.bif.gz")
    em, err, err_complete = _em_error(alarm, n)
    assert em.iterations > 1
    assert all(np.diff(em.loglik) >= -1e-6 * abs(em.loglik[0]))  # EM never lowers it
    assert err < bound
    assert err < 1.15 * err_complete  # 10 % missing costs little against complete data


@pytest.mark.slow
@pytest.mark.skipif(not HAVE, reason="ALARM's BIF file ships with pgmpy (dev group)")
def test_em_error_falls_with_sample_size():
    alarm = read_bif(MODELS / "alarm.bif.gz")
    errs = [_em_error(alarm, n)[1] for n in (500, 2000, 8000)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.006
    assert errs[0] / errs[2] > 2.5  # ~ sqrt(16) = 4 in theory


def test_read_gz_fixture_exists():
    if MODELS is None:
        pytest.skip("pgmpy not installed")
    assert gzip.decompress((MODELS / "asia.bif.gz").read_bytes()).startswith(b"network")


@pytest.mark.skipif(not HAVE, reason="Asia's BIF file ships with pgmpy (dev group)")
def test_em_equals_pyagrum_em_on_asia_with_20_percent_missing():
    """pyAgrum's BNLearner runs its own EM (C++, from its own start); with the same BDeu prior
    both converge to the same fixed point: 2e-11 apart (600 cases, seed 0; pyAgrum takes ~10 s)."""
    import pandas as pd

    from medtwin.bn._gum import gum
    from medtwin.bn._infer import to_pyagrum
    from medtwin.bn._learn import _ordered

    net = read_bif(MODELS / "asia.bif.gz")
    full = sample(net, 600, seed=0)
    codes = full.codes.copy()
    codes[np.random.default_rng(1).random(codes.shape) < 0.2] = -1
    ours = fit(net, Cases(full.columns, codes), prior=bdeu_prior(net, 1.0), tol=1e-12,
               max_iter=2000)  # fmt: skip
    frame = pd.DataFrame({n: [net.states[n][c] if c >= 0 else "?" for c in codes[:, j]]
                          for j, n in enumerate(net.nodes)})  # fmt: skip
    learner = gum.BNLearner(frame, to_pyagrum(net))
    learner.useBDeuPrior(1.0)
    learner.useEM(1e-12)
    theirs = learner.learnParameters(to_pyagrum(net).dag())
    assert ours.iterations > 5 and learner.EMnbrIterations() > 5
    for n in net.nodes:
        ref = _ordered(theirs.cpt(n), (*net.parents[n], n))
        np.testing.assert_allclose(ours.net.tables[n], ref, atol=1e-9, rtol=0, err_msg=n)
