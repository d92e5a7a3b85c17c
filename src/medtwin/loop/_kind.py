"""The kinds of twin the loop runs, and the one place it chooses between them.

A twin is of one *kind*: a particle ensemble over an ODE/PDE model's parameters and states
(:mod:`medtwin.loop._ode`), or a discrete causal Bayesian network's evidence and counts
(:mod:`medtwin.loop._network`). Each kind is a :class:`TwinKind` -- the strategy owns its
steps (create, update, restore, redo, pack, summary) -- and declares which configured model
names it runs (:meth:`TwinKind.offers`, read off the model's own registry). The public verbs
of the loop (:func:`create`, :func:`update`, :func:`update_many`, :func:`restore`,
:func:`redo`, :func:`packed`, :func:`admit`, :func:`summary`, :func:`warm_up`) ask
:func:`kind_of` once and hand the call over; nothing in the loop, the store or the service asks
a model's name or a twin's class.

The store keeps what :func:`packed` gives (a state blob, a report, the records' marks and, for
a kind that issues one, a forecast blob) and knows no kind: ids and blobs only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import DataError

if TYPE_CHECKING:
    from ._config import TwinConfig
    from ._step import PendingEvent, PendingObservation, Step

__all__ = [
    "Packed",
    "PackedForecast",
    "RecordsKind",
    "TwinKind",
    "admit",
    "create",
    "kind_of",
    "name_taken",
    "packed",
    "redo",
    "register_kind",
    "restore",
    "summary",
    "update",
    "update_many",
    "warm_up",
]


@dataclass(frozen=True)
class PackedForecast:
    """A forecast ready to store: issue time (model time), observables, band levels, blob."""

    issued_at: float
    observables: tuple[str, ...]
    levels: tuple[float, ...]
    data: bytes


@dataclass(frozen=True)
class Packed:
    """One step ready to store: the version, the model's name, the twin's model time, its
    state blob, the report, the records it applied and their marks, and its forecast (None for
    a kind that issues none: a network twin answers from its state when asked)."""

    version: int
    model: str
    model_time: float
    state: bytes
    report: dict[str, Any]
    applied: dict[str, list[int]]
    obs_marks: dict[int, str]
    ev_marks: dict[int, str]
    forecast: PackedForecast | None


class TwinKind(ABC):
    """A kind of twin: what the loop does for the twins of the models it :meth:`offers`."""

    #: the kind's name (``"ode"``, ``"network"``), shown in listings
    name: str = ""
    #: the kind that takes any model no other kind offers (its own check refuses unknown ones)
    fallback: bool = False
    #: whether each version issues a stored forecast (a cone to score against later data)
    forecasts: bool = True

    @abstractmethod
    def offers(self, model: str) -> bool:
        """Whether ``model`` (a configured model name) is a twin of this kind."""

    def knows(self, model: str) -> bool:
        """Whether ``model`` names a model or network of this kind (the fallback kind, which
        :meth:`offers` everything, answers from its own registry)."""
        return self.offers(model)

    @abstractmethod
    def identity(self, model: str) -> str:
        """Text that changes whenever what ``model`` computes may change (its declaration, its
        network): what the provenance's model hash is taken of."""

    @abstractmethod
    def check(self, config: TwinConfig) -> None:
        """Refuse a configuration this kind cannot run (``StoreError``/``LimitError``)."""

    @abstractmethod
    def time_unit(self, config: TwinConfig) -> str:
        """The unit of the twin's model time (``min``, ``h``, ``d``)."""

    @abstractmethod
    def create(self, config: TwinConfig) -> Step:
        """Version 0 of the twin of ``config``."""

    @abstractmethod
    def update(
        self,
        config: TwinConfig,
        twin: Any,
        observations: Sequence[PendingObservation],
        events: Sequence[PendingEvent],
    ) -> Step:
        """The next version: the pending records assimilated as far as one update goes."""

    def update_many(self, items: Sequence[Any]) -> list[Step | Exception]:
        """:meth:`update` for each ``(config, twin, observations, events)``, each failure its
        own result (a kind that batches across patients overrides this)."""
        out: list[Step | Exception] = []
        for config, twin, obs, evs in items:
            try:
                out.append(self.update(config, twin, obs, evs))
            except Exception as exc:  # a member's failure is its result
                out.append(exc)
        return out

    @abstractmethod
    def restore(
        self,
        config: TwinConfig,
        version: int,
        state: bytes,
        history: Sequence[tuple[str, datetime, float]],
    ) -> Any:
        """The twin at stored ``version`` from its state blob and the events it took."""

    @abstractmethod
    def redo(
        self,
        config: TwinConfig,
        twin: Any,
        observations: Sequence[PendingObservation],
        events: Sequence[PendingEvent],
        until: float | None,
    ) -> Any:
        """The twin a stored step made, made again from its parent (bit for bit)."""

    @abstractmethod
    def packed(self, step: Step) -> Packed:
        """``step`` ready to store."""

    def admit(
        self,
        config: TwinConfig,
        head: Callable[[], Any],
        observations: Sequence[tuple[str, datetime, float, int]],
    ) -> None:
        """Refuse, before anything is stored, observations (code, time, value, censored) the
        twin could never take (``DataError`` naming the item); ``head()`` restores the twin's
        head version if the check needs it. By default every observation is admitted: what a
        twin does not observe it marks ``unobserved`` when it updates."""
        return None

    @abstractmethod
    def summary(self, twin: Any) -> dict[str, Any]:
        """What the twin holds now, JSON-ready (the service's ``GET .../twin``)."""

    @abstractmethod
    def warm_up(self, config: TwinConfig) -> float:
        """Prepare this process for twins shaped like ``config``; seconds it took."""


