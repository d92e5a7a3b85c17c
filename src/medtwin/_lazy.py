"""Re-exported names that load on first use (PEP 562), for the packages whose ``__init__``
must not import JAX: ``medtwin.models`` and its model packages, ``medtwin.data``.

A package lists, per name it re-exports, the submodule that defines it (``where``, relative to
the package; a subpackage maps to its own name) and sets ``__getattr__ = exports(__name__,
where)``; type checkers read the same names from imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["exports"]


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], object]:
    """The module ``__getattr__`` of ``package``: each name of ``where`` loaded from its
    submodule on first use (a subpackage, mapped to itself, is the module); any other name is
    an ``AttributeError``."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        loaded = importlib.import_module(f"{package}.{module}")
        return loaded if module == name else getattr(loaded, name)

    return __getattr__
