"""The cardiac twin: a patient's tissue, its conduction learnt from mapping data with
uncertainty, the probability that programmed stimulation induces VT across that uncertainty,
and lesion plans ranked by it.

:class:`CardiacTwin` holds the tissue (labels, voxel spacing, fibre angles, the pacing site of
the map, the ionic model and its parameters) and the posterior of the conduction parameters
``(cv, ratio, bz)``. It is immutable: :meth:`CardiacTwin.assimilate` returns a new twin. It
writes no second posterior and no second forecast -- it composes the modules that compute
them:

* **assimilate**: :func:`~.personalise.personalise_conduction` on every observation so far --
  activation times at mapping points (:class:`~.personalise.MappingPoints`) and QRS durations
  of paced beats (:class:`~.personalise.QRSDuration`, whose forward map is the tissue's total
  activation time; see :mod:`.personalise`). The posterior is the exact quadrature of all of
  them, so assimilating in two batches gives the posterior of one batch of both (to
  round-off: the sums run in another order when the batches come in another order).
* **forecast**: posterior draws (:meth:`~.personalise.ConductionPosterior.sample`) through
  :func:`~.risk.forecast_inducibility` -- P(inducible) and its Clopper-Pearson interval.
* **recommend**: the proposed lesion of :func:`~.ablation.ablate` from an induced VT (the
  inducible draw whose ``cv`` is nearest the posterior median), the caller's plans and "no
  ablation", ranked by P(inducible) over the same draws with :func:`~.risk.rank_plans`.

**The tissue model of the forecast.** ``tissue`` (default :class:`~.MitchellSchaeffer`) with
``tissue_params`` (default :data:`~.phantoms.PHANTOM_PARAMETERS`, the Mitchell-Schaeffer
setting under which a border-zone channel of a few centimetres sustains reentry). A draw's
``cv`` becomes a diffusivity through ``cv_ref``, the plane-wave speed of that model at
``tissue_params``' ``D`` on the twin's grid (:mod:`.risk`): unless given, :func:`cable_speed`
measures it on a 1D cable of the same spacing and substep. The substep is half the stability
bound at the largest ``D`` a draw needs.

**Why VT cycle length is not assimilated.** An induced VT's cycle length needs the ionic
tissue model as its forward map: one whole programmed-stimulation protocol per parameter value
(on the 50 x 30 mm phantom with a shortened protocol about 25 s from two sites on 2 cores;
with the clinical protocol minutes). A grid over ``cv`` per ``(ratio, bz)`` node (4 x 6 points)
is 24 protocols per twin, and the map is not one that interpolation between a few ``cv``
values can be trusted for: whether VT is induced at all is a threshold in ``(cv, bz)`` (the
likelihood jumps to zero somewhere between two samples), several circuits with different
cycle lengths can be induced from different sites, and the clinical VT must first be matched
to one of them. Weighting the forecast's own draws by the cycle length instead costs nothing
extra but conditions on an induced VT, which makes P(inducible) one by construction, and its
weights degenerate when the cycle length is informative. Neither is sound and affordable here;
QRS duration is the summary observable the twin assimilates.

References: the modules composed (:mod:`.personalise`, :mod:`.risk`, :mod:`.ablation`,
:mod:`.stimulation`) carry them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike
from scipy import ndimage

from ...errors import DataError, ModelError
from ._tissue import BORDER, HEALTHY, MonodomainTissue
from .ablation import Ablation, ablate
from .measure import plane_wave_speed
from .mitchell_schaeffer import MitchellSchaeffer
from .personalise import (
    ConductionPosterior,
    ConductionPrior,
    MappingPoints,
    QRSDuration,
    personalise_conduction,
)
from .phantoms import PHANTOM_PARAMETERS
from .risk import InducibilityForecast, PlanRisk, forecast_inducibility, rank_plans, tissue_params
from .stimulation import PESProtocol, VTDefinition, _record, _stim

__all__ = [
    "CardiacTwin",
    "Recommendation",
    "cable_speed",
    "pacing_source",
    "spread_sites",
]

NO_ABLATION = "no ablation"
PROPOSED = "proposed lesion"
_D_MARGIN = 1.05  # D_max above the largest draw's D: cv_ref at the final substep moves a little


@dataclass(frozen=True, eq=False)
class Recommendation:
    """The result of :meth:`CardiacTwin.recommend`: ``plans`` ranked by P(inducible) across the
    posterior draws (then by lesion area), the ``lesions`` they name (boolean grids), the
    ``forecast`` without ablation, the :class:`~.ablation.Ablation` that proposed a lesion
    (None when no draw was inducible) and the draw it targeted (``targeted``)."""

    plans: tuple[PlanRisk, ...]
    lesions: Mapping[str, np.ndarray]
    forecast: InducibilityForecast
    ablation: Ablation | None
    targeted: int | None

    @property
    def best(self) -> PlanRisk:
        """The first-ranked plan."""
        return self.plans[0]


def _conducting(labels: np.ndarray) -> np.ndarray:
    return (labels == HEALTHY) | (labels == BORDER)


def pacing_source(labels: ArrayLike, spacing: float, site: ArrayLike) -> np.ndarray:
    """The boolean grid marking the cell that holds ``site`` (mm, in the tissue's frame: cell
    ``i`` spans ``[i h, (i + 1) h)``); refuses a site off the grid or off conducting tissue."""
    lab = np.asarray(labels)
    s = np.asarray(site, dtype=np.float64).reshape(-1)
    if s.shape != (lab.ndim,) or not np.isfinite(s).all():
        raise DataError(
            f"A site needs {lab.ndim} finite coordinates (mm) for this {lab.ndim}D "
            f"tissue. Got {np.asarray(site).tolist()!r}."
        )
    idx = np.floor(s / spacing).astype(int)
    extent = [round(n * spacing, 6) for n in lab.shape]
    if (idx < 0).any() or (idx >= np.asarray(lab.shape)).any():
        raise DataError(
            f"The site {s.tolist()} mm lies outside the tissue's grid (0 to {extent} "
            "mm). Give it in mm from the first voxel's corner."
        )
    if not _conducting(lab)[tuple(idx)]:
        here = int(lab[tuple(idx)])
        where = {0: "outside the myocardium", 3: "scar", 4: "a lesion"}.get(here, "no tissue")
        raise DataError(
            f"The site {s.tolist()} mm lies {where} (label {here}). Expected a site "
            "on healthy (1) or border-zone (2) tissue."
        )
    out = np.zeros(lab.shape, bool)
    out[tuple(idx)] = True
    return out


def spread_sites(labels: ArrayLike, spacing: float, n: int, *, margin: float = 2.0) -> np.ndarray:
    """``n`` pacing sites (``[n, dim]`` mm, cell centres) spread over the healthy tissue: among
    the healthy cells at least ``margin`` mm from any cell that does not conduct and from the
    grid's edge (the deepest healthy cells if none is that far), by farthest-point sampling
    from the one farthest from the tissue's centroid (deterministic; fewer than ``n`` if there
    are fewer candidates)."""
    lab = np.asarray(labels)
    if not (isinstance(n, int) and n >= 1):
        raise ModelError(f"spread_sites() needs n >= 1 sites. Got {n!r}.")
    healthy = lab == HEALTHY
    if not healthy.any():
        raise ModelError(
            "spread_sites() found no healthy tissue to pace. Give the sites explicitly."
        )
    depth = ndimage.distance_transform_edt(np.pad(_conducting(lab), 1)) * spacing
    depth = depth[tuple(slice(1, -1) for _ in lab.shape)]
    cand = np.argwhere(healthy & (depth >= min(margin + 0.5 * spacing, depth[healthy].max())))
    pts = (cand + 0.5) * spacing
    centroid = ((np.argwhere(_conducting(lab)) + 0.5) * spacing).mean(0)
    chosen = [int(np.argmax(np.linalg.norm(pts - centroid, axis=1)))]
    near = np.linalg.norm(pts - pts[chosen[0]], axis=1)
    while len(chosen) < min(n, len(pts)):
        k = int(np.argmax(near))
        chosen.append(k)
        near = np.minimum(near, np.linalg.norm(pts - pts[k], axis=1))
    return pts[chosen]


def cable_speed(
    tissue: type[MonodomainTissue],
    spacing: float,
    params: Mapping[str, float],
    dt: float | None = None,
    *,
    length: float = 30.0,
) -> float:
    """The plane-wave speed (mm/ms) of ``tissue`` with ``params`` (names -> values) on a 1D
    cable of ``length`` mm at ``spacing`` and substep ``dt`` (default half the stability
    bound): one 2 ms pulse at the cable's end, activation times by the tissue's own step (as
    programmed stimulation records them), the speed the inverse slope over the middle 40 % of
    the cable (away from the stimulus and the far end's no-flux boundary)."""
    n = max(8, round(length / spacing))
    D = float(params.get("D", 0.0)) or None
    model = tissue((n,), spacing, D_max=D, dt=dt)
    p = np.asarray(model.pacing_params(np.zeros((1, 1)), model.make_params(None, **params)))
    t_end = 10.0 + length / 0.05  # slower than 0.05 mm/ms is no conduction
    steps = math.ceil(t_end / model.input_dt)
    stim = _stim([[0.0]], 0.0, steps, model.input_dt, PESProtocol(n_s1=1))
    y0 = jnp.asarray(model.initial_state(jnp.asarray(p[0])))[None]
    probe = jnp.zeros((1, 1), int)  # _record keeps recent activations at probes: none needed
    thr = float(model.activation_threshold)
    _, last, _, _ = _record(model, jnp.asarray(p), y0, jnp.float64(0.0), jnp.asarray(stim), probe,
                            thr, 1)  # fmt: skip
    lat = np.asarray(last)[0]
    x = (np.arange(n) + 0.5) * spacing
    sel = (x > 0.3 * n * spacing) & (x < 0.7 * n * spacing)
    if sel.sum() < 3 or not np.isfinite(lat[sel]).all():
        raise ModelError(
            f"cable_speed(): the wave did not cross the {length:g} mm cable within "
            f"{t_end:g} ms with {dict(params)}. Expected conducting tissue parameters."
        )
    return float(plane_wave_speed(x[sel], lat[sel]))


def _frozen(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in values.items()})


