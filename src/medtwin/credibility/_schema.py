"""The JSON Schema (draft 2020-12) a dossier's JSON follows, shipped as package data."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["dossier_schema"]


@functools.cache
def _text() -> str:
    return resources.files(__package__).joinpath("dossier.schema.json").read_text()


def dossier_schema() -> dict[str, Any]:
    """The dossier's JSON Schema (a fresh copy)."""
    schema: dict[str, Any] = json.loads(_text())
    return schema
