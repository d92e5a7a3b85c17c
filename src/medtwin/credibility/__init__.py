"""Credibility evidence and the V&V 40 dossier (ASME V&V 40-2018).

Each registered model may declare its evidence (``Declaration.evidence`` names an
:class:`Evidence`): runnable items -- verification against a reference, solver convergence,
validation against data with a metric and an acceptance, sensitivity, identifiability -- each
with a ``fast`` and a ``full`` profile. :func:`build_dossier` runs them for a
:class:`ContextOfUse` (:func:`parse_context`) and assesses every V&V 40 factor against the goal
the model risk sets; :func:`render_html` and ``Dossier.to_json()`` give the report
(``medtwin credibility MODEL --context FILE --out DIR``); :func:`dossier_schema` is the JSON
Schema the JSON follows. :func:`validated_domain` is a model's validated domain without
running its evidence and :func:`applicability` checks a twin step against it (the loop flags
every ODE forecast with it); :func:`default_context` is the model's shipped context of use.
Names load on first use (the context checks load no JAX).
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import exports as _exports

if _TYPE_CHECKING:
    from ._cards import model_card as model_card
    from ._context import OUTSIDE_DOMAIN as OUTSIDE_DOMAIN
    from ._context import ContextOfUse as ContextOfUse
    from ._context import FactorGoal as FactorGoal
    from ._context import parse_context as parse_context
    from ._domain import Domain as Domain
    from ._domain import applicability as applicability
    from ._domain import default_context as default_context
    from ._domain import describe as describe
    from ._domain import validated_domain as validated_domain
    from ._dossier import Dossier as Dossier
    from ._dossier import FactorAssessment as FactorAssessment
    from ._dossier import build_dossier as build_dossier
    from ._evidence import Evidence as Evidence
    from ._evidence import EvidenceItem as EvidenceItem
    from ._evidence import EvidenceResult as EvidenceResult
    from ._evidence import Figure as Figure
    from ._evidence import ParameterRange as ParameterRange
    from ._evidence import load_evidence as load_evidence
    from ._evidence import run_item as run_item
    from ._html import render_html as render_html
    from ._schema import dossier_schema as dossier_schema
    from ._vv40 import FACTORS as FACTORS
    from ._vv40 import goal_for_risk as goal_for_risk
    from ._vv40 import model_risk as model_risk

_WHERE = {
    "model_card": "_cards",
    "OUTSIDE_DOMAIN": "_context",
    "ContextOfUse": "_context",
    "FactorGoal": "_context",
    "parse_context": "_context",
    "Domain": "_domain",
    "applicability": "_domain",
    "default_context": "_domain",
    "describe": "_domain",
    "validated_domain": "_domain",
    "Dossier": "_dossier",
    "FactorAssessment": "_dossier",
    "build_dossier": "_dossier",
    "Evidence": "_evidence",
    "EvidenceItem": "_evidence",
    "EvidenceResult": "_evidence",
    "Figure": "_evidence",
    "ParameterRange": "_evidence",
    "load_evidence": "_evidence",
    "run_item": "_evidence",
    "render_html": "_html",
    "dossier_schema": "_schema",
    "FACTORS": "_vv40",
    "goal_for_risk": "_vv40",
    "model_risk": "_vv40",
}
__all__ = sorted(_WHERE)
__getattr__ = _exports(__name__, _WHERE)
