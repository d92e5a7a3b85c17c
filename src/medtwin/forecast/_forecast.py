"""forecast() and what_if(): predictive distributions from a twin's posterior ensemble."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from ..assimilate._assimilate import _merge  # the twin's own rule for known events
from ..assimilate._filters import systematic_resample
from ..errors import SimulationError
from ..models._noise import noise_theta
from ..simulate import Regimen, simulate

__all__ = [
    "LEVELS",
    "Forecast",
    "WhatIf",
    "draw_quantiles",
    "forecast",
    "outcome_metrics",
    "what_if",
]

LEVELS = (0.5, 0.8, 0.95)


@dataclass(frozen=True)
class Forecast:
    """Per observable: the median and nested central bands at ``times``, and the draws they
    come from (the predictive distribution: posterior particles plus measurement noise).

    Shapes: ``median`` (observables, times); ``lower``/``upper`` (levels, observables, times);
    ``draws`` (draws, observables, times). ``quantile_levels``: None when ``draws`` are draws;
    else ``draws`` holds the predictive quantiles at these levels (a stored forecast keeps the
    1..99 % quantiles, not its draws)."""

    issued_at: float
    twin_version: int
    times: np.ndarray
    observable_names: tuple[str, ...]
    levels: tuple[float, ...]
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    draws: np.ndarray
    quantile_levels: tuple[float, ...] | None = None

    def _j(self, name: str) -> int:
        if name not in self.observable_names:
            raise SimulationError(
                f"This forecast has no observable {name!r}. Expected one of: "
                f"{', '.join(self.observable_names)}."
            )
        return self.observable_names.index(name)

    def band(self, name: str, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the central ``level`` band of observable ``name``."""
        if level not in self.levels:
            raise SimulationError(f"No {level} band; this forecast has levels {self.levels}.")
        i = self.levels.index(level)
        return self.lower[i, self._j(name)], self.upper[i, self._j(name)]

    def observable(self, name: str) -> np.ndarray:
        """The median of observable ``name`` at ``times``."""
        return self.median[self._j(name)]


def _future(regimen: Regimen, t1: float) -> Regimen:
    return Regimen(tuple(e for e in regimen.events if e.time < t1))


def draw_quantiles(draws: Any, q: Any, axis: int = 0) -> np.ndarray:
    """``np.nanquantile(draws, q, axis=axis)`` (numpy's default ``linear`` method, Hyndman &
    Fan type 7; NaN draws left out), the same numbers, fast: where no draw is NaN the draws are
    sorted once and numpy's interpolation is applied to the order statistics it would pick
    (numpy partitions the array for each of the ``q`` instead, 50x slower for 99 levels;
    ``tests/unit/test_draw_quantiles.py`` checks equality bit for bit)."""
    a = np.asarray(draws, dtype=float)
    if a.size == 0 or np.isnan(a).any():
        return np.nanquantile(a, q, axis=axis)
    s = np.sort(np.moveaxis(a, axis, 0), axis=0)
    n = s.shape[0]
    qa = np.asarray(q, dtype=float)
    virtual = (n - 1) * qa.reshape(-1)  # as numpy's "linear" method
    prev = np.floor(virtual)
    nxt = prev + 1
    top = virtual >= n - 1
    prev[top], nxt[top] = -1, -1
    low = virtual < 0
    prev[low], nxt[low] = 0, 0
    i, j = prev.astype(np.intp), nxt.astype(np.intp)
    gamma = np.asarray(virtual - i, dtype=virtual.dtype).reshape((-1,) + (1,) * (s.ndim - 1))
    lo, hi = s[i], s[j]
    diff = hi - lo  # numpy's _lerp: from the nearer end
    out = lo + diff * gamma
    np.subtract(hi, diff * (1 - gamma), out=out, where=np.broadcast_to(gamma >= 0.5, out.shape))
    return out.reshape(qa.shape + s.shape[1:])


