"""Models of the acute inflammatory response to infection (sepsis)."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..._lazy import exports as _exports

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

__getattr__ = _exports(__name__, _WHERE)
