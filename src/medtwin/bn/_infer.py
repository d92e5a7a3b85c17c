"""Exact inference on a :class:`~medtwin.bn.BayesNet`, by pyAgrum's lazy propagation.

:func:`query` gives the posterior distribution of target nodes given evidence, and, with
``do``, under an intervention: :func:`intervene` cuts the edges into each intervened node and
fixes it to its state (Pearl's graph surgery, the *truncated factorisation*), then conditions
on the evidence. Evidence is hard (``{"XRAY": "yes"}`` or ``[("XRAY", "yes")]``) or soft (a
likelihood vector over the node's states, ``{"XRAY": [0.8, 0.2]}``: virtual evidence in
Pearl's sense); a node absent from the evidence is unobserved (a missing value).

Errors name the item (:class:`~medtwin.errors.DataError`): an unknown node or state, a
likelihood of the wrong length, negative or all zero, and evidence of probability zero under
the network (which pyAgrum would otherwise report without naming it).

pyAgrum is the one inference library at run time (LGPL-3.0 or MIT, a compiled wheel that needs
only NumPy); the network is converted once and cached on the object, with one inference engine
reused under a lock.

References: J. Pearl, Causality (2nd ed., 2009), eq. 3.10; A. L. Madsen and F. V. Jensen,
LAZY propagation, Artificial Intelligence 113 (1999) 203-245; P.-H. Wuillemin and
C. Gonzales, pyAgrum, https://agrum.org.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

from ..errors import DataError, ModelError
from ._gum import gum
from ._network import BayesNet

__all__ = [
    "Evidence",
    "evidence_probability",
    "intervene",
    "normalise_evidence",
    "query",
    "to_pyagrum",
]

Evidence: TypeAlias = (
    Mapping[str, "str | Sequence[float]"] | Iterable[tuple[str, "str | Sequence[float]"]]
)
_LOCK = threading.Lock()


def to_pyagrum(net: BayesNet) -> gum.BayesNet:
    """``net`` as a ``pyagrum.BayesNet`` (built once per network and cached on it)."""
    cached = net._cache.get("gum")
    if cached is None:
        cached = _build(net)
        net._cache["gum"] = cached
    return cached


def _build(net: BayesNet) -> gum.BayesNet:
    bn = gum.BayesNet(net.name)
    for n in net.nodes:
        v = gum.LabelizedVariable(n, n, 0)
        for s in net.states[n]:
            v.addLabel(s)
        bn.add(v)
    for n in net.nodes:
        for p in net.parents[n]:
            bn.addArc(p, n)
    for n in net.nodes:
        t = net.tables[n]
        k = t.ndim - 1  # pyAgrum's array: the parents reversed, then the node
        flat = np.transpose(t, (*range(k - 1, -1, -1), k)).ravel()
        bn.cpt(n).fillWith(flat.tolist())
    return bn


def _engine(net: BayesNet) -> gum.LazyPropagation:
    ie = net._cache.get("engine")
    if ie is None:
        ie = gum.LazyPropagation(to_pyagrum(net))
        net._cache["engine"] = ie
    return ie


def normalise_evidence(net: BayesNet, evidence: Evidence | None) -> dict[str, Any]:
    """``evidence`` as ``{node: state name | likelihood tuple}``, checked against ``net``.

    A hard finding is a state name; a soft finding a vector of ``card(node)`` likelihoods
    >= 0, not all zero (only ratios matter). Raises :class:`DataError` naming the item.
    """
    if evidence is None:
        return {}
    items = evidence.items() if isinstance(evidence, Mapping) else evidence
    out: dict[str, Any] = {}
    for item in items:
        try:
            node, value = item
        except (TypeError, ValueError):
            raise DataError(
                f"Evidence must be (node, state) pairs or a mapping node -> state. Got {item!r}."
            ) from None
        if node not in net.states:
            raise DataError(
                f"Unknown node {node!r} in the evidence: the network {net.name!r} has no such "
                f"node. Expected one of: {', '.join(net.nodes)}."
            )
        if node in out:
            raise DataError(f"The evidence names {node!r} twice. Give one finding per node.")
        if isinstance(value, str):
            if value not in net.states[node]:
                raise DataError(
                    f"Unknown state {value!r} of {node!r} in the evidence. Expected one of: "
                    f"{', '.join(net.states[node])}."
                )
            out[node] = value
            continue
        lik = np.asarray(value, dtype=np.float64)
        card = net.card(node)
        if lik.shape != (card,) or not np.all(np.isfinite(lik)) or np.any(lik < 0):
            raise DataError(
                f"Soft evidence on {node!r} must be {card} finite likelihoods >= 0 (one per "
                f"state: {', '.join(net.states[node])}). Got {value!r}."
            )
        if not lik.any():
            raise DataError(f"Soft evidence on {node!r} is all zero: no state is possible.")
        out[node] = tuple(float(v) for v in lik)
    return out


def intervene(net: BayesNet, do: Mapping[str, str]) -> BayesNet:
    """The mutilated network of ``do(X=x, ...)``: each X loses its parents and is fixed to x."""
    tables, parents = {}, {}
    for node, state in do.items():
        net.check_node(node, "node in do()")
        try:
            i = net.state_index(node, state)
        except ModelError as exc:
            raise DataError(str(exc).replace("Unknown state", "Unknown do() state")) from None
        t = np.zeros(net.card(node))
        t[i] = 1.0
        tables[node], parents[node] = t, ()
    return net.replace(tables=tables, parents=parents)


def _describe(ev: Mapping[str, Any]) -> str:
    return ", ".join(f"{n}={v}" if isinstance(v, str) else f"{n}~{list(v)}" for n, v in ev.items())


def _run(net: BayesNet, ev: Mapping[str, Any], check: bool = True) -> gum.LazyPropagation:
    ie = _engine(net)
    try:
        ie.setEvidence({n: (v if isinstance(v, str) else list(v)) for n, v in ev.items()})
        ie.makeInference()  # may raise IncompatibleEvidence when findings contradict
        # P(e) costs a pass over the whole junction tree (the targets' pass prunes what they
        # do not need, so it can miss a contradiction elsewhere)
        p = ie.evidenceProbability() if ev and check else 1.0
    except gum.GumException as exc:  # IncompatibleEvidence: pyAgrum's own word for P(e) = 0
        if "ncompatible" not in type(exc).__name__ + str(exc):
            raise
        p = 0.0
    if not p > 0.0:
        ie.eraseAllEvidence()
        raise DataError(
            f"The evidence {_describe(ev)} is impossible under the network {net.name!r} "
            "(probability 0). Check the findings: one of them contradicts the others or a "
            "table's zero."
        )
    return ie


def query(
    net: BayesNet,
    targets: str | Sequence[str] | None = None,
    evidence: Evidence | None = None,
    *,
    do: Mapping[str, str] | None = None,
    check: bool = True,
) -> dict[str, np.ndarray]:
    """P(target | evidence) (or P(target | do(...), evidence)) for each target.

    ``targets``: a node or nodes (default: every node). Returns ``{node: probabilities}``, a
    float64 array over the node's states in order. A node given hard evidence gets a one-hot
    vector. ``check``: refuse evidence of probability zero (a :class:`DataError`); this
    doubles the cost of a small query, and a caller that checked the same evidence on the same
    network before (a twin's :func:`~medtwin.bn.forecast`) may pass False.
    """
    if do:
        net = intervene(net, do)
    ev = normalise_evidence(net, evidence)
    names = net.nodes if targets is None else (targets,) if isinstance(targets, str) else targets
    for t in names:
        net.check_node(t, "target")
    with _LOCK:
        ie = _run(net, ev, check)
        return {t: np.asarray(ie.posterior(t).toarray(), dtype=np.float64) for t in names}


def evidence_probability(
    net: BayesNet, evidence: Evidence, *, do: Mapping[str, str] | None = None
) -> float:
    """P(evidence) under ``net`` (soft findings count as their likelihood); raises
    :class:`DataError` when it is zero."""
    if do:
        net = intervene(net, do)
    ev = normalise_evidence(net, evidence)
    with _LOCK:
        return float(_run(net, ev).evidenceProbability()) if ev else 1.0
