"""Declared bounds on every request parameter that scales work, checked in one place.

The service, the CLI and the store take particle counts, horizons, cadences and what-if options
from people who may ask for more than a shared server can give (a twin of 200,000 particles ran
6.5 minutes at 2 GB). Each :class:`Bound` below names the parameter, its unit, its range and why
the range is what a clinician needs; :meth:`Bound.check` refuses anything else -- a value out of
range, a non-number, a bool, NaN or an infinity -- with a :class:`~medtwin.errors.LimitError`
that says what was expected and what came. ``TwinConfig`` (store, API, CLI), the what-if parser
(API and dashboard) and ``medtwin twin replay`` all check through here; so do the command
line's local runs (simulated time, trial cohorts, sensitivity samples, batches, workers, seeds),
before any work starts.

Cost model (2 shared CPU cores, UVA/Padova at its 1-min input step): a forecast or an advance
costs about n x steps / 4e6 seconds, an observation time about 35 ms at 5,000 particles. The
largest allowed twin creation (5,000 particles, a 7-day forecast, a first update of the most
one update takes) and the largest what-if (6 options of 50 events over 2 days) each finish
within about a minute there (``benchmarks/service_heavy_load.py``).

Times are declared in minutes and converted to a model's own unit (min, h or d) with
:meth:`Bound.in_unit` (through :mod:`medtwin.timeunits`). This module does no I/O and imports
nothing but ``medtwin.errors`` and ``medtwin.timeunits``.

Time spans follow the model. How far one forecast, one update or one what-if may reach is a
clinical question whose answer differs by model -- a week for a CGM twin, years for a
cholesterol twin whose labs are months apart -- while what it costs is the number of model
input steps advanced (the solver takes one or a few per input step, whatever the unit). So a
model declares its spans (:class:`Spans`, in ``TwinDefaults.spans`` of ``medtwin.models``)
with the reason for them; :meth:`Spans.bounds` turns them into the :class:`Bound` objects a
twin's requests are checked against, in the model's unit, and :meth:`Spans.check_cost`
refuses a declaration whose span would advance more than :data:`TWIN_STEPS` input steps. The
defaults are the bounds below (:data:`FORECAST_HORIZON`, :data:`UPDATE_SPAN`,
:data:`WHAT_IF_HORIZON`), so every model that declares none accepts and refuses exactly what it
did. Bounds in input steps alone were the other choice and were not taken: they would give the
sepsis twin (3-minute steps) three weeks where a clinician needs days and the T1D twin one, and
the step count says what a request costs, not how far ahead is worth forecasting. The counts
(particles, forecast points, observation times and events per update, what-if options) do not
depend on the time unit and stay as declared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from numbers import Real
from typing import Any, NamedTuple

from .errors import LimitError
from .timeunits import SECONDS, convert

__all__ = [
    "BATCH_ROWS",
    "CARDIAC_CELLS",
    "CARDIAC_CYCLE",
    "CARDIAC_ELECTRODES",
    "CARDIAC_EXTRASTIMULI",
    "CARDIAC_LABEL",
    "CARDIAC_PHANTOM_SIDE",
    "CARDIAC_PHANTOM_SPACING",
    "CARDIAC_S1_BEATS",
    "CARDIAC_SPAN",
    "EVENT_AFTER",
    "EVENT_AMOUNT",
    "FORECAST_EVERY",
    "FORECAST_HORIZON",
    "FORECAST_POINTS",
    "HEAVY_REQUESTS_PER_USER",
    "PARTICLES",
    "SEED",
    "SENSITIVITY_RUNS",
    "SIMULATION_POINTS",
    "SIMULATION_SPAN",
    "TRIAL_BOOTSTRAP",
    "TRIAL_PATIENTS",
    "TWIN_STEPS",
    "UNSTORED_PARTICLES",
    "UPDATE_EVENTS",
    "UPDATE_SPAN",
    "UPDATE_TIMES",
    "WHAT_IF_EVENTS",
    "WHAT_IF_HORIZON",
    "WHAT_IF_OPTIONS",
    "WORKERS",
    "Bound",
    "Spans",
    "TimeBounds",
    "finite",
    "shown",
]


def shown(value: Any) -> str:
    """``value`` for a message: short, and never a 4,300-digit integer's conversion error."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__
        return f"a {type(value).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


def _num(x: float) -> str:
    if x == int(x) and 1e6 <= abs(x) < 2**64:  # a large count or seed: every digit, grouped
        return f"{int(x):,}"
    return f"{x:g}" if x != int(x) or abs(x) >= 1e6 else str(int(x))


