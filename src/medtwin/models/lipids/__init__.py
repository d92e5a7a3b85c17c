"""Models of LDL cholesterol under lipid-lowering drugs (the prevention twin)."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..._lazy import exports as _exports

if _TYPE_CHECKING:
    from .vargo2014 import DAYS_PER_YEAR as DAYS_PER_YEAR
    from .vargo2014 import E_MAX_CAP as E_MAX_CAP
    from .vargo2014 import Vargo2014 as Vargo2014
    from .vargo2014 import reduction as reduction
    from .vargo2014 import untreated as untreated

_WHERE = {
    "DAYS_PER_YEAR": "vargo2014",
    "E_MAX_CAP": "vargo2014",
    "Vargo2014": "vargo2014",
    "reduction": "vargo2014",
    "untreated": "vargo2014",
}

__all__ = ["DAYS_PER_YEAR", "E_MAX_CAP", "Vargo2014", "reduction", "untreated"]

__getattr__ = _exports(__name__, _WHERE)