@dataclass(frozen=True, eq=False)
class CardiacTwin:
    """A cardiac twin (see the module docstring). ``labels``: the tissue labels (2D or 3D
    integer grid, :mod:`._tissue`); ``spacing``: voxel size (mm); ``sources``: True at the
    map's pacing site (:func:`pacing_source`); ``fibres``: fibre angles (radians, a number or
    a grid); ``prior``: :class:`~.personalise.ConductionPrior`; ``tissue`` and
    ``tissue_params``: the ionic tissue model of the forecast and its parameters; ``cv_ref``:
    its plane-wave speed (mm/ms) at those parameters on this grid (None: measured,
    :func:`cable_speed`); ``iterations``: eikonal sweeps (None: the solver's default).
    ``points``, ``qrs`` and ``posterior`` are what :meth:`assimilate` fills in."""

    labels: np.ndarray
    spacing: float
    sources: np.ndarray
    fibres: np.ndarray | float = 0.0
    prior: ConductionPrior = field(default_factory=ConductionPrior)
    tissue: type[MonodomainTissue] = MitchellSchaeffer
    tissue_params: Mapping[str, float] = field(default_factory=lambda: dict(PHANTOM_PARAMETERS))
    cv_ref: float | None = None
    iterations: int | None = None
    points: MappingPoints | None = None
    qrs: QRSDuration | None = None
    posterior: ConductionPosterior | None = None

    def __post_init__(self) -> None:
        lab = np.asarray(self.labels)
        if lab.ndim not in (2, 3) or not np.isin(lab, (0, 1, 2, 3, 4)).all():
            raise ModelError(
                "CardiacTwin needs 2D or 3D tissue labels with values 0-4 (outside, healthy, "
                f"border zone, scar, lesion). Got shape {lab.shape}, values "
                f"{np.unique(lab)[:8].tolist()}."
            )
        if not _conducting(lab).any():
            raise ModelError(
                "CardiacTwin labels mark no conducting tissue (healthy 1 or border zone 2)."
            )
        if not (math.isfinite(self.spacing) and self.spacing > 0):
            raise ModelError(f"CardiacTwin needs a spacing > 0 (mm). Got {self.spacing!r}.")
        src = np.asarray(self.sources)
        if src.shape != lab.shape or src.dtype != bool or not (src & _conducting(lab)).any():
            raise ModelError(
                "CardiacTwin sources must be a boolean grid of the labels' shape "
                f"{lab.shape} marking the map's pacing site on conducting tissue "
                "(pacing_source() makes one from a position). Got "
                f"{src.dtype} of shape {src.shape}."
            )
        if not (isinstance(self.tissue, type) and issubclass(self.tissue, MonodomainTissue)):
            raise ModelError(
                f"CardiacTwin tissue must be a MonodomainTissue class (e.g. MitchellSchaeffer). "
                f"Got {self.tissue!r}."
            )
        if self.cv_ref is not None and not (math.isfinite(self.cv_ref) and self.cv_ref > 0):
            raise ModelError(f"CardiacTwin cv_ref must be > 0 (mm/ms). Got {self.cv_ref!r}.")
        lab, src = lab.astype(np.int32), src.copy()
        lab.flags.writeable = src.flags.writeable = False  # the twin's tissue does not change
        object.__setattr__(self, "labels", lab)
        object.__setattr__(self, "sources", src)
        object.__setattr__(self, "tissue_params", _frozen(self.tissue_params))

    # ---- assimilate ----------------------------------------------------------------------
    def assimilate(
        self, points: MappingPoints | None = None, *, qrs: QRSDuration | None = None
    ) -> CardiacTwin:
        """A new twin whose posterior holds every observation so far and ``points`` (mapping
        points) and/or ``qrs`` (QRS durations of beats paced at the map's site)."""
        if points is None and qrs is None:
            raise DataError(
                "CardiacTwin.assimilate() needs mapping points, QRS durations or both. Got neither."
            )
        pts = points if self.points is None or points is None else self.points.join(points)
        pts = self.points if pts is None else pts
        q = qrs if self.qrs is None or qrs is None else self.qrs.join(qrs)
        q = self.qrs if q is None else q
        post = personalise_conduction(
            pts, self.labels, self.spacing, self.sources, prior=self.prior, fibres=self.fibres,
            iterations=self.iterations, qrs=q,
        )  # fmt: skip
        return dataclasses.replace(self, points=pts, qrs=q, posterior=post)

    def quantiles(self, qs: tuple[float, ...] = (0.05, 0.5, 0.95)) -> dict[str, tuple]:
        """The posterior's quantiles of ``cv`` (mm/ms), ``ratio`` and ``bz``."""
        return self._posterior().quantiles(qs)

    def draws(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` posterior draws ``[n, 3]`` of ``(cv, ratio, bz)`` (the forecast's)."""
        if not (isinstance(n, int) and n >= 1):
            raise ModelError(f"CardiacTwin needs n >= 1 posterior draws. Got {n!r}.")
        return self._posterior().sample(seed, n)

    def _posterior(self) -> ConductionPosterior:
        if self.posterior is None:
            raise ModelError(
                "This CardiacTwin has no posterior yet: call assimilate() with mapping points "
                "or QRS durations first."
            )
        return self.posterior

    # ---- the tissue model of the forecast ------------------------------------------------
    def tissue_model(self, draws: ArrayLike) -> tuple[MonodomainTissue, np.ndarray, float]:
        """(model, parameter vector, cv_ref) the forecast runs ``draws`` on: the ionic tissue
        on the twin's grid, stable for the largest ``D`` a draw needs (see the module
        docstring)."""
        d = np.atleast_2d(np.asarray(draws, dtype=np.float64))
        shape, h = self.labels.shape, self.spacing

        def build(D_max: float | None) -> MonodomainTissue:
            return self.tissue(shape, h, labels=self.labels, fibres=self.fibres, D_max=D_max)

        model = build(self.tissue_params.get("D"))
        p = np.asarray(model.make_params(None, **self.tissue_params))
        D_ref = float(p[model.param_index("D")])
        cv_ref = self.cv_ref or cable_speed(self.tissue, h, self.tissue_params, model.dt)
        d_top = D_ref * (float(np.max(d[:, 0])) / cv_ref) ** 2
        if d_top > D_ref:
            model = build(_D_MARGIN * d_top)
            if self.cv_ref is None:
                cv_ref = cable_speed(self.tissue, h, self.tissue_params, model.dt)
        return model, p, cv_ref

    # ---- forecast and recommend ----------------------------------------------------------
    def forecast(
        self,
        sites: ArrayLike,
        *,
        draws: int = 20,
        seed: int = 0,
        protocol: PESProtocol | None = None,
        definition: VTDefinition | None = None,
        recording_sites: ArrayLike | None = None,
        confidence: float = 0.95,
    ) -> InducibilityForecast:
        """P(inducible) with its interval across ``draws`` posterior draws (``seed``): the
        programmed-stimulation ``protocol`` from every site of ``sites`` (``[n, dim]`` mm) on
        each draw (:func:`~.risk.forecast_inducibility`)."""
        d = self.draws(draws, seed)
        model, p, cv_ref = self.tissue_model(d)
        return forecast_inducibility(
            model, p, d, sites, cv_ref=cv_ref, protocol=protocol, definition=definition,
            recording_sites=recording_sites, confidence=confidence,
        )  # fmt: skip

    def recommend(
        self,
        sites: ArrayLike,
        *,
        plans: Mapping[str, ArrayLike] | None = None,
        draws: int = 20,
        seed: int = 0,
        forecast: InducibilityForecast | None = None,
        protocol: PESProtocol | None = None,
        definition: VTDefinition | None = None,
        recording_sites: ArrayLike | None = None,
        confidence: float = 0.95,
        max_rounds: int = 3,
    ) -> Recommendation:
        """Lesion plans ranked by P(inducible) across the same posterior draws as
        :meth:`forecast` with ``draws`` and ``seed`` (pass that ``forecast`` to reuse its
        runs): "no ablation", the lesion :func:`~.ablation.ablate` proposes from the VT of
        the inducible draw whose ``cv`` is nearest the posterior median (none if no draw is
        inducible) and the caller's ``plans`` (name -> boolean grid)."""
        d = self.draws(draws, seed)
        model, p, cv_ref = self.tissue_model(d)
        P = tissue_params(model, p, d, cv_ref)
        kw: dict[str, Any] = dict(
            protocol=protocol, definition=definition, recording_sites=recording_sites
        )
        if forecast is None:
            forecast = forecast_inducibility(model, p, d, sites, cv_ref=cv_ref,
                                             confidence=confidence, **kw)  # fmt: skip
        elif forecast.params.shape != P.shape or not np.allclose(forecast.params, P, rtol=1e-12):
            raise ModelError(
                "The forecast passed to recommend() ran other posterior draws: call "
                "recommend() with the draws and seed of forecast()."
            )
        lesions: dict[str, np.ndarray] = {NO_ABLATION: np.zeros(self.labels.shape, bool)}
        result, target = None, None
        if forecast.induced.any():
            idx = np.flatnonzero(forecast.induced)
            median = self.quantiles((0.5,))["cv"][0]
            target = int(idx[np.argmin(np.abs(np.log(d[idx, 0] / median)))])
            result = ablate(model, P[target], sites, max_rounds=max_rounds,
                            baseline=forecast.runs[target], **kw)  # fmt: skip
            if result.lesion.any():
                lesions[PROPOSED] = result.lesion
        for name, plan in (plans or {}).items():
            if name in lesions:
                raise ModelError(
                    f"A lesion plan may not be named {name!r}: the twin's own plans are "
                    f"{NO_ABLATION!r} and {PROPOSED!r}. Rename it."
                )
            lesions[str(name)] = np.asarray(plan)
        ranked = rank_plans(model, p, d, sites, lesions, cv_ref=cv_ref, confidence=confidence,
                            **kw)  # fmt: skip
        return Recommendation(ranked, MappingProxyType(lesions), forecast, result, target)
