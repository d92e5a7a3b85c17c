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
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from ..errors import ModelError
from ..models._base import ObservableSpec, ParameterSpec, StateSpec
from ..models._priors import LogNormal, Prior, Uniform
from ..models._spec import TwinDefaults
from ._eventmodel import SBMLEventModel
from ._eventqueue import MAX_PENDING, memory_specs
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
    observables: Sequence[str | ObservableSpec] | None = None,
    time_unit: str | None = None,
    max_bytes: int = MAX_BYTES,
    priors: Mapping[str, Prior] | None = None,
    twin_defaults: TwinDefaults | None = None,
    max_pending: int = MAX_PENDING,
) -> type[SBMLModel] | type[SBMLEventModel]:
    """Import an SBML Level 2 or 3 core model as a medtwin model class.

    ``source``: a file path, the XML text or its bytes (UTF-8, no DTD; at most ``max_bytes``).
    ``name``: the model's medtwin name (default ``sbml-<model id>-<first 8 hex digits of the
    document's SHA-256>``); register the class with
    :func:`medtwin.models.register_model` to use it by name. ``observables``: what the model
    observes -- SBML ids, ``amount(S)`` or ``concentration(S)`` (default: every species and
    every compartment or parameter moved by a rule); an entry may be an
    :class:`~medtwin.models.ObservableSpec` whose ``name`` is such an output, to give its unit,
    LOINC code, description and measurement noise (a plain name takes the document's unit and
    none of the others). ``time_unit``: the model's time unit where the document declares none
    medtwin knows (``s``, ``min``, ``h``, ``d``). ``priors``: parameter id -> prior (its
    bounds become the prior's support: ``(0, inf)`` for a log-normal, ``(low, high)`` for a
    uniform); ``twin_defaults``: how the model becomes a twin (free parameters, drift,
    alerts). These three make an imported model a twin (``medtwin.loop``) with no code written
    for it; ``medtwin.data.model_mapping`` reads them from a mapping document.
    ``max_pending``: the pending executions held per delayed event (default 16; they are
    states, so the number is fixed here; a member that needs more fails with NaN states).

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
    events with priorities, ``initialValue``, ``persistent``, ``useValuesFromTriggerTime`` and
    delays (4.12): a document with events gives a subclass of
    :class:`~medtwin.sbml.SBMLEventModel`, which advances itself (events located within each
    step, delayed executions queued, per member).

    Raises :class:`~medtwin.sbml.UnsupportedSBMLError` (a ``DataError``) naming the feature and
    the element for simultaneous events of equal priority (random execution order),
    algebraic rules, fast reactions, the ``delay`` csymbol and SBML Level 3 packages,
    and :class:`~medtwin.errors.DataError` for a document that cannot be read (too large, not
    UTF-8, a DTD, libsbml errors, values that are missing or circular).
    """
    src = read_source(source, max_bytes=max_bytes)
    key = (src.sha256, name, None if observables is None else repr(tuple(observables)),
           time_unit, repr(sorted((priors or {}).items())), repr(twin_defaults),
           max_pending)  # fmt: skip
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]  # type: ignore[return-value]
    doc = parse(src)
    refuse_unsupported(doc.getModel())
    declared = read_model(to_l3v2(doc).getModel())
    layout = build_layout(declared)
    equations = Equations(layout)
    given = {o.name: o for o in observables or () if isinstance(o, ObservableSpec)}
    outputs = layout.outputs if observables is None else tuple(_output(o) for o in observables)
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
    params = tuple(
        ParameterSpec(p.id, p.unit, p.default, (-math.inf, math.inf), None, p.description,
                      f"SBML {p.description} ({ref})")
        for p in layout.params
    )  # fmt: skip
    params = _with_priors(params, priors or {})
    model_id = declared.model_id or "model"
    ns: dict[str, Any] = {
        "name": name or f"sbml-{model_id}-{src.sha256[:8]}",
        "title": declared.model_name or model_id,
        "reference": f"SBML model {model_id!r} ({ref})",
        "time_unit": time_unit or declared.time_unit,
        "states": tuple(StateSpec(s.id, s.unit, s.description) for s in layout.states)
        + memory_specs(layout, max_pending, time_unit or declared.time_unit),
        "parameters": params,
        "observables": tuple(
            given.get(o)
            or ObservableSpec(o, layout.units.get(k, "(undeclared)"), None, f"SBML {o}")
            for o, k in zip(outputs, obs_keys, strict=True)
        ),
        "sbml_sha256": src.sha256,
        "equations": equations,
        "observable_keys": obs_keys,
        "max_pending": max_pending,
    }
    if twin_defaults is not None:
        _check_defaults(twin_defaults, params, outputs)
        ns["twin_defaults"] = twin_defaults
    ns["__annotations__"] = {k: ClassVar for k in ns}
    base: type[SBMLBase] = SBMLEventModel if layout.events else SBMLModel
    cls = types.new_class(f"SBML_{_slug(model_id)}", (base,), exec_body=lambda d: d.update(ns))
    cls.__module__ = __name__
    with _LOCK:
        _CACHE[key] = cls
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return cls


def _output(entry: str | ObservableSpec) -> str:
    if isinstance(entry, ObservableSpec):
        return entry.name
    if not isinstance(entry, str):
        raise ModelError(
            "load_sbml(observables=...) takes SBML ids, amount(S), concentration(S) or "
            f"ObservableSpecs named so. Got {type(entry).__name__}: {entry!r:.60}."
        )
    return entry


def _support(prior: Prior) -> tuple[float, float]:
    """The bounds a parameter with ``prior`` gets: the prior's support."""
    if isinstance(prior, LogNormal):
        return (0.0, math.inf)
    if isinstance(prior, Uniform):
        return (prior.low, prior.high)
    return (-math.inf, math.inf)


def _with_priors(
    params: tuple[ParameterSpec, ...], priors: Mapping[str, Prior]
) -> tuple[ParameterSpec, ...]:
    known = {p.name for p in params}
    unknown = sorted(set(priors) - known)
    if unknown:
        raise ModelError(
            f"load_sbml(priors=...) names {unknown[:5]}, which are no parameters of the imported "
            f"model. Expected ids among its {len(known)} parameters, e.g. "
            f"{sorted(known)[:8]}."
        )
    for pid, prior in priors.items():
        if not isinstance(prior, Prior):
            raise ModelError(
                f"load_sbml(priors=...): the prior of {pid!r} must be a Prior (LogNormal, "
                f"Normal, Uniform). Got {prior!r:.60}."
            )
    return tuple(
        p if p.name not in priors else replace(p, prior=priors[p.name],
                                                bounds=_support(priors[p.name]))
        for p in params
    )  # fmt: skip


def _check_defaults(
    defaults: TwinDefaults, params: tuple[ParameterSpec, ...], outputs: Sequence[str]
) -> None:
    by_name = {p.name: p for p in params}
    for f in defaults.free:
        if f not in by_name:
            raise ModelError(
                f"load_sbml(twin_defaults=...) frees {f!r}, which is no parameter of the "
                "imported model. Name parameter ids of the document."
            )
        if defaults.prior == "spec" and by_name[f].prior is None:
            raise ModelError(
                f"load_sbml(twin_defaults=...) frees {f!r} with prior='spec', but {f!r} has no "
                "prior. Give it one in priors={...}."
            )
    for rule in defaults.alerts:
        if rule.observable not in outputs:
            raise ModelError(
                f"load_sbml(twin_defaults=...) has an alert on {rule.observable!r}, which is not "
                f"observed. Expected one of {list(outputs)}."
            )
