"""Continuous glucose monitor (CGM): sampling, transport delay, sensor noise and reporting limits.

The sensor sits between the patient model and the controller. It reads the patient's noise-free
subcutaneous glucose (``sc_glucose``, mg/dL, on the model's 1-minute grid; the physiological
plasma -> interstitium lag is already in the patient's ``Gs`` state) and returns what a device
would report every ``sample_time`` minutes:

1. the value ``delay`` minutes earlier (a pure transport/processing delay; linear interpolation
   on the grid, the first value held before the start of the series),
2. plus Johnson SU transformed AR(1) noise (Breton & Kovatchev 2008)::

       e_k     = rho * e_{k-1} + sqrt(1 - rho**2) * w_k,   w_k ~ N(0, 1),  e_0 ~ N(0, 1)
       noise_k = xi + lam * sinh((e_k - gamma) / delta)            [mg/dL]

3. clipped to the reporting range ``[min_value, max_value]`` (CGMs display "LO"/"HI" outside
   it), with a ``censored`` flag: -1 below, +1 above, 0 inside.

Choice of noise time base: the published model is an AR(1) at 15-minute steps with partial
autocorrelation ``pacf`` = 0.7; simglucose draws it every 15 min and cubic-spline interpolates
to the sample times. Here the AR(1) runs directly at the sample time with
``rho = pacf ** (sample_time / 15)``, so the Gaussian process keeps the correlation ``pacf``
over every 15 minutes, is exactly stationary with unit variance (the noise has the Johnson SU
marginal at every sample), and needs no spline. simglucose's recursion ``e_k = pacf * (e_{k-1}
+ w_k)`` is not unit-variance (its stationary variance is pacf**2 / (1 - pacf**2) = 0.96); the
normalised form above is the one of the paper.

Units: time in model minutes, glucose in mg/dL.

References
----------
Breton M, Kovatchev B. Analysis, modeling, and simulation of the accuracy of continuous glucose
sensors. J Diabetes Sci Technol 2(5):853-862, 2008.
Xie J. simglucose v0.2.1, 2018 (MIT): ``params/sensor_params.csv`` (the preset numbers below;
also ``medtwin/data/params/simglucose_sensor_params.csv``).
"""

from __future__ import annotations

import functools
import math
from types import MappingProxyType

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int8, PRNGKeyArray

from ...errors import ModelError

__all__ = ["CGM_PRESETS", "CGMReadings", "CGMSensor", "cgm_preset"]

# jaxtyping shapes (aliases keep ruff from parsing "*batch time" as code).
GridTimes = Float[ArrayLike, " time"]  # model minutes, increasing
Series = Float[ArrayLike, "*batch time"]  # noise-free sc glucose, mg/dL
SampleTimes = Float[Array, " samples"]
Readings = Float[Array, "*batch samples"]
Censored = Int8[Array, "*batch samples"]

_NOISE_STEP = 15.0  # min, time step of the published AR(1) noise model


class CGMReadings(eqx.Module):
    """What a CGM reports: ``times`` (min, shape [S]), ``values`` (mg/dL, clipped to the
    sensor's range, shape [..., S]) and ``censored`` (int8, -1 below / +1 above the range)."""

    times: SampleTimes
    values: Readings
    censored: Censored


