"""What the glioma twin's posterior says beyond the radii: the invisible margin, days gained
by radiotherapy, and radiotherapy schedules.

All of it runs the twin's own model through :func:`medtwin.simulate.simulate` on particles
resampled from the twin's posterior (the same draws :func:`medtwin.forecast.forecast` makes);
schedules are compared with :func:`medtwin.forecast.what_if`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ..assimilate._assimilate import _merge  # the twin's own rule for known events
from ..assimilate._filters import systematic_resample
from ..errors import DataError, SimulationError
from ..models.oncology import Glioma
from ..simulate import Dose, Regimen, simulate
from ..twin import Twin

__all__ = [
    "MarginMap",
    "days_gained",
    "invisible_margin",
    "posterior_draws",
    "radiotherapy",
]


def radiotherapy(start: float, fractions: int, dose: float, *, weekends: bool = False) -> Regimen:
    """``fractions`` daily fractions of ``dose`` Gy from day ``start``, Monday to Friday (day
    ``start`` is a Monday) unless ``weekends``. 30 x 2 Gy is the standard glioblastoma course;
    15 x 2.67 Gy the hypofractionated one for elderly patients."""
    if not (isinstance(fractions, int) and fractions >= 1 and dose > 0):
        raise DataError(
            f"radiotherapy() needs fractions >= 1 and dose > 0 Gy. Got {fractions!r} x {dose!r}."
        )
    days: list[float] = []
    day = 0
    while len(days) < fractions:
        if weekends or day % 7 < 5:
            days.append(start + day)
        day += 1
    return Regimen(tuple(Dose(d, "radiation", dose, label="RT fraction") for d in days))


def posterior_draws(twin: Twin, n: int, key: PRNGKeyArray) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (params, states) resampled by weight from the twin's posterior ensemble."""
    if not (isinstance(n, int) and n >= 1):
        raise SimulationError(f"posterior_draws needs n >= 1. Got {n!r}.")
    anc = np.asarray(systematic_resample(key, twin.ensemble.log_weights, n))
    return np.asarray(twin.ensemble.params)[anc], np.asarray(twin.ensemble.states)[anc]


@dataclass(frozen=True)
class MarginMap:
    """Per grid cell at ``time``: the probability that the tumour is visible on T2/FLAIR
    (c >= thr_t2) and that it is present but invisible (``low`` <= c < thr_t2)."""

    time: float
    visible: np.ndarray
    invisible: np.ndarray
    low: float


def invisible_margin(
    twin: Twin,
    horizon: float = 0.0,
    regimen: Regimen | None = None,
    *,
    low: float = 0.02,
    draws: int = 200,
    key: PRNGKeyArray | None = None,
) -> MarginMap:
    """Probability maps of the visible tumour and of the invisible margin -- cells above ``low``
    (default 2 % of K, a medtwin choice) but below the T2/FLAIR threshold -- ``horizon`` days
    after the twin's time, over ``draws`` posterior draws (shape: the model's grid)."""
    model = twin.model
    if not isinstance(model, Glioma):
        raise SimulationError(
            f"invisible_margin needs a twin of the Glioma model (a grid of cells). Got a twin "
            f"of {model.name!r}."
        )
    if not (0 < low < 1):
        raise SimulationError(f"invisible_margin needs 0 < low < 1 (fraction of K). Got {low!r}.")
    key = jax.random.fold_in(twin.key, 2**21 + twin.version) if key is None else key
    params, states = posterior_draws(twin, draws, key)
    t0 = twin.time
    if horizon > 0:
        events = _merge(twin.regimen, regimen)
        events = Regimen(tuple(e for e in events.events if e.time < t0 + horizon))
        traj = simulate(model, params, events, t0=t0, t1=t0 + horizon, y0=states,
                        saveat=np.array([t0 + horizon]))  # fmt: skip
        states = np.asarray(traj.states)[:, -1]
    c = states
    thr = params[:, model.param_index("thr_t2")][:, None]
    vis = np.mean(c >= thr, axis=0).reshape(model.shape)
    inv = np.mean((c >= low) & (c < thr), axis=0).reshape(model.shape)
    return MarginMap(t0 + horizon, vis, inv, low)


def days_gained(
    model,
    params: np.ndarray,
    regimen: Regimen,
    *,
    t0: float,
    t_end: float,
    y0: np.ndarray | None = None,
    observable: str = "radius_t2",
) -> np.ndarray:
    """Days gained by ``regimen`` at ``t_end`` for each parameter set (Neal et al. 2013): how
    much earlier the untreated tumour had the radius the treated one has at ``t_end``,
    ``t_end - t_u`` with ``r_untreated(t_u) = r_treated(t_end)``. Treated and untreated run as
    one batch. A treated tumour smaller than at ``t0`` is extrapolated back at the untreated
    tumour's speed over the first 10 days.

    Reference: Neal ML, Trister AD, Ahn S, et al. Response classification based on a minimal
    model of glioblastoma growth is prognostic for clinical outcomes and distinguishes
    progression from pseudoprogression. Cancer Res 73(10):2976-2986, 2013."""
    p = np.atleast_2d(np.asarray(params, dtype=np.float64))
    b = len(p)
    if not t_end > t0:
        raise SimulationError(f"days_gained needs t_end > t0. Got t0={t0}, t_end={t_end}.")
    y = None if y0 is None else np.concatenate([np.atleast_2d(y0)] * 2)
    regs = [regimen] * b + [Regimen()] * b
    traj = simulate(model, np.concatenate([p, p]), regs, t0=t0, t1=t_end, y0=y)
    r = np.asarray(traj.observable(observable))
    ts = np.asarray(traj.ts)
    treated, untreated = r[:b, -1], r[b:]
    out = np.empty(b)
    k = min(10, len(ts) - 1)
    for i in range(b):
        ru = np.maximum.accumulate(untreated[i])
        if treated[i] >= ru[0]:
            t_u = float(np.interp(treated[i], ru, ts))
        else:
            speed = max((ru[k] - ru[0]) / (ts[k] - ts[0]), 1e-9)
            t_u = ts[0] - (ru[0] - treated[i]) / speed
        out[i] = t_end - t_u
    return out