@dataclass(frozen=True)
class Bound:
    """``name`` (as the caller writes it) of ``owner`` means ``what``, in ``unit``; allowed:
    ``low..high`` (``low`` excluded if ``low_open``), an integer if ``integer``. ``reason``
    says why the range is what it is."""

    name: str
    what: str
    owner: str
    low: float
    high: float
    unit: str
    reason: str
    integer: bool = False
    low_open: bool = False
    count: bool = False  # a number of things (options, events): "must hold 1..6 options"

    def in_unit(self, unit: str) -> Bound:
        """This bound (declared in a time unit, most in minutes) in the model time ``unit``
        (``s``, ``min``, ``h`` or ``d``; see :mod:`medtwin.timeunits`)."""
        if self.unit not in SECONDS or unit not in SECONDS:
            raise LimitError(f"Bound {self.name!r} is in {self.unit}; cannot convert to {unit!r}.")
        low, high = (convert(x, self.unit, unit) for x in (self.low, self.high))
        return replace(self, low=low, high=high, unit=unit)

    def range(self, high: float | None = None) -> str:
        hi = self.high if high is None else high
        if self.integer:
            return f"{_num(self.low)}..{_num(hi)}"
        return f"{'(' if self.low_open else '['}{_num(self.low)}, {_num(hi)}]"

    def check(self, value: Any, *, name: str | None = None, high: float | None = None) -> Any:
        """``value`` if it lies in this bound (``high``: a tighter upper end for this call),
        else :class:`LimitError`. Bools, strings, NaN and infinities are refused."""
        hi = self.high if high is None else min(high, self.high)
        if self.integer:
            ok = isinstance(value, int) and not isinstance(value, bool)
            kind = "an integer"
        else:
            ok = isinstance(value, Real) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
            kind = "a finite number"
        if ok:
            above = value > self.low if self.low_open else value >= self.low
            ok = above and value <= hi
        if not ok:
            label = name or self.name
            if self.count:
                raise LimitError(
                    f"The {label!r} of {self.owner} must hold {self.range(hi)} {self.unit}. "
                    f"Got {shown(value)}.",
                    label,
                )
            raise LimitError(
                f"The {label!r} ({self.what}) of {self.owner} must be {kind} in "
                f"{self.range(hi)}{'' if self.unit in ('', self.what) else ' ' + self.unit}. "
                f"Got {shown(value)}.",
                label,
            )
        return value


def finite(value: Any, name: str, owner: str) -> float:
    """``value`` as a float if it is a finite number (not a bool), else :class:`LimitError`."""
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise LimitError(f"The {name!r} of {owner} must be a finite number. Got {shown(value)}.", name)


# -- a twin (TwinConfig: POST /patients/{pid}/twin, the store, the CLI) ----------------------

PARTICLES = Bound(
    "n", "particles", "a twin", 16, 5000, "particles", integer=True,
    reason="Below 16 particles the posterior is noise. Cost and memory grow linearly with n; "
    "the T1D twin is calibrated with 1,000 (the default) and 5,000 leave sampling error well "
    "below the model's: more buys nothing a clinician can see.",
)  # fmt: skip
FORECAST_HORIZON = Bound(
    "horizon", "forecast horizon", "a twin", 0, 7 * 24 * 60, "min", low_open=True,
    reason="A week ahead: beyond a few hours a T1D forecast's bands reach the population "
    "spread, and a sepsis course plays out within days. Cost grows linearly with it.",
)  # fmt: skip
FORECAST_EVERY = Bound(
    "every", "forecast cadence", "a twin", 0, 7 * 24 * 60, "min", low_open=True,
    reason="At most the horizon; at least the model's input step (checked by TwinConfig).",
)  # fmt: skip
FORECAST_POINTS = Bound(
    "horizon / every", "forecast points", "a twin", 1, 2016, "points", integer=True,
    reason="A week at the CGM's 5-minute cadence. Each version stores n x points x "
    "observables draws while it is computed (5,000 x 2,016 x 3 = 240 MB).",
)  # fmt: skip

# -- one twin update (not a request parameter: the most one version takes; the rest of the
# pending data waits for the next update, so no request pays for an unbounded backlog) ------

