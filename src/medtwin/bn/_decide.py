"""Deciding for one stroke patient: options ranked by expected utility, with their delay
sensitivity and the causal paths that carry their effect.

For each option (no reperfusion, IVT, MT, IVT+MT) :func:`recommend` computes the 90-day mRS
distribution under ``do(ivt, mt)`` given the twin's evidence (:func:`~medtwin.bn.what_if`) and
its expected utility with the utility weights of Wang et al. (Stroke 51:2411, 2020). Options a
guideline rules out are listed with the reason and not ranked (Powers et al., AHA/ASA 2019:
IVT within 4.5 h of onset, with blood pressure below 185 mmHg and glucose above 50 mg/dL; MT
for a confirmed large-vessel occlusion, here within 8 h, the model's no-effect time).

Delay: the expected utility in every onset-to-treatment bin (the twin's other evidence kept),
and the change per minute of delay from the patient's bin to the next (bin times
:data:`~medtwin.bn.OTT_MINUTES`).

Paths: every directed path from the treatment nodes to ``mrs`` in the graph
(:func:`causal_paths`); the share each carries is measured by path-specific activation: the
utility gain when only that path's first edge sees the option (the other edges of the treatment
nodes see no reperfusion) -- for the direct edge the mRS table sees the option while the
mediators keep their no-reperfusion distribution, for a mediator the reverse. What the single
paths leave over is reported as the interaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ._infer import query
from ._network import BayesNet
from ._outcome import UTILITY_WANG2020, utility
from ._stroke import OTT_BINS, OTT_MINUTES
from ._twin import BNTwin

__all__ = ["OPTIONS", "OptionResult", "PathEffect", "causal_paths", "recommend"]

OPTIONS = {
    "none": ("no", "no"),
    "ivt": ("yes", "no"),
    "mt": ("no", "yes"),
    "ivt+mt": ("yes", "yes"),
}
IVT_LAST_BIN = OTT_BINS.index("180-270")  # within 4.5 h
MT_LAST_BIN = OTT_BINS.index("378-480")  # within 8 h (the model's no-effect time)


@dataclass(frozen=True)
class PathEffect:
    """The causal paths from the treatment nodes to the outcome that leave them through
    ``via`` (``"mrs"``: the direct edge), and the expected-utility gain over no reperfusion
    that they alone carry."""

    via: str
    paths: tuple[tuple[str, ...], ...]
    gain: float


@dataclass(frozen=True)
class OptionResult:
    """One option: eligibility (and why not), mRS distribution (0..6), expected utility, the
    expected utility per onset-to-treatment bin, its change per minute of delay at the
    patient's bin (None when the bin is not known or is the last), and the path effects."""

    option: str
    eligible: bool
    reason: str
    mrs: np.ndarray
    expected_utility: float
    delay_curve: tuple[tuple[str, float], ...]
    per_minute: float | None
    paths: tuple[PathEffect, ...]
    interaction: float


def causal_paths(net: BayesNet, source: str, target: str) -> list[tuple[str, ...]]:
    """Every directed path ``source -> ... -> target`` in ``net``."""
    net.check_node(source)
    net.check_node(target)
    out: list[tuple[str, ...]] = []

    def walk(path: tuple[str, ...]) -> None:
        if path[-1] == target:
            out.append(path)
            return
        for c in net.children(path[-1]):
            walk((*path, c))

    walk((source,))
    return out


def _eligibility(twin: BNTwin, option: str) -> str:
    ev = twin.evidence
    why = []
    ott = ev.get("ott")
    if "ivt" in option.split("+"):
        if isinstance(ott, str) and OTT_BINS.index(ott) > IVT_LAST_BIN:
            why.append(f"IVT: onset-to-treatment {ott} min is beyond 4.5 h")
        if ev.get("sbp") == ">185":
            why.append("IVT: systolic pressure > 185 mmHg (lower it first)")
        if ev.get("glucose") == "<50":
            why.append("IVT: glucose < 50 mg/dL (correct it first)")
    if "mt" in option.split("+"):
        if ev.get("lvo") != "yes":
            why.append("MT: no large-vessel occlusion confirmed (lvo=yes)")
        if isinstance(ott, str) and OTT_BINS.index(ott) > MT_LAST_BIN:
            why.append(f"MT: onset-to-treatment {ott} min is beyond 8 h")
    return "; ".join(why)


