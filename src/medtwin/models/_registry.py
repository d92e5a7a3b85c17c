"""The registry of models, by name and alias.

Two kinds of entry. The published models that ship with medtwin are known by their
declarations (``_BUILTIN``, each a :class:`~medtwin.models.Declaration` in a module that loads
no JAX): :func:`declaration` reads them at once, and a model's class -- and JAX with it -- loads
when the model is first asked for (:func:`get_model`). Classes registered at run time (an
imported SBML model, a test's own model) are found first, by the same names. A name found in
neither is asked of the finders (:func:`add_model_finder`): a store adds one that reads its
table of imported models, so a model imported by another process is found when a twin needs it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import UnknownModelError
from ._spec import Declaration

if TYPE_CHECKING:
    from ._base import AbstractModel

__all__ = [
    "add_model_finder",
    "declaration",
    "get_model",
    "list_declarations",
    "list_models",
    "register_model",
    "remove_model_finder",
    "unregister_model",
]

_M = TypeVar("_M", bound="type[AbstractModel]")

# The published models medtwin ships: where each declaration lives ("module:NAME"). The
# declaration names the class that implements it (Declaration.model), which registers itself
# when its module is imported.
_BUILTIN = (
    "medtwin.models.glucose._declarations:UVA_PADOVA",
    "medtwin.models.glucose._declarations:BERGMAN",
    "medtwin.models.inflammation._declarations:REYNOLDS2006",
    "medtwin.models.infection._declarations:SMITH2011",
    "medtwin.models.infection._declarations:BACCAM2006",
    "medtwin.models.infection._declarations:PNEUMONIA_SEPSIS",
    "medtwin.models.oncology._declarations:GLIOMA",
    "medtwin.models.lipids._declarations:VARGO2014",
    "medtwin.models.cardiology._declarations:ALIEV_PANFILOV",
    "medtwin.models.cardiology._declarations:MITCHELL_SCHAEFFER",
    "medtwin.models.cardiology._declarations:TEN_TUSSCHER",
)

_MODELS: dict[str, type[AbstractModel]] = {}
_ALIASES: dict[str, str] = {}
_FINDERS: list[Callable[[str], object]] = []


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@functools.cache
def _builtin() -> dict[str, Declaration]:
    """The built-in declarations by name (their modules load no JAX)."""
    return {d.name: d for d in map(_load, _BUILTIN)}


_declaration_of = functools.cache(Declaration.of)  # per class: a class is one declaration


def register_model(cls: _M) -> _M:
    """Register a model class under its ``name`` and ``aliases``. Usable as a decorator."""
    _MODELS[cls.name] = cls
    for alias in getattr(cls, "aliases", ()):
        _ALIASES[alias] = cls.name
    return cls


def add_model_finder(finder: Callable[[str], object]) -> None:
    """Ask ``finder(name)`` for a model name that is neither registered nor built in; the
    finder registers the model (:func:`register_model`) if it has one, and returns anything."""
    if finder not in _FINDERS:
        _FINDERS.append(finder)


def remove_model_finder(finder: Callable[[str], object]) -> None:
    """Stop asking ``finder`` (added with :func:`add_model_finder`)."""
    if finder in _FINDERS:
        _FINDERS.remove(finder)


def _found(name: str) -> str | None:
    """The registered name of ``name`` after asking the finders, or None."""
    for finder in list(_FINDERS):
        finder(name)
        key = _ALIASES.get(name, name)
        if key in _MODELS:
            return key
    return None


def _unknown(name: str) -> UnknownModelError:
    known = ", ".join(sorted({n for d in list_declarations() for n in d.names()}))
    return UnknownModelError(f"Unknown model {name!r}. Expected one of: {known}.")


def _builtin_named(name: str) -> Declaration | None:
    for d in _builtin().values():
        if name in d.names():
            return d
    return None


def declaration(name: str) -> Declaration:
    """The declaration of the model registered as ``name`` (or one of its aliases): a class
    registered at run time, else a built-in model, read without loading its numerics."""
    key = _ALIASES.get(name, name)
    if key in _MODELS:
        return _declaration_of(_MODELS[key])
    found = _builtin_named(name)
    if found is None:
        key = _found(name) or ""
        if key not in _MODELS:
            raise _unknown(name)
        return _declaration_of(_MODELS[key])
    return found


def get_model(name: str, **config: Any) -> AbstractModel:
    """An instance of the model registered as ``name`` (or one of its aliases)."""
    key = _ALIASES.get(name, name)
    if key not in _MODELS:
        found = _builtin_named(name)
        if found is not None:
            _load(found.model)  # the class registers itself on import
            key = found.name
        else:
            key = _found(name) or ""
            if key not in _MODELS:
                raise _unknown(name)
    return _MODELS[key](**config)


def list_models() -> list[type[AbstractModel]]:
    """The registered model classes (the built-in ones loaded), sorted by name."""
    for d in _builtin().values():
        if d.name not in _MODELS:
            _load(d.model)
    return [_MODELS[k] for k in sorted(_MODELS)]


def list_declarations() -> list[Declaration]:
    """The declarations of every model :func:`get_model` knows, sorted by name, without
    loading a built-in model's numerics (a class registered at run time overrides a built-in
    model of the same name)."""
    out = dict(_builtin())
    out.update({name: _declaration_of(cls) for name, cls in _MODELS.items()})
    return [out[k] for k in sorted(out)]


def unregister_model(name: str) -> None:
    """Remove the model registered as ``name`` and its aliases (a test's own model, say)."""
    cls = _MODELS.pop(name, None)
    for alias in getattr(cls, "aliases", ()):
        _ALIASES.pop(alias, None)