class CGMSensor(eqx.Module):
    """A CGM sensor; configuration only, see the module docstring for the model.

    Attributes
    ----------
    sample_time : min between readings (> 0).
    delay : transport delay in min (>= 0), on top of the patient's plasma -> ISF lag.
    noise : add the Johnson SU AR(1) noise (False: readings are the delayed, clipped input).
    pacf : autocorrelation of the Gaussian AR(1) process over 15 min, in [0, 1).
    gamma, lam, delta, xi : Johnson SU parameters (lam and xi in mg/dL; lam, delta > 0).
    min_value, max_value : reporting range in mg/dL (readings are clipped to it).
    """

    sample_time: float = eqx.field(default=5.0, static=True)
    delay: float = eqx.field(default=0.0, static=True)
    noise: bool = eqx.field(default=True, static=True)
    pacf: float = eqx.field(default=0.7, static=True)
    gamma: float = eqx.field(default=-0.5444, static=True)
    lam: float = eqx.field(default=15.9574, static=True)
    delta: float = eqx.field(default=1.6898, static=True)
    xi: float = eqx.field(default=-5.47, static=True)
    min_value: float = eqx.field(default=39.0, static=True)
    max_value: float = eqx.field(default=400.0, static=True)

    def __check_init__(self) -> None:
        checks = (
            ("sample_time", self.sample_time > 0, "> 0"),
            ("delay", self.delay >= 0, ">= 0"),
            ("pacf", 0 <= self.pacf < 1, "in [0, 1)"),
            ("lam", self.lam > 0, "> 0"),
            ("delta", self.delta > 0, "> 0"),
            ("max_value", self.max_value > self.min_value, "> min_value"),
        )
        for name, ok, need in checks:
            value = getattr(self, name)
            if not (ok and math.isfinite(value)):
                raise ModelError(f"CGMSensor needs {name} {need} and finite. Got {value!r}.")

    @property
    def rho(self) -> float:
        """Autocorrelation of the Gaussian AR(1) process per sample: pacf**(sample_time/15)."""
        return self.pacf ** (self.sample_time / _NOISE_STEP)

    def measure(
        self,
        key: PRNGKeyArray | None,
        times: GridTimes,
        sc_glucose: Series,
        *,
        grid_dt: float = 1.0,
    ) -> CGMReadings:
        """Readings at ``times[0] + k * sample_time`` for every such time within the series.

        Parameters
        ----------
        key : PRNG key; batch members get independent noise (the key is split per member), the
            same key gives the same readings. Unused (may be None) when ``noise`` is False.
        times : the model's time grid in min, shape [T], increasing.
        sc_glucose : noise-free subcutaneous glucose in mg/dL, shape [..., T].
        grid_dt : step of the grid in min. Under ``jax.jit`` the times are not known while
            tracing, so the number of readings is ``floor((T - 1) * grid_dt / sample_time) + 1``;
            with concrete times the grid's span is checked against it.

        NaN inputs give NaN readings with ``censored`` 0.
        """
        g = jnp.asarray(sc_glucose, dtype=jnp.float64)
        t = jnp.asarray(times, dtype=jnp.float64)
        if t.ndim != 1 or g.ndim < 1 or g.shape[-1] != t.shape[0] or t.shape[0] < 1:
            raise ModelError(
                "CGMSensor.measure needs times of shape [T] (T >= 1) and sc_glucose of shape "
                f"[..., T]. Got times {t.shape} and sc_glucose {g.shape}."
            )
        if self.noise and key is None:
            raise ModelError("CGMSensor.measure needs a PRNG key when noise=True. Got None.")
        n_time = t.shape[0]
        span = (n_time - 1) * float(grid_dt)
        _check_span(times, span, grid_dt)
        n_samples = math.floor(span / self.sample_time + 1e-9) + 1
        return _readings(self, key if self.noise else None, t, g, n_samples)

    def noise_sequence(self, key: PRNGKeyArray, batch: tuple[int, ...], n_samples: int) -> Readings:
        """The additive sensor noise (mg/dL) of ``n_samples`` consecutive readings for each of
        ``batch`` sensors (zeros when ``noise`` is False): what :meth:`measure` adds, for a
        loop that reads the sensor one sample at a time."""
        if not self.noise:
            return jnp.zeros((*batch, n_samples))
        return self._noise(key, batch, n_samples)

    def _noise(self, key: PRNGKeyArray, batch: tuple[int, ...], n_samples: int) -> Readings:
        n_members = math.prod(batch)
        keys = jax.random.split(key, n_members)
        w = jax.vmap(lambda k: jax.random.normal(k, (n_samples,), dtype=jnp.float64))(keys)
        rho = self.rho
        scale = math.sqrt(1.0 - rho**2)

        def step(e: Array, w_k: Array) -> tuple[Array, Array]:
            e = rho * e + scale * w_k
            return e, e

        # e_0 = w_0 is drawn from the stationary N(0, 1); the scan runs over time.
        _, rest = jax.lax.scan(step, w[:, 0], w[:, 1:].T)
        e = jnp.concatenate([w[:, :1], rest.T], axis=1)
        noise = self.xi + self.lam * jnp.sinh((e - self.gamma) / self.delta)
        return noise.reshape((*batch, n_samples))


