"""Models of the acute inflammatory response to infection (sepsis)."""

from .reynolds2006 import HEALTH_TOL as HEALTH_TOL
from .reynolds2006 import OUTCOMES as OUTCOMES
from .reynolds2006 import SEPTIC_P as SEPTIC_P
from .reynolds2006 import Reynolds2006 as Reynolds2006
from .reynolds2006 import outcome_class as outcome_class

__all__ = ["HEALTH_TOL", "OUTCOMES", "SEPTIC_P", "Reynolds2006", "outcome_class"]
