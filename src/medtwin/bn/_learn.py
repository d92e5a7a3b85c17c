"""Learning the tables of a Bayesian network: Dirichlet priors, Bayesian updating, EM.

Each table column ``P(X | pa = j)`` has a Dirichlet distribution with counts ``alpha[j, :]``;
data add their counts ``N[j, k]`` (cases with ``pa = j`` and ``X = k``), and the fitted table is
the posterior mean ``(alpha + N) / sum(alpha + N)`` (Heckerman, Geiger and Chickering 1995).
The priors:

- :func:`bdeu_prior` -- BDeu: ``alpha = ess / (q r)`` (``q`` parent configurations, ``r``
  states), the score-equivalent uniform prior of Buntine (1991);
- :func:`bde_prior` -- BDe: ``alpha = ess * P0(X = k, pa = j)``, the joint of the family under a
  prior network ``P0`` (the experts' network, :mod:`medtwin.bn._expert`); with uniform tables
  it is BDeu;
- :func:`column_prior` -- ``alpha = ess * P0(X = k | pa = j)``: every column of the prior table
  weighs ``ess`` cases (what an expert statement about one column means).

:func:`fit` counts complete data; with missing values (or a node never observed) it runs EM
(Dempster, Laird and Rubin 1977; Lauritzen 1995): the E-step takes the expected counts of each
family from exact inference on every incomplete case (pyAgrum), the M-step the posterior mean
(MAP of the Dirichlet posterior's mean form); EM stops when no table entry moves by more than
``tol``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ._data import Cases
from ._gum import gum
from ._infer import to_pyagrum
from ._network import BayesNet

__all__ = ["Fit", "bde_prior", "bdeu_prior", "column_prior", "counts", "fit", "tables_from"]

Counts = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Fit:
    """What :func:`fit` returns: the fitted network (posterior-mean tables), the posterior
    Dirichlet counts (prior + data, expected counts under EM), the EM iterations (0 for
    complete data) and the log-likelihood of the data after each (natural log)."""

    net: BayesNet
    counts: Mapping[str, np.ndarray]
    iterations: int
    loglik: tuple[float, ...]


def bdeu_prior(net: BayesNet, ess: float) -> dict[str, np.ndarray]:
    """BDeu pseudo-counts: ``ess / (q r)`` in every cell of every table."""
    _check_ess(ess)
    return {n: np.full(net.tables[n].shape, ess / net.tables[n].size) for n in net.nodes}


def column_prior(net: BayesNet, ess: float) -> dict[str, np.ndarray]:
    """``ess`` cases in every column, distributed as ``net``'s table column."""
    _check_ess(ess)
    return {n: ess * net.tables[n] for n in net.nodes}


def bde_prior(net: BayesNet, ess: float) -> dict[str, np.ndarray]:
    """BDe pseudo-counts: ``ess`` times the joint of each family (parents, node) under ``net``."""
    _check_ess(ess)
    ie = gum.LazyPropagation(to_pyagrum(net))
    fams = {n: (*net.parents[n], n) for n in net.nodes}
    for fam in fams.values():
        if len(fam) > 1:
            ie.addJointTarget(set(fam))
    ie.makeInference()
    out = {}
    for n, fam in fams.items():
        t = ie.jointPosterior(set(fam)) if len(fam) > 1 else ie.posterior(n)
        out[n] = ess * _ordered(t, fam)
    return out


def _ordered(tensor: gum.Tensor, order: tuple[str, ...]) -> np.ndarray:
    """A pyAgrum tensor as an array with axes in ``order`` (pyAgrum's arrays run reversed)."""
    names = list(reversed(tensor.names))
    return np.transpose(
        np.asarray(tensor.toarray(), dtype=np.float64), [names.index(v) for v in order]
    )


def _check_ess(ess: float) -> None:
    if not (np.isfinite(ess) and ess >= 0):
        raise DataError(f"The equivalent sample size must be a finite number >= 0. Got {ess!r}.")


