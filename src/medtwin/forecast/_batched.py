"""forecast_many(): the forecasts of many twins in one vmapped computation, with the numbers of
one :func:`~medtwin.forecast.forecast` call per twin.

Twins that share a model, a particle count and a forecast grid (horizon and cadence) are
stacked along a leading patient axis. Each twin's particles are drawn with its own key (derived
from its root key and version, as ``forecast`` derives it) and simulated by one compiled
function, ``jax.vmap`` over patients of ``simulate``'s own kernel step on the patient's
particles laid out members last as there (same steps, same refinement near doses, same saves).
``forecast`` draws the measurement noise eagerly, one operation at a time; XLA would fuse
those operations under ``jit`` (and contract a multiply and an add into one rounding), so they
run here eagerly too, ``vmap``-ed over patients. The numbers are those of one-by-one calls,
bit for bit on CPU (see ``assimilate_many``'s kernel for how; tests/unit/assimilate/
test_batched.py compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from ..assimilate._assimilate import _merge
from ..assimilate._batched import derived_keys
from ..assimilate._batched_kernel import bucket
from ..assimilate._filters import systematic_resample
from ..errors import SimulationError
from ..models._base import AbstractODEModel
from ..simulate import RK4, Regimen, applied_inputs
from ..simulate._simulate import _kernel_step, _members_last
from ._forecast import LEVELS, Forecast, _future, draw_quantiles, draw_theta, forecast

__all__ = ["forecast_many"]


def _grid(model, horizon: float, every: float | None) -> tuple[float, int, int] | None:
    """(every, number of saves, input steps per save) as ``forecast`` and ``simulate`` check
    them; None where either would refuse (then ``forecast`` itself raises)."""
    every = 5 * model.input_dt if every is None else float(every)
    n_t = round(horizon / every)
    if not (horizon > 0 and n_t >= 1 and abs(n_t * every - horizon) < 1e-9 * horizon):
        return None
    dt = float(model.input_dt)
    stride = round(every / dt)
    if stride < 1 or abs(stride * dt - every) > 1e-9 * max(1.0, every):
        return None
    return every, n_t, stride


@eqx.filter_jit
def _kernel(model, solver, keys, params, states, lw, t0, dose, override, refine, refine_any,
            stride: int, n_seg: int):  # fmt: skip
    """``forecast``'s draw of particles (``systematic_resample``: no multiply feeds an add
    there, so fusing it rounds nothing differently; one patient at a time, as XLA may take a
    large batch's cumulative sums in another order than one row's) and ``simulate``'s kernel
    (uniform saves of the observables) for many patients: patient ``k``'s drawn particles from
    ``t0[k]`` under its own inputs, each step ``simulate``'s (``_kernel_step``). Returns the
    observables, each patient's noise key, whether its drawn parameters are all finite
    (``simulate`` refuses others) and the drawn parameters (a noise model may read some)."""
    dt = float(model.input_dt)
    pairs = jax.vmap(jax.random.split)(keys)
    k_draw, k_noise = pairs[:, 0], pairs[:, 1]
    # one patient at a time, as XLA may sum a large batch's rows in another order than one row
    anc = jax.lax.map(lambda a: systematic_resample(*a), (k_draw, lw))
    params = jnp.take_along_axis(params, anc[..., None], axis=1)
    y0 = jnp.take_along_axis(states, anc[..., None], axis=1)
    finite = jnp.all(jnp.isfinite(params), axis=(1, 2))

    def patient(p_all, y_all, t0, dose, override, refine):
        # the particles on the last axis, as simulate's kernel lays its members out
        p_m = p_all.T
        base = _members_last(model.baseline_inputs, (-1,))(p_m)
        observe = _members_last(model.observe, (None, -1, -1))

        def step(carry, k):
            y, ok = carry
            t = t0 + k * dt
            u = applied_inputs(override[k][:, None], dose[k][:, None], base)

            ref = None if solver is None else refine[k]  # (a stepped model: no flags)
            y_new, ok_k = _kernel_step(model, solver, t, y, u, p_m, dt, None, ref,
                                       refine_any[k], ())[:2]  # fmt: skip
            return (y_new, ok & ok_k), None

        def segment(carry, ks):
            carry, _ = jax.lax.scan(step, carry, ks)
            y, ok = carry
            return carry, jnp.where(ok, observe(t0, y, p_m), jnp.nan)

        ks = jnp.arange(n_seg * stride).reshape(n_seg, stride)
        _, outs = jax.lax.scan(segment, (y_all.T, jnp.ones(y_all.shape[0], bool)), ks)
        return jnp.moveaxis(outs, -1, 0)  # [particles, saves, observables]

    outs = jax.vmap(patient)(params, y0, t0, dose, override, refine)
    return outs, k_noise, finite, params


def _noise(model, keys, latent, params):
    """``forecast``'s draws of the measurement noise, eagerly (not under ``jit``), as there."""
    return jnp.stack(
        [
            spec.noise.sample(
                jax.random.fold_in(keys, j), latent[:, j], draw_theta(model, spec.noise, params)
            )
            if spec.noise is not None
            else latent[:, j]
            for j, spec in enumerate(model.observables)
        ],
        axis=1,
    )


