"""load_sbml(): an SBML document in, a medtwin model class out.

Reading (:mod:`._read`), refusals (:mod:`._symbols`), conversion to L3V2, the model's
declarations, its two graphs (:mod:`._program`) and the class (:class:`~._model.SBMLModel`).
The class is cached by the SHA-256 of the document's text and the options: loading the same
document again returns the same class, so JAX's compiled kernels for it are reused.
"""

from __future__ import annotations

import math
import os
import re
import threading
import types
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ModelError
from ..models._base import ObservableSpec, ParameterSpec, StateSpec
from ._eventgraph import EventInfo
from ._eventmodel import SBMLEventModel
from ._model import Equations, SBMLBase, SBMLModel, resolve
from ._program import build_layout
from ._read import MAX_BYTES, parse, read_source, to_l3v2
from ._symbols import read_model, refuse_unsupported

__all__ = ["load_sbml"]

CACHE_SIZE = 64  # model classes kept (most recently loaded first out last)
_CACHE: OrderedDict[tuple, type[SBMLBase]] = OrderedDict()
_LOCK = threading.Lock()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "model"


def load_sbml(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    observables: Sequence[str] | None = None,
    time_unit: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> type[SBMLModel] | type[SBMLEventModel]:
    """Import an SBML Level 2 or 3 core model as a medtwin model class.

    ``source``: a file path, the XML text or its bytes (UTF-8, no DTD; at most ``max_bytes``).
    ``name``: the model's medtwin name (default ``sbml-<model id>-<first 8 hex digits of the
    document's SHA-256>``); register the class with
    :func:`medtwin.models.register_model` to use it by name. ``observables``: what the model
    observes -- SBML ids, ``amount(S)`` or ``concentration(S)`` (default: every species and
    every compartment or parameter moved by a rule). ``time_unit``: the model's time unit
    where the document declares none medtwin knows (``s``, ``min``, ``h``, ``d``).

    Returns a subclass of :class:`~medtwin.sbml.SBMLModel` (of ``SBMLEventModel`` where the
    document has events); ``load_sbml(path)()`` is a model instance for
    :func:`medtwin.simulate.simulate` (vmapped over parameter batches like every model). The
    same document and options give the same class.

    Supported (SBML L3V2 core section numbers): compartments of constant or rule-driven size
    (4.5), species in amounts or concentrations, ``hasOnlySubstanceUnits``, boundary and
    constant species (4.6), global and reaction-local parameters (4.7, 4.11), initial
    assignments in dependency order (4.8), assignment and rate rules (4.9), reactions with
    constant or variable stoichiometry and conversion factors (4.11), function definitions
    (4.3, expanded), MathML with ``piecewise``, ``time``, ``avogadro`` and ``rateOf`` (3.4),
    events without delay, with priorities, ``initialValue``, ``persistent`` and
    ``useValuesFromTriggerTime`` (4.12): a document with events gives a subclass of
    :class:`~medtwin.sbml.SBMLEventModel`, which advances itself (events located within each
    step, per member).

    Raises :class:`~medtwin.sbml.UnsupportedSBMLError` (a ``DataError``) naming the feature and
    the element for event delays, simultaneous events of equal priority (random execution
    order), algebraic rules, fast reactions, the ``delay`` csymbol and SBML Level 3 packages,
    and :class:`~medtwin.errors.DataError` for a document that cannot be read (too large, not
    UTF-8, a DTD, libsbml errors, values that are missing or circular).
    """
    src = read_source(source, max_bytes=max_bytes)
    key = (src.sha256, name, None if observables is None else tuple(observables), time_unit)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]  # type: ignore[return-value]
    doc = parse(src)
    refuse_unsupported(doc.getModel())
    declared = read_model(to_l3v2(doc).getModel())
    layout = build_layout(declared)
    equations = Equations(layout)
    outputs = layout.outputs if observables is None else tuple(observables)
    obs_keys = tuple(resolve(layout, o) for o in outputs)
    if len(set(outputs)) != len(outputs):
        raise ModelError(
            f"load_sbml() got repeated observables: {list(outputs)}. Name each quantity once."
        )
    if not outputs:
        raise ModelError(
            "The SBML model has no species and no rule-driven quantity to observe. Name the "
            "observables with load_sbml(..., observables=[...])."
        )
    ref = f"document sha256:{src.sha256[:16]}"
    model_id = declared.model_id or "model"
    ns: dict[str, Any] = {
        "name": name or f"sbml-{model_id}-{src.sha256[:8]}",
        "title": declared.model_name or model_id,
        "reference": f"SBML model {model_id!r} ({ref})",
        "time_unit": time_unit or declared.time_unit,
        "states": tuple(StateSpec(s.id, s.unit, s.description) for s in layout.states)
        + _memory_specs(layout.events),
        "parameters": tuple(
            ParameterSpec(
                p.id,
                p.unit,
                p.default,
                (-math.inf, math.inf),
                None,
                p.description,
                f"SBML {p.description} ({ref})",
            )
            for p in layout.params
        ),
        "observables": tuple(
            ObservableSpec(o, layout.units.get(k, "(undeclared)"), None, f"SBML {o}")
            for o, k in zip(outputs, obs_keys, strict=True)
        ),
        "sbml_sha256": src.sha256,
        "equations": equations,
        "observable_keys": obs_keys,
    }
    ns["__annotations__"] = {k: ClassVar for k in ns}
    base: type[SBMLBase] = SBMLEventModel if layout.events else SBMLModel
    cls = types.new_class(f"SBML_{_slug(model_id)}", (base,), exec_body=lambda d: d.update(ns))
    cls.__module__ = __name__
    with _LOCK:
        _CACHE[key] = cls
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return cls


def _memory_specs(events: Sequence[EventInfo]) -> tuple[StateSpec, ...]:
    """The event memory's states (see :class:`~medtwin.sbml.SBMLEventModel`)."""
    specs = [StateSpec(f"trigger({e.label})", "1", f"trigger of event {e.label} at the last "
                       "check (1 true, 0 false)", "memory") for e in events]  # fmt: skip
    return tuple(specs)