def counts(net: BayesNet, cases: Cases) -> dict[str, np.ndarray]:
    """The counts of each family over the cases in which the whole family is observed."""
    cases.check(net)
    col = {c: j for j, c in enumerate(cases.columns)}
    out = {}
    for n in net.nodes:
        fam = (*net.parents[n], n)
        shape = net.tables[n].shape
        if any(v not in col for v in fam):
            out[n] = np.zeros(shape)
            continue
        codes = cases.codes[:, [col[v] for v in fam]]
        full = codes[np.all(codes >= 0, axis=1)]
        flat = np.ravel_multi_index(tuple(full.T), shape) if full.size else np.zeros(0, int)
        out[n] = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape).astype(float)
    return out


def tables_from(net: BayesNet, alpha: Counts) -> BayesNet:
    """``net`` with each table the mean of the Dirichlet ``alpha`` (a column with no count at
    all becomes uniform)."""
    tables = {}
    for n in net.nodes:
        a = np.asarray(alpha[n], dtype=np.float64)
        if a.shape != net.tables[n].shape or np.any(a < 0) or not np.all(np.isfinite(a)):
            raise DataError(
                f"The Dirichlet counts of {n!r} must be finite, >= 0 and of shape "
                f"{net.tables[n].shape}. Got shape {a.shape}."
            )
        s = a.sum(axis=-1, keepdims=True)
        tables[n] = np.where(s > 0, a / np.where(s > 0, s, 1.0), 1.0 / a.shape[-1])
    return net.replace(tables=tables)


def fit(
    net: BayesNet,
    cases: Cases,
    *,
    prior: Counts | None = None,
    max_iter: int = 200,
    tol: float = 1e-8,
) -> Fit:
    """Fit ``net``'s tables to ``cases`` with the Dirichlet ``prior`` (default: BDeu, ess 1).

    Complete data (every node a column, no missing value): posterior counts in one pass.
    Otherwise EM from the available-case fit, until no table entry moves by more than ``tol``
    or ``max_iter`` iterations. ``net``'s graph and states are kept; its tables are replaced.
    """
    cases.check(net)
    alpha = bdeu_prior(net, 1.0) if prior is None else {n: np.asarray(prior[n]) for n in net.nodes}
    observed = counts(net, cases)
    post = {n: alpha[n] + observed[n] for n in net.nodes}
    current = tables_from(net, post)
    complete = set(cases.columns) == set(net.nodes) and not np.any(cases.codes < 0)
    if complete:
        return Fit(current, post, 0, (_loglik_complete(current, cases),))
    history: list[float] = []
    it = 0
    while it < max_iter:
        it += 1
        expected, ll = _expected_counts(current, cases)
        post = {n: alpha[n] + expected[n] for n in net.nodes}
        new = tables_from(net, post)
        history.append(ll)
        step = max(float(np.max(np.abs(new.tables[n] - current.tables[n]))) for n in net.nodes)
        current = new
        if step <= tol:
            break
    return Fit(current, post, it, tuple(history))


def _loglik_complete(net: BayesNet, cases: Cases) -> float:
    col = {c: j for j, c in enumerate(cases.columns)}
    total = 0.0
    for n in net.nodes:
        idx = tuple(cases.codes[:, col[v]] for v in (*net.parents[n], n))
        with np.errstate(divide="ignore"):
            total += float(np.sum(np.log(net.tables[n][idx])))
    return total


