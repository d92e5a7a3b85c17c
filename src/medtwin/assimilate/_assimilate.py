"""assimilate(): move a twin's ensemble through new observations."""

from __future__ import annotations

from dataclasses import dataclass, replace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from ..errors import DataError, ModelError
from ..simulate import Regimen, advance
from ..timeunits import convert
from ._ensemble import Ensemble, effective_sample_size, free_transform
from ._filters import (
    EnsembleKalmanFilter,
    Method,
    ParticleFilter,
    bounds,
    enkf_update,
    normalised,
    pf_drift,
    pf_resample_move,
    pf_weight,
)
from ._observations import DataReport, Observations, check_readings, prepare
from ._sensor import sensor_weight
from ._twin import Twin, Update

__all__ = ["Assimilation", "AssimilationReport", "assimilate", "replay"]


@dataclass(frozen=True)
class AssimilationReport:
    """What one assimilation did: the data it used and dropped (and why), the effective
    sample size after each observation time, resampling and degenerate steps, failed particles."""

    data: DataReport
    ess: tuple[float, ...]
    resampled: int
    degenerate: int
    failed_particles: int
    log_evidence: float

    def __str__(self) -> str:
        ess = f"ESS min {min(self.ess):.0f}" if self.ess else "no update"
        return (
            f"{self.data}; {ess}, resampled {self.resampled}x, degenerate {self.degenerate}x, "
            f"failed particles {self.failed_particles}"
        )


@dataclass(frozen=True)
class Assimilation:
    """The new twin version and the report of how it was made."""

    twin: Twin
    report: AssimilationReport


def _merge(known: Regimen, new: Regimen | None) -> Regimen:
    if new is None:
        return known
    seen = set(known.events)
    return Regimen(known.events + tuple(e for e in new.events if e not in seen))


def assimilate(
    twin: Twin,
    observations: Observations,
    regimen: Regimen | None = None,
    *,
    method: Method | None = None,
    key: PRNGKeyArray | None = None,
    until: float | None = None,
) -> Twin:
    """The next version of ``twin`` after ``observations`` (with ``regimen``: the events the
    twin is told about, history included; merged with what it already knows).

    Each observation time moves every particle there with ``advance``, weights (particle filter)
    or shifts (ensemble Kalman filter) them by the observation likelihood -- censored readings
    through the probability of lying beyond the limit -- and, for the particle filter, resamples
    and rejuvenates when the effective sample size falls below the threshold. ``until`` moves the
    ensemble on to that time after the last observation. ``key`` defaults to one derived from the
    twin's root key and version. The report is in ``twin.updates[-1].report``.
    """
    return assimilate_with_report(
        twin, observations, regimen, method=method, key=key, until=until
    ).twin


