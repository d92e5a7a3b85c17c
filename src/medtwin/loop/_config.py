"""The twin's configuration, and the model, prior and filter it builds.

What the loop needs of a model it reads off the model's declaration (``medtwin.models``):
its observables with LOINC codes and units, the events it takes (:class:`EventSpec`), and its
:class:`TwinDefaults` (prior, learnt parameters, filter drift, alert rules). A model a user
registers with ``register_model`` therefore becomes a twin here -- and so in the store, the
service, the dashboard and ``medtwin twin replay`` -- with no edit anywhere else.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

import jax
import numpy as np

from .. import limits, timeunits
from ..assimilate import ParticleFilter, PopulationPrior, Prior, SensorError, SpecPrior
from ..errors import LimitError, MedtwinError, ModelError, StoreError
from ..models import get_model
from ..models._base import AbstractModel
from ..twin import Twin
from ._kind import kind_of

__all__ = ["TwinConfig", "build_twin", "model_of", "new_twin", "time_bounds"]


@dataclass(frozen=True)
class TwinConfig:
    """How a patient's twin is made. ``model``: registry name (``t1d``, ``sepsis``, ...).
    ``prior``: ``population`` (a kernel density over the model's published population, e.g.
    the 30 T1D virtual patients) or ``spec`` (the ``ParameterSpec`` priors of the ``free``
    parameters). ``free``: the parameters the twin learns (None: the model's
    ``twin_defaults.free``). ``n``: particles. ``seed``: the root key. ``epoch``: the UTC
    datetime of model time 0. ``horizon`` and ``every``: the forecast issued with each version,
    in the model's time unit (``every`` None: 5 input steps). ``drift``: the particle filter's
    parameter drift per sqrt(hour) (None: the model's ``twin_defaults.drift``). ``sensor``: an
    observable whose readings come from a continuous sensor with autocorrelated error (a CGM:
    ``sc_glucose`` of the T1D twin), carried as every particle's AR(1) sensor state with its
    exact conditional likelihood (:class:`~medtwin.assimilate.SensorError`, the closed loop's
    and ``medtwin twin replay``'s model of a CGM file); None: independent reading errors.

    A new configuration is checked against the declared work bounds of ``medtwin.limits``
    (``n`` 16..5000, ``horizon`` within the model's declared forecast span -- a week unless
    it declares another, ten years for the LDL twin --, ``every`` a multiple of the input step,
    at most 2,016 forecast points), so the API, the CLI and the store refuse the same requests
    (:class:`~medtwin.errors.LimitError`); :meth:`from_json` reads a stored one as stored.

    The model's kind of twin (``_kind``) checks what it needs: a network twin (``model`` a
    network of ``medtwin.bn``, e.g. ``stroke``) takes its network's expert prior, learns no
    parameters by a filter (``prior`` left at its default, ``free`` and ``drift`` unset) and
    issues no forecast; its model time is in minutes from ``epoch`` (symptom onset for the
    stroke twin)."""

    model: str
    epoch: datetime
    prior: str = "population"
    free: tuple[str, ...] | None = None
    n: int = 1000
    seed: int = 0
    horizon: float = 60.0
    every: float | None = None
    drift: float | None = None
    sensor: str | None = None

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
        if self.sensor is not None and not (isinstance(self.sensor, str)
                                            and 0 < len(self.sensor) <= 64):  # fmt: skip
            raise StoreError(
                "TwinConfig.sensor must be the name of an observable read by a continuous sensor "
                f"(e.g. 'sc_glucose'), or None. Got {limits.shown(self.sensor)}."
            )
        kind_of(self.model).check(self)  # the kind of twin checks the rest (``_kind``)

    def _check_work(self, model: AbstractModel) -> None:
        """The declared bounds (``medtwin.limits``) on what scales a twin's work: particles,
        forecast horizon, cadence and points, the times in the model's own unit."""
        limits.PARTICLES.check(self.n)
        unit, step = model.time_unit, model.input_dt
        bounds = time_bounds(model)
        horizon = bounds.horizon.check(self.horizon)
        if self.every is None:
            every = 5 * step
        else:
            every = bounds.every.check(self.every, high=horizon)
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
        if self.sensor is not None:
            try:
                model.observable_index(self.sensor)
            except ModelError as exc:
                raise StoreError(
                    f"TwinConfig.sensor names the observable a continuous sensor reads: {exc}"
                ) from None

    @property
    def time_unit(self) -> str:
        """The time unit of the configured model (``min``, ``h`` or ``d``)."""
        return kind_of(self.model).time_unit(self)

    def to_json(self) -> str:
        doc = {**asdict(self), "epoch": self.epoch.isoformat()}
        doc["free"] = list(self.free) if self.free is not None else None
        if self.sensor is None:  # a configuration without one is stored as it always was
            del doc["sensor"]
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


def time_bounds(model: AbstractModel) -> limits.TimeBounds:
    """The bounds on a twin's time spans for ``model``, in its time unit: the spans it declares
    (``twin_defaults.spans``, :class:`medtwin.limits.Spans`), checked by :func:`model_of`
    against what a twin may cost."""
    return model.twin_defaults.spans.bounds(model.time_unit)


def model_of(name: object) -> AbstractModel:
    """The registered model ``name`` if a live twin can run it (timed in a unit of
    ``medtwin.timeunits``, no configuration needed -- states declared by the class, not a grid
    an instance is made with --, its declared spans within
    ``medtwin.limits.TWIN_STEPS`` of its input steps)."""
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise StoreError(f"TwinConfig.model must be a model name. Got {limits.shown(name)}.")
    try:
        model = get_model(name)
    except MedtwinError as exc:
        raise StoreError(f"TwinConfig.model: {exc}") from None
    except TypeError:  # a model that needs configuration (a grid): not one a live twin runs
        model = None
    if model is None or isinstance(inspect.getattr_static(type(model), "states"), property):
        # its states depend on its configuration (a grid's cells), which the store does not
        # hold: the twin of an image series runs on the command line (`medtwin twin glioma`)
        raise StoreError(
            f"TwinConfig.model: {name!r} needs a configuration the store does not hold (its "
            "states are declared per instance, e.g. a grid's cells)."
        )
    if model.time_unit not in timeunits.SECONDS:
        raise StoreError(
            f"A twin runs models timed in {', '.join(timeunits.SECONDS)}; {name!r} is timed in "
            f"{model.time_unit!r}."
        )
    try:
        model.twin_defaults.spans.check_cost(model.name, model.time_unit, model.input_dt)
    except LimitError as exc:
        raise StoreError(f"TwinConfig.model: {exc}") from None
    return model


_BUILT: dict[tuple[str, type], tuple[AbstractModel, Prior, ParticleFilter]] = {}
_BUILT_MOST = 256  # configurations kept (a site's twins share a handful)


def build_twin(config: TwinConfig) -> tuple[AbstractModel, Prior, ParticleFilter]:
    """The model, prior and filter of ``config`` (:class:`StoreError` if they do not fit).

    All three are immutable, so they are built once per configuration and registered model
    class (a model registered again under the same name is built anew) and kept: every
    update of a twin restores it, and a population prior costs a millisecond to make."""
    key = (config.to_json(), type(_model_of_config(config)))
    built = _BUILT.get(key)
    if built is None:
        model, prior = _model_prior(config)
        drift = model.twin_defaults.drift if config.drift is None else config.drift
        sensor = None if config.sensor is None else SensorError(observable=config.sensor)
        built = (model, prior, ParticleFilter(drift=float(drift), sensor=sensor))
        if len(_BUILT) >= _BUILT_MOST:
            _BUILT.clear()
        _BUILT[key] = built
    return built


def _model_prior(config: TwinConfig) -> tuple[AbstractModel, Prior]:
    model = _model_of_config(config)
    free = config.free if config.free is not None else model.twin_defaults.free or None
    if config.prior == "population":
        try:
            population = np.asarray(model.population())
        except MedtwinError:
            raise StoreError(
                f"prior='population' needs a model that ships a parameter population; "
                f"{config.model!r} has none. For {config.model!r} use prior='spec' with the free "
                "parameters named."
            ) from None
        try:
            return model, PopulationPrior(population, tuple(free or ()))
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


def _model_of_config(config: TwinConfig) -> AbstractModel:
    return model_of(config.model)


def new_twin(config: TwinConfig) -> Twin:
    """Version 0 of the twin described by ``config``."""
    model, prior, method = build_twin(config)
    key = jax.random.key(config.seed)
    return Twin.create(model, prior, key=key, n=config.n, t0=0.0, method=method)