def _eu(twin: BNTwin, net: BayesNet, do: dict[str, str], weights: Sequence[float]) -> float:
    evidence = {n: v for n, v in twin.evidence.items() if n not in do}
    return utility(query(net, "mrs", evidence, do=do)["mrs"], tuple(weights))


def _path_effects(
    twin: BNTwin, option: str, base: float, weights: Sequence[float]
) -> tuple[tuple[PathEffect, ...], float, float]:
    net = twin.net
    treat = dict(zip(("ivt", "mt"), OPTIONS[option], strict=True))
    none = {"ivt": "no", "mt": "no"}
    total = _eu(twin, net, treat, weights) - base
    effects = []
    for first in ("mrs", *sorted({c for t in treat for c in net.children(t)} - {"mrs"})):
        paths = [p for t in treat if treat[t] == "yes" for p in causal_paths(net, t, "mrs")
                 if p[1] == first]  # fmt: skip
        if not paths:
            continue
        # Only the edges into `first` see the option: fix the treatment axes of its table.
        tables = {}
        for child in {c for t in treat for c in net.children(t)}:
            pick = treat if child == first else none
            t = net.tables[child]
            idx = tuple(
                net.states[p].index(pick[p]) if p in pick else slice(None)
                for p in net.parents[child]
            )
            sliced = t[idx]
            shape = [net.card(p) if p not in pick else 1 for p in net.parents[child]]
            tables[child] = np.broadcast_to(sliced.reshape(*shape, t.shape[-1]), t.shape)
        gain = _eu(twin, net.replace(tables=tables), none, weights) - base
        effects.append(PathEffect(first, tuple(paths), gain))
    interaction = total - sum(e.gain for e in effects)
    return tuple(sorted(effects, key=lambda e: -abs(e.gain))), interaction, total


def recommend(twin: BNTwin, *, weights: Sequence[float] = UTILITY_WANG2020) -> list[OptionResult]:
    """The options ranked by expected utility, eligible ones first (module docstring)."""
    for node in ("ivt", "mt", "mrs", "ott"):
        if node not in twin.net.states:
            raise ModelError(
                f"recommend() needs a stroke twin (nodes ivt, mt, ott, mrs); {twin.net.name!r} "
                f"has no {node!r}. Build it with medtwin.bn.stroke_network()."
            )
    if len(weights) != 7:
        raise ModelError(f"Utility weights: one per mRS level 0..6 (7). Got {len(weights)}.")
    base = _eu(twin, twin.net, {"ivt": "no", "mt": "no"}, weights)
    ott = twin.evidence.get("ott")
    results = []
    for option, (ivt, mt) in OPTIONS.items():
        do = {"ivt": ivt, "mt": mt}
        evidence = {n: v for n, v in twin.evidence.items() if n not in do}
        dist = query(twin.net, "mrs", evidence, do=do)["mrs"]
        curve = []
        for b in OTT_BINS:
            ev_b = {**evidence, "ott": b}
            curve.append((b, utility(query(twin.net, "mrs", ev_b, do=do)["mrs"], tuple(weights))))
        per_minute = None
        if isinstance(ott, str) and OTT_BINS.index(ott) < len(OTT_BINS) - 1:
            i = OTT_BINS.index(ott)
            per_minute = (curve[i + 1][1] - curve[i][1]) / (OTT_MINUTES[i + 1] - OTT_MINUTES[i])
        paths: tuple[PathEffect, ...] = ()
        interaction = 0.0
        if option != "none":
            paths, interaction, _ = _path_effects(twin, option, base, weights)
        reason = _eligibility(twin, option)
        results.append(
            OptionResult(
                option,
                not reason,
                reason,
                dist,
                utility(dist, tuple(weights)),
                tuple(curve),
                per_minute,
                paths,
                interaction,
            )
        )
    return sorted(results, key=lambda r: (not r.eligible, -r.expected_utility))
