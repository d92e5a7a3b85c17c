"""Twin: a model connected to one patient -- its posterior ensemble and its history.

A twin is immutable: every update (``assimilate``) and every forecast returns a new version
that remembers its parent's inputs, so any version can be replayed bit-for-bit from the prior,
the root key and the recorded inputs (:func:`replay`). The class lives with the assimilation
that makes its versions (``medtwin.assimilate._twin``); this module is its public home.
"""

from .assimilate._assimilate import replay as replay
from .assimilate._twin import Twin as Twin
from .assimilate._twin import Update as Update

__all__ = ["Twin", "Update", "replay"]