UPDATE_SPAN = Bound(
    "span", "model time one update advances", "a twin update", 0, 7 * 24 * 60, "min",
    low_open=True,
    reason="An observation dated years after the twin's time (or an epoch years before the "
    "data) would advance every particle over years. A week costs ~15 s at 5,000 particles.",
)  # fmt: skip
UPDATE_TIMES = Bound(
    "times", "observation times one update assimilates", "a twin update", 1, 288, "times",
    integer=True,
    reason="A day of 5-minute CGM readings; each time costs ~35 ms at 5,000 particles.",
)  # fmt: skip
UPDATE_EVENTS = Bound(
    "events", "regimen events one update takes", "a twin update", 1, 288, "events",
    integer=True,
    reason="Every advance compiles the whole regimen on the host: keep what one update adds "
    "to a day's worth of meals, boluses and basal changes several times over.",
)  # fmt: skip

# -- a what-if (POST /patients/{pid}/what-if and the dashboard's) -----------------------------

WHAT_IF_HORIZON = Bound(
    "horizon", "what-if horizon", "a what-if", 0, 2 * 24 * 60, "min", low_open=True,
    reason="Two days: insulin acts within 6 h and a meal within 4 h; a sepsis treatment "
    "choice is judged over the first days. Each option is one forecast this long.",
)  # fmt: skip
WHAT_IF_OPTIONS = Bound(
    "options", "regimens compared", "a what-if", 1, 6, "options", integer=True, count=True,
    reason="A clinician compares a handful of plans (none, the usual, a few doses); each "
    "option is a whole forecast.",
)  # fmt: skip
WHAT_IF_EVENTS = Bound(
    "events", "events per option", "a what-if option", 0, 50, "events", integer=True, count=True,
    reason="Two days of meals, boluses and basal changes, several times over.",
)  # fmt: skip
EVENT_AFTER = Bound(
    "after", "time from the twin's time", "a what-if event", 0, 2 * 24 * 60, "min",
    reason="Within the what-if's horizon (the call passes it as the upper end).",
)  # fmt: skip
EVENT_AMOUNT = Bound(
    "amount", "dose, meal or rate", "a what-if event", 0, 10_000, "g, U, U/h or 1/h",
    reason="Finite and far beyond any meal (g), bolus (U) or rate a patient receives.",
)  # fmt: skip

# -- how far a twin reaches: the spans a model declares, and what they may cost ----------------

TWIN_STEPS = Bound(
    "steps", "model input steps one forecast, update or what-if advances", "a twin", 1, 10_080,
    "input steps", integer=True,
    reason="A week of the T1D twin's 1-minute steps, the most any span allowed before models "
    "declared their own: about n x steps / 4e6 s, 13 s for 5,000 particles on 2 shared cores.",
)  # fmt: skip


class TimeBounds(NamedTuple):
    """The time-span bounds of a twin of one model, in its time unit (:meth:`Spans.bounds`)."""

    horizon: Bound  # the forecast horizon (TwinConfig.horizon)
    every: Bound  # the forecast cadence (at most the horizon; a multiple of the input step)
    update: Bound  # the model time one update advances
    what_if: Bound  # the what-if horizon
    event_after: Bound  # a what-if event's time from the twin's time (within the horizon)


