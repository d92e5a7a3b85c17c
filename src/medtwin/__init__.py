"""medtwin: medical digital twins -- mechanistic patient models that stay connected to their
patient. The numerical core runs on JAX in float64.

Importing ``medtwin`` is cheap: it does not load JAX. Float64 is switched on for JAX here
either way -- through ``jax.config`` when JAX is already loaded, else through the
``JAX_ENABLE_X64`` variable JAX reads when it loads -- and the subpackages (``medtwin.models``,
``medtwin.simulate``, ...) load on first use. So ``medtwin --help`` and a refused command line
answer without the seconds JAX, SciPy and the models take to import.
"""

import importlib as _importlib
import os as _os
import sys as _sys
from typing import TYPE_CHECKING as _TYPE_CHECKING

from . import errors as errors
from .errors import MedtwinError as MedtwinError

if "jax" in _sys.modules:
    _sys.modules["jax"].config.update("jax_enable_x64", True)
else:  # JAX reads JAX_ENABLE_X64 when it is imported
    _os.environ["JAX_ENABLE_X64"] = "1"

if _TYPE_CHECKING:
    from . import models as models
    from . import simulate as simulate

__version__ = "0.1.0"

__all__ = ["MedtwinError", "__version__", "errors", "models", "simulate"]

_LAZY = frozenset({"models", "simulate"})


def __getattr__(name: str) -> object:
    """``medtwin.models`` and ``medtwin.simulate`` load on first use (PEP 562)."""
    if name in _LAZY:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
