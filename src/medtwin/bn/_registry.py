"""The network twins medtwin ships, by name.

The model registry of :mod:`medtwin.models` describes ODE/PDE models (parameters, states,
observables); a Bayesian network declares nodes and tables instead, so the networks have their
own small registry here: ``list_networks()`` for a listing, ``get_network(name)`` for the
network with its expert prior, ``network_entry(name)`` for the entry, ``register_network`` to
add one at run time. An entry declares what it offers the twin loop (``loop``: the coded
measurements it takes as evidence, :class:`~medtwin.bn._evidence_codes.NetworkLoop`), so a
registered network is a twin in the store, the service and the CLI with no edit elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ModelError, UnknownModelError
from ._evidence_codes import STROKE_LOOP, NetworkLoop

if TYPE_CHECKING:  # the listing loads no numerics (medtwin.data.loinc reads it at import)
    from ._expert import ExpertNetwork

__all__ = [
    "NetworkEntry",
    "find_network",
    "get_network",
    "list_networks",
    "network_entry",
    "register_network",
]


@dataclass(frozen=True)
class NetworkEntry:
    """A network: its name, aliases, title, reference, builder, and what it offers the twin
    loop (``loop``; None: it is not a patient twin)."""

    name: str
    aliases: tuple[str, ...]
    title: str
    reference: str
    build: Callable[[], ExpertNetwork]
    loop: NetworkLoop | None = None


def _stroke() -> ExpertNetwork:
    from ._stroke import stroke_network  # numpy and pyAgrum only when a network is built

    return stroke_network()


_NETWORKS = (
    NetworkEntry(
        "acute-ischaemic-stroke",
        ("stroke", "ais"),
        "Acute ischaemic stroke: reperfusion decisions and 90-day mRS (causal network)",
        "Dang et al., BMC Neurol 23:161 (2023); outcome model: SAMueL-2 stroke-outcome "
        "(Emberson 2014, Fransen 2016); utilities: Wang et al., Stroke 51:2411 (2020)",
        _stroke,
        STROKE_LOOP,
    ),
)
_REGISTERED: list[NetworkEntry] = []


def list_networks() -> tuple[NetworkEntry, ...]:
    """The shipped networks, then those registered at run time."""
    return (*_NETWORKS, *_REGISTERED)


def find_network(name: object) -> NetworkEntry | None:
    """The entry of ``name`` (or an alias); None if no network has it."""
    for e in list_networks():
        if name == e.name or name in e.aliases:
            return e
    return None


def network_entry(name: str) -> NetworkEntry:
    """The entry of network ``name`` (or an alias)."""
    e = find_network(name)
    if e is None:
        known = ", ".join(n for e in list_networks() for n in (e.name, *e.aliases))
        raise UnknownModelError(f"Unknown network {name!r}. Expected one of: {known}.")
    return e


def get_network(name: str) -> ExpertNetwork:
    """The network ``name`` (or alias), built with its expert prior."""
    return network_entry(name).build()


def register_network(entry: NetworkEntry, *, replace: bool = False) -> None:
    """Add ``entry`` to the registry (``replace``: a run-time entry of the same name goes)."""
    names = {entry.name, *entry.aliases}
    for e in list_networks():
        if names & {e.name, *e.aliases}:
            if replace and e in _REGISTERED:
                _REGISTERED.remove(e)
                continue
            raise ModelError(
                f"A network named {sorted(names & {e.name, *e.aliases})} is registered "
                f"already ({e.name!r}). Choose another name, or replace=True for one registered "
                "at run time."
            )
    _REGISTERED.append(entry)
