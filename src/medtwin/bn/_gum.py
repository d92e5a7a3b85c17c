"""pyAgrum, imported once for medtwin.bn.

Its SWIG-built extension warns (DeprecationWarning: "builtin type SwigPyPacked has no
__module__ attribute") while it loads; under ``-W error`` (pytest's ``filterwarnings = error``)
that warning becomes an exception inside the extension's initialisation and the interpreter
crashes. The import is therefore made with that category silenced.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import pyagrum as gum

__all__ = ["gum"]
