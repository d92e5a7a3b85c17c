"""The twins inside the closed loop: every patient's particle filter created as
:meth:`Twin.create <medtwin.twin.Twin>` creates it (:func:`twin_init`) and fed one CGM reading
per decision with the functions :func:`~medtwin.assimilate.assimilate` calls, with its keys
(:func:`twin_assimilate`: parameter drift, weighting, resampling with the Liu-West move), so a
one-patient run equals ``assimilate`` reading by reading. Alongside, the twin's coverage signal
(an exponential moving average over ``coverage_window`` min of whether the reading fell inside
the one-step 95 % predictive band) and the inputs of the safety checks.

Units: min, mg/dL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..assimilate._ensemble import Prior, free_transform
from ..assimilate._filters import (
    HOURS_PER_UNIT,
    bounds,
    normalised,
    pf_drift,
    pf_resample_move,
    pf_weight,
)
from ..assimilate._sensor import sensor_band_pit, sensor_range, sensor_weight
from ..errors import ModelError
from ..models._base import AbstractModel
from ._loop_state import LoopObservation, LoopSpec, TwinState
from ._safety import SafetyLimits, bound_share

__all__ = ["twin_assimilate", "twin_glucose", "twin_init"]


def twin_init(
    model: AbstractModel, prior: Prior | Sequence[Prior], n: int, n_patients: int, key: PRNGKeyArray
) -> TwinState:
    """``n_patients`` twins of ``n`` particles: patient ``i``'s key is ``fold_in(key, i)`` and
    its particles are drawn from ``prior`` (or ``prior[i]``) with ``fold_in(key_i, 0)``, as
    ``Twin.create(key=key_i)`` draws them."""
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n_patients))
    if isinstance(prior, Prior):
        params = jax.vmap(lambda k: prior.sample(model, jax.random.fold_in(k, 0), n))(keys)
    else:  # one prior per patient: host set-up, once per run
        if len(prior) != n_patients or len({tuple(p.free) for p in prior}) != 1:
            raise ModelError(
                f"ClosedLoop needs one prior, or one per patient ({n_patients}) with the same "
                f"free parameters. Got {len(prior)} priors."
            )
        params = jnp.stack([pr.sample(model, jax.random.fold_in(keys[i], 0), n)
                            for i, pr in enumerate(prior)])  # fmt: skip
    states = jax.vmap(jax.vmap(model.initial_state))(params)
    return TwinState(
        keys=keys,
        params=params,
        states=states,
        log_weights=jnp.full((n_patients, n), -jnp.log(n)),
        coverage=jnp.full((n_patients,), 0.95),
        sensor=jnp.zeros((n_patients, n)),
    )


def twin_glucose(
    model: AbstractModel, observable: str, t: Array, twin: TwinState
) -> Float[Array, " p"]:
    """Every patient's posterior mean of ``observable`` at time ``t`` (p,; traceable): what
    the twin, having read the sensor with its error model, thinks the sensor would read
    without error."""
    j = model.observable_index(observable)
    seen = jax.vmap(jax.vmap(model.observe, (None, 0, 0)), (None, 0, 0))(
        t, twin.states, twin.params
    )[..., j]
    return jnp.sum(jax.nn.softmax(twin.log_weights, axis=-1) * seen, axis=-1)


def twin_assimilate(
    spec: LoopSpec, limits: SafetyLimits, twin: TwinState, obs: LoopObservation
) -> tuple[TwinState, Array, Array, tuple[Array, Array, Array]]:
    """One reading into every patient's particle filter (traceable). Returns the twins, their
    effective sample size fraction (p,) after resampling, whether the reading fell in the twin's
    one-step 95 % band (p,; 1.0 / 0.0), and the safety checks' inputs: the
    ensemble's predicted range of ``limits.observable`` (min, max; with the filter's sensor
    error model, the range of the readings the particles predict before this one: each
    particle's 99.9 % conditional sensor band) and the posterior weight on particles at a bound
    of a free parameter."""
    model, method, t, k = spec.model, spec.method, obs.t, obs.k
    idx, log = free_transform(model, spec.free)
    lo, hi = bounds(model, idx)
    j = model.observable_index(limits.observable)
    noise_sd = getattr(model.observables[j].noise, "sd", None)  # mg/dL at a glucose value
    if noise_sd is None and method.sensor is None:
        raise ModelError(
            f"The closed loop's twin reads {limits.observable!r}, which has no noise model with "
            f"an sd in {model.name!r}. Declare one (e.g. GaussianNoise) in its ObservableSpec or "
            "set SafetyLimits.observable."
        )
    n = twin.params.shape[1]
    per_hour = HOURS_PER_UNIT.get(model.time_unit, 1.0)
    sd = jnp.float64(method.drift * math.sqrt(spec.every * per_hour))
    b = np.array([model.parameters[i].bounds for i in idx]).reshape(-1, 2)

    err = method.sensor
    if err is not None and err.observable != limits.observable:
        raise ModelError(
            f"The closed loop's twin reads {limits.observable!r} but its filter's sensor error "
            f"model reads {err.observable!r}. Expected the same observable."
        )
    # the first reading after the twin's creation (k = 1; the one at creation is known) has no
    # previous sensor error: the stationary distribution
    first = k <= 1

    def one(key, params, states, lw, cov, e_prev, g, c):
        kv = jax.random.fold_in(key, k + 1)  # assimilate's key for version k + 1
        pred = jax.vmap(model.observe, (None, 0, 0))(t, states, params)[:, j]
        # one-step 95 % predictive band
        if err is None:  # weighted quantiles of the particles plus independent sensor noise
            assert noise_sd is not None
            order = jnp.argsort(pred)
            cw = jnp.cumsum(jnp.exp(lw)[order])
            q_lo = pred[order][jnp.argmax(cw >= 0.025)]
            q_hi = pred[order][jnp.argmax(cw >= 0.975)]
            inside = (g >= q_lo - 1.96 * noise_sd(q_lo)) & (g <= q_hi + 1.96 * noise_sd(q_hi))
        else:  # the reading's PIT under the particles' mixture with their sensor errors
            pit = sensor_band_pit(err, pred, lw, g, e_prev, spec.every, first)
            # a LO (HI) reading says only that the reading lies below (above) the limit ``g``:
            # it is in the band when the band reaches beyond the limit, i.e. the predictive
            # probability below (above) it is at least 2.5 %
            inside = jnp.where(
                c == 0,
                (pit >= 0.025) & (pit <= 0.975),
                jnp.where(c < 0, pit >= 0.025, pit <= 0.975),
            )
            # the safety check's predicted range: the particles' readings with their sensor
            # errors (a reading is a patient's glucose plus a correlated error)
            reach = sensor_range(err, pred, e_prev, spec.every, first)
        a = spec.every / spec.coverage_window
        cov = (1 - a) * cov + a * inside.astype(jnp.float64)
        if method.drift > 0:
            drifted = pf_drift(jax.random.fold_in(kv, 2**30), params, idx, log, lo, hi, sd)
            params = jnp.where(k > 0, drifted, params)
        # a reading at the twin's creation time counts as known (as ``assimilate`` drops it)
        if err is None:
            weighted, _, _ = pf_weight(
                model, t, states, params, lw, (j,), g[None], c[None], method.temper
            )
        else:
            k_tail = jax.random.fold_in(jax.random.fold_in(kv, 0), 2**29)  # as ``assimilate``
            loglik, e_new = sensor_weight(err, pred, g, c, e_prev, spec.every, first, k_tail)
            weighted = normalised(lw + loglik)
            e_prev = jnp.where(k > 0, e_new, e_prev)
        lw = jnp.where(k > 0, weighted, lw)
        ess = 1.0 / jnp.sum(jnp.exp(lw) ** 2)
        rp, rs, rl, anc = pf_resample_move(
            jax.random.fold_in(kv, 0), params, states, lw, idx, log, lo, hi, method.shrinkage
        )
        go = (ess < method.resample_threshold * n) & (k > 0)
        params, states = jnp.where(go, rp, params), jnp.where(go, rs, states)
        lw, e_prev = jnp.where(go, rl, lw), jnp.where(go, e_prev[anc], e_prev)
        ess_after = 1.0 / jnp.sum(jnp.exp(lw) ** 2)
        w = jnp.exp(lw)
        share = bound_share(params, w, idx, b, limits.bound_rtol) if idx.size else 0.0
        if err is None:
            pred = jax.vmap(model.observe, (None, 0, 0))(t, states, params)[:, j]
            reach = (jnp.min(pred), jnp.max(pred))
        safe = (*reach, share)
        return params, states, lw, cov, e_prev, ess_after / n, inside.astype(jnp.float64), safe

    params, states, lw, cov, e, ess, inside, safe_in = jax.vmap(one)(
        twin.keys, twin.params, twin.states, twin.log_weights, twin.coverage, twin.sensor,
        obs.cgm, obs.censored,
    )  # fmt: skip
    return TwinState(twin.keys, params, states, lw, cov, e), ess, inside, safe_in
