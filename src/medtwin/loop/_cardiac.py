"""The cardiac kind of twin: a patient's myocardium (from an LGE scan and its segmentation),
the conduction parameters ``(cv, ratio, bz)`` learnt from electro-anatomical mapping points
and QRS durations, and P(inducible) with ranked lesion plans when asked
(:class:`~medtwin.models.cardiology.CardiacTwin`).

**Where the tissue lives.** In the twin's state blob (``_cardiac_state``): version 0 is made
from a :class:`~._cardiac_state.CardiacTissue` that the upload hands to :meth:`CardiacKind.create`
through :func:`given_tissue` (the store calls ``create(config)`` and knows no kind; the
configuration names the model ``cardiac`` and the root ``seed`` of the forecast's draws), and
every version's blob carries it on. No table holds it otherwise.

**Observations.** A mapping point is an observation whose code names its position,
``lat@X,Y`` or ``lat@X,Y,Z`` (mm in the tissue's frame, at most 2 decimals: :func:`lat_code`),
and whose value is its local activation time (ms after the pacing stimulus); a QRS duration of
a beat paced at the map's site is LOINC 8633-2 (ms). An update assimilates every pending one
(in time order): the posterior is recalibrated on all the observations so far -- the exact
quadrature of :func:`~medtwin.models.cardiology.personalise_conduction`, 0.2 s on a 20 x 12 mm
phantom -- and the version goes up by one. A point off conducting tissue, a censored or
non-positive QRS are marked ``invalid`` (and refused by :meth:`CardiacKind.admit` before the
store keeps them); other codes ``unobserved``; events ``unused``. Model time: hours from the
configuration's epoch, the latest applied observation's time.

**No stored forecast.** P(inducible) costs a programmed-stimulation protocol per posterior
draw and site (about 3 s each on that phantom with a shortened protocol, 20-37 s with the
clinical one, 80-170 updates' worth; minutes on a scan): :func:`inducibility` computes it when
asked, within a request's work bound (``service._cardiac_routes``), never with a version.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import numpy as np
from scipy.stats import norm

from ..errors import DataError, StoreError
from ..models.cardiology import (
    BORDER,
    HEALTHY,
    SCAR,
    ConductionPrior,
    MappingPoints,
    QRSDuration,
    pacing_source,
)
from ._cardiac_state import (
    FORMAT,
    LAT_SD,
    QRS_SD,
    CardiacLoopTwin,
    CardiacTissue,
    pack_cardiac,
    unpack_cardiac,
)
from ._config import TwinConfig
from ._kind import Packed, RecordsKind, register_kind
from ._mapping import to_model_time
from ._step import PendingEvent, PendingObservation, Step

__all__ = ["CARDIAC", "QRS_CODE", "CardiacKind", "given_tissue", "lat_code", "parameters_of"]

CARDIAC = "cardiac"  # the model name of a cardiac twin
QRS_CODE = "8633-2"  # LOINC: QRS duration
LAT_PREFIX = "lat@"
UNIT = "h"
_GIVEN: ContextVar[CardiacTissue | None] = ContextVar("medtwin_cardiac_tissue", default=None)


@contextmanager
def given_tissue(tissue: CardiacTissue) -> Iterator[None]:
    """Hand ``tissue`` to :meth:`CardiacKind.create` for the block (this thread or task
    only): ``with given_tissue(t): store.create_twin(pid, TwinConfig("cardiac", epoch))``."""
    if not isinstance(tissue, CardiacTissue):
        raise StoreError(f"given_tissue() takes a CardiacTissue. Got {type(tissue).__name__}.")
    token = _GIVEN.set(tissue)
    try:
        yield
    finally:
        _GIVEN.reset(token)


def lat_code(position: Sequence[float]) -> str:
    """The observation code of a mapping point at ``position`` (mm), to 0.01 mm."""
    return LAT_PREFIX + ",".join(f"{round(float(x), 2):g}" for x in position)


def _reading(tissue: CardiacTissue, code: str, value: float, censored: int) -> Any:
    """``("lat", position)`` or ``("qrs", None)`` for an observation the twin takes, None for
    a code it does not; a :class:`DataError` saying why if it could never take it."""
    if code == QRS_CODE:
        if censored or not value > 0:
            raise DataError(f"A QRS duration (LOINC {QRS_CODE}) must be a measured value > 0 ms. "
                            f"Got {'a censored ' if censored else ''}{value!r}.")  # fmt: skip
        return "qrs", None
    if not code.startswith(LAT_PREFIX):
        return None
    try:
        pos = [float(x) for x in code[len(LAT_PREFIX) :].split(",")]
    except ValueError:
        pos = []
    if censored or not pos:
        raise DataError(f"A mapping point {code!r} needs a position lat@X,Y[,Z] (mm) and a "
                        f"measured activation time (ms). Got {value!r}.")  # fmt: skip
    try:
        pacing_source(tissue.labels, tissue.spacing, np.asarray(pos))  # on conducting tissue
    except DataError as exc:
        raise DataError(f"The mapping point {code!r}: {exc}") from None
    return "lat", pos


def _prior_quantiles(prior: ConductionPrior, qs: tuple[float, ...]) -> dict[str, tuple]:
    """The prior's quantiles: ``cv`` log-normal truncated to its bounds, ``ratio`` and ``bz``
    uniform over their nodes (the smallest node whose cumulative probability reaches q)."""
    a, b = ((np.log(prior.bounds) - np.log(prior.median)) / prior.log_sd).tolist()
    z = norm.ppf(norm.cdf(a) + np.asarray(qs) * (norm.cdf(b) - norm.cdf(a)))
    out: dict[str, tuple] = {"cv": tuple(float(v) for v in prior.median * np.exp(prior.log_sd * z))}
    for name in ("ratio", "bz"):
        nodes = np.sort(np.asarray(getattr(prior, name), dtype=np.float64))
        cum = np.arange(1, len(nodes) + 1) / len(nodes)
        out[name] = tuple(float(nodes[min(int(np.searchsorted(cum, q - 1e-12)), len(nodes) - 1)])
                          for q in qs)  # fmt: skip
    return out


_LABELS = {"cv": ("conduction velocity (longitudinal)", "mm/ms"),
           "ratio": ("transverse / longitudinal velocity", "1"),
           "bz": ("border-zone / healthy velocity", "1")}  # fmt: skip


def parameters_of(t: CardiacLoopTwin) -> dict[str, dict[str, Any]]:
    """Median and 90 % interval of each learnt parameter (the prior's before any data)."""
    qs = (0.05, 0.5, 0.95)
    q = t.twin.quantiles(qs) if t.twin.posterior is not None else \
        _prior_quantiles(t.tissue.prior, qs)  # fmt: skip
    return {k: {"q05": v[0], "median": v[1], "q95": v[2], "label": _LABELS[k][0],
                "unit": _LABELS[k][1]} for k, v in q.items()}  # fmt: skip


def _counts(t: CardiacLoopTwin) -> dict[str, int]:
    tw = t.twin
    return {"mapping_points": 0 if tw.points is None else len(tw.points.times),
            "qrs_durations": 0 if tw.qrs is None else len(tw.qrs.durations)}  # fmt: skip


def tissue_json(tissue: CardiacTissue) -> dict[str, Any]:
    lab = tissue.labels
    return {"shape": list(lab.shape), "spacing_mm": tissue.spacing, "pace_mm": list(tissue.pace),
            "cells": {"healthy": int((lab == HEALTHY).sum()), "border_zone":
                      int((lab == BORDER).sum()), "scar": int((lab == SCAR).sum())},
            "lat_sd_ms": tissue.lat_sd, "qrs_sd_ms": tissue.qrs_sd}  # fmt: skip


class CardiacKind(RecordsKind):
    """Cardiac twins: model ``cardiac``, made from a patient's tissue (see the module)."""

    name = "cardiac"
    forecasts = False

    def offers(self, model: str) -> bool:
        return model == CARDIAC

    def identity(self, model: str) -> str:
        return "\n".join((FORMAT, repr(ConductionPrior()), f"lat_sd={LAT_SD} qrs_sd={QRS_SD}",
                          f"codes {LAT_PREFIX}X,Y[,Z] {QRS_CODE}",
                          "medtwin.models.cardiology.personalise_conduction"))  # fmt: skip

    def check(self, config: TwinConfig) -> None:
        if config.prior != "population" or config.free is not None or config.drift is not None:
            raise StoreError(
                "A cardiac twin learns its conduction parameters (cv, ratio, bz) from its "
                "tissue's prior by exact quadrature, not by a filter: leave 'prior' at its "
                f"default and 'free' and 'drift' unset. Got prior={config.prior!r}, "
                f"free={config.free!r}, drift={config.drift!r}."
            )
        if config.sensor is not None:
            raise StoreError(
                "A cardiac twin reads activation maps, not a sensor stream: leave 'sensor' "
                f"unset. Got sensor={config.sensor!r:.60}."
            )

    def time_unit(self, config: TwinConfig) -> str:
        return UNIT

    def create(self, config: TwinConfig) -> Step:
        tissue = _GIVEN.get()
        if tissue is None:
            raise StoreError(
                "A cardiac twin is made from the patient's tissue: upload the LGE scan, its "
                "segmentation and the map's pacing site (POST /patients/{pid}/twin/cardiac, "
                "or medtwin.loop.given_tissue in Python). Got a configuration alone."
            )
        twin = CardiacLoopTwin(tissue, tissue.twin(), 0, 0.0)
        report = {"created": True, "tissue": tissue_json(tissue), "prior": "conduction prior",
                  "parameters": parameters_of(twin), "alerts": []}  # fmt: skip
        return Step(twin, None, report, (), {}, {}, {"observations": [], "events": []})

    def _step(
        self,
        config: TwinConfig,
        twin: CardiacLoopTwin,
        observations: Sequence[PendingObservation],
        events: Sequence[PendingEvent],
    ) -> Step:
        tissue, t = twin.tissue, twin.time
        pos: list[list[float]] = []
        lat: list[float] = []
        qrs: list[float] = []
        marks: dict[int, str] = {}
        unobserved: Counter = Counter()
        for oid, code, t_obs, value, censored in observations:
            try:
                found = _reading(tissue, code, value, censored)
            except DataError:
                marks[oid] = "invalid"
                continue
            if found is None:
                marks[oid], unobserved[code] = "unobserved", unobserved[code] + 1
                continue
            if found[0] == "lat":
                pos.append(found[1])
                lat.append(float(value))
            else:
                qrs.append(float(value))
            marks[oid] = "applied"
            t = max(t, to_model_time(t_obs, config.epoch, UNIT))
        new = twin.twin
        if lat or qrs:
            points = MappingPoints(np.asarray(pos), np.asarray(lat), tissue.lat_sd) if lat \
                else None  # fmt: skip
            new = new.assimilate(points, qrs=QRSDuration(np.asarray(qrs), tissue.qrs_sd)
                                 if qrs else None)  # fmt: skip
        out = CardiacLoopTwin(tissue, new, twin.version + 1, t)
        counts = Counter(marks.values())
        report: dict[str, Any] = {
            "data": {"received": len(observations), "used": counts["applied"],
                     "dropped": counts["invalid"], "reordered": 0, "censored": 0},
            "late": 0, "applied": counts["applied"], "invalid": counts["invalid"],
            "unobserved_codes": dict(unobserved), "events": 0, "unused_events": len(events),
            "new": {"mapping_points": len(lat), "qrs_durations": len(qrs)}, **_counts(out),
            "parameters": parameters_of(out), "until": None, "alerts": [],
            "log_evidence": None if new.posterior is None else new.posterior.log_evidence,
        }  # fmt: skip
        applied = {"observations": [o[0] for o in observations],
                   "events": [e[0] for e in events]}  # fmt: skip
        return Step(out, None, report, (), marks, {e[0]: "unused" for e in events}, applied)

    def restore(
        self,
        config: TwinConfig,
        version: int,
        state: bytes,
        history: Sequence[tuple[str, datetime, float]],
    ) -> CardiacLoopTwin:
        return unpack_cardiac(state, version)

    def packed(self, step: Step) -> Packed:
        twin: CardiacLoopTwin = step.twin
        return Packed(
            version=twin.version, model=CARDIAC, model_time=twin.time, state=pack_cardiac(twin),
            report=step.report, applied=step.applied, obs_marks=step.obs_marks,
            ev_marks=step.ev_marks, forecast=None,
        )  # fmt: skip

    def admit(
        self,
        config: TwinConfig,
        head: Callable[[], Any],
        observations: Sequence[tuple[str, datetime, float, int]],
    ) -> None:
        mine = [o for o in observations if o[0] == QRS_CODE or o[0].startswith(LAT_PREFIX)]
        if not mine:
            return
        tissue = head().tissue
        for code, when, value, censored in mine:
            try:
                _reading(tissue, code, value, censored)
            except DataError as exc:
                raise DataError(
                    f"The observation {code} at {when.isoformat()}: {exc} Nothing was stored."
                ) from None

    def summary(self, twin: Any) -> dict[str, Any]:
        t: CardiacLoopTwin = twin
        post = t.twin.posterior
        return {"kind": self.name, "tissue": tissue_json(t.tissue), **_counts(t),
                "calibrated": post is not None, "parameters": parameters_of(t),
                "log_evidence": None if post is None else post.log_evidence}  # fmt: skip

    def warm_up(self, config: TwinConfig) -> float:
        start = time.perf_counter()  # the eikonal solver compiles per grid shape: a token run
        lab = np.full((8, 8), HEALTHY)
        tissue = CardiacTissue(lab, 1.0, (0.5, 0.5))
        tissue.twin().assimilate(qrs=QRSDuration(np.array([15.0]), QRS_SD))
        return time.perf_counter() - start


register_kind(CardiacKind())
