"""Warming a process up for the twins it will update.

A fresh process traces and compiles (or, with the persistent compilation cache, loads) every
jitted function of a twin update before its first use: tracing alone is seconds on a small
machine, which the cache cannot skip. :func:`warm_up` runs one throwaway create-and-update of a
twin shaped like ``config`` (same model, particles, filter, forecast horizon and cadence) on
made-up data, so that the first real update of such a twin runs the compiled code at once.
Nothing is stored; the numbers of real twins do not depend on it (their keys are their own).
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from ._config import TwinConfig
from ._step import PendingObservation, create, update

__all__ = ["warm_up"]

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def warm_up(config: TwinConfig) -> float:
    """Run a throwaway twin shaped like ``config`` through a create and two updates (the second
    far from the forecast, so the filter resamples too); returns the seconds it took."""
    start = time.perf_counter()
    cfg = replace(config, epoch=_EPOCH, seed=0)
    step = create(cfg)
    model = step.twin.model
    coded = [(j, o) for j, o in enumerate(model.observables) if o.loinc]
    if not coded:
        return time.perf_counter() - start  # nothing a record can feed: create was all
    j, spec = coded[0]
    typical = float(np.nanmedian(np.asarray(step.forecast.median[j])))
    dt = timedelta(seconds=0)
    twin = step.twin
    for k, value in enumerate((typical, 3.0 * typical + 1.0)):
        dt += timedelta(minutes=5) if model.time_unit == "min" else timedelta(hours=1)
        reading = PendingObservation(-1 - k, str(spec.loinc), _EPOCH + dt, value, 0)
        twin = update(cfg, twin, [reading], []).twin
    return time.perf_counter() - start
