"""The network twins medtwin ships, by name.

The model registry of :mod:`medtwin.models` describes ODE/PDE models (parameters, states,
observables); a Bayesian network declares nodes and tables instead, so the networks have their
own small registry here: ``list_networks()`` for a listing, ``get_network(name)`` for the
network with its expert prior. FHIR codes of the stroke twin's observed nodes are in
``OBSERVATION_CODES`` (LOINC where one exists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UnknownModelError
from ._expert import ExpertNetwork
from ._stroke import stroke_network

__all__ = ["OBSERVATION_CODES", "NetworkEntry", "get_network", "list_networks"]


@dataclass(frozen=True)
class NetworkEntry:
    """A shipped network: its name, aliases, title, reference and builder."""

    name: str
    aliases: tuple[str, ...]
    title: str
    reference: str
    build: Callable[[], ExpertNetwork]


_NETWORKS = (
    NetworkEntry(
        "acute-ischaemic-stroke",
        ("stroke", "ais"),
        "Acute ischaemic stroke: reperfusion decisions and 90-day mRS (causal network)",
        "Dang et al., BMC Neurol 23:161 (2023); outcome model: SAMueL-2 stroke-outcome "
        "(Emberson 2014, Fransen 2016); utilities: Wang et al., Stroke 51:2411 (2020)",
        stroke_network,
    ),
)

# LOINC codes for FHIR Observations as evidence on the stroke twin's nodes (the lead's FHIR
# ingest maps value ranges to the node's states). lvo, ott, sich, oedema have no single LOINC
# code: they come as the twin's own codes (system "urn:medtwin:bn").
OBSERVATION_CODES = {
    "sbp": ("http://loinc.org", "8480-6", "mm[Hg]"),
    "glucose": ("http://loinc.org", "2339-0", "mg/dL"),
    "gcs": ("http://loinc.org", "9269-2", "{score}"),
    "mrs": ("http://loinc.org", "75859-9", "{score}"),
    "lvo": ("urn:medtwin:bn", "lvo", ""),
    "ott": ("urn:medtwin:bn", "onset-to-treatment", "min"),
    "sich": ("urn:medtwin:bn", "sich", ""),
    "oedema": ("urn:medtwin:bn", "oedema", ""),
}


def list_networks() -> tuple[NetworkEntry, ...]:
    """The shipped networks."""
    return _NETWORKS


def get_network(name: str) -> ExpertNetwork:
    """The shipped network ``name`` (or alias), built with its expert prior."""
    for e in _NETWORKS:
        if name == e.name or name in e.aliases:
            return e.build()
    known = ", ".join(n for e in _NETWORKS for n in (e.name, *e.aliases))
    raise UnknownModelError(f"Unknown network {name!r}. Expected one of: {known}.")
