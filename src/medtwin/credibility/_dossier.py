"""The dossier: a context of use, every evidence item of the model run, each V&V 40 factor
assessed against its goal, the applicability domain and the known limitations.

A factor is *met* when at least one evidence item supporting it passed with a rigor at or above
the factor's goal and none supporting it failed; a failing item makes every factor it supports
*failing*, so a dossier cannot report green on bad evidence. The applicability domain is the
union of the ranges covered by the items that passed (the ranges a twin's patient is checked
against: ``applicability_domain.parameters`` and ``.inputs``, each ``name``, ``unit``, ``low``,
``high``, ``sources``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import CredibilityError
from ..models import declaration, get_model
from ._context import ContextOfUse
from ._domain import merge_ranges
from ._evidence import Evidence, EvidenceItem, EvidenceResult, load_evidence, run_item
from ._vv40 import FACTORS, RIGOR, goal_for_risk

__all__ = ["SCHEMA_VERSION", "Dossier", "FactorAssessment", "build_dossier"]

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class FactorAssessment:
    factor: str
    goal: str
    goal_rationale: str
    achieved: str  # the best rigor of a passing item, "none" without one
    items: tuple[str, ...]
    status: str  # met, not met, failing, no evidence


@dataclass(frozen=True)
class Dossier:
    model: str
    title: str
    reference: str
    version: str
    profile: str
    context: ContextOfUse
    evidence: Evidence
    results: tuple[tuple[EvidenceItem, EvidenceResult], ...]
    factors: tuple[FactorAssessment, ...]
    generated_at: str

    @property
    def credible(self) -> bool:
        """Every factor met its goal."""
        return all(f.status == "met" for f in self.factors)

    def domain(self) -> dict[str, Any]:
        ranges = [(item.key, r) for item, result in self.results if result.passed
                  for r in result.covered]  # fmt: skip
        return {
            "note": self.evidence.domain_note,
            "outside_domain": self.context.outside_domain,
            **merge_ranges(ranges),
        }

    def to_json(self) -> dict[str, Any]:
        c = self.context
        return {
            "schema_version": SCHEMA_VERSION,
            "model": {"name": self.model, "title": self.title, "reference": self.reference},
            "medtwin_version": self.version,
            "profile": self.profile,
            "generated_at": self.generated_at,
            "context_of_use": {
                "question": c.question,
                "context_of_use": c.context_of_use,
                "model_influence": {"level": c.model_influence, "rationale": c.influence_rationale},
                "decision_consequence": {
                    "level": c.decision_consequence,
                    "rationale": c.consequence_rationale,
                },
                "model_risk": c.risk,
                "default_goal": goal_for_risk(c.risk),
            },
            "intended_use": self.evidence.intended_use,
            "data": self.evidence.data,
            "credible": self.credible,
            "factors": [
                {
                    "factor": f.factor,
                    "title": _TITLES[f.factor],
                    "activity": _ACTIVITY[f.factor],
                    "goal": f.goal,
                    "goal_rationale": f.goal_rationale,
                    "achieved": f.achieved,
                    "evidence": list(f.items),
                    "status": f.status,
                }
                for f in self.factors
            ],
            "evidence": [_item_json(i, r) for i, r in self.results],
            "applicability_domain": self.domain(),
            "limitations": [*self.evidence.limitations, *c.limitations],
        }


_TITLES = {f.key: f.title for f in FACTORS}
_ACTIVITY = {f.key: f.activity for f in FACTORS}


def _number(x: float) -> float | None:
    x = float(x)
    return x if x == x and abs(x) != float("inf") else None  # JSON has no NaN


def _item_json(item: EvidenceItem, result: EvidenceResult) -> dict[str, Any]:
    return {
        "key": item.key,
        "title": item.title,
        "kind": item.kind,
        "factors": list(item.factors),
        "rigor": item.rigor,
        "acceptance": item.acceptance,
        "reference": item.reference,
        "test": item.test,
        "passed": result.passed,
        "error": result.error,
        "metrics": {k: _number(v) for k, v in result.metrics.items()},
        "checks": [{"check": k, "passed": bool(v)} for k, v in result.checks.items()],
        "figures": [{"caption": f.caption} for f in result.figures],
        "notes": result.notes,
        "seconds": round(result.seconds, 3),
    }


def _assess(context: ContextOfUse, results) -> tuple[FactorAssessment, ...]:
    out = []
    for f in FACTORS:
        goal = context.goal(f.key)
        supporting = [(i, r) for i, r in results if f.key in i.factors]
        passing = [RIGOR.index(i.rigor) for i, r in supporting if r.passed]
        achieved = RIGOR[max(passing)] if passing else "none"
        if not supporting:
            status = "no evidence"
        elif any(not r.passed for _, r in supporting):
            status = "failing"
        elif max(passing) >= RIGOR.index(goal.goal):
            status = "met"
        else:
            status = "not met"
        out.append(FactorAssessment(f.key, goal.goal, goal.rationale, achieved,
                                    tuple(i.key for i, _ in supporting), status))  # fmt: skip
    return tuple(out)


def build_dossier(
    model: str,
    context: ContextOfUse,
    *,
    profile: str = "fast",
    progress: Callable[[str], None] | None = None,
) -> Dossier:
    """Run every evidence item ``model`` declares under ``profile`` and assess them against the
    goals of ``context``. An item that raises fails (its message kept); nothing is skipped."""
    decl = declaration(model)
    if context.model not in decl.names():
        raise CredibilityError(
            f"The context of use is written for model {context.model!r}, not {model!r}. "
            f"Set 'model: {decl.name}' in the context file or pass its model."
        )
    evidence = load_evidence(decl.evidence, decl.name)
    model_cls = type(get_model(decl.name))
    results = []
    for item in evidence.items:
        if progress is not None:
            progress(item.key)
        results.append((item, run_item(item, model_cls, profile)))
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("medtwin")
    except PackageNotFoundError:  # a source tree without installed metadata
        package = "unknown"
    return Dossier(
        model=decl.name,
        title=decl.title,
        reference=decl.reference,
        version=package,
        profile=profile,
        context=context,
        evidence=evidence,
        results=tuple(results),
        factors=_assess(context, results),
        generated_at=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
    )