def _expected_counts(net: BayesNet, cases: Cases) -> tuple[dict[str, np.ndarray], float]:
    """E-step: the expected family counts and the log-likelihood of the observed values."""
    col = {c: j for j, c in enumerate(cases.columns)}
    codes = np.full((cases.n, len(net.nodes)), -1, dtype=np.int64)
    for j, n in enumerate(net.nodes):
        if n in col:
            codes[:, j] = cases.codes[:, col[n]]
    full = Cases(net.nodes, codes[np.all(codes >= 0, axis=1)])
    out = counts(net, full)
    ll = _loglik_complete(net, full) if full.n else 0.0
    part = codes[~np.all(codes >= 0, axis=1)]
    if part.size == 0:
        return out, ll
    rows, weight = np.unique(part, axis=0, return_counts=True)
    hidden = rows < 0
    fams = {n: (*net.parents[n], n) for n in net.nodes}
    famcols = {n: [j for j, v in enumerate(net.nodes) if v in fams[n]] for n in net.nodes}
    jobs = {}
    for n in net.nodes:  # families observed in full: counted at once, weighted
        h = hidden[:, famcols[n]].any(axis=1)
        jobs[n] = np.flatnonzero(h)
        keep = ~h
        if keep.any():
            sub = rows[keep][:, [net.nodes.index(v) for v in fams[n]]]
            flat = np.ravel_multi_index(tuple(sub.T), net.tables[n].shape)
            out[n] += np.bincount(flat, weights=weight[keep], minlength=net.tables[n].size
                                  ).reshape(net.tables[n].shape)  # fmt: skip
    groups: dict[tuple[str, ...], list[int]] = {}
    for r in range(rows.shape[0]):  # the hidden nodes of each case, in linked components
        for comp in _components(net, [net.nodes[j] for j in np.flatnonzero(hidden[r])]):
            groups.setdefault(comp, []).append(r)
    for comp, rs in groups.items():
        ll += _component_counts(net, comp, rows[rs], weight[rs], out)
    for n in net.nodes:  # the factors of observed-only families: constant in the likelihood
        keep = ~hidden[:, famcols[n]].any(axis=1)
        if keep.any():
            sub = rows[keep][:, famcols_ordered(net, n)]
            with np.errstate(divide="ignore"):
                ll += float(np.sum(weight[keep] * np.log(net.tables[n][tuple(sub.T)])))
    return out, ll


def famcols_ordered(net: BayesNet, n: str) -> list[int]:
    """The column of each member of ``n``'s family (parents, then ``n``) in ``net.nodes``."""
    return [net.nodes.index(v) for v in (*net.parents[n], n)]


def _components(net: BayesNet, hidden: list[str]) -> list[tuple[str, ...]]:
    """The hidden nodes grouped by shared tables (two nodes of one family are linked)."""
    root = {v: v for v in hidden}

    def find(v: str) -> str:
        while root[v] != v:
            v = root[v]
        return v

    for n in net.nodes:
        members = [v for v in (*net.parents[n], n) if v in root]
        for v in members[1:]:
            root[find(v)] = find(members[0])
    comps: dict[str, list[str]] = {}
    for v in hidden:
        comps.setdefault(find(v), []).append(v)
    return [tuple(c) for c in comps.values()]


MAX_CONFIGS = 1 << 16  # joint states of one linked group of missing values, enumerated


def _component_counts(
    net: BayesNet, comp: tuple[str, ...], rows: np.ndarray, weight: np.ndarray, out: dict
) -> float:
    """Add the expected counts of the families that hold ``comp`` (hidden in every row of
    ``rows``), by enumerating its joint states; return the weighted log-likelihood share."""
    cards = [net.card(v) for v in comp]
    k = int(np.prod(cards))
    if k > MAX_CONFIGS:
        raise DataError(
            f"{len(comp)} linked values are missing together in some cases ({', '.join(comp)}: "
            f"{k} joint states, more than {MAX_CONFIGS}). Drop those cases or observe more."
        )
    configs = np.array(list(np.ndindex(*cards)), dtype=np.int64).reshape(k, len(comp))
    pos = {v: i for i, v in enumerate(comp)}
    fams = [n for n in net.nodes if any(v in pos for v in (*net.parents[n], n))]
    m = rows.shape[0]
    joint = np.ones((m, k))
    idx_of = {}
    for n in fams:
        idx = []
        for j, v in zip(famcols_ordered(net, n), (*net.parents[n], n), strict=True):
            idx.append(np.broadcast_to(configs[:, pos[v]][None, :], (m, k)) if v in pos
                       else np.broadcast_to(rows[:, j][:, None], (m, k)))  # fmt: skip
        idx_of[n] = tuple(idx)
        joint *= net.tables[n][idx_of[n]]
    total = joint.sum(axis=1)
    if np.any(total <= 0):
        raise DataError(
            "A case has probability 0 under the current tables (missing: "
            f"{', '.join(comp)}); EM cannot weigh it. Use a prior with ess > 0."
        )
    post = joint * (weight / total)[:, None]
    for n in fams:
        flat = np.ravel_multi_index(idx_of[n], net.tables[n].shape)
        out[n] += np.bincount(flat.ravel(), weights=post.ravel(), minlength=net.tables[n].size
                              ).reshape(net.tables[n].shape)  # fmt: skip
    return float(np.sum(weight * np.log(total)))
