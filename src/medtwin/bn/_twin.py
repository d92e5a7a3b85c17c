"""A Bayesian-network twin: one patient's network, its Dirichlet counts and the evidence.

The twin's state is the evidence gathered on the patient (hard and soft findings; a node not
observed is missing) and the Dirichlet counts of the tables (the expert prior plus whatever
data it learned from); its network's tables are the counts' means. The verbs return a new twin
(nothing is changed in place):

- :func:`assimilate` adds findings (a later finding on a node replaces the earlier one) and
  refuses evidence of probability zero;
- :func:`forecast` gives the predictive distribution of nodes given the evidence;
- :func:`what_if` the distribution under an intervention ``do(X=x)`` (graph surgery, not
  conditioning);
- :func:`learn` updates the counts from cases (Bayesian counting, EM when values are missing).

:func:`twin_to_bytes` / :func:`twin_from_bytes` serialise a twin exactly (the network as BIF
with 17 significant digits, the counts and soft findings as JSON floats, which round-trip).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import DataError
from ._bif import dumps_bif, loads_bif
from ._data import Cases
from ._infer import Evidence, normalise_evidence, query
from ._learn import column_prior, fit, tables_from
from ._network import BayesNet

__all__ = [
    "BNTwin",
    "assimilate",
    "create_twin",
    "forecast",
    "learn",
    "twin_from_bytes",
    "twin_to_bytes",
    "what_if",
]

FORMAT = "medtwin.bn.twin/1"


@dataclass(frozen=True, eq=False)
class BNTwin:
    """A patient's network twin (module docstring). ``version`` counts the updates."""

    net: BayesNet
    counts: Mapping[str, np.ndarray]
    evidence: Mapping[str, Any]
    version: int = 0

    def __post_init__(self) -> None:
        frozen = {}
        for n in self.net.nodes:
            c = np.array(self.counts[n], dtype=np.float64)
            c.setflags(write=False)
            frozen[n] = c
        object.__setattr__(self, "counts", MappingProxyType(frozen))
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))


def create_twin(net: BayesNet, prior: Mapping[str, np.ndarray] | None = None) -> BNTwin:
    """A twin with no evidence; ``prior`` the Dirichlet counts (default: each column of
    ``net`` worth one case). The twin's tables become the prior's means."""
    counts = dict(prior) if prior is not None else column_prior(net, 1.0)
    return BNTwin(tables_from(net, counts), counts, {}, 0)


def assimilate(twin: BNTwin, evidence: Evidence) -> BNTwin:
    """The twin with ``evidence`` added (hard: a state name; soft: likelihoods per state)."""
    new = normalise_evidence(twin.net, evidence)
    merged = {**twin.evidence, **new}
    query(twin.net, [], merged)  # raises DataError when P(evidence) = 0
    return BNTwin(twin.net, twin.counts, merged, twin.version + 1)


def forecast(twin: BNTwin, targets: str | Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """P(target | the twin's evidence) for each target (default: every node). The evidence
    was found possible when assimilated, so it is not checked again."""
    return query(twin.net, targets, twin.evidence, check=False)


def what_if(
    twin: BNTwin, do: Mapping[str, str], targets: str | Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """P(target | do(...), the twin's evidence): the intervened nodes lose their parents and any
    finding on them (an intervention overrides what was seen on the node itself)."""
    evidence = {n: v for n, v in twin.evidence.items() if n not in do}
    return query(twin.net, targets, evidence, do=do)


def learn(twin: BNTwin, cases: Cases, *, max_iter: int = 200, tol: float = 1e-6) -> BNTwin:
    """The twin with its counts updated from ``cases`` (its current counts are the prior)."""
    res = fit(twin.net, cases, prior=twin.counts, max_iter=max_iter, tol=tol)
    return BNTwin(res.net, res.counts, twin.evidence, twin.version + 1)


def twin_to_bytes(twin: BNTwin) -> bytes:
    """The twin as UTF-8 JSON (restored exactly by :func:`twin_from_bytes`)."""
    doc = {
        "format": FORMAT,
        "version": twin.version,
        "bif": dumps_bif(twin.net),
        "counts": {n: twin.counts[n].ravel().tolist() for n in twin.net.nodes},
        "evidence": {n: v if isinstance(v, str) else list(v) for n, v in twin.evidence.items()},
    }
    return json.dumps(doc, sort_keys=True).encode()


def twin_from_bytes(data: bytes) -> BNTwin:
    """The twin serialised by :func:`twin_to_bytes`."""
    try:
        doc = json.loads(data.decode())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        net = loads_bif(doc["bif"], source="twin")
        counts = {n: np.reshape(doc["counts"][n], net.tables[n].shape) for n in net.nodes}
        evidence = normalise_evidence(net, doc["evidence"])
        return BNTwin(net, counts, evidence, int(doc["version"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError) as exc:
        raise DataError(
            f"Not a serialised network twin ({FORMAT}): {exc}. Expected the bytes of "
            "twin_to_bytes()."
        ) from None
