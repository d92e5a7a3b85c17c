"""Evidence as data: what a model declares (:class:`EvidenceItem`, gathered in its
:class:`Evidence`) and what running an item gives (:class:`EvidenceResult`).

An item names the V&V 40 factors it supports, the rigor it reaches when it passes, its
acceptance in words and its profiles: keyword arguments of its ``check`` function, ``fast`` (run
by the default test run and by ``medtwin credibility --profile fast``) and ``full`` (the
reference tests' own settings). ``check(model_cls, **settings)`` runs the computation against the
model class it is given (a registered copy of a model runs the same checks) and returns an
:class:`EvidenceResult`. The reference tests under ``tests/reference`` call the same functions and
assert on their results, so the evidence and the tests cannot drift apart.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import CredibilityError
from ._vv40 import RIGOR, factor

__all__ = [
    "KINDS",
    "PROFILES",
    "Evidence",
    "EvidenceItem",
    "EvidenceResult",
    "Figure",
    "ParameterRange",
    "load_evidence",
    "resolve",
    "run_item",
]

KINDS = ("verification", "convergence", "validation", "sensitivity", "identifiability")
PROFILES = ("fast", "full")


@dataclass(frozen=True)
class Figure:
    """A plot as inline SVG (no external asset), with its caption."""

    caption: str
    svg: str


@dataclass(frozen=True)
class ParameterRange:
    """A parameter's (or an input's) range covered by validation, and where it comes from."""

    name: str
    unit: str
    low: float
    high: float
    source: str
    kind: str = "parameter"  # or "input"


@dataclass(frozen=True)
class EvidenceResult:
    """What one run of an evidence item gives: its metrics (name -> number), each acceptance
    check (a description -> passed), figures, the ranges of parameters and inputs it covered and
    notes. ``passed`` is True only if every check passed and there was at least one."""

    metrics: Mapping[str, float]
    checks: Mapping[str, bool]
    figures: tuple[Figure, ...] = ()
    covered: tuple[ParameterRange, ...] = ()
    notes: str = ""
    error: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.checks) and all(self.checks.values())


Check = Callable[..., EvidenceResult]


@dataclass(frozen=True)
class EvidenceItem:
    """One runnable piece of evidence a model declares.

    ``check`` is ``"module:function"`` (resolved on run, so a declaration stays data);
    ``profiles`` maps ``fast`` and ``full`` to its keyword arguments."""

    key: str
    title: str
    kind: str
    factors: tuple[str, ...]
    rigor: str
    acceptance: str
    check: str
    profiles: Mapping[str, Mapping[str, Any]]
    reference: str = ""
    test: str = ""  # the reference test that asserts on it

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CredibilityError(
                f"Evidence item {self.key!r}: kind must be one of {', '.join(KINDS)}. "
                f"Got {self.kind!r}."
            )
        for key in self.factors:
            factor(key)
        if self.rigor not in RIGOR:
            raise CredibilityError(
                f"Evidence item {self.key!r}: rigor must be one of {', '.join(RIGOR)}. "
                f"Got {self.rigor!r}."
            )
        missing = [p for p in PROFILES if p not in self.profiles]
        if missing:
            raise CredibilityError(
                f"Evidence item {self.key!r} declares no {' or '.join(missing)} profile. "
                f"Declare keyword arguments for each of {', '.join(PROFILES)}."
            )

    def function(self) -> Check:
        fn: Check = resolve(self.check)
        return fn


def resolve(path: str) -> Any:
    """What a declaration's ``"module:NAME"`` names (imported on use, so declarations stay
    data): an item's check, a scenario's regimen."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Evidence:
    """A model's credibility declaration: intended use, the data behind it, known limitations and
    its evidence items (what ``Declaration.evidence`` names)."""

    intended_use: str
    data: str
    limitations: tuple[str, ...]
    items: tuple[EvidenceItem, ...]
    domain_note: str = ""
    # "module:function": the validated domain's ranges from the model class, without running
    # an item (medtwin.credibility.validated_domain; empty: no domain, forecasts never flagged)
    domain: str = ""

    def item(self, key: str) -> EvidenceItem:
        for it in self.items:
            if it.key == key:
                return it
        known = ", ".join(it.key for it in self.items)
        raise CredibilityError(f"No evidence item {key!r}. Expected one of: {known}.")


def load_evidence(path: str, model: str) -> Evidence:
    """The :class:`Evidence` at ``path`` (``"module:NAME"``, a model declaration's ``evidence``)."""
    if not path:
        raise CredibilityError(
            f"Model {model!r} declares no evidence (its declaration's 'evidence' is empty). "
            "Declare an Evidence ('module:NAME') on the model to build its dossier."
        )
    module, _, name = path.partition(":")
    found = getattr(importlib.import_module(module), name, None)
    if not isinstance(found, Evidence):
        raise CredibilityError(
            f"Model {model!r} names {path!r} as its evidence, which is not a "
            "medtwin.credibility.Evidence."
        )
    return found


def run_item(item: EvidenceItem, model_cls: type, profile: str) -> EvidenceResult:
    """Run ``item`` against ``model_cls`` with the settings of ``profile``. An exception inside
    the check is the item's failure (recorded with its message), not the dossier's."""
    if profile not in PROFILES:
        raise CredibilityError(
            f"The profile must be one of {', '.join(PROFILES)}. Got {profile!r}."
        )
    start = time.perf_counter()
    try:
        result = item.function()(model_cls, **dict(item.profiles[profile]))
    except Exception as exc:  # any failure of the check is the item failing, with its message
        last = traceback.format_exception_only(exc)[-1].strip()
        result = EvidenceResult(metrics={}, checks={}, error=last)
    return replace(result, seconds=time.perf_counter() - start)
