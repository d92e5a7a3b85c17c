"""Models of the acute inflammatory response to infection (sepsis)."""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

if _TYPE_CHECKING:
    from .reynolds2006 import HEALTH_TOL as HEALTH_TOL
    from .reynolds2006 import OUTCOMES as OUTCOMES
    from .reynolds2006 import SEPTIC_P as SEPTIC_P
    from .reynolds2006 import Reynolds2006 as Reynolds2006
    from .reynolds2006 import outcome_class as outcome_class

_WHERE = {
    "HEALTH_TOL": "reynolds2006",
    "OUTCOMES": "reynolds2006",
    "SEPTIC_P": "reynolds2006",
    "Reynolds2006": "reynolds2006",
    "outcome_class": "reynolds2006",
}

__all__ = ["HEALTH_TOL", "OUTCOMES", "SEPTIC_P", "Reynolds2006", "outcome_class"]


def __getattr__(name: str) -> object:
    """The re-exported names (and subpackages), each loaded on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = _importlib.import_module(f"{__name__}.{module}")
    return loaded if module == name else getattr(loaded, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
