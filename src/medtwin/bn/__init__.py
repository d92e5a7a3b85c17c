"""Discrete causal Bayesian-network twins (issue 19).

A network twin's state is the evidence on one patient and the Dirichlet counts of its tables;
it assimilates findings (hard, soft, missing), forecasts outcome nodes, answers interventions
``do(X=x)`` by graph surgery, and learns from data (Bayesian counting, EM). Networks come from
BIF files or from expert statements (DELPHI consensus, :class:`ExpertStatement`). The acute
ischaemic stroke twin (:func:`stroke_network`) ranks reperfusion options by expected utility
(:func:`recommend`). Exact inference runs on pyAgrum (the ``bn`` extra). See docs/bn.md.

Importing this package loads nothing heavy: each name loads its module on first use (PEP 562),
so the data layer reads the networks' evidence codes (``_evidence_codes``, ``_registry``)
without loading pyAgrum.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import exports as _exports

if _TYPE_CHECKING:
    from ._bif import dumps_bif as dumps_bif
    from ._bif import loads_bif as loads_bif
    from ._bif import read_bif as read_bif
    from ._bif import write_bif as write_bif
    from ._data import Cases as Cases
    from ._data import encode as encode
    from ._decide import OptionResult as OptionResult
    from ._decide import PathEffect as PathEffect
    from ._decide import causal_paths as causal_paths
    from ._decide import recommend as recommend
    from ._evidence_codes import EvidenceCode as EvidenceCode
    from ._evidence_codes import NetworkLoop as NetworkLoop
    from ._expert import ConsensusRule as ConsensusRule
    from ._expert import ExpertNetwork as ExpertNetwork
    from ._expert import ExpertStatement as ExpertStatement
    from ._expert import expert_network as expert_network
    from ._expert import statement_prior as statement_prior
    from ._infer import evidence_probability as evidence_probability
    from ._infer import intervene as intervene
    from ._infer import query as query
    from ._learn import Fit as Fit
    from ._learn import bde_prior as bde_prior
    from ._learn import bdeu_prior as bdeu_prior
    from ._learn import column_prior as column_prior
    from ._learn import fit as fit
    from ._network import BayesNet as BayesNet
    from ._outcome import UTILITY_WANG2020 as UTILITY_WANG2020
    from ._outcome import mrs_distribution as mrs_distribution
    from ._registry import NetworkEntry as NetworkEntry
    from ._registry import find_network as find_network
    from ._registry import get_network as get_network
    from ._registry import list_networks as list_networks
    from ._registry import network_entry as network_entry
    from ._registry import register_network as register_network
    from ._stroke import OTT_BINS as OTT_BINS
    from ._stroke import OTT_MINUTES as OTT_MINUTES
    from ._stroke import ott_bin as ott_bin
    from ._stroke import stroke_network as stroke_network
    from ._twin import BNTwin as BNTwin
    from ._twin import assimilate as assimilate
    from ._twin import create_twin as create_twin
    from ._twin import forecast as forecast
    from ._twin import learn as learn
    from ._twin import twin_from_bytes as twin_from_bytes
    from ._twin import twin_to_bytes as twin_to_bytes
    from ._twin import what_if as what_if
    from ._yaml import StatementFile as StatementFile
    from ._yaml import loads_statements as loads_statements

_WHERE = {
    "BNTwin": "_twin",
    "BayesNet": "_network",
    "Cases": "_data",
    "ConsensusRule": "_expert",
    "EvidenceCode": "_evidence_codes",
    "ExpertNetwork": "_expert",
    "ExpertStatement": "_expert",
    "Fit": "_learn",
    "NetworkEntry": "_registry",
    "NetworkLoop": "_evidence_codes",
    "OTT_BINS": "_stroke",
    "OTT_MINUTES": "_stroke",
    "OptionResult": "_decide",
    "PathEffect": "_decide",
    "StatementFile": "_yaml",
    "UTILITY_WANG2020": "_outcome",
    "assimilate": "_twin",
    "bde_prior": "_learn",
    "bdeu_prior": "_learn",
    "causal_paths": "_decide",
    "column_prior": "_learn",
    "create_twin": "_twin",
    "dumps_bif": "_bif",
    "encode": "_data",
    "evidence_probability": "_infer",
    "expert_network": "_expert",
    "fit": "_learn",
    "forecast": "_twin",
    "find_network": "_registry",
    "get_network": "_registry",
    "network_entry": "_registry",
    "intervene": "_infer",
    "learn": "_twin",
    "list_networks": "_registry",
    "loads_bif": "_bif",
    "loads_statements": "_yaml",
    "mrs_distribution": "_outcome",
    "ott_bin": "_stroke",
    "query": "_infer",
    "read_bif": "_bif",
    "recommend": "_decide",
    "register_network": "_registry",
    "statement_prior": "_expert",
    "stroke_network": "_stroke",
    "twin_from_bytes": "_twin",
    "twin_to_bytes": "_twin",
    "what_if": "_twin",
    "write_bif": "_bif",
}
__getattr__ = _exports(__name__, _WHERE)

__all__ = [
    "OTT_BINS",
    "OTT_MINUTES",
    "UTILITY_WANG2020",
    "BNTwin",
    "BayesNet",
    "Cases",
    "ConsensusRule",
    "EvidenceCode",
    "ExpertNetwork",
    "ExpertStatement",
    "Fit",
    "NetworkEntry",
    "NetworkLoop",
    "OptionResult",
    "PathEffect",
    "StatementFile",
    "assimilate",
    "bde_prior",
    "bdeu_prior",
    "causal_paths",
    "column_prior",
    "create_twin",
    "dumps_bif",
    "encode",
    "evidence_probability",
    "expert_network",
    "find_network",
    "fit",
    "forecast",
    "get_network",
    "intervene",
    "learn",
    "list_networks",
    "loads_bif",
    "loads_statements",
    "mrs_distribution",
    "network_entry",
    "ott_bin",
    "query",
    "read_bif",
    "recommend",
    "register_network",
    "statement_prior",
    "stroke_network",
    "twin_from_bytes",
    "twin_to_bytes",
    "what_if",
    "write_bif",
]
