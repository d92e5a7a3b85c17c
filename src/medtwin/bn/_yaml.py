"""Expert statements from YAML.

The file holds the panel, the nodes (each with its states, ordered low to high) and the
statements::

    panel: {size: 18, scale: 7, source: "Dang et al., BMC Neurol 23:161 (2023)"}
    nodes:
      ivt: {states: [no, yes], description: "intravenous thrombolysis"}
      mrs: {states: ["0", "1", "2", "3", "4", "5", "6"]}
    statements:
      - id: S7.1
        cause: ivt
        effect: mrs
        direction: decreases          # or increases
        ratings: [0, 0, 0, 0, 1, 5, 12]  # experts per point 1..7
        source: "Emberson et al., Lancet 384:1929 (2014)"
        text: "Timely thrombolysis improves outcome in ischemic stroke."

``nodes`` may be left out when the statements are applied to a network that declares them.
Errors name the statement (by ``id`` or position) and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import DataError, ModelError
from ._expert import DIRECTIONS, ExpertStatement

__all__ = ["StatementFile", "loads_statements"]


@dataclass(frozen=True)
class StatementFile:
    """A parsed statements file: the panel size (None if not stated), the nodes' states (may
    be empty), the statements, and the panel's source."""

    panel: int | None
    states: dict[str, tuple[str, ...]]
    statements: tuple[ExpertStatement, ...]
    source: str = ""


def loads_statements(text: str, *, source: str = "statements") -> StatementFile:
    """Parse the YAML ``text`` (``source`` names it in errors)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise DataError(f"{source}: not valid YAML{at}. Fix the file's syntax.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("statements"), list):
        raise DataError(
            f"{source}: expected a YAML mapping with a 'statements' list (and optionally "
            "'panel' and 'nodes'). See docs/bn.md."
        )
    panel_doc = doc.get("panel") or {}
    if not isinstance(panel_doc, dict):
        raise DataError(f"{source}: 'panel' must be a mapping (size, scale, source).")
    size = panel_doc.get("size")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise DataError(f"{source}: panel.size must be a whole number >= 1. Got {size!r}.")
    scale = panel_doc.get("scale", 7)
    states: dict[str, tuple[str, ...]] = {}
    for name, spec in (doc.get("nodes") or {}).items():
        st = spec.get("states") if isinstance(spec, dict) else None
        if not isinstance(st, list) or not st:
            raise DataError(f"{source}: node {name!r} needs a 'states' list.")
        states[str(name)] = tuple(str(s) for s in st)
    out = []
    for i, item in enumerate(doc["statements"], 1):
        out.append(_statement(item, i, scale, source))
    ids = [s.id for s in out]
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise DataError(f"{source}: the statement id {dup!r} is used twice.")
    return StatementFile(size, states, tuple(out), str(panel_doc.get("source", "")))


def _statement(item: Any, i: int, scale: int, source: str) -> ExpertStatement:
    if not isinstance(item, dict):
        raise DataError(f"{source}: statement #{i} must be a mapping. Got {item!r}.")
    sid = str(item.get("id", f"#{i}"))
    for key in ("cause", "effect", "direction", "ratings"):
        if key not in item:
            raise DataError(f"{source}: statement {sid!r} has no {key!r}.")
    direction = DIRECTIONS.get(item["direction"])
    if direction is None:
        raise DataError(
            f"{source}: statement {sid!r}: direction must be 'increases' or 'decreases'. Got "
            f"{item['direction']!r}."
        )
    ratings = item["ratings"]
    if not isinstance(ratings, list) or len(ratings) != scale:
        raise DataError(
            f"{source}: statement {sid!r}: ratings must list {scale} counts (experts per point "
            f"of the {scale}-point scale). Got {ratings!r}."
        )
    try:
        return ExpertStatement(
            id=sid,
            cause=str(item["cause"]),
            effect=str(item["effect"]),
            direction=direction,
            ratings=tuple(int(r) for r in ratings),
            source=str(item.get("source", "")),
            text=str(item.get("text", "")),
            status=str(item.get("status", "rated")),
            log_odds=float(item.get("log_odds", 1.0)),
        )
    except (TypeError, ValueError, ModelError) as exc:
        raise DataError(f"{source}: {exc}") from None
