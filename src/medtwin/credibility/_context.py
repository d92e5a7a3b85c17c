"""The context of use (V&V 40 section 4): the question, the model's influence on the decision
and the consequence of a wrong decision -- hence the model risk and each factor's goal -- and
what a twin does outside the validated domain. Read from a plain mapping (the CLI parses the
YAML file); every problem is a :class:`~medtwin.errors.CredibilityError` naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CredibilityError
from ._vv40 import FACTORS, RIGOR, factor, goal_for_risk, model_risk

__all__ = [
    "CONTEXT_FILES",
    "OUTSIDE_DOMAIN",
    "ContextOfUse",
    "FactorGoal",
    "context_from_yaml",
    "parse_context",
]

# The context of use shipped for each twin (medtwin/credibility/contexts/): the example of its
# model card, and the default whose ``outside_domain`` says what ``recommend`` does outside
# the validated domain (``medtwin.credibility.default_context``).
CONTEXT_FILES = {"uva-padova": "t1d.yaml", "reynolds2006": "sepsis.yaml", "glioma": "glioma.yaml"}

# What a twin does with a forecast or recommendation whose patient is outside the validated
# domain: flag it only, degrade (fall back to the safe default and say so) or refuse.
OUTSIDE_DOMAIN = ("flag", "degrade", "refuse")
_KEYS = {
    "model": "the registered model name, e.g. uva-padova",
    "question": "the question the model helps answer",
    "context_of_use": "how the model's output is used to answer it",
    "model_influence": "{level: low|medium|high, rationale: ...}",
    "decision_consequence": "{level: low|medium|high, rationale: ...}",
    "outside_domain": "flag|degrade|refuse (optional, default flag)",
    "factors": "{factor: {goal: low|medium|high, rationale: ...}} (optional)",
    "limitations": "a list of strings (optional)",
}


@dataclass(frozen=True)
class FactorGoal:
    """A factor's goal in this context: the rigor it must reach and why."""

    factor: str
    goal: str
    rationale: str


@dataclass(frozen=True)
class ContextOfUse:
    model: str
    question: str
    context_of_use: str
    model_influence: str
    influence_rationale: str
    decision_consequence: str
    consequence_rationale: str
    outside_domain: str
    goals: tuple[FactorGoal, ...]
    limitations: tuple[str, ...]

    @property
    def risk(self) -> int:
        return model_risk(self.model_influence, self.decision_consequence)

    def goal(self, key: str) -> FactorGoal:
        for g in self.goals:
            if g.factor == key:
                return g
        raise CredibilityError(f"No goal for factor {key!r}.")


def _text(doc: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise CredibilityError(
            f"The context of use needs '{key}': {_KEYS.get(key, 'a non-empty string')}. "
            f"Got {value!r:.60}."
        )
    return value.strip()


def _level(doc: Mapping[str, Any], key: str) -> tuple[str, str]:
    value = doc.get(key)
    if not isinstance(value, Mapping) or set(value) - {"level", "rationale"}:
        raise CredibilityError(
            f"The context of use needs '{key}' as {_KEYS[key]}. Got {value!r:.80}."
        )
    level = value.get("level")
    if level not in RIGOR:
        raise CredibilityError(
            f"'{key}.level' must be one of low, medium, high. Got {level!r:.60}."
        )
    return str(level), _text(value, "rationale")


def parse_context(doc: object) -> ContextOfUse:
    """A :class:`ContextOfUse` from a mapping (a parsed YAML file), checked field by field."""
    if not isinstance(doc, Mapping):
        raise CredibilityError(
            "A context of use is a mapping with the keys "
            f"{', '.join(_KEYS)}. Got {type(doc).__name__}."
        )
    unknown = sorted(set(map(str, doc)) - set(_KEYS))
    if unknown:
        raise CredibilityError(
            f"Unknown key(s) in the context of use: {', '.join(unknown)}. "
            f"Expected some of: {', '.join(_KEYS)}."
        )
    influence, why_influence = _level(doc, "model_influence")
    consequence, why_consequence = _level(doc, "decision_consequence")
    risk = model_risk(influence, consequence)
    outside = doc.get("outside_domain", "flag")
    if outside not in OUTSIDE_DOMAIN:
        raise CredibilityError(
            f"'outside_domain' must be one of {', '.join(OUTSIDE_DOMAIN)}. Got {outside!r:.60}."
        )
    given = doc.get("factors") or {}
    if not isinstance(given, Mapping):
        raise CredibilityError(f"'factors' must be {_KEYS['factors']}. Got {given!r:.80}.")
    default = goal_for_risk(risk)
    goals = {f.key: FactorGoal(f.key, default, f"model risk {risk}") for f in FACTORS}
    for key, spec in given.items():
        factor(str(key))  # a name not in V&V 40 is an error
        if not isinstance(spec, Mapping) or spec.get("goal") not in RIGOR:
            raise CredibilityError(
                f"'factors.{key}' must be {{goal: low|medium|high, rationale: ...}}. "
                f"Got {spec!r:.80}."
            )
        goals[str(key)] = FactorGoal(str(key), str(spec["goal"]), _text(spec, "rationale"))
    limitations = doc.get("limitations") or []
    if not isinstance(limitations, list) or not all(isinstance(x, str) for x in limitations):
        raise CredibilityError(f"'limitations' must be a list of strings. Got {limitations!r:.80}.")
    return ContextOfUse(
        model=_text(doc, "model"),
        question=_text(doc, "question"),
        context_of_use=_text(doc, "context_of_use"),
        model_influence=influence,
        influence_rationale=why_influence,
        decision_consequence=consequence,
        consequence_rationale=why_consequence,
        outside_domain=str(outside),
        goals=tuple(goals[f.key] for f in FACTORS),
        limitations=tuple(limitations),
    )


def context_from_yaml(text: str, where: str) -> ContextOfUse:
    """The context of use written as YAML ``text`` (``where``: the file, for messages); needs
    PyYAML (the cli extra)."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - the cli and service extras include it
        raise CredibilityError(
            "Reading a context of use needs PyYAML: pip install 'medtwin[cli]'."
        ) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        said = " ".join(str(exc).split())
        raise CredibilityError(
            f"The context file {where!r} is not valid YAML: {said:.200}"
        ) from None
    return parse_context(doc)