def _quantiles(draws: np.ndarray, levels: tuple[float, ...]) -> list[np.ndarray]:
    """``forecast``'s quantiles of ``draws[k]`` over its draws for every patient ``k``, in one
    :func:`draw_quantiles` call over the draw axis (each column alone, NaN draws left out: the
    numbers of one call per patient)."""
    qs = [0.5] + [(1 - lv) / 2 for lv in levels] + [(1 + lv) / 2 for lv in levels]
    return list(np.moveaxis(draw_quantiles(draws, qs, axis=1), 0, 1))


def _run_group(twins, regimens, keys, horizon, every, n_t, stride, levels) -> list:
    """Forecasts of one group (None for a twin whose drawn parameters are not all finite)."""
    first = twins[0]
    model = first.model
    solver = RK4() if isinstance(model, AbstractODEModel) else None
    dt = float(model.input_dt)
    k_real = len(twins)
    rows = list(range(k_real)) + [0] * (bucket(k_real) - k_real)
    n_steps = n_t * stride
    ens = [twins[i].ensemble for i in rows]
    t0 = np.array([e.time for e in ens], dtype=np.float64)
    dose = np.zeros((len(rows), n_steps, len(model.inputs)))
    override = np.full_like(dose, np.nan)
    refine = np.zeros((len(rows), n_steps), bool)
    for r in range(k_real):
        events = _future(_merge(twins[r].regimen, regimens[r]), t0[r] + n_steps * dt)
        c = events.compile(model.input_names, float(t0[r]), dt, n_steps)
        dose[r], override[r] = c.dose_rate, c.override
        mask = None if solver is None else solver.refine_mask(np.any(c.dose_rate != 0, axis=-1))
        if mask is not None:
            refine[r] = mask
    outs, k_noise, finite, drawn = _kernel(
        model, solver, jnp.stack([keys[i] for i in rows]),
        jnp.stack([e.params for e in ens]).astype(jnp.float64),
        jnp.stack([e.states for e in ens]).astype(jnp.float64),
        jnp.stack([e.log_weights for e in ens]).astype(jnp.float64), jnp.asarray(t0),
        jnp.asarray(dose), jnp.asarray(override), jnp.asarray(refine),
        jnp.asarray(refine[:k_real].any(axis=0)), stride, n_t,
    )  # fmt: skip
    latent = jnp.moveaxis(outs, -1, 2)  # (patients, draws, observables, times)
    # eager (not under jit), one operation at a time, as forecast() draws the noise
    draws = np.asarray(jax.vmap(lambda k, x, p: _noise(model, k, x, p))(k_noise, latent, drawn))
    draws = draws[:k_real]
    finite = np.asarray(finite)
    q = _quantiles(draws[finite[:k_real]], levels)
    n_l = len(levels)
    result: list[Forecast | None] = []
    j = 0
    for r in range(k_real):
        if not finite[r]:
            result.append(None)
            continue
        result.append(
            Forecast(
                issued_at=float(t0[r]), twin_version=twins[r].version,
                times=t0[r] + every * np.arange(1, n_t + 1),
                observable_names=model.observable_names, levels=tuple(levels), median=q[j][0],
                lower=q[j][1 : 1 + n_l], upper=q[j][1 + n_l :], draws=draws[r].copy(),
            )
        )  # fmt: skip
        j += 1
    return result