@functools.partial(jax.jit, static_argnums=(0, 4))
def _readings(
    sensor: CGMSensor, key: PRNGKeyArray | None, t: Array, g: Array, n_samples: int
) -> CGMReadings:
    """The numerical core of :meth:`CGMSensor.measure` (compiled once per sensor and shape)."""
    ts = t[0] + sensor.sample_time * jnp.arange(n_samples, dtype=jnp.float64)
    values = _interpolate(t, g, ts - sensor.delay)
    if key is not None:
        values = values + sensor._noise(key, g.shape[:-1], n_samples)
    lo, hi = sensor.min_value, sensor.max_value
    censored = jnp.where(values < lo, -1, jnp.where(values > hi, 1, 0)).astype(jnp.int8)
    return CGMReadings(times=ts, values=jnp.clip(values, lo, hi), censored=censored)


def _check_span(times: GridTimes, span: float, grid_dt: float) -> None:
    """With concrete times, check that they span (T - 1) * grid_dt minutes."""
    try:
        host = np.asarray(times, dtype=np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return
    actual = float(host[-1] - host[0])
    if not abs(actual - span) <= 1e-6 * max(1.0, abs(span)):
        raise ModelError(
            f"CGMSensor.measure expects a grid of {host.size} times with steps of grid_dt = "
            f"{grid_dt:g} min (span {span:g} min). Got a span of {actual:g} min: pass the grid's "
            "step as grid_dt."
        )


def _interpolate(t: Array, g: Array, tq: Array) -> Array:
    """Linear interpolation of g [..., T] on t [T] at tq [S]; the end values are held outside."""
    if t.shape[0] == 1:
        return jnp.broadcast_to(g[..., :1], (*g.shape[:-1], tq.shape[0]))
    idx = jnp.clip(jnp.searchsorted(t, tq, side="right") - 1, 0, t.shape[0] - 2)
    t0, t1 = t[idx], t[idx + 1]
    w = jnp.clip((tq - t0) / (t1 - t0), 0.0, 1.0)
    g0, g1 = g[..., idx], g[..., idx + 1]
    # w == 0 takes g0 exactly (and ignores a NaN in the next grid value).
    return jnp.where(w > 0, g0 + w * (g1 - g0), g0)


# simglucose 0.2.11 params/sensor_params.csv (Breton & Kovatchev 2008 noise), verbatim. The
# presets take sample_time and the noise parameters from it; the reporting range stays at the
# clinical LO/HI limits of CGMSensor (39-400 mg/dL) rather than simglucose's clip (min-600):
# pass min_value=CGM_PRESETS[name]["min"], max_value=CGM_PRESETS[name]["max"] to reproduce it.
_NOISE = {"PACF": 0.7, "gamma": -0.5444, "lambda": 15.9574, "delta": 1.6898, "xi": -5.47}
CGM_PRESETS = MappingProxyType(
    {
        "Dexcom": MappingProxyType({**_NOISE, "sample_time": 3.0, "min": 39.0, "max": 600.0}),
        "GuardianRT": MappingProxyType({**_NOISE, "sample_time": 5.0, "min": 39.0, "max": 600.0}),
        "Navigator": MappingProxyType({**_NOISE, "sample_time": 1.0, "min": 32.0, "max": 600.0}),
    }
)


def cgm_preset(name: str, **overrides: float | bool) -> CGMSensor:
    """The CGM sensor ``name`` ("Dexcom", "GuardianRT", "Navigator") of simglucose's
    sensor_params.csv; keyword ``overrides`` replace any CGMSensor field (e.g. ``delay=5.0``)."""
    if name not in CGM_PRESETS:
        raise ModelError(f"No CGM preset {name!r}. Expected one of: {', '.join(CGM_PRESETS)}.")
    row = CGM_PRESETS[name]
    config: dict[str, float | bool] = {
        "sample_time": row["sample_time"],
        "pacf": row["PACF"],
        "gamma": row["gamma"],
        "lam": row["lambda"],
        "delta": row["delta"],
        "xi": row["xi"],
    }
    config.update(overrides)
    return CGMSensor(**config)  # type: ignore[arg-type]