def forecast(
    twin,
    horizon: float,
    regimen: Regimen | None = None,
    *,
    every: float | None = None,
    levels: tuple[float, ...] = LEVELS,
    key: PRNGKeyArray | None = None,
) -> Forecast:
    """Forecast ``twin``'s observables ``horizon`` ahead of its time, every ``every`` (default
    5 input steps), under the events it knows plus ``regimen`` (planned meals, doses)."""
    model, ens = twin.model, twin.ensemble
    every = 5 * model.input_dt if every is None else float(every)
    n_t = round(horizon / every)
    if not (horizon > 0 and n_t >= 1 and abs(n_t * every - horizon) < 1e-9 * horizon):
        raise SimulationError(
            f"forecast() needs a horizon > 0 that is a multiple of every={every:g}. Got "
            f"horizon={horizon!r}."
        )
    if not all(0 < lv < 1 for lv in levels):
        raise SimulationError(f"forecast() levels must lie in (0, 1). Got {levels!r}.")
    key = jax.random.fold_in(twin.key, 2**20 + twin.version) if key is None else key
    k_draw, k_noise = jax.random.split(key)
    anc = np.asarray(systematic_resample(k_draw, ens.log_weights))
    t0, t1 = ens.time, ens.time + n_t * every
    times = t0 + every * np.arange(1, n_t + 1)
    events = _future(_merge(twin.regimen, regimen), t1)
    drawn = np.asarray(ens.params)[anc]
    traj = simulate(
        model, drawn, events, t0=t0, t1=t1, saveat=times, y0=np.asarray(ens.states)[anc],
        save_states=False,
    )  # fmt: skip
    latent = jnp.moveaxis(traj.observables, -1, 1)  # (draws, observables, times)
    latent_draws = jnp.stack(
        [
            spec.noise.sample(
                jax.random.fold_in(k_noise, j), latent[:, j], draw_theta(model, spec.noise, drawn)
            )
            if spec.noise is not None
            else latent[:, j]
            for j, spec in enumerate(model.observables)
        ],
        axis=1,
    )
    draws = np.asarray(latent_draws)
    qs = [(1 - lv) / 2 for lv in levels] + [(1 + lv) / 2 for lv in levels]
    q = draw_quantiles(draws, [0.5, *qs])
    n_l = len(levels)
    return Forecast(
        issued_at=t0,
        twin_version=twin.version,
        times=times,
        observable_names=model.observable_names,
        levels=tuple(levels),
        median=q[0],
        lower=q[1 : 1 + n_l],
        upper=q[1 + n_l :],
        draws=draws,
    )


def draw_theta(model: Any, noise: Any, params: Any) -> Any:
    """The parameters a noise model reads, per draw (``params``: (draws, n_params)), shaped
    to broadcast against an observable's (draws, times); None when it reads none."""
    theta = noise_theta(model, noise, params)
    return None if theta is None else theta[:, None, :]


@dataclass(frozen=True)
class WhatIf:
    """Forecasts of candidate regimens side by side, with outcome metrics per option."""

    options: tuple[str, ...]
    forecasts: tuple[Forecast, ...]
    metrics: dict[str, dict[str, float]]


def outcome_metrics(model: Any, draws: np.ndarray) -> dict[str, float]:
    """The outcome metrics of one forecast's ``draws`` (draws, observables, times) of ``model``'s
    observables: per observable ``<name>_mean``, the mean of the draws (NaN draws left out, in
    the observable's unit), and for an observable in mg/dL (glucose) ``<name>_tir_pct``, the
    expected time in range 70-180 mg/dL (% of draws x times), and ``<name>_p_below_70``, the
    probability of any value below 70 mg/dL over the horizon (the fraction of draws with one).

    Reference: Battelino et al. (2019), International consensus on time in range, Diabetes
    Care 42:1593-1603 (the 70-180 mg/dL target range and the < 70 mg/dL hypoglycaemia level)."""
    row: dict[str, float] = {}
    for j, spec in enumerate(model.observables):
        d = draws[:, j]
        row[f"{spec.name}_mean"] = float(np.nanmean(d))
        if spec.unit == "mg/dL":
            row[f"{spec.name}_tir_pct"] = float(100 * np.mean((d >= 70) & (d <= 180)))
            row[f"{spec.name}_p_below_70"] = float(np.mean(np.any(d < 70, axis=-1)))
    return row


def what_if(
    twin,
    regimens: Mapping[str, Regimen],
    horizon: float,
    *,
    every: float | None = None,
    key: PRNGKeyArray | None = None,
) -> WhatIf:
    """Forecast each candidate regimen with the same random numbers (a paired comparison).

    Metrics per option: :func:`outcome_metrics` of its forecast's draws (per observable the
    mean of the draws, and for glucose in mg/dL the expected time in range 70-180 mg/dL and
    the probability of any value below 70 mg/dL)."""
    names = tuple(regimens)
    fcs = tuple(forecast(twin, horizon, regimens[name], every=every, key=key) for name in names)
    metrics = {
        name: outcome_metrics(twin.model, fc.draws) for name, fc in zip(names, fcs, strict=True)
    }
    return WhatIf(names, fcs, metrics)
