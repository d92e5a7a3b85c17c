"""Replaying stored versions: each recomputed from what the store holds -- its parent's state,
the records it applied, the twin's configuration and seed -- and compared with the stored state
and forecast, bit for bit (``medtwin replay-version``).

Version 0 is made again from the configuration (:func:`create`); version ``v`` from its parent
with :func:`redo` (the records it applied, the ``until`` of its report) and forecast as the
configuration says. The parent is the stored ensemble when the store keeps it, else the
parent as this replay recomputed it (as the store itself restores a version whose ensemble it
does not keep). The comparison decodes both blobs (an npz container carries a write time)
and compares every array's bytes; where they differ it gives the largest absolute and
relative difference of the state (parameters, states, log-weights) and of the forecast
(median, band edges, the stored quantiles). A change in the package that alters a stored
result is reported, not hidden. ODE/PDE twins only (``_ode``): a network twin's update is
exact inference, with no numerics to drift.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ..errors import DataError
from ._codec import pack_ensemble, pack_forecast, unpack_ensemble, unpack_forecast
from ._config import TwinConfig
from ._kind import kind_of
from ._ode import OdeKind
from ._step import PendingEvent, PendingObservation, _forecast, create, redo, restore

__all__ = ["Difference", "StoredStep", "VersionReplay", "fingerprint", "replay_versions"]


@functools.cache
def _model_hash(model: str) -> str:
    # what the model computes, as its kind of twin states it (an ODE model's declaration, a
    # network with its tables)
    return "sha256:" + hashlib.sha256(kind_of(model).identity(model).encode()).hexdigest()


def fingerprint(config: TwinConfig) -> dict[str, str]:
    """What the provenance of a version computed under ``config`` records beside the package
    version: ``model_hash`` (SHA-256 of the model's declaration, parameter defaults included,
    or of a network with its tables: :meth:`TwinKind.identity`)
    and ``config_hash`` (SHA-256 of the stored configuration's JSON)."""
    return {
        "model_hash": _model_hash(config.model),
        "config_hash": "sha256:" + hashlib.sha256(config.to_json().encode()).hexdigest(),
    }


@dataclass(frozen=True)
class StoredStep:
    """What the store holds of one version: the records it applied (observations: id, code,
    time, value, censored; events: id, kind, time, amount; in time order), the ``until`` of its
    report, its ensemble blob (None when not kept), the events applied up to it (kind, time,
    amount: what restoring it from ``state`` needs) and its forecast blob with the
    observables and levels it was stored with (None for none)."""

    version: int
    obs: tuple[tuple[int, str, datetime, float, int], ...]
    evs: tuple[tuple[int, str, datetime, float], ...]
    until: float | None
    state: bytes | None
    history: tuple[tuple[str, datetime, float], ...]
    forecast: bytes | None
    observables: tuple[str, ...] = ()
    levels: tuple[float, ...] = ()


@dataclass(frozen=True)
class Difference:
    """One blob recomputed against the stored one: ``equal`` bit for bit, else the largest
    absolute and relative difference over its arrays (a NaN where the other has a number:
    infinite); None when the store keeps no such blob for the version."""

    equal: bool
    max_abs: float = 0.0
    max_rel: float = 0.0


@dataclass(frozen=True)
class VersionReplay:
    version: int
    state: Difference | None
    forecast: Difference | None

    @property
    def equal(self) -> bool:
        return all(d is None or d.equal for d in (self.state, self.forecast))


def _diff(stored: Sequence[Any], again: Sequence[Any]) -> Difference:
    max_abs = max_rel = 0.0
    equal = True
    for a, b in zip(stored, again, strict=True):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return Difference(False, float("inf"), float("inf"))
        if a.tobytes() == b.tobytes():
            continue
        equal = False
        with np.errstate(all="ignore"):
            d = np.abs(a - b)
            d = np.where(np.isnan(a) & np.isnan(b), 0.0, np.where(np.isnan(d), np.inf, d))
            rel = np.where(d == 0, 0.0, d / np.maximum(np.abs(a), np.abs(b)))
        max_abs, max_rel = max(max_abs, float(d.max())), max(max_rel, float(rel.max()))
    return Difference(equal, max_abs, max_rel)


def _state_diff(stored: bytes, twin) -> Difference:
    a, b = unpack_ensemble(stored), unpack_ensemble(pack_ensemble(twin.ensemble))
    return _diff([a.params, a.states, a.log_weights, np.float64(a.time)],
                 [b.params, b.states, b.log_weights, np.float64(b.time)])  # fmt: skip


def _forecast_diff(step: StoredStep, again: bytes) -> Difference:
    assert step.forecast is not None
    a = unpack_forecast(step.forecast, step.version, step.observables, step.levels)
    b = unpack_forecast(again, step.version, step.observables, step.levels)
    return _diff([a.times, a.median, a.lower, a.upper, a.draws],
                 [b.times, b.median, b.lower, b.upper, b.draws])  # fmt: skip


def replay_versions(
    config: TwinConfig, steps: Sequence[StoredStep], versions: Sequence[int]
) -> list[VersionReplay]:
    """Recompute each of ``versions`` of the twin of ``config`` from ``steps`` (what the store
    holds of every version from a kept one at or before the first asked up to the last, in
    version order) and compare with the stored blobs."""
    if not isinstance(kind_of(config.model), OdeKind):
        raise DataError(
            f"replay-version recomputes ODE/PDE twins; {config.model!r} is a "
            f"{kind_of(config.model).name} twin, whose update is exact inference."
        )
    wanted = set(versions)
    by_version = {s.version: s for s in steps}
    out: list[VersionReplay] = []
    twin = None
    for s in steps:
        if s.version == 0:
            made = create(config)
            twin, fc = made.twin, made.forecast
        else:
            parent = by_version.get(s.version - 1)
            if parent is not None and parent.state is not None:
                twin = restore(config, parent.version, parent.state, parent.history)
            if twin is None:
                raise DataError(
                    f"Version {s.version} cannot be replayed: the store keeps no ensemble at "
                    "or before its parent in what was read."
                )
            obs = [PendingObservation(*o) for o in s.obs]
            evs = [PendingEvent(*e) for e in s.evs]
            twin = redo(config, twin, obs, evs, s.until)
            fc = None
            if s.version in wanted and s.forecast is not None:
                fc, _ = _forecast(twin, config)
        if s.version not in wanted:
            continue
        state = None if s.state is None else _state_diff(s.state, twin)
        forecast = None
        if s.forecast is not None and fc is not None:
            forecast = _forecast_diff(s, pack_forecast(fc, twin.model.name))
        out.append(VersionReplay(s.version, state, forecast))
    return out
