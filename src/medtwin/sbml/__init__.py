"""Bring your own model: SBML in.

:func:`load_sbml` imports an SBML Level 2 or 3 core model (compartments, species, parameters,
reactions, rules, initial assignments, function definitions, events with or without delay)
as a medtwin model class, simulated in float64 on JAX like every other model. Features it
does not import (algebraic rules, fast reactions, the ``delay`` csymbol, random event
execution order, packages) are refused with :class:`UnsupportedSBMLError`, never simulated
wrongly.

Needs python-libsbml: ``pip install 'medtwin[sbml]'``.
"""

try:
    import libsbml as _libsbml  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError(
        "medtwin.sbml needs python-libsbml, which is not installed. Install the sbml extra: "
        "pip install 'medtwin[sbml]'."
    ) from None

from ._errors import UnsupportedSBMLError as UnsupportedSBMLError
from ._eventmodel import SBMLEventModel as SBMLEventModel
from ._export import export_sbml as export_sbml
from ._export_sedml import export_omex as export_omex
from ._export_sedml import export_sedml as export_sedml
from ._export_sedml import omex_errors as omex_errors
from ._export_sedml import sedml_errors as sedml_errors
from ._load import load_sbml as load_sbml
from ._model import SBMLModel as SBMLModel

__all__ = [
    "SBMLEventModel",
    "SBMLModel",
    "UnsupportedSBMLError",
    "export_omex",
    "export_sbml",
    "export_sedml",
    "load_sbml",
    "omex_errors",
    "sedml_errors",
]
