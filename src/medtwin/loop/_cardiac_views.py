"""What a cardiac twin shows when asked: its activation map at the posterior median
(milliseconds: one eikonal solve) and P(inducible) with the ranked lesion plans (a
programmed-stimulation protocol per posterior draw and site: seconds to minutes, so only on
request and within :func:`work` <= :data:`MAX_WORK`).

:func:`work` is the request's size in cell-protocol units: draws x sites x conducting cells x
(S1 beats + extrastimulus couplings tried), the shape of the runs the protocol batches. On the
20 x 12 mm phantom at 0.5 mm (about 880 conducting cells) one unit cost 0.4-1.3 ms on 2 shared
CPU cores (``benchmarks/cardiac_twin_requests.py``: 6 draws x 1 site with 2 S1 beats and 4 S2
couplings, the route's default, 17-20 s; 1 draw with the clinical protocol of 8 S1 beats and
30 couplings 20-37 s; an update 0.2 s), so :data:`MAX_WORK` keeps a request under about a
minute there. A clinical scan's protocol is a batch job: ``medtwin twin cardiac``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import DataError, LimitError
from ..models.cardiology import (
    BORDER,
    HEALTHY,
    PESProtocol,
    VTDefinition,
    mapping_times,
    pacing_source,
    spread_sites,
)
from ._cardiac import parameters_of
from ._cardiac_state import CardiacLoopTwin

__all__ = ["MAX_WORK", "activation_map", "inducibility", "work"]

MAX_WORK = 40_000  # cell-protocol units of one request (see the module docstring)


def activation_map(t: CardiacLoopTwin) -> dict[str, Any]:
    """The activation times (ms) paced from the map's site at the posterior median (the
    prior's before any data) and the tissue labels; a 3D tissue's middle slice along its last
    axis. JSON-ready: a time is None where no cell conducts."""
    p = parameters_of(t)
    tissue = t.tissue
    times = mapping_times(tissue.labels, tissue.spacing, tissue.source(), p["cv"]["median"],
                          ratio=p["ratio"]["median"], bz=p["bz"]["median"])  # fmt: skip
    lab = np.asarray(tissue.labels)
    if lab.ndim == 3:
        k = lab.shape[2] // 2
        lab, times = lab[:, :, k], times[:, :, k]
    ok = np.isfinite(times)
    return {"version": t.version, "spacing_mm": tissue.spacing, "shape": list(lab.shape),
            "labels": lab.tolist(), "pace_mm": list(tissue.pace), "cv": p["cv"]["median"],
            "max_ms": float(np.max(times[ok])) if ok.any() else None,
            "times": [[round(float(v), 3) if np.isfinite(v) else None for v in row]
                      for row in times]}  # fmt: skip


def work(t: CardiacLoopTwin, draws: int, sites: int, protocol: PESProtocol) -> int:
    """A request's size in cell-protocol units (see the module docstring)."""
    lab = np.asarray(t.tissue.labels)
    cells = int(((lab == HEALTHY) | (lab == BORDER)).sum())
    tries = protocol.n_s1 + sum(len(stage) for stage in protocol.couplings)
    return draws * sites * cells * tries


def inducibility(
    t: CardiacLoopTwin,
    sites: int | list[list[float]],
    *,
    draws: int,
    seed: int,
    protocol: PESProtocol,
    definition: VTDefinition,
) -> dict[str, Any]:
    """P(inducible) with its 95 % interval across ``draws`` posterior draws (``seed``) and the
    lesion plans ranked by it -- "no ablation" and the lesion the ablation targeting proposes
    from an induced VT (:meth:`~medtwin.models.cardiology.CardiacTwin.recommend`) -- paced from
    ``sites`` (a number spread over the healthy tissue, or positions in mm). JSON-ready, with
    the version, the request and the seconds it took. ``DataError``: no posterior yet, or a
    site off tissue; ``LimitError``: over :data:`MAX_WORK`."""
    if t.twin.posterior is None:
        raise DataError(
            "This cardiac twin has assimilated no mapping points or QRS durations yet: its "
            "conduction is the prior's. Send the map's points first, then ask for P(inducible)."
        )
    lab, h = t.tissue.labels, t.tissue.spacing
    if isinstance(sites, int):
        at = spread_sites(lab, h, sites)
    else:
        for s in sites:
            try:
                pacing_source(lab, h, np.asarray(s))
            except DataError as exc:
                raise DataError(f"sites: {exc}") from None
        at = np.asarray(sites, dtype=np.float64)
    size = work(t, draws, len(at), protocol)
    if size > MAX_WORK:
        raise LimitError(
            f"P(inducible) for {draws} draws x {len(at)} sites x {size // (draws * len(at))} "
            f"cell-protocol units is {size} units; a request computes at most {MAX_WORK}. Ask "
            "for fewer draws, sites, S1 beats or couplings, or run `medtwin twin cardiac` on "
            "the command line for the clinical protocol.",
            "draws",
        )
    start = time.perf_counter()
    kw: dict[str, Any] = {"draws": draws, "seed": seed, "protocol": protocol,
                          "definition": definition}  # fmt: skip
    fc = t.twin.forecast(at, **kw)
    rec = t.twin.recommend(at, forecast=fc, **kw)
    lo, hi = fc.interval
    return {
        "version": t.version, "probability": fc.probability, "interval": [lo, hi],
        "confidence": fc.confidence, "draws": draws, "seed": seed,
        "sites_mm": at.tolist(), "induced": [bool(x) for x in fc.induced],
        "drawn": t.twin.draws(draws, seed).tolist(), "work": size,
        "protocol": {"s1_beats": protocol.n_s1, "s1_cycle_ms": protocol.s1_cycle,
                     "couplings_ms": [list(c) for c in protocol.couplings]},
        "plans": [{"rank": k, "name": r.name, "cells": r.cells, "area": float(r.area),
                   "probability": r.forecast.probability,
                   "interval": list(r.forecast.interval)}
                  for k, r in enumerate(rec.plans, 1)],
        "recommended": rec.best.name, "seconds": round(time.perf_counter() - start, 3),
    }  # fmt: skip