class RecordsKind(TwinKind):
    """A kind whose every version is one step over the records it takes, with no model time
    of its own to advance (a network's evidence, a cardiac twin's mapping points): ``update``
    is that step, ``redo`` the same step checked to apply exactly the records the stored one
    applied."""

    @abstractmethod
    def _step(
        self,
        config: TwinConfig,
        twin: Any,
        observations: Sequence[PendingObservation],
        events: Sequence[PendingEvent],
    ) -> Step:
        """The next version of ``twin`` from ``observations`` and ``events``."""

    def update(
        self,
        config: TwinConfig,
        twin: Any,
        observations: Sequence[PendingObservation],
        events: Sequence[PendingEvent],
    ) -> Step:
        return self._step(config, twin, observations, events)

    def redo(
        self,
        config: TwinConfig,
        twin: Any,
        observations: Sequence[PendingObservation],
        events: Sequence[PendingEvent],
        until: float | None,
    ) -> Any:
        step = self._step(config, twin, observations, events)
        bad = {i: m for i, m in step.obs_marks.items() if m != "applied"}
        if bad:
            raise DataError(
                f"Version {twin.version + 1} cannot be recomputed from version {twin.version}: "
                f"records it applied would now be marked {bad}. The stored records do not "
                "match the stored version; restore the store from a backup."
            )
        return step.twin


_KINDS: list[TwinKind] = []


def register_kind(kind: TwinKind) -> None:
    """Add a kind of twin (the loop registers its own on import)."""
    _KINDS[:] = [k for k in _KINDS if type(k) is not type(kind)] + [kind]


def kind_of(model: str) -> TwinKind:
    """The kind of twin that runs ``model``: the first kind that offers it, else the fallback
    (whose :meth:`~TwinKind.check` refuses a name no registry knows)."""
    fallback = None
    for kind in _KINDS:
        if kind.fallback:
            fallback = kind
        elif kind.offers(model):
            return kind
    if fallback is None:  # pragma: no cover - the loop registers the ODE kind on import
        raise RuntimeError("No twin kind is registered.")
    return fallback


def name_taken(name: str) -> bool:
    """Whether a twin of ``name`` would run a model or network that already exists (of any
    kind): a user's model may not take that name."""
    return any(kind.knows(name) for kind in _KINDS)


def create(config: TwinConfig) -> Step:
    """Version 0 of the twin ``config`` describes, and its prior forecast (if its kind
    issues one)."""
    return kind_of(config.model).create(config)


def update(
    config: TwinConfig,
    twin: Any,
    observations: Sequence[PendingObservation],
    events: Sequence[PendingEvent],
) -> Step:
    """The next version of ``twin``: the pending ``observations`` and ``events`` (each in time
    order) assimilated as far as one update goes, by the twin's kind."""
    return kind_of(config.model).update(config, twin, observations, events)


def update_many(
    items: Sequence[Any], *, errors: Literal["raise", "return"] = "raise"
) -> list[Step | Exception]:
    """:func:`update` for each ``(config, twin, observations, events)`` of ``items``, in
    order; twins of one kind are handed to it together (the ODE kind batches across patients,
    ``medtwin.loop._batch``). ``errors="return"``: a twin's failure is its result."""
    todo = [tuple(it) for it in items]
    by_kind: dict[int, tuple[TwinKind, list[int]]] = {}
    for i, it in enumerate(todo):
        kind = kind_of(it[0].model)
        by_kind.setdefault(id(kind), (kind, []))[1].append(i)
    results: list[Step | Exception | None] = [None] * len(todo)
    for kind, where in by_kind.values():
        for i, res in zip(where, kind.update_many([todo[i] for i in where]), strict=True):
            results[i] = res
    if errors == "raise":
        for r in results:
            if isinstance(r, Exception):
                raise r
    return results  # type: ignore[return-value]


def restore(
    config: TwinConfig,
    version: int,
    state: bytes,
    history: Sequence[tuple[str, datetime, float]],
) -> Any:
    """The twin of ``config`` at stored ``version``: its state blob (an ensemble, a network
    twin) and the events it took (kind, time, amount), restored to continue exactly."""
    return kind_of(config.model).restore(config, version, state, history)


def redo(
    config: TwinConfig,
    twin: Any,
    observations: Sequence[PendingObservation],
    events: Sequence[PendingEvent],
    until: float | None,
) -> Any:
    """The twin a stored step made, made again from its parent ``twin`` (the records that step
    applied, in time order, and the ``until`` of its report): the same numbers, bit for bit."""
    return kind_of(config.model).redo(config, twin, observations, events, until)


def packed(config: TwinConfig, step: Step) -> Packed:
    """``step`` of a twin of ``config`` ready to store (state and forecast blobs)."""
    return kind_of(config.model).packed(step)


def admit(
    config: TwinConfig,
    head: Callable[[], Any],
    observations: Sequence[tuple[str, datetime, float, int]],
) -> None:
    """Refuse observations (code, time, value, censored) the twin of ``config`` could never
    take, before they are stored (:meth:`TwinKind.admit`)."""
    kind_of(config.model).admit(config, head, observations)


def summary(model: str, twin: Any) -> dict[str, Any]:
    """What a twin of ``model`` holds now, JSON-ready (:meth:`TwinKind.summary`)."""
    return kind_of(model).summary(twin)


def warm_up(config: TwinConfig) -> float:
    """Run a throwaway twin shaped like ``config`` so that the first real update of such a
    twin runs at once; returns the seconds it took (:meth:`TwinKind.warm_up`)."""
    return kind_of(config.model).warm_up(config)