def assimilate_with_report(
    twin: Twin,
    observations: Observations,
    regimen: Regimen | None = None,
    *,
    method: Method | None = None,
    key: PRNGKeyArray | None = None,
    until: float | None = None,
) -> Assimilation:
    """:func:`assimilate`, also returning the :class:`AssimilationReport`."""
    if not isinstance(observations, Observations):
        raise DataError(
            "assimilate() needs Observations (build them with medtwin.assimilate.observations()). "
            f"Got {type(observations).__name__}."
        )
    method = method or twin.method or ParticleFilter()
    model, ens = twin.model, twin.ensemble
    key = jax.random.fold_in(twin.key, twin.version + 1) if key is None else key
    known = _merge(twin.regimen, regimen)
    clean, data = prepare(observations, model.observable_names, ens.time, model.input_dt, twin.t0)
    check_readings(model, clean)
    if isinstance(method, EnsembleKalmanFilter):
        _enkf_can_use(model, clean)
    if isinstance(method, EnsembleKalmanFilter) and np.any(clean.censored):
        keep = np.flatnonzero(clean.censored == 0)
        n_cens = len(clean) - len(keep)
        clean = clean._take(keep)
        dropped = {**data.dropped, "censored (the EnKF uses values only)": n_cens}
        data = replace(data, used=len(clean), dropped=dropped, censored=0)

    idx, log = free_transform(model, twin.free)
    lo, hi = bounds(model, idx)
    params, states, lw, t = ens.params, ens.states, ens.log_weights, ens.time
    err = getattr(method, "sensor", None)
    j_err = None if err is None else model.observable_index(err.observable)
    e_sensor, e_time = ens.sensor, ens.sensor_time
    ess_trace, resampled, degenerate, failed, evidence = [], 0, 0, 0, 0.0
    times = np.unique(clean.times)
    drift = getattr(method, "drift", 0.0)
    per_hour = convert(1.0, model.time_unit, "h")
    for step, t_obs in enumerate(times):
        states, lw, n_failed = _move(model, states, params, lw, known, t, float(t_obs))
        failed += n_failed
        if drift > 0 and t_obs > t:
            sd = jnp.float64(drift * np.sqrt((float(t_obs) - t) * per_hour))
            k_drift = jax.random.fold_in(key, 2**30 + step)
            params = pf_drift(k_drift, params, idx, log, lo, hi, sd)
        t = float(t_obs)
        t_arr = jnp.float64(t)  # traced, so each new time does not recompile the update
        here = np.flatnonzero(clean.times == t_obs)
        obs_idx = tuple(model.observable_index(clean.observable[i]) for i in here)
        values = jnp.asarray(clean.values[here])
        k_step = jax.random.fold_in(key, step)
        if isinstance(method, EnsembleKalmanFilter):
            params, states = enkf_update(
                k_step, model, t_arr, states, params, obs_idx, values, idx, log, lo, hi,
                method.inflation,
            )  # fmt: skip
            ess_trace.append(float(params.shape[0]))
            continue
        cens = jnp.asarray(clean.censored[here])
        plain = [m for m, j in enumerate(obs_idx) if j != j_err]
        degen, lse = jnp.bool_(False), jnp.float64(0.0)
        if plain:
            lw, degen, lse = pf_weight(
                model, t_arr, states, params, lw, tuple(obs_idx[m] for m in plain),
                values[jnp.asarray(plain)], cens[jnp.asarray(plain)], method.temper,
            )  # fmt: skip
        for m in (m for m, j in enumerate(obs_idx) if j == j_err):  # the sensor's readings
            assert err is not None
            first = e_sensor is None
            lw, e_sensor, d_m, lse_m = _sensor_update(
                err, model, t_arr, states, params, lw, values[m], cens[m],
                jnp.zeros(lw.shape) if first else e_sensor,
                jnp.float64(0.0 if e_time is None else t - e_time), first,
                jax.random.fold_in(k_step, 2**29 + m),
            )  # fmt: skip
            e_time = t
            degen, lse = degen | d_m, lse + lse_m
        degenerate += int(degen)
        evidence += float(lse) if not bool(degen) else 0.0
        ess = effective_sample_size(lw)
        ess_trace.append(ess)
        if ess < method.resample_threshold * params.shape[0]:
            params, states, lw, anc = pf_resample_move(
                k_step, params, states, lw, idx, log, lo, hi, method.shrinkage
            )
            e_sensor = None if e_sensor is None else e_sensor[anc]
            resampled += 1
    if until is not None and until > t:
        states, lw, n_failed = _move(model, states, params, lw, known, t, float(until))
        failed += n_failed
        t = float(until)

    report = AssimilationReport(data, tuple(ess_trace), resampled, degenerate, failed, evidence)
    new = replace(
        twin,
        ensemble=Ensemble(params, states, lw, t, e_sensor, e_time),
        regimen=known,
        updates=(
            *twin.updates,
            Update(observations, regimen or Regimen(), method, key, until, report),
        ),
    )
    return Assimilation(new, report)


@eqx.filter_jit
def _sensor_update(err, model, t, states, params, lw, value, censored, e_prev, dt, first, key):
    """One reading of the sensor with an error state (:func:`sensor_weight`): the new
    normalised log-weights, sensor states, whether every particle became impossible, and the
    log evidence."""
    j = model.observable_index(err.observable)
    pred = jax.vmap(model.observe, (None, 0, 0))(t, states, params)[:, j]
    loglik, e_new = sensor_weight(err, pred, value, censored, e_prev, dt, first, key)
    lse = jax.scipy.special.logsumexp(lw + loglik)
    return normalised(lw + loglik), e_new, ~jnp.isfinite(lse), lse


def _enkf_can_use(model, clean: Observations) -> None:
    """The EnKF perturbs readings with a Gaussian sd: refuse observables whose noise has none."""
    names = sorted(set(clean.observable))
    bad = [n for n in names if not hasattr(model.observables[model.observable_index(n)].noise,
                                           "sd")]  # fmt: skip
    if bad:
        raise ModelError(
            f"The ensemble Kalman filter needs a Gaussian noise model (an sd); {bad} of "
            f"{model.name!r} have another (e.g. an ordinal score). Use the ParticleFilter."
        )


def _move(model, states, params, lw, regimen, t, t_next):
    """Advance every particle; failed particles lose their weight."""
    out = advance(model, states, params, regimen, t, t_next)
    ok = out.status == 0
    n_failed = int(jnp.sum(~ok))
    if n_failed:
        lw = jnp.where(ok, lw, -jnp.inf)
        lw = lw - jax.scipy.special.logsumexp(lw)
    return jnp.where(ok[:, None], out.state, states), lw, n_failed


def replay(twin: Twin) -> Twin:
    """Rebuild ``twin`` from its prior, root key and recorded updates."""
    if twin.base_version:
        raise ModelError(
            f"replay() needs the whole history, but this twin was restored at version "
            f"{twin.base_version}. Replay the stored chain from version 0 instead."
        )
    n = twin.ensemble.size
    out = Twin.create(twin.model, twin.prior, key=twin.key, n=n, t0=twin.t0, method=twin.method)
    for u in twin.updates:
        out = assimilate(out, u.observations, u.regimen, method=u.method, key=u.key, until=u.until)
    return out
