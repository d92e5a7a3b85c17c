"""Expert knowledge as data: DELPHI statements, the consensus rule, and the network they make.

An :class:`ExpertStatement` says that ``cause`` acts on ``effect`` (``direction`` +1: a higher
state of the cause makes a higher state of the effect more likely; -1: less likely), with the
panel's ratings on a Likert scale (``ratings[i]`` experts chose ``i + 1``) and its source.

:class:`ConsensusRule` is the rule fixed in advance by Dang et al. (2023): a statement reaches
consensus when at least ``threshold`` (80 %) of the panel rates it ``agree`` (6 or 7 on the
7-point scale); a statement the study excluded stays out whatever its ratings.

:func:`expert_network` turns statements into a network and its Dirichlet prior:

1. every statement naming a node that is not declared is refused (the statement is named);
2. an edge ``cause -> effect`` is kept when one of its statements reaches consensus;
3. a node's table is the one given (a published table) or else an ordinal-logit table built
   from the kept statements: ``P(effect = k | pa) ∝ exp(sum_s d_s b_s x_s(pa) y_k)``, with
   ``x_s``, ``y_k`` the states' positions scaled to [0, 1], ``d_s`` the direction and ``b_s``
   the statement's log-odds (1 unless the statement gives one);
4. the prior is ``alpha = ess * a_n * table`` per column (:func:`~medtwin.bn.column_prior`),
   where ``ess`` defaults to the panel size (each column is worth as many cases as there are
   experts) and ``a_n`` is the mean agreement of the kept statements into the node (1 for a
   node no statement points at).

References: J. Dang, A. Lal, A. Montgomery, L. Flurin, J. Litell, O. Gajic, A. Rabinstein et
al., Developing DELPHI expert consensus rules for a digital twin model of acute stroke care in
the neuro critical care unit, BMC Neurology 23:161 (2023), doi:10.1186/s12883-023-03192-9;
A. Lal et al., Crit Care Explor 2:e0249 (2020); D. Heckerman, D. Geiger, D. M. Chickering,
Machine Learning 20 (1995) 197-243.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from ._network import BayesNet

__all__ = ["ConsensusRule", "ExpertNetwork", "ExpertStatement", "expert_network", "statement_prior"]

DIRECTIONS = {"increases": 1, "decreases": -1, "+": 1, "-": -1, 1: 1, -1: -1}


@dataclass(frozen=True)
class ExpertStatement:
    """One DELPHI (sub-)statement about a cause and its effect.

    ``ratings``: counts of the panel's ratings 1..``scale`` (one entry per point of the scale);
    ``status``: ``"rated"``, or ``"excluded"`` when the study dropped it; ``log_odds``: the
    effect's size per step of the cause (ordinal logit), when the source gives one.
    """

    id: str
    cause: str
    effect: str
    direction: int
    ratings: tuple[int, ...]
    source: str
    text: str = ""
    status: str = "rated"
    log_odds: float = 1.0

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ModelError(
                f"Statement {self.id!r}: direction must be +1 (increases) or -1 (decreases). "
                f"Got {self.direction!r}."
            )
        r = tuple(int(x) for x in self.ratings)
        if len(r) < 2 or any(x < 0 for x in r):
            raise ModelError(
                f"Statement {self.id!r}: ratings must be counts >= 0, one per point of the "
                f"scale (7 for a 7-point Likert scale). Got {list(self.ratings)}."
            )
        if self.status not in ("rated", "excluded"):
            raise ModelError(
                f"Statement {self.id!r}: status must be 'rated' or 'excluded'. Got {self.status!r}."
            )
        object.__setattr__(self, "ratings", r)

    @property
    def panel(self) -> int:
        """The number of experts who rated it."""
        return sum(self.ratings)


@dataclass(frozen=True)
class ConsensusRule:
    """Consensus when the share of ratings in ``agree`` (points of the scale) is at least
    ``threshold``. Default: >= 80 % rating 6 or 7 of 7 (Dang et al. 2023)."""

    threshold: float = 0.8
    agree: tuple[int, ...] = (6, 7)

    def agreement(self, s: ExpertStatement) -> float:
        """The share of the panel that rated ``s`` in ``agree`` (0 for no ratings)."""
        if s.panel == 0:
            return 0.0
        return sum(s.ratings[p - 1] for p in self.agree if 0 < p <= len(s.ratings)) / s.panel

    def verdict(self, s: ExpertStatement) -> str:
        """``"consensus"``, ``"no consensus"`` or ``"excluded"``."""
        if s.status == "excluded":
            return "excluded"
        return "consensus" if self.agreement(s) >= self.threshold - 1e-12 else "no consensus"

    def tally(self, statements: Sequence[ExpertStatement]) -> dict[str, int]:
        """How many statements fall in each verdict."""
        out = {"consensus": 0, "excluded": 0, "no consensus": 0}
        for s in statements:
            out[self.verdict(s)] += 1
        return out


@dataclass(frozen=True)
class ExpertNetwork:
    """What :func:`expert_network` returns: the network (prior-mean tables), its Dirichlet
    prior counts, the statements kept (consensus) and those left out, with their verdicts."""

    net: BayesNet
    prior: Mapping[str, np.ndarray]
    kept: tuple[ExpertStatement, ...]
    dropped: tuple[tuple[ExpertStatement, str], ...]
    ess: float
    agreement: Mapping[str, float] = field(default_factory=dict)


def _positions(n: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)


def _logit_table(
    node: str,
    parents: tuple[str, ...],
    states: Mapping[str, Sequence[str]],
    statements: Sequence[ExpertStatement],
) -> np.ndarray:
    by_cause = {s.cause: s for s in statements}
    shape = (*(len(states[p]) for p in parents), len(states[node]))
    score = np.zeros(shape[:-1])
    for axis, p in enumerate(parents):
        s = by_cause[p]
        x = _positions(len(states[p])).reshape(
            [-1 if a == axis else 1 for a in range(len(parents))]
        )
        score = score + s.direction * s.log_odds * x
    logits = score[..., None] * _positions(len(states[node]))
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def expert_network(
    states: Mapping[str, Sequence[str]],
    statements: Sequence[ExpertStatement],
    *,
    tables: Mapping[str, tuple[Sequence[str], np.ndarray]] | None = None,
    rule: ConsensusRule | None = None,
    ess: float | None = None,
    name: str = "expert",
) -> ExpertNetwork:
    """The network the consensus statements make, with its Dirichlet prior (module docstring).

    ``states``: node -> its states (ordered low to high where direction matters); ``tables``:
    node -> (parents, table) for nodes whose table comes from a published source (its parents
    must be exactly the kept causes); ``ess``: equivalent sample size (default: the largest
    panel among the statements).
    """
    rule = rule or ConsensusRule()
    for s in statements:
        for role, node in (("cause", s.cause), ("effect", s.effect)):
            if node not in states:
                raise ModelError(
                    f"Statement {s.id!r} names the {role} {node!r}, which is not a node. "
                    f"Expected one of: {', '.join(states)}. Declare the node or fix the "
                    "statement."
                )
    kept, dropped = [], []
    for s in statements:
        verdict = rule.verdict(s)
        (kept.append(s) if verdict == "consensus" else dropped.append((s, verdict)))
    into: dict[str, list[ExpertStatement]] = {n: [] for n in states}
    for s in kept:
        if all(k.cause != s.cause for k in into[s.effect]):
            into[s.effect].append(s)
    order = list(states)
    parents = {n: tuple(sorted((s.cause for s in into[n]), key=order.index)) for n in states}
    made = {}
    for n in states:
        given = (tables or {}).get(n)
        if given is not None:
            gpar, table = tuple(given[0]), np.asarray(given[1], dtype=np.float64)
            if set(gpar) != set(parents[n]):
                raise ModelError(
                    f"The table given for {n!r} has the parents {list(gpar)}, but the consensus "
                    f"statements give it {list(parents[n])}. Make them agree."
                )
            parents[n], made[n] = gpar, table
        else:
            made[n] = _logit_table(n, parents[n], states, into[n])
    net = BayesNet(
        states={n: tuple(v) for n, v in states.items()}, parents=parents, tables=made, name=name
    )
    size = float(ess) if ess is not None else float(max((s.panel for s in statements), default=1))
    if not (np.isfinite(size) and size > 0):
        raise ModelError(f"The equivalent sample size must be > 0. Got {ess!r}.")
    agreement = {
        n: float(np.mean([rule.agreement(s) for s in into[n]])) if into[n] else 1.0
        for n in net.nodes
    }
    prior = {n: size * agreement[n] * net.tables[n] for n in net.nodes}
    return ExpertNetwork(net, prior, tuple(kept), tuple(dropped), size, agreement)


def statement_prior(
    net: BayesNet,
    statements: Sequence[ExpertStatement],
    *,
    ess: float,
    rule: ConsensusRule | None = None,
) -> dict[str, np.ndarray]:
    """Dirichlet counts for ``net`` from statements about its edges: each column of a node's
    table is worth ``ess * a`` cases distributed as the table, ``a`` the mean agreement of the
    consensus statements into the node (1 when none points at it).

    A statement naming a node ``net`` lacks is refused, and so is a consensus statement whose
    edge ``net`` does not have (the network and the panel must describe the same graph).
    """
    rule = rule or ConsensusRule()
    if not (np.isfinite(ess) and ess >= 0):
        raise ModelError(f"The equivalent sample size must be a finite number >= 0. Got {ess!r}.")
    into: dict[str, list[float]] = {n: [] for n in net.nodes}
    for s in statements:
        for role, node in (("cause", s.cause), ("effect", s.effect)):
            if node not in net.states:
                raise ModelError(
                    f"Statement {s.id!r} names the {role} {node!r}, which is not a node of the "
                    f"network {net.name!r}. Expected one of: {', '.join(net.nodes)}."
                )
        if rule.verdict(s) != "consensus":
            continue
        if s.cause not in net.parents[s.effect]:
            raise ModelError(
                f"Statement {s.id!r} reached consensus on {s.cause} -> {s.effect}, but the "
                f"network {net.name!r} has no such edge. Add the edge or drop the statement."
            )
        into[s.effect].append(rule.agreement(s))
    return {
        n: ess * (float(np.mean(into[n])) if into[n] else 1.0) * net.tables[n] for n in net.nodes
    }
