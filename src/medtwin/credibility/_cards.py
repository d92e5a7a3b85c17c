"""Model cards (Markdown) generated from a model's declaration and its declared evidence: the
intended use, the data, the parameters with their references, the example context of use and
its model risk, every evidence item with its acceptance and reference test, the applicability
note and the known limitations. Nothing is run: the figures and numbers are in the dossier that
``medtwin credibility`` makes from the same declarations."""

from __future__ import annotations

from ..models import declaration
from ._context import CONTEXT_FILES
from ._domain import default_context
from ._evidence import load_evidence
from ._vv40 import FACTORS

__all__ = ["CONTEXT_FILES", "model_card"]

_TITLES = {f.key: f.title for f in FACTORS}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def model_card(name: str) -> str:
    """The model card of the registered model ``name`` (it must declare its evidence)."""
    decl = declaration(name)
    ev = load_evidence(decl.evidence, decl.name)
    lines = [
        f"# Model card: {decl.title or decl.name}",
        "",
        "<!-- Generated from the model's declaration and its declared evidence by "
        "medtwin.credibility's model_card(); do not edit: run "
        "`python tests/unit/credibility/test_credibility_cards.py` to rewrite. -->",
        "",
        f"**Model** `{decl.name}`"
        + (f" (aliases: {', '.join(f'`{a}`' for a in decl.aliases)})" if decl.aliases else "")
        + f" · time unit {decl.time_unit}",
        "",
        f"**Reference** {decl.reference}",
        "",
        "## Intended use",
        "",
        ev.intended_use,
        "",
        "## Data",
        "",
        ev.data,
        "",
    ]
    ctx, context = default_context(decl.name), CONTEXT_FILES.get(decl.name)
    if ctx is not None:
        lines += [
            "## Example context of use",
            "",
            f"*Question.* {ctx.question}",
            "",
            f"*Context of use.* {ctx.context_of_use}",
            "",
            f"Model influence **{ctx.model_influence}**, decision consequence "
            f"**{ctx.decision_consequence}**: model risk **{ctx.risk}** of 5 (ASME V&V 40-2018, "
            f"Fig. 5). Outside the validated domain a twin will **{ctx.outside_domain}**. "
            f"File: `medtwin/credibility/contexts/{context}`; the dossier: "
            f"`medtwin credibility {decl.name} --context {context} --out DIR`.",
            "",
        ]
    lines += [
        "## Evidence",
        "",
        "| Item | Kind | V&V 40 factors | Rigor | Acceptance | Reference test |",
        "|---|---|---|---|---|---|",
    ]
    for it in ev.items:
        factors = ", ".join(_TITLES[f] for f in it.factors)
        test = f"`{it.test}`" if it.test else ""
        lines.append(f"| {_cell(it.title)} | {it.kind} | {factors} | {it.rigor} | "
                     f"{_cell(it.acceptance)} | {test} |")  # fmt: skip
    claimed = {f for it in ev.items for f in it.factors}
    missing = [_TITLES[f.key] for f in FACTORS if f.key not in claimed]
    if missing:
        lines += ["", f"No evidence is declared for: {', '.join(missing)}."]
    lines += [
        "",
        "## Parameters",
        "",
        "| Parameter | Unit | Default | Bounds | Reference |",
        "|---|---|---|---|---|",
    ]
    for p in decl.parameters:
        lines.append(f"| `{p.name}` | {_cell(p.unit)} | {p.default:g} | "
                     f"[{p.bounds[0]:g}, {p.bounds[1]:g}] | {_cell(p.reference)} |")  # fmt: skip
    lines += ["", "## Applicability and limitations", "", ev.domain_note, ""]
    lines += [f"- {x}" for x in ev.limitations]
    return "\n".join(lines) + "\n"
