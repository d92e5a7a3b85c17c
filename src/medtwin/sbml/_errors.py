"""The error raised when an SBML document uses a feature this importer does not support.

A subclass of :class:`medtwin.errors.DataError` (so every caller that handles bad input handles
it), carrying the feature and the element, so that a caller (the SBML Test Suite harness, the
upload API) can count and report refusals by feature rather than by message text.
"""

from __future__ import annotations

from ..errors import DataError

__all__ = ["UnsupportedSBMLError"]

_HINT = (
    "medtwin imports the pure-ODE subset of SBML Level 2 and 3 core (compartments, species, "
    "parameters, reactions, assignment and rate rules, initial assignments, function "
    "definitions). Remove the feature from the model or simulate it with a tool that "
    "supports it (e.g. libroadrunner)."
)


class UnsupportedSBMLError(DataError):
    """An SBML feature that the importer refuses rather than simulate it wrongly.

    ``feature``: what is refused (``"events"``, ``"algebraic rules"``, ``"fast reactions"``,
    ``"csymbol delay"``, ``"SBML package 'comp'"``, ...); ``element``: the SBML element that uses
    it (its id, or its kind and position where it has none)."""

    def __init__(self, feature: str, element: str, detail: str = "") -> None:
        self.feature = feature
        self.element = element
        extra = f" {detail}" if detail else ""
        super().__init__(f"Unsupported SBML feature: {feature} (element {element}).{extra} {_HINT}")
