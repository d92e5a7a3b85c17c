"""Oncology models: the Swanson proliferation-invasion glioma model with radiotherapy."""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

if _TYPE_CHECKING:
    from .glioma import Glioma as Glioma
    from .glioma import synthetic_brain as synthetic_brain
    from .glioma import wave_profile as wave_profile

_WHERE = {
    "Glioma": "glioma",
    "synthetic_brain": "glioma",
    "wave_profile": "glioma",
}

__all__ = ["Glioma", "synthetic_brain", "wave_profile"]


def __getattr__(name: str) -> object:
    """The re-exported names (and subpackages), each loaded on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = _importlib.import_module(f"{__name__}.{module}")
    return loaded if module == name else getattr(loaded, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
