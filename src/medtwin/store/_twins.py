"""How a stored twin is built, fed and frozen: its configuration, the mapping of stored
observations and events onto the model, and the blobs of ensembles and forecasts.

Model time is ``(datetime - epoch)`` in the model's time unit (``min`` or ``h``); the twin
starts at model time 0 (the configuration's ``epoch``). An observation's LOINC ``code`` maps to
the observable whose ``ObservableSpec.loinc`` is that code (2339-0 -> ``bg``, 99504-3 ->
``sc_glucose``, 6690-2 -> ``wbc``); event kinds map to regimen events on the model's inputs:
``meal`` (g, eaten at 5 g/min) -> ``carbs``, ``bolus`` (U) and ``basal`` (U/h) -> ``insulin``,
``antibiotic`` (1/h) and ``anti_inflammatory`` (a.u./h) -> a rate on the input of that name.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

import jax
import numpy as np

from .. import limits
from ..assimilate import Ensemble, Observations, ParticleFilter, Prior, SpecPrior
from ..errors import LimitError, MedtwinError, StoreError
from ..forecast import Forecast
from ..models import get_model
from ..models._base import AbstractModel
from ..simulate import Event, SetRate, basal, bolus, meal
from ..twin import Twin

__all__ = [
    "QUANTILES",
    "TwinConfig",
    "build_twin",
    "pack_ensemble",
    "pack_forecast",
    "regimen_event",
    "to_model_time",
    "unpack_ensemble",
    "unpack_forecast",
]

QUANTILES = np.arange(1, 100) / 100.0  # stored quantiles of the predictive draws
_SECONDS = {"min": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class TwinConfig:
    """How a patient's twin is made. ``model``: registry name (``t1d``, ``sepsis``, ...).
    ``prior``: ``population`` (the T1D population prior over the 30 virtual patients, t1d
    only) or ``spec`` (the ``ParameterSpec`` priors of the ``free`` parameters). ``free``:
    the parameters the twin learns (default for t1d: ``medtwin.data.T1D_FREE``). ``n``:
    particles. ``seed``: the root key. ``epoch``: the UTC datetime of model time 0.
    ``horizon`` and ``every``: the forecast issued with each version, in the model's time unit
    (``every`` None: 5 input steps). ``drift``: the particle filter's parameter drift per
    sqrt(hour) (None: the model's default, ``medtwin.data.T1D_FILTER`` for t1d, else 0).

    A new configuration is checked against the declared work bounds of ``medtwin.limits``
    (``n`` 16..5000, ``horizon`` up to 7 days, ``every`` a multiple of the input step, at most
    2,016 forecast points), so the API, the CLI and the store refuse the same requests
    (:class:`~medtwin.errors.LimitError`); :meth:`from_json` reads a stored one as stored."""

    model: str
    epoch: datetime
    prior: str = "population"
    free: tuple[str, ...] | None = None
    n: int = 1000
    seed: int = 0
    horizon: float = 60.0
    every: float | None = None
    drift: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.epoch, datetime) or self.epoch.tzinfo is None:
            raise StoreError(
                f"TwinConfig.epoch must be a timezone-aware datetime (UTC). Got {self.epoch!r}."
            )
        object.__setattr__(self, "epoch", self.epoch.astimezone(UTC))
        if self.prior not in ("population", "spec"):
            raise StoreError(
                f"TwinConfig.prior must be 'population' or 'spec'. Got {self.prior!r:.60}."
            )
        if self.free is not None:
            if isinstance(self.free, str | bytes) or not isinstance(self.free, list | tuple):
                raise StoreError(
                    f"TwinConfig.free must be a list of parameter names. Got {self.free!r:.60}."
                )
            object.__setattr__(self, "free", tuple(self.free))
            if not all(isinstance(f, str) and 0 < len(f) <= 64 for f in self.free):
                raise StoreError(
                    f"TwinConfig.free must hold parameter names (strings of 1-64 characters). "
                    f"Got {self.free!r:.60}."
                )
        if not (isinstance(self.seed, int) and not isinstance(self.seed, bool)
                and 0 <= self.seed < 2**63):  # fmt: skip
            raise StoreError(
                f"TwinConfig.seed must be an integer in [0, 2**63). Got {limits.shown(self.seed)}."
            )
        if self.drift is not None:
            limits.finite(self.drift, "drift", "a twin")
            if self.drift < 0:
                raise StoreError(f"TwinConfig.drift must be a number >= 0. Got {self.drift!r}.")
        self._check_work(_model_of(self.model))

    def _check_work(self, model: AbstractModel) -> None:
        """The declared bounds (``medtwin.limits``) on what scales a twin's work: particles,
        forecast horizon, cadence and points, the times in the model's own unit."""
        limits.PARTICLES.check(self.n)
        unit, step = model.time_unit, model.input_dt
        horizon = limits.FORECAST_HORIZON.in_unit(unit).check(self.horizon)
        if self.every is None:
            every = 5 * step
        else:
            every = limits.FORECAST_EVERY.in_unit(unit).check(self.every, high=horizon)
            if not _multiple(every, step):
                raise LimitError(
                    f"The 'every' (forecast cadence) of a twin must be a multiple of the "
                    f"model's input step, {step:g} {unit}. Got {every!r}.",
                    "every",
                )
        if not _multiple(horizon, every):
            raise LimitError(
                f"The 'horizon' (forecast horizon) of a twin must be a multiple of its cadence "
                f"'every' ({every:g} {unit}). Got horizon={horizon!r}.",
                "horizon",
            )
        limits.FORECAST_POINTS.check(round(horizon / every))

    def to_json(self) -> str:
        doc = {**asdict(self), "epoch": self.epoch.isoformat()}
        doc["free"] = list(self.free) if self.free is not None else None
        return json.dumps(doc, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TwinConfig:
        """A stored configuration, as it was stored: it was checked when it was made, and a
        bound made tighter since must not make a stored twin unreadable."""
        doc = json.loads(text)
        doc["epoch"] = datetime.fromisoformat(doc["epoch"])
        doc["free"] = tuple(doc["free"]) if doc["free"] is not None else None
        self = object.__new__(cls)
        for f in fields(cls):
            object.__setattr__(self, f.name, doc.get(f.name, f.default))
        return self


def _multiple(x: float, step: float) -> bool:
    k = round(x / step)
    return k >= 1 and abs(k * step - x) <= 1e-9 * x


def _model_of(name: object) -> AbstractModel:
    """The registered model ``name`` if the store can run it (timed in min or h)."""
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise StoreError(f"TwinConfig.model must be a model name. Got {limits.shown(name)}.")
    try:
        model = get_model(name)
    except MedtwinError as exc:
        raise StoreError(f"TwinConfig.model: {exc}") from None
    except TypeError:  # a model that needs configuration (a grid): not one the store runs
        raise StoreError(
            f"TwinConfig.model: {name!r} needs a configuration the store does not hold."
        ) from None
    if model.time_unit not in _SECONDS:
        raise StoreError(
            f"The store handles models timed in min or h; {name!r} is timed in {model.time_unit!r}."
        )
    return model


def build_twin(config: TwinConfig) -> tuple[AbstractModel, Prior, ParticleFilter]:
    """The model, prior and filter of ``config`` (:class:`StoreError` if they do not fit)."""
    model, prior = _model_prior(config)
    if config.drift is None and model.name == "uva-padova":
        from ..data import T1D_FILTER

        return model, prior, T1D_FILTER
    return model, prior, ParticleFilter(drift=float(config.drift or 0.0))


def _model_prior(config: TwinConfig) -> tuple[AbstractModel, Prior]:
    model = _model_of(config.model)
    free = config.free
    if config.prior == "population":
        if model.name != "uva-padova":
            raise StoreError(
                f"prior='population' is the T1D population prior (model t1d). For "
                f"{config.model!r} use prior='spec' with the free parameters named."
            )
        from ..data import T1D_FREE, t1d_population_prior

        try:
            return model, t1d_population_prior(free if free is not None else T1D_FREE)
        except MedtwinError as exc:
            raise StoreError(f"TwinConfig.free: {exc}") from None
    if not free:
        raise StoreError(
            f"prior='spec' needs the free parameters named (TwinConfig.free), e.g. "
            f"{model.parameter_names[:2]!r}."
        )
    missing = []
    for name in free:
        try:
            spec = model.parameters[model.param_index(name)]
        except MedtwinError as exc:
            raise StoreError(f"TwinConfig.free: {exc}") from None
        if spec.prior is None:
            missing.append(name)
    if missing:
        raise StoreError(
            f"prior='spec' draws the free parameters from their ParameterSpec priors, but "
            f"{', '.join(missing)} of {model.name!r} declare none. Choose parameters with priors "
            "or use another prior."
        )
    return model, SpecPrior(tuple(free))


def new_twin(config: TwinConfig) -> Twin:
    """Version 0 of the twin described by ``config``."""
    model, prior, method = build_twin(config)
    key = jax.random.key(config.seed)
    return Twin.create(model, prior, key=key, n=config.n, t0=0.0, method=method)


def to_model_time(t: datetime, epoch: datetime, unit: str) -> float:
    """``t`` in model time: ``(t - epoch)`` in ``unit`` (min or h)."""
    return (t - epoch).total_seconds() / _SECONDS[unit]


def from_model_time(t: float, epoch: datetime, unit: str) -> datetime:
    from datetime import timedelta

    return epoch + timedelta(seconds=float(t) * _SECONDS[unit])


def snapped(model: AbstractModel, t: float) -> float:
    """``t`` on the model's input grid from 0 (as the filters snap observation times)."""
    return round(t / model.input_dt) * model.input_dt


def observable_for(model: AbstractModel, code: str) -> str | None:
    """The observable measured by LOINC ``code``, or None if the model observes no such code."""
    for spec in model.observables:
        if spec.loinc == code:
            return spec.name
    return None


def regimen_event(model: AbstractModel, kind: str, t: float, amount: float) -> Event | None:
    """The regimen event of a stored event at model time ``t``, or None if the model has no input
    for its kind (the event is kept but cannot act on this twin)."""
    per_h = 60.0 if model.time_unit == "min" else 1.0  # rates given per hour
    inputs = model.input_names
    if kind in ("meal", "bolus", "basal"):
        if model.time_unit != "min" or {"carbs", "insulin"} - set(inputs):
            return None
        return {"meal": meal, "bolus": bolus, "basal": basal}[kind](t, amount)
    if kind in inputs:  # antibiotic, anti_inflammatory: rates per hour from t on
        return SetRate(t, kind, amount / per_h, kind.replace("_", "-"))
    return None


def observations_of(
    model: AbstractModel, rows: Sequence[tuple[float, str, float, int]]
) -> Observations:
    """Observations from (model time, observable, value, censored) rows."""
    return Observations(
        np.array([r[0] for r in rows], dtype=np.float64),
        tuple(r[1] for r in rows),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=np.int8),
    )


def _npz(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def _load(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def pack_ensemble(ens: Ensemble) -> bytes:
    """The ensemble as a compressed npz blob (params, states, log_weights, time; float64)."""
    return _npz(
        params=np.asarray(ens.params),
        states=np.asarray(ens.states),
        log_weights=np.asarray(ens.log_weights),
        time=np.float64(ens.time),
    )


def unpack_ensemble(blob: bytes) -> Ensemble:
    import jax.numpy as jnp

    a = _load(blob)
    return Ensemble(
        jnp.asarray(a["params"]),
        jnp.asarray(a["states"]),
        jnp.asarray(a["log_weights"]),
        float(a["time"]),
    )


def pack_forecast(fc: Forecast) -> bytes:
    """Times, median, band edges and the 99 quantiles (1..99 %) of the draws, per observable."""
    quantiles = np.nanquantile(np.asarray(fc.draws), QUANTILES, axis=0)
    return _npz(
        issued_at=np.float64(fc.issued_at),
        times=fc.times,
        median=fc.median,
        lower=fc.lower,
        upper=fc.upper,
        quantiles=quantiles,
    )


def unpack_forecast(
    blob: bytes, version: int, names: tuple[str, ...], levels: tuple[float, ...]
) -> Forecast:
    a = _load(blob)
    return Forecast(
        issued_at=float(a["issued_at"]),
        twin_version=version,
        times=a["times"],
        observable_names=names,
        levels=levels,
        median=a["median"],
        lower=a["lower"],
        upper=a["upper"],
        draws=a["quantiles"],
    )
