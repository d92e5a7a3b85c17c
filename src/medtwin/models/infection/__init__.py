"""Models of infections: a pneumococcal lung infection (Smith 2011, alias ``pneumonia``),
influenza A in the upper respiratory tract (Baccam 2006, alias ``influenza``), and the lung
infection seeding the systemic inflammatory response (``pneumonia-sepsis``: Smith 2011
composed with Reynolds 2006)."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..._lazy import exports as _exports

if _TYPE_CHECKING:
    from ._declarations import TITRE_LOD as TITRE_LOD
    from ._declarations import TITRE_SD as TITRE_SD
    from .baccam2006 import Baccam2006 as Baccam2006
    from .baccam2006 import derived as derived
    from .pneumonia_sepsis import PneumoniaSepsis as PneumoniaSepsis
    from .smith2011 import CLEARED_P as CLEARED_P
    from .smith2011 import OUTCOMES as OUTCOMES
    from .smith2011 import Smith2011 as Smith2011
    from .smith2011 import am_threshold as am_threshold
    from .smith2011 import outcome_class as outcome_class

_WHERE = {
    "TITRE_LOD": "_declarations",
    "TITRE_SD": "_declarations",
    "Baccam2006": "baccam2006",
    "derived": "baccam2006",
    "PneumoniaSepsis": "pneumonia_sepsis",
    "CLEARED_P": "smith2011",
    "OUTCOMES": "smith2011",
    "Smith2011": "smith2011",
    "am_threshold": "smith2011",
    "outcome_class": "smith2011",
}

__all__ = [
    "CLEARED_P",
    "OUTCOMES",
    "TITRE_LOD",
    "TITRE_SD",
    "Baccam2006",
    "PneumoniaSepsis",
    "Smith2011",
    "am_threshold",
    "derived",
    "outcome_class",
]

__getattr__ = _exports(__name__, _WHERE)
