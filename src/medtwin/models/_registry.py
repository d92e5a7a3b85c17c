"""The registry of published models, by name and alias."""

from __future__ import annotations

from typing import Any, TypeVar

from ..errors import UnknownModelError
from ._base import AbstractModel

__all__ = ["get_model", "list_models", "register_model", "unregister_model"]

_M = TypeVar("_M", bound=AbstractModel)

_MODELS: dict[str, type[AbstractModel]] = {}
_ALIASES: dict[str, str] = {}


def register_model(cls: type[_M]) -> type[_M]:
    """Register a model class under its ``name`` and ``aliases``. Usable as a decorator."""
    _MODELS[cls.name] = cls
    for alias in getattr(cls, "aliases", ()):
        _ALIASES[alias] = cls.name
    return cls


def get_model(name: str, **config: Any) -> AbstractModel:
    """An instance of the model registered as ``name`` (or one of its aliases)."""
    key = _ALIASES.get(name, name)
    if key not in _MODELS:
        known = ", ".join(sorted([*_MODELS, *_ALIASES]))
        raise UnknownModelError(f"Unknown model {name!r}. Expected one of: {known}.")
    return _MODELS[key](**config)


def list_models() -> list[type[AbstractModel]]:
    """The registered model classes, sorted by name."""
    return [_MODELS[k] for k in sorted(_MODELS)]


def unregister_model(name: str) -> None:
    """Remove the model registered as ``name`` and its aliases (a test's own model, say)."""
    cls = _MODELS.pop(name, None)
    for alias in getattr(cls, "aliases", ()):
        _ALIASES.pop(alias, None)