@dataclass(frozen=True)
class Spans:
    """How far a twin of a model may reach, in model time ``unit`` (``s``, ``min``, ``h`` or
    ``d``), declared by the model (``TwinDefaults.spans``): ``forecast``, the longest forecast
    horizon (and cadence) of a twin; ``update``, the most model time one update advances (a
    record further ahead waits while the twin moves on by this much); ``what_if``, the longest
    what-if horizon. ``reason`` says why, for the refusals. A span left ``None`` is the
    module's bound when it is used: :data:`FORECAST_HORIZON`, :data:`UPDATE_SPAN` and
    :data:`WHAT_IF_HORIZON` (a week, a week, two days; read at use, so the declared bounds stay
    the one place those values live)."""

    forecast: float | None = None
    update: float | None = None
    what_if: float | None = None
    unit: str = "min"
    reason: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.unit, str) or self.unit not in SECONDS:
            raise LimitError(
                f"Spans.unit must be one of {', '.join(SECONDS)}. Got {shown(self.unit)}.", "unit"
            )
        for name in ("forecast", "update", "what_if"):
            if getattr(self, name) is None:
                continue
            value = finite(getattr(self, name), name, "a model's twin spans")
            if value <= 0:
                raise LimitError(
                    f"The {name!r} span of a model's twin must be > 0 {self.unit}. Got {value!r}.",
                    name,
                )

    def bounds(self, unit: str) -> TimeBounds:
        """The bounds of a twin's time spans in model time ``unit``: those of this module
        with their upper ends (and, when declared, their reason) from these spans."""

        def own(bound: Bound, high: float | None) -> Bound:
            if high is None:
                return bound.in_unit(unit)
            reason = self.reason or bound.reason
            return replace(bound, high=high, unit=self.unit, reason=reason).in_unit(unit)

        return TimeBounds(
            own(FORECAST_HORIZON, self.forecast),
            own(FORECAST_EVERY, self.forecast),
            own(UPDATE_SPAN, self.update),
            own(WHAT_IF_HORIZON, self.what_if),
            own(EVENT_AFTER, self.what_if),
        )

    def check_cost(self, model: str, unit: str, input_dt: float) -> None:
        """:class:`LimitError` if a span, in input steps of ``input_dt`` ``unit`` (the model's
        time unit and step), exceeds :data:`TWIN_STEPS`: what a span costs is the steps it
        advances, so a model timed in days may reach years and one timed in seconds minutes."""
        b = self.bounds(self.unit)
        for what, value in (("forecast", b.horizon.high), ("update", b.update.high),
                            ("what_if", b.what_if.high)):  # fmt: skip
            steps = convert(value, self.unit, unit) / input_dt
            if steps > TWIN_STEPS.high * (1.0 + 1e-9):
                raise LimitError(
                    f"The {what} span of model {model!r}, {value:g} {self.unit}, is "
                    f"{steps:,.0f} of its {input_dt:g}-{unit} input steps; a twin may advance "
                    f"at most {TWIN_STEPS.high:,.0f} steps at once ({TWIN_STEPS.reason}) "
                    "Declare a shorter span (TwinDefaults.spans) or a longer input step.",
                    what,
                )


# -- local runs (the command line: simulate, trials, sensitivity; the CLI checks these before
# any work, so a mistyped number fails in a second instead of exhausting the machine) ---------

SIMULATION_SPAN = Bound(
    "t1", "simulated time", "a run", 0, 366 * 24 * 60, "min", low_open=True,
    reason="A year (and a leap day): the longest CGM record or treatment course a run "
    "replays. `simulate t1d --days 366` writes 527,040 rows in about 21 s with 0.8 GB at "
    "its peak (measured on the 2-core machine); cost and memory grow linearly with it "
    "(1e8 days asked for 2 TiB).",
)  # fmt: skip
SIMULATION_POINTS = Bound(
    "points", "output times", "a run", 2, 1_000_001, "times", integer=True,
    reason="The rows a time course writes (`sbml simulate`: --t1 / --dt + 1): a million rows "
    "of a few observables are tens of MB of CSV; beyond that a coarser --dt says the same.",
)  # fmt: skip
UNSTORED_PARTICLES = replace(
    PARTICLES, owner="a twin run on the command line (glioma)", low=2,
    reason="As PARTICLES, but a twin that is not stored may take a small ensemble for a "
    "quick look (at least 2: a spread).",
)  # fmt: skip
SEED = Bound(
    "seed", "random seed", "a run", 0, 2**63 - 1, "", integer=True,
    reason="The root of every random key and seed sequence: a non-negative 64-bit integer "
    "(jax.random.key and numpy's SeedSequence take these; larger ones overflow).",
)  # fmt: skip
TRIAL_PATIENTS = Bound(
    "n", "virtual patients", "a trial", 1, 10_000, "patients", integer=True,
    reason="Published in-silico trials on the UVA/Padova simulator use 100-300 virtual "
    "patients; 10,000 leaves room for population studies. Each patient is simulated once "
    "per arm (and once more to check plausibility when the cohort is enlarged).",
)  # fmt: skip
TRIAL_BOOTSTRAP = Bound(
    "n_boot", "bootstrap resamples", "a trial report", 100, 10_000, "resamples", integer=True,
    reason="Percentile intervals need a few thousand resamples (Efron & Tibshirani 1993, "
    "ch. 13); each resample redraws every patient for every arm and endpoint.",
)  # fmt: skip
SENSITIVITY_RUNS = Bound(
    "runs", "model runs", "a sensitivity analysis", 1, 2**20, "runs", integer=True,
    reason="Sobol needs n x (parameters + 2) runs, Morris r x (parameters + 1); n = 16,384 "
    "over 62 parameters (or r = 1,000 Morris trajectories over 1,000) stays within 2**20.",
)  # fmt: skip
BATCH_ROWS = Bound(
    "chunk", "rows per vmapped batch", "a batched run", 1, 10_000, "rows", integer=True,
    reason="One batch is held in memory at once: 10,000 six-hour UVA/Padova runs at its "
    "1-min step are a few hundred MB.",
)  # fmt: skip
WORKERS = Bound(
    "workers", "worker processes", "an executor", 1, 64, "workers", integer=True,
    reason="Each worker is a process with its own JAX runtime (~0.3 GB): more than a large "
    "machine's cores buys nothing.",
)  # fmt: skip

