"""What the personalised conduction posterior forecasts: the probability that programmed
stimulation induces VT, across the posterior, and lesion plans ranked by it.

**From eikonal velocities to the tissue's parameters.** The posterior of
:mod:`.personalise` is over conduction velocities (``cv`` along the fibres, the ratio across,
the border-zone factor); the monodomain tissue of :mod:`._tissue` takes diffusivities. In the
monodomain equation scaling space by ``sqrt(s)`` maps a solution at diffusivity ``D`` to one at
``s D``, so a front's speed grows as ``sqrt(D)``: a draw ``(cv, ratio, bz)`` becomes ``D =
D_ref (cv / cv_ref)^2``, ``D_ratio = ratio^2`` and ``bz_D = bz^2``, where ``cv_ref`` is the
tissue's plane-wave speed at ``D_ref`` (the ``D`` of ``params``) measured on its own grid
(:func:`~medtwin.models.cardiology.plane_wave_speed`), which also absorbs the grid's
discretisation error at that ``D``. The other parameters (ionic, ``bz_apd``) stay as in
``params``.

**P(inducible).** Each draw runs the whole protocol of :mod:`.stimulation` from every site; a
draw is inducible when any site induces VT. The forecast is the fraction of inducible draws,
with a Clopper-Pearson interval for the finite number of draws (the posterior's own
uncertainty is what the draws carry; the interval bounds the Monte Carlo error of estimating
its probability with few draws, each a full protocol).

**Plans.** :func:`rank_plans` runs :func:`~medtwin.models.cardiology.what_if` on every draw
and orders the plans by P(inducible), then by lesion area (the smaller lesion first when two
plans are equally effective).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from jaxtyping import ArrayLike

from ...errors import ModelError
from ._tissue import MonodomainTissue
from .ablation import what_if
from .stimulation import (
    Inducibility,
    PESProtocol,
    VTDefinition,
    clopper_pearson,
    programmed_stimulation,
)

__all__ = [
    "InducibilityForecast",
    "PlanRisk",
    "forecast_inducibility",
    "rank_plans",
    "tissue_params",
]


@dataclass(frozen=True)
class InducibilityForecast:
    """P(inducible) across posterior draws: ``probability`` with its Clopper-Pearson
    ``interval`` at ``confidence``; ``induced[k]`` whether draw ``k`` induced VT from any
    site; ``params`` the tissue parameter vectors run; ``runs`` the per-draw results."""

    probability: float
    interval: tuple[float, float]
    confidence: float
    induced: np.ndarray
    params: np.ndarray
    runs: tuple[Inducibility, ...]


@dataclass(frozen=True)
class PlanRisk:
    """One lesion plan over the posterior: its name, lesion size (cells, mm^2 or mm^3) and
    :class:`InducibilityForecast`."""

    name: str
    cells: int
    area: float
    forecast: InducibilityForecast


def tissue_params(
    model: MonodomainTissue, params: ArrayLike, draws: ArrayLike, cv_ref: float
) -> np.ndarray:
    """The tissue's parameter vectors ``[n, P]`` for posterior ``draws`` ``[n, 3]`` of
    ``(cv, ratio, bz)`` (see the module docstring); ``params`` supplies ``D_ref`` and the rest."""
    d = np.atleast_2d(np.asarray(draws, dtype=np.float64))
    if d.ndim != 2 or d.shape[1] != 3 or len(d) == 0 or not np.all(np.isfinite(d) & (d > 0)):
        raise ModelError(
            "The posterior draws must be an [n, 3] array of positive (cv, ratio, bz), as "
            f"ConductionPosterior.sample() returns. Got shape {d.shape}."
        )
    if not (np.isfinite(cv_ref) and cv_ref > 0):
        raise ModelError(f"cv_ref must be the tissue's speed (mm/ms) at params' D. Got {cv_ref!r}.")
    base = np.asarray(params, dtype=np.float64)
    iD, iR, iB = (model.param_index(n) for n in ("D", "D_ratio", "bz_D"))
    out = np.tile(base, (len(d), 1))
    out[:, iD] = base[iD] * (d[:, 0] / cv_ref) ** 2
    out[:, iR] = d[:, 1] ** 2
    out[:, iB] = d[:, 2] ** 2
    d_top = float(out[:, iD].max())
    if model.stability_dt(d_top) < model.dt:
        raise ModelError(
            f"A posterior draw needs D = {d_top:.4g} mm^2/ms, above what this tissue's substep "
            f"dt = {model.dt:.4g} ms is stable for. Build the tissue with D_max={d_top:.4g} "
            "(or larger)."
        )
    lo, hi = model.parameters[iD].bounds
    if not np.all((out[:, iD] >= lo) & (out[:, iD] <= hi)):
        raise ModelError(
            f"A posterior draw maps to D outside its bounds ({lo:g}, {hi:g}) mm^2/ms: got "
            f"{out[:, iD].min():.4g}-{d_top:.4g}. Check cv_ref (mm/ms, at params' D)."
        )
    return out


def forecast_inducibility(
    model: MonodomainTissue,
    params: ArrayLike,
    draws: ArrayLike,
    sites: ArrayLike,
    *,
    cv_ref: float,
    protocol: PESProtocol | None = None,
    definition: VTDefinition | None = None,
    recording_sites: ArrayLike | None = None,
    confidence: float = 0.95,
) -> InducibilityForecast:
    """P(inducible) over posterior ``draws`` of ``(cv, ratio, bz)`` on ``model`` (see the
    module docstring): the protocol from every site of ``sites`` on each draw."""
    P = tissue_params(model, params, draws, cv_ref)
    runs = tuple(
        programmed_stimulation(
            model,
            p,
            sites,
            protocol=protocol,
            definition=definition,
            recording_sites=recording_sites,
            confidence=confidence,
        )
        for p in P
    )
    return _summary(P, runs, confidence)


def _summary(
    P: np.ndarray, runs: tuple[Inducibility, ...], confidence: float
) -> InducibilityForecast:
    induced = np.array([bool(r.induced.any()) for r in runs])
    k, n = int(induced.sum()), len(induced)
    return InducibilityForecast(
        k / n, clopper_pearson(k, n, confidence), confidence, induced, P, runs
    )


def rank_plans(
    model: MonodomainTissue,
    params: ArrayLike,
    draws: ArrayLike,
    sites: ArrayLike,
    plans: Mapping[str, ArrayLike],
    *,
    cv_ref: float,
    protocol: PESProtocol | None = None,
    definition: VTDefinition | None = None,
    recording_sites: ArrayLike | None = None,
    confidence: float = 0.95,
) -> tuple[PlanRisk, ...]:
    """Lesion ``plans`` (name -> boolean grid; all False: no ablation) ordered by P(inducible)
    across the posterior ``draws``, then by lesion area."""
    P = tissue_params(model, params, draws, cv_ref)
    per_draw = [
        what_if(
            model,
            p,
            sites,
            plans,
            protocol=protocol,
            definition=definition,
            recording_sites=recording_sites,
        )
        for p in P
    ]
    out = []
    for j, name in enumerate(plans):
        runs = tuple(outcomes[j].inducibility for outcomes in per_draw)
        first = per_draw[0][j]
        out.append(PlanRisk(str(name), first.cells, first.area, _summary(P, runs, confidence)))
    return tuple(sorted(out, key=lambda r: (r.forecast.probability, r.area)))
