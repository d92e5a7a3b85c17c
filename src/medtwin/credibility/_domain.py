"""The validated domain of a model, cheap to have: the parameter and input ranges its evidence
covers, declared by the model's :class:`~medtwin.credibility.Evidence` (``domain``: a
``"module:function"`` that gives the ranges from the model class without running any evidence
item), and the check of one twin step against it.

One place: the dossier's ``applicability_domain`` merges the ranges the passing items report
with :func:`merge_ranges`, and the items that report a range compute it with the same declared
function (e.g. the T1D calibration item reports the range of the 30 virtual patients, which is
the T1D domain), so the twin loop, which calls :func:`validated_domain` on every ODE step, and
the dossier cannot disagree. A model that declares no evidence or no ``domain`` has none: its
forecasts are never flagged.

The rule (:func:`applicability`): a learnt (free) parameter is outside when at least
``CONFIDENT`` (90 %) of the posterior's particle weight lies outside its range -- the twin is
that sure its patient is unlike every validated one; one stray particle, or a young twin whose
centre has drifted past the edge (the sample bundle's patient, adult#001 itself, after two
hours of CGM: kp3's median below the 30 patients' least value with 69 % of the weight
outside), does not flag it. The weighted posterior median is reported beside it. An input is
outside when an amount the step applied (a meal's grams, a bolus's units) lies outside the
range of its event kind.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from ..errors import CredibilityError, UnknownModelError
from ..models import declaration, get_model
from ._context import CONTEXT_FILES, ContextOfUse, context_from_yaml
from ._evidence import ParameterRange, load_evidence

__all__ = [
    "CONFIDENT",
    "RULE",
    "Domain",
    "applicability",
    "default_context",
    "describe",
    "merge_ranges",
    "validated_domain",
]

CONFIDENT = 0.9  # the posterior weight outside a parameter's range that flags it

RULE = (
    "a learnt parameter with at least 90 % of the posterior weight outside its validated range, "
    "and each input amount the step applied outside its kind's range"
)


@dataclass(frozen=True)
class Domain:
    """A model's validated domain: ``parameters`` and ``inputs`` (an input's ``name`` is its
    event kind, e.g. ``meal``, in the kind's unit) and the declaration's note."""

    model: str
    parameters: tuple[ParameterRange, ...]
    inputs: tuple[ParameterRange, ...]
    note: str = ""

    def parameter(self, name: str) -> ParameterRange | None:
        return next((r for r in self.parameters if r.name == name), None)

    def input(self, kind: str) -> ParameterRange | None:
        return next((r for r in self.inputs if r.name == kind), None)


def merge_ranges(
    ranges: Iterable[tuple[str, ParameterRange]],
) -> dict[str, list[dict[str, Any]]]:
    """``(source label, range)`` pairs merged per (kind, name): the union of the ranges and
    every source, as the dossier's ``applicability_domain`` lists them."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for label, r in ranges:
        row = merged.setdefault((r.kind, r.name), {"name": r.name, "unit": r.unit, "low": r.low,
                                                   "high": r.high, "sources": []})  # fmt: skip
        row["low"], row["high"] = min(row["low"], r.low), max(row["high"], r.high)
        row["sources"].append(f"{label}: {r.source}")
    return {
        "parameters": [v for (k, _), v in sorted(merged.items()) if k == "parameter"],
        "inputs": [v for (k, _), v in sorted(merged.items()) if k == "input"],
    }


@functools.cache
def validated_domain(model: str) -> Domain | None:
    """The validated domain of the registered ``model`` (a name or alias), or None when it
    declares no evidence or its evidence declares no ``domain``. Cached per name: the ranges
    come from declared data (e.g. a table of virtual patients), not from a run; a name the
    registry does not know has none."""
    try:
        decl = declaration(model)
    except UnknownModelError:  # a model the registry does not know declares nothing
        return None
    if not decl.evidence:
        return None
    evidence = load_evidence(decl.evidence, decl.name)
    if not evidence.domain:
        return None
    module, _, name = evidence.domain.partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise CredibilityError(
            f"Model {decl.name!r} declares its domain at {evidence.domain!r}, which is not a "
            "function of the model class. Name a 'module:function' returning ParameterRanges."
        )
    ranges = tuple(fn(type(get_model(decl.name))))
    return Domain(
        decl.name,
        tuple(r for r in ranges if r.kind == "parameter"),
        tuple(r for r in ranges if r.kind == "input"),
        evidence.domain_note,
    )


@functools.cache
def default_context(model: str) -> ContextOfUse | None:
    """The default context of use of ``model``: the file shipped for it
    (``CONTEXT_FILES``, in ``medtwin/credibility/contexts``), or None without one. Its
    ``outside_domain`` says what ``recommend`` does for a twin outside the domain."""
    name = CONTEXT_FILES.get(declaration(model).name)
    if name is None:
        return None
    path = files("medtwin.credibility").joinpath("contexts", name)
    return context_from_yaml(path.read_text(encoding="utf-8"), f"contexts/{name}")


def applicability(
    domain: Domain | None,
    medians: Mapping[str, float],
    mass_outside: Mapping[str, float],
    inputs: Sequence[tuple[str, float]],
) -> dict[str, Any] | None:
    """The applicability of one twin step (JSON-ready), or None without a ``domain``.

    ``medians``: the weighted posterior median of each learnt parameter (reported);
    ``mass_outside``: the weight of the particles outside that parameter's range (computed by
    the caller with the ranges of ``domain``), which flags it at ``CONFIDENT`` or more (a
    parameter without it: its median outside the range); ``inputs``: (event kind, amount) of
    each event the step applied. ``inside`` is False when anything is outside; ``outside``
    lists what, with its range."""
    if domain is None:
        return None
    outside: list[dict[str, Any]] = []
    for name, value in medians.items():
        r = domain.parameter(name)
        mass = mass_outside.get(name)
        if r is None:
            continue
        if (mass >= CONFIDENT) if mass is not None else not (r.low <= value <= r.high):
            outside.append({"kind": "parameter", "name": name, "value": value, "unit": r.unit,
                            "low": r.low, "high": r.high,
                            "mass_outside": mass_outside.get(name)})  # fmt: skip
    for kind, amount in inputs:
        r = domain.input(kind)
        if r is not None and not (r.low <= amount <= r.high):
            outside.append({"kind": "input", "name": kind, "value": amount, "unit": r.unit,
                            "low": r.low, "high": r.high})  # fmt: skip
    return {"inside": not outside, "outside": outside}


def describe(flag: Mapping[str, Any] | None) -> str:
    """What an applicability flag says, in one sentence ("" inside the domain or without
    one): the API, the FHIR note, the dashboard's badge and ``recommend`` all say this."""
    if flag is None or flag.get("inside", True):
        return ""
    what = "; ".join(
        f"{o['kind']} {o['name']} = {o['value']:.4g} {o['unit']} (validated {o['low']:.4g} to "
        f"{o['high']:.4g})"
        for o in flag.get("outside", ())
    )
    return f"Outside the model's validated domain: {what}."