# -- a paced cardiac tissue (`medtwin simulate cardiac`, checked before any work) ------------

_CARDIAC = "medtwin simulate cardiac"
CARDIAC_SPAN = Bound(
    "--ms", "simulated time", _CARDIAC, 0.0, 10_000.0, "ms", low_open=True,
    reason="ten seconds: an 8-beat drive train, three extrastimuli and seconds of VT",
)  # fmt: skip
CARDIAC_CYCLE = Bound(
    "--s1-cycle / --s2", "a coupling interval", _CARDIAC, 10.0, 5_000.0, "ms",
    reason="from a fast VT's cycle to a slow sinus rhythm's",
)  # fmt: skip
CARDIAC_S1_BEATS = Bound(
    "--s1-count", "S1 beats", _CARDIAC, 1, 20, "", integer=True,
    reason="a clinical drive train is 8",
)  # fmt: skip
CARDIAC_EXTRASTIMULI = Bound(
    "--s2", "extrastimuli", _CARDIAC, 0, 3, "extrastimuli", integer=True, count=True,
    reason="S2 to S4",
)  # fmt: skip
CARDIAC_PHANTOM_SIDE = Bound(
    "--phantom-size", "a side of the sheet", _CARDIAC, 15.0, 200.0, "mm",
    reason="room for the scar and its channel, up to a whole ventricle's size",
)  # fmt: skip
CARDIAC_PHANTOM_SPACING = Bound(
    "--phantom-spacing", "the phantom's grid spacing", _CARDIAC, 0.05, 1.0, "mm",
    reason="fronts are a fraction of a millimetre wide",
)  # fmt: skip
CARDIAC_ELECTRODES = Bound(
    "--electrode", "electrodes", _CARDIAC, 1, 32, "electrodes", integer=True, count=True,
    reason="a 12-lead ECG and more",
)  # fmt: skip
CARDIAC_LABEL = Bound(
    "--myocardium-label / --blood-pool-label", "a label value", _CARDIAC, 0, 65_535, "",
    integer=True, reason="a NIfTI label image's values",
)  # fmt: skip
CARDIAC_CELLS = Bound(
    "cells", "grid cells", _CARDIAC, 1, 2_000_000, "", integer=True,
    reason="a 1 mm left ventricle",
)  # fmt: skip

# -- a cardiac twin (`medtwin twin cardiac`, checked before any file is read) ----------------

_CARDIAC_TWIN = "medtwin twin cardiac"
CARDIAC_TWIN_DRAWS = Bound(
    "--draws", "posterior draws", _CARDIAC_TWIN, 1, 1000, "draws", integer=True,
    reason="each draw runs the whole stimulation protocol from every site; 1,000 draws give "
    "P(inducible) within 1.6 points (its binomial sd at 0.5), finer than any decision needs",
)  # fmt: skip
CARDIAC_TWIN_SITES = Bound(
    "--sites", "stimulation sites", _CARDIAC_TWIN, 1, 50, "sites", integer=True,
    reason="a clinical protocol paces from 2-3 sites; 50 spread over the healthy tissue map "
    "inducibility across a whole ventricle, and each site is a protocol per draw",
)  # fmt: skip
CARDIAC_TWIN_S1_BEATS = replace(CARDIAC_S1_BEATS, name="--s1-beats", owner=_CARDIAC_TWIN)

# -- trials (cli/_control.py, control/_therapy.py) --------------------------------------------

MAX_THERAPY_ERROR = 1.0
"""The largest error of a trial's therapy settings (``--therapy-error``,
``control.therapy_with_error``): the sd of the log of each setting. 1.0 is a factor e (2.7) at
one sd; beyond, no setting is plausible (0.25-0.3 is the spread reported for clinician-set
settings). Here so that the command line checks it before JAX loads."""

# -- requests in flight (service/_concurrency.py) --------------------------------------------

HEAVY_REQUESTS_PER_USER = 2
"""Twin creations, data posts that update twins and what-ifs one user may have running at once
(then 429 with Retry-After): one interactive request plus one stream, so that one user cannot
take every worker of the service."""
