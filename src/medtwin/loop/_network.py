"""The network kind of twin: a discrete causal Bayesian network's evidence on one patient and
its Dirichlet counts (:class:`~medtwin.bn.BNTwin`), for the networks of ``medtwin.bn`` whose
registry entry declares what they offer the loop (``NetworkEntry.loop``: the coded
measurements each node takes and how a stored value becomes a state).

An update maps each pending observation (in time order) through the network's
:class:`~medtwin.bn.EvidenceCode`: a code the network does not take is marked ``unobserved``, a
value that maps to no state (a GCS of 2, an LVO flag of 0.5, a censored reading) ``invalid``,
a finding that would make the evidence impossible (probability 0 given the findings before it)
``impossible``; every other is ``applied`` -- a later finding on a node replaces the earlier
one -- and the twin's version goes up by one. Events are no findings: marked ``unused``. The
twin's model time is the latest applied finding's time in minutes from the configuration's
epoch. :meth:`NetworkKind.admit` refuses invalid and impossible findings before the store
keeps them, so the marks are a safety net for records stored with no twin.

A network twin issues no stored forecast: what it predicts -- the posterior of every node and,
for a network that decides (``NetworkLoop.recommends``), the 90-day outcome under each option
ranked by expected utility (:func:`medtwin.bn.recommend`) -- is exact inference on its state,
milliseconds, computed when asked (:meth:`NetworkKind.summary`). Its report keeps the evidence,
log P(evidence) and the outcome distribution of each version.

The state blob is :func:`medtwin.bn.twin_to_bytes` (exact) wrapped with the network's name and
the twin's time. A network's configuration takes no particles, filter or forecast: ``prior``
stays ``population`` (here: the network's own expert prior), ``free`` and ``drift`` unset.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..bn._bif import dumps_bif
from ..bn._decide import recommend
from ..bn._evidence_codes import NetworkLoop
from ..bn._infer import evidence_probability, query
from ..bn._registry import NetworkEntry, find_network
from ..bn._twin import BNTwin, create_twin, twin_from_bytes, twin_to_bytes
from ..errors import DataError, StoreError
from ._config import TwinConfig
from ._kind import Packed, RecordsKind, register_kind
from ._mapping import to_model_time
from ._step import PendingEvent, PendingObservation, Step

__all__ = ["NetworkKind", "NetworkTwin", "network_view"]

FORMAT = "medtwin.loop.network/1"
UNIT = "min"


@dataclass(frozen=True, eq=False)
class NetworkTwin:
    """A network twin in the loop: the :class:`~medtwin.bn.BNTwin`, the network's registry
    name, and its model time (minutes from the configuration's epoch)."""

    bn: BNTwin
    network: str
    time: float

    @property
    def version(self) -> int:
        return self.bn.version


def _entry(model: str) -> tuple[NetworkEntry, NetworkLoop]:
    entry = find_network(model)
    if entry is None or entry.loop is None:
        raise StoreError(f"TwinConfig.model: {model!r} is no network that runs as a twin.")
    return entry, entry.loop


def _finding(decl: NetworkLoop, code: str, value: float, censored: int) -> tuple[str, str] | None:
    """(node, state) of one observation; None if the network does not take ``code``; a
    :class:`DataError` naming it if the value maps to no state."""
    c = decl.for_code(code)
    if c is None:
        return None
    if censored:
        side = "<" if censored < 0 else ">"
        raise DataError(
            f"{c.display} ({c.code}): a reading beyond a device's range ({side} {value:g} "
            f"{c.unit}) is no state of {c.node!r}. Send the measured value."
        )
    return c.node, c.state(value)


def _log_evidence(bn: BNTwin) -> float:
    return math.log(evidence_probability(bn.net, bn.evidence)) if bn.evidence else 0.0


def _evidence_json(evidence: Mapping[str, Any]) -> dict[str, Any]:
    return {n: v if isinstance(v, str) else [float(x) for x in v] for n, v in evidence.items()}


def network_view(twin: NetworkTwin) -> dict[str, Any]:
    """The twin now, JSON-ready (beside its stored version's own fields): its network, its
    evidence, each node's parents, states and posterior and, for a network that decides, each
    option's 90-day outcome (mRS 0..6) and expected utility, ranked
    (:func:`medtwin.bn.recommend`)."""
    bn = twin.bn
    post = query(bn.net, None, bn.evidence, check=False)
    out: dict[str, Any] = {
        "kind": "network", "network": twin.network, "evidence": _evidence_json(bn.evidence),
        "nodes": [{"name": n, "parents": list(bn.net.parents[n]),
                   "states": list(bn.net.states[n]),
                   "posterior": [float(p) for p in post[n]]} for n in bn.net.nodes],
    }  # fmt: skip
    entry = find_network(twin.network)
    if entry is not None and entry.loop is not None and entry.loop.recommends:
        out["options"] = [
            {"option": r.option, "eligible": r.eligible, "reason": r.reason,
             "expected_utility": r.expected_utility, "mrs": [float(p) for p in r.mrs],
             "per_minute": r.per_minute,
             "paths": [{"via": e.via, "gain": e.gain, "paths": [list(p) for p in e.paths]}
                       for e in r.paths]}
            for r in recommend(bn)
        ]  # fmt: skip
    return out


class NetworkKind(RecordsKind):
    """Twins of the networks of ``medtwin.bn`` that declare what they offer the loop."""

    name = "network"
    forecasts = False

    def identity(self, model: str) -> str:
        entry, codes = _entry(model)
        # the network with its tables (BIF, 17 significant digits) and the evidence codes
        return "\n".join((entry.name, entry.reference, repr(codes), dumps_bif(entry.build().net)))

    def offers(self, model: str) -> bool:
        entry = find_network(model)
        return entry is not None and entry.loop is not None

    def check(self, config: TwinConfig) -> None:
        _entry(config.model)
        if config.prior != "population" or config.free is not None or config.drift is not None:
            raise StoreError(
                f"A network twin ({config.model!r}) starts from its network's expert prior and "
                "learns no parameters by a filter: leave 'prior' at its default and 'free' and "
                f"'drift' unset. Got prior={config.prior!r}, free={config.free!r}, "
                f"drift={config.drift!r}."
            )
        if config.sensor is not None:
            raise StoreError(
                f"A network twin ({config.model!r}) reads findings, not a sensor stream: leave "
                f"'sensor' unset. Got sensor={config.sensor!r:.60}."
            )

    def time_unit(self, config: TwinConfig) -> str:
        return UNIT

    def create(self, config: TwinConfig) -> Step:
        entry, _ = _entry(config.model)
        expert = entry.build()
        twin = NetworkTwin(create_twin(expert.net, expert.prior), entry.name, 0.0)
        report = {"created": True, "network": entry.name, "prior": "expert",
                  "nodes": len(expert.net.nodes), "alerts": []}  # fmt: skip
        return Step(twin, None, report, (), {}, {}, {"observations": [], "events": []})

    def _step(
        self,
        config: TwinConfig,
        twin: NetworkTwin,
        observations: Sequence[PendingObservation],
        events: Sequence[PendingEvent],
    ) -> Step:
        _, decl = _entry(config.model)
        bn, evidence, t = twin.bn, dict(twin.bn.evidence), twin.time
        marks: dict[int, str] = {}
        unobserved: Counter = Counter()
        for oid, code, t_obs, value, censored in observations:
            try:
                found = _finding(decl, code, value, censored)
            except DataError:
                marks[oid] = "invalid"
                continue
            if found is None:
                marks[oid], unobserved[code] = "unobserved", unobserved[code] + 1
                continue
            trial = {**evidence, found[0]: found[1]}
            try:
                query(bn.net, [], trial)  # refuses evidence of probability 0
            except DataError:
                marks[oid] = "impossible"
                continue
            evidence, marks[oid] = trial, "applied"
            t = max(t, to_model_time(t_obs, config.epoch, UNIT))
        new = BNTwin(bn.net, bn.counts, evidence, bn.version + 1)
        ev_marks = {e[0]: "unused" for e in events}
        mrs = query(new.net, ["mrs"], evidence, check=False)["mrs"] if "mrs" in new.net.states \
            else None  # fmt: skip
        counts = Counter(marks.values())
        report = {
            "data": {"received": len(observations), "used": counts["applied"],
                     "dropped": counts["invalid"] + counts["impossible"], "reordered": 0,
                     "censored": 0},
            "late": 0, "evidence": _evidence_json(evidence), "applied": counts["applied"],
            "invalid": counts["invalid"], "impossible": counts["impossible"],
            "unobserved_codes": dict(unobserved), "events": 0, "unused_events": len(ev_marks),
            "log_evidence": _log_evidence(new), "until": None, "alerts": [],
            "outcome": None if mrs is None else [float(p) for p in mrs],
        }  # fmt: skip
        applied = {"observations": [o[0] for o in observations],
                   "events": [e[0] for e in events]}  # fmt: skip
        return Step(NetworkTwin(new, twin.network, t), None, report, (), marks, ev_marks, applied)

    def restore(
        self,
        config: TwinConfig,
        version: int,
        state: bytes,
        history: Sequence[tuple[str, datetime, float]],
    ) -> NetworkTwin:
        try:
            doc = json.loads(state.decode())
            if doc.get("format") != FORMAT:
                raise ValueError(f"format {doc.get('format')!r}")
            twin = NetworkTwin(
                twin_from_bytes(doc["twin"].encode()), str(doc["network"]), float(doc["time"])
            )
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise StoreError(
                f"The stored state of version {version} is not a network twin ({FORMAT}): {exc}."
            ) from None
        if twin.version != version:
            raise StoreError(
                f"The stored network twin is version {twin.version}, not {version}: the store's "
                "blob does not belong to its row. Restore the store from a backup."
            )
        return twin

    def packed(self, step: Step) -> Packed:
        twin: NetworkTwin = step.twin
        doc = {"format": FORMAT, "network": twin.network, "time": twin.time,
               "twin": twin_to_bytes(twin.bn).decode()}  # fmt: skip
        return Packed(
            version=twin.version, model=twin.network, model_time=twin.time,
            state=json.dumps(doc, sort_keys=True).encode(), report=step.report,
            applied=step.applied, obs_marks=step.obs_marks, ev_marks=step.ev_marks,
            forecast=None,
        )  # fmt: skip

    def admit(
        self,
        config: TwinConfig,
        head: Callable[[], Any],
        observations: Sequence[tuple[str, datetime, float, int]],
    ) -> None:
        _, decl = _entry(config.model)
        found = {}
        for code, _t, value, censored in sorted(observations, key=lambda o: o[1]):
            f = _finding(decl, code, value, censored)  # DataError names the item
            if f is not None:
                found[f[0]] = f[1]
        if not found:
            return
        twin: NetworkTwin = head()
        evidence = {**twin.bn.evidence, **found}
        try:
            query(twin.bn.net, [], evidence)
        except DataError:
            raise DataError(
                f"The findings {found} are impossible for this patient's {twin.network!r} twin "
                f"given what it holds ({_evidence_json(twin.bn.evidence) or 'no evidence'}): "
                "probability 0 under the network. Check the values; nothing was stored."
            ) from None

    def summary(self, twin: Any) -> dict[str, Any]:
        return network_view(twin)

    def warm_up(self, config: TwinConfig) -> float:
        start = time.perf_counter()
        network_view(self.create(config).twin)  # builds and caches the inference engine
        return time.perf_counter() - start


register_kind(NetworkKind())