def _model_key(model) -> tuple:
    leaves = jax.tree_util.tree_leaves(model)
    if all(isinstance(x, (bool, int, float, str)) for x in leaves):
        return (type(model), tuple(leaves))
    return (type(model), id(model))


def forecast_many(
    twins: Sequence,
    horizon: float,
    regimens: Sequence[Regimen | None] | None = None,
    *,
    every: float | None = None,
    levels: tuple[float, ...] = LEVELS,
    keys: Sequence[PRNGKeyArray | None] | None = None,
    errors: Literal["raise", "return"] = "raise",
) -> list[Forecast | Exception]:
    """:func:`forecast` for many twins at once: ``twins[i]`` ``horizon`` ahead of its own time,
    every ``every``, under the events it knows plus ``regimens[i]``, with ``keys[i]`` (default:
    derived from its root key and version, as ``forecast`` derives it). Returns, in order, what
    ``forecast`` returns for each twin, bit for bit (float64).

    Batched together: twins with the same model, particle count and grid. Run one-by-one
    (same results): a grid ``forecast`` or ``simulate`` would refuse, parameters that are not
    all finite, stochastic models -- these raise what ``forecast`` raises. ``errors`` as in
    :func:`~medtwin.assimilate.assimilate_many`.
    """
    k = len(twins)
    regimens = [None] * k if regimens is None else list(regimens)
    keys_ = [None] * k if keys is None else list(keys)
    if not (len(regimens) == len(keys_) == k):
        raise SimulationError(
            f"forecast_many() needs one regimen and one key per twin. Got {k} twins, "
            f"{len(regimens)} regimens and {len(keys_)} keys."
        )
    if not all(0 < lv < 1 for lv in levels):
        raise SimulationError(f"forecast() levels must lie in (0, 1). Got {levels!r}.")
    results: list[Forecast | Exception | None] = [None] * k
    groups: dict[tuple, list[int]] = {}
    alone: list[int] = []
    if keys is None:
        keys_ = derived_keys(twins, [2**20 + t.version for t in twins])
    for i, tw in enumerate(twins):
        grid = _grid(tw.model, horizon, every)
        ens = tw.ensemble
        if grid is None or tw.model.stochastic:
            alone.append(i)
            continue
        sig = (_model_key(tw.model), tuple(ens.params.shape), tuple(ens.states.shape), grid,
               getattr(keys_[i], "dtype", None), np.shape(keys_[i]))  # type: ignore[arg-type]  # fmt: skip
        groups.setdefault(sig, []).append(i)
    for sig, members in groups.items():
        every_, n_t, stride = sig[3]
        out = _run_group(
            [twins[i] for i in members], [regimens[i] for i in members],
            [keys_[i] for i in members], horizon, every_, n_t, stride, levels,
        )  # fmt: skip
        for i, fc in zip(members, out, strict=True):
            if fc is None:
                alone.append(i)  # simulate() refuses it; forecast() says why
            results[i] = fc
    for i in sorted(alone):
        try:
            results[i] = forecast(twins[i], horizon, regimens[i], every=every, levels=levels,
                                  key=keys_[i])  # fmt: skip
        except Exception as exc:
            if errors == "raise":
                raise
            results[i] = exc
    return results  # type: ignore[return-value]
