"""Scores of probabilistic forecasts: CRPS, central intervals, coverage, PIT and point errors.

A probabilistic forecast of one target (e.g. the glucose reading 30 min ahead) is an
**ensemble of draws** from the predictive distribution, measurement noise included, with the
draws on the **last** axis (shape ``[..., n_draws]``), plus the nested central bands derived
from it (50/80/95 %). Observations have the leading (batch) shape ``[...]``, one value per
target. Every function is a pure ``jax.numpy`` function: it accepts numpy arrays, lists and jax
arrays and works inside ``jax.jit`` and ``jax.vmap``.

NaN handling: a NaN **observation** means "not observed" -- that target is excluded (per-target
scores are NaN there, aggregates skip it). A NaN **draw** is a missing draw (e.g. a failed
simulation) and is dropped from its ensemble; an ensemble without a single valid draw gives
NaN. Point-error aggregates (:func:`mae`, :func:`rmse`, :func:`mard`) skip every pair with a
NaN on either side.

Argument checks (dtype, shapes, ``level``/``conf`` in (0, 1), counts) happen at the boundary:
shapes and dtypes are always checked, values only for concrete (non-traced) inputs; they raise
:class:`~medtwin.errors.DataError`. Behind the checks each score runs as one compiled kernel,
so that eager calls compile once per shape instead of once per operation.

References
----------
- Gneiting T., Raftery A. E. (2007). Strictly proper scoring rules, prediction, and
  estimation. Journal of the American Statistical Association 102(477):359-378. (CRPS energy
  form, eq. 21; interval score, section 6.2.)
- Hersbach H. (2000). Decomposition of the continuous ranked probability score for ensemble
  prediction systems. Weather and Forecasting 15(5):559-570. (CRPS of an ensemble.)
- Ferro C. A. T. (2014). Fair scores for ensemble forecasts. Quarterly Journal of the Royal
  Meteorological Society 140(683):1917-1923. (The "fair" ensemble CRPS.)
- Hyndman R. J., Fan Y. (1996). Sample quantiles in statistical packages. The American
  Statistician 50(4):361-365. (Quantile definition 7, linear interpolation.)
- Wilson E. B. (1927). Probable inference, the law of succession, and statistical inference.
  Journal of the American Statistical Association 22(158):209-212. (Score interval.)
- Dawid A. P. (1984). Present position and potential developments: some personal views.
  Statistical theory. The prequential approach. JRSS A 147(2):278-292. (PIT.)
- Czado C., Gneiting T., Held L. (2009). Predictive model assessment for count data.
  Biometrics 65(4):1254-1261. (PIT with ties: the mid-point of the CDF jump.)
- Danne T. et al. (2017). International consensus on use of continuous glucose monitoring.
  Diabetes Care 40(12):1631-1640. (MARD as the CGM accuracy metric.)
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Bool, Float, Int

from ..errors import DataError

# jaxtyping shapes: draws on the last axis, any leading batch axes. Aliases (rather than the
# strings inline in every signature) keep linters from parsing "*batch draws" as Python code.
DrawsInput = Float[ArrayLike, "*batch draws"]  # ensemble draws, NaN marks a missing draw
ObservedInput = Float[ArrayLike, "*batch"]  # one observation per target, NaN = not observed
BoundInput = Float[ArrayLike, "*batch"]  # lower or upper end of an interval
PredictedInput = Float[ArrayLike, "*batch"]  # point predictions
LevelInput = Float[ArrayLike, "*levels"]  # central-interval level(s) in (0, 1)
CountInput = Float[ArrayLike, "*batch"]  # counts (integers or floats)
Draws = Float[Array, "*batch draws"]
DrawMask = Bool[Array, "*batch draws"]
PerTarget = Float[Array, "*batch"]  # one value per target
Bounds = Float[Array, "*batch"]  # one bound per target (and level, levels last)
Counts = Int[Array, "*batch"]
Flags = Bool[Array, "*batch"]
Axis = int | tuple[int, ...] | None

__all__ = [
    "Coverage",
    "central_interval",
    "coverage",
    "coverage_drift",
    "coverage_interval",
    "crps_ensemble",
    "interval_covered",
    "interval_score",
    "mae",
    "mard",
    "pit",
    "rmse",
]


# --------------------------------------------------------------------------- helpers


def _as_float(x: ArrayLike) -> Array:
    """``x`` as a floating jax array (integers become the default float dtype)."""
    x = jnp.asarray(x)
    return x.astype(jnp.result_type(x.dtype, float))


def _is_concrete(x: object) -> bool:
    """True for a value that can be inspected now (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def _check_numeric(fn: str, name: str, x: ArrayLike) -> None:
    """Raise :class:`DataError` when ``x`` is not real numeric (checked for tracers too)."""
    dtype = x.dtype if isinstance(x, jax.core.Tracer) else np.asarray(x).dtype
    if dtype.kind not in "iuf":
        raise DataError(
            f"{fn}() needs real numeric values for `{name}`. Got an array of dtype {dtype}. "
            "Convert it to float first (mark missing values as NaN)."
        )


def _check_draws(fn: str, draws: ArrayLike) -> None:
    """Raise :class:`DataError` unless ``draws`` is numeric with >= 1 draw on the last axis."""
    _check_numeric(fn, "draws", draws)
    shape = np.shape(draws)
    if len(shape) == 0 or shape[-1] == 0:
        raise DataError(
            f"{fn}() needs an ensemble of draws on the last axis (shape [..., n_draws] with "
            f"n_draws >= 1). Got shape {shape}. Pass the draws with the ensemble axis last, "
            "e.g. draws[..., None] for a single draw per target."
        )


def _target_shape(
    fn: str, draws_shape: tuple[int, ...], obs_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """Broadcast shape of the targets ``draws.shape[:-1]`` and ``observed.shape``."""
    try:
        return np.broadcast_shapes(draws_shape[:-1], obs_shape)
    except ValueError:
        raise DataError(
            f"{fn}() needs one observation per ensemble: `observed` must broadcast against "
            f"the leading axes of `draws` (draws on the last axis). Got draws of shape "
            f"{draws_shape} and observed of shape {obs_shape}. Put the draws on the last "
            "axis (e.g. draws.T or jnp.moveaxis(draws, 0, -1))."
        ) from None


def _broadcast_shapes(fn: str, **arrays: ArrayLike) -> tuple[int, ...]:
    """Broadcast shape of ``arrays``; :class:`DataError` naming them when they do not fit."""
    shapes = {name: np.shape(a) for name, a in arrays.items()}
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        got = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise DataError(
            f"{fn}() needs arrays of matching (broadcastable) shapes. Got {got}. Pass one "
            "value per target in each array, with the same axes in the same order."
        ) from None


def _check_unit_open(fn: str, name: str, value: ArrayLike, max_ndim: int | None = None) -> None:
    """Raise :class:`DataError` unless a concrete ``value`` lies strictly inside (0, 1)."""
    _check_numeric(fn, name, value)
    if max_ndim is not None and np.ndim(value) > max_ndim:
        raise DataError(
            f"{fn}() needs `{name}` as a scalar or a 1-D sequence. Got shape "
            f"{np.shape(value)}. Pass e.g. 0.8 or [0.5, 0.8, 0.95]."
        )
    if not _is_concrete(value):
        return
    arr = np.asarray(value, dtype=float)
    if not np.all((arr > 0.0) & (arr < 1.0)):
        raise DataError(
            f"{fn}() needs `{name}` strictly between 0 and 1 (a probability, e.g. 0.8 for an "
            f"80 % interval). Got {arr.tolist()}. Pass a fraction, not a percentage: "
            "80 % is 0.8."
        )


def _draw_mask(x: Draws) -> DrawMask:
    """True where a draw is present (not NaN)."""
    return ~jnp.isnan(x)


def _nan_where_unobserved(value: Array, observed: Array) -> Array:
    """``value`` with NaN wherever ``observed`` is NaN (the target was not observed)."""
    return jnp.where(jnp.isnan(observed), jnp.nan, value)


# --------------------------------------------------------------------------- CRPS


def crps_ensemble(draws: DrawsInput, observed: ObservedInput, *, fair: bool = False) -> PerTarget:
    """Continuous ranked probability score of an ensemble forecast (lower is better).

    The **standard** (default) form is the CRPS of the empirical distribution of the ``m``
    valid draws, in the energy form of Gneiting & Raftery (2007, eq. 21)::

        CRPS = E|X - y| - 1/2 E|X - X'|
             = (1/m) sum_i |x_i - y| - (1/m^2) sum_i (2i - m - 1) x_(i)

    where ``x_(1) <= ... <= x_(m)`` are the sorted draws; ``sum_{i,j} |x_i - x_j| =
    2 sum_i (2i - m - 1) x_(i)``, so sorting gives the spread term in ``O(m log m)`` instead
    of ``O(m^2)``. This equals the integral form of Hersbach (2000) for the ensemble's step
    CDF. It is biased for the underlying distribution by ``+E|X - X'| / (2m)``.

    With ``fair=True`` the spread term is divided by ``m (m - 1)`` instead of ``m^2`` (the
    "fair" CRPS of Ferro 2014): an unbiased estimator of the CRPS of the distribution the
    draws come from. For ``m = 1`` both forms give ``|x - y|``.

    Args:
        draws: Ensemble draws, shape ``[..., n_draws]`` (draws on the last axis). NaN draws are
            dropped.
        observed: Observations, shape ``[...]`` (broadcast against ``draws.shape[:-1]``), in
            the unit of the draws. NaN means not observed.
        fair: Use the fair (unbiased) form instead of the standard one.

    Returns:
        The CRPS per target, in the unit of the data; NaN where the target was not observed or
        the ensemble has no valid draw.

    Raises:
        DataError: if ``draws`` is not numeric, has no draw axis or no draws, or ``observed``
            does not broadcast against its leading axes.

    References: Gneiting & Raftery 2007, JASA 102:359; Hersbach 2000, Wea. Forecasting 15:559;
    Ferro 2014, QJRMS 140:1917.
    """
    _check_draws("crps_ensemble", draws)
    _check_numeric("crps_ensemble", "observed", observed)
    _target_shape("crps_ensemble", np.shape(draws), np.shape(observed))
    return _crps_kernel(_as_float(draws), _as_float(observed), fair=bool(fair))


@functools.partial(jax.jit, static_argnames=("fair",))
def _crps_kernel(x: Draws, y: PerTarget, fair: bool) -> PerTarget:
    """CRPS of checked float inputs (see :func:`crps_ensemble`)."""
    n = x.shape[-1]
    batch = jnp.broadcast_shapes(x.shape[:-1], y.shape)
    x = jnp.broadcast_to(x, (*batch, n))
    y = jnp.broadcast_to(y, batch)

    valid = _draw_mask(x)
    m = jnp.sum(valid, axis=-1)
    m_safe = jnp.maximum(m, 1).astype(x.dtype)
    # Centre on the mean of the valid draws: the score is shift-invariant and the spread sum
    # then adds numbers of the size of the spread, not of the level (less cancellation).
    centre = jnp.sum(jnp.where(valid, x, 0.0), axis=-1) / m_safe
    xc = jnp.where(valid, x - centre[..., None], 0.0)
    yc = jnp.where(jnp.isnan(y), 0.0, y - centre)

    # E|X - y| over the valid draws.
    accuracy = jnp.sum(jnp.where(valid, jnp.abs(xc - yc[..., None]), 0.0), axis=-1) / m_safe

    # Spread: sort with missing draws pushed to the end (+inf), keep the first m.
    xs = jnp.sort(jnp.where(valid, xc, jnp.inf), axis=-1)
    rank = jnp.arange(1, n + 1, dtype=x.dtype)
    in_ens = rank <= m[..., None]
    weights = 2.0 * rank - m_safe[..., None] - 1.0
    spread_sum = jnp.sum(weights * jnp.where(in_ens, xs, 0.0), axis=-1)
    denom = m_safe * jnp.maximum(m_safe - 1.0, 1.0) if fair else m_safe * m_safe
    crps = accuracy - spread_sum / denom

    crps = jnp.where(m > 0, crps, jnp.nan)
    return _nan_where_unobserved(crps, y)


# --------------------------------------------------------------------------- PIT


def pit(draws: DrawsInput, observed: ObservedInput) -> PerTarget:
    """Probability integral transform of each observation under its ensemble (mid-rank).

    ``PIT = (#{x_i < y} + 1/2 #{x_i == y}) / m`` over the ``m`` valid draws: the predictive
    CDF at ``y``, taking the mid-point of its jump where ``y`` ties with draws (deterministic,
    instead of a random point in the jump; Czado et al. 2009). For a calibrated forecast the
    PIT values are uniform on [0, 1]; their histogram is the calibration check (U-shape:
    under-dispersed, hump: over-dispersed, slope: biased). An observation below every draw
    gives 0, above every draw 1.

    Args:
        draws: Ensemble draws, shape ``[..., n_draws]``. NaN draws are dropped.
        observed: Observations, shape ``[...]`` (broadcast against ``draws.shape[:-1]``). NaN
            means not observed.

    Returns:
        PIT values in [0, 1] per target; NaN where not observed or no draw is valid.

    Raises:
        DataError: as :func:`crps_ensemble`.

    References: Dawid 1984, JRSS A 147:278; Czado, Gneiting & Held 2009, Biometrics 65:1254.
    """
    _check_draws("pit", draws)
    _check_numeric("pit", "observed", observed)
    _target_shape("pit", np.shape(draws), np.shape(observed))
    return _pit_kernel(_as_float(draws), _as_float(observed))


@jax.jit
def _pit_kernel(x: Draws, y: PerTarget) -> PerTarget:
    """Mid-rank PIT of checked float inputs (see :func:`pit`)."""
    y = jnp.broadcast_to(y, jnp.broadcast_shapes(x.shape[:-1], y.shape))
    valid = _draw_mask(x)
    m = jnp.sum(valid, axis=-1)
    below = jnp.sum(valid & (x < y[..., None]), axis=-1)
    ties = jnp.sum(valid & (x == y[..., None]), axis=-1)
    value = (below + 0.5 * ties) / jnp.maximum(m, 1)
    value = jnp.where(m > 0, value, jnp.nan).astype(x.dtype)
    return _nan_where_unobserved(value, y)


# --------------------------------------------------------------------------- intervals


def central_interval(draws: DrawsInput, level: LevelInput) -> tuple[Bounds, Bounds]:
    """Lower and upper end of the central ``level`` interval of each ensemble.

    The ends are the sample quantiles at ``(1 - level) / 2`` and ``(1 + level) / 2`` of the
    valid draws, computed with ``jnp.nanquantile(..., method="linear")``: Hyndman & Fan (1996)
    definition 7 (numpy's default), linear interpolation between order statistics at position
    ``(m - 1) q``. NaN draws are dropped.

    Args:
        draws: Ensemble draws, shape ``[..., n_draws]``.
        level: Coverage probability in (0, 1), e.g. 0.8 for the 80 % interval; a scalar or a
            1-D sequence of levels, e.g. ``[0.5, 0.8, 0.95]``.

    Returns:
        ``(lower, upper)``, each of shape ``[...]`` for a scalar ``level`` and
        ``[..., n_levels]`` (levels last) for a sequence of levels; NaN for an ensemble
        without valid draws.

    Raises:
        DataError: if ``draws`` has no draw axis or no draws, is not numeric, or a concrete
            ``level`` is not strictly inside (0, 1) or has more than one axis.
    """
    _check_draws("central_interval", draws)
    _check_unit_open("central_interval", "level", level, max_ndim=1)
    x = _as_float(draws)
    return _central_interval_kernel(x, jnp.asarray(level, dtype=x.dtype))


@jax.jit
def _central_interval_kernel(x: Draws, lv: Array) -> tuple[Bounds, Bounds]:
    """Central-interval ends of checked float inputs (see :func:`central_interval`)."""
    q = jnp.concatenate([jnp.ravel((1.0 - lv) / 2.0), jnp.ravel((1.0 + lv) / 2.0)])
    ends = jnp.nanquantile(x, q, axis=-1, method="linear")  # [2 * n_levels, *batch]
    ends = ends.reshape(2, *lv.shape, *ends.shape[1:])  # [2, *levels, *batch]
    if lv.ndim == 1:
        ends = jnp.moveaxis(ends, 1, -1)  # [2, *batch, levels]
    return ends[0], ends[1]


def interval_covered(lower: BoundInput, upper: BoundInput, observed: ObservedInput) -> PerTarget:
    """Whether each observation lies in its closed interval ``[lower, upper]``, as a float.

    Args:
        lower: Lower ends, shape ``[...]``.
        upper: Upper ends, broadcastable with ``lower``.
        observed: Observations, broadcastable with the ends. NaN means not observed.

    Returns:
        1.0 where ``lower <= observed <= upper``, 0.0 where outside, NaN where the observation
        (or an end of the interval) is NaN. A float array, so that ``jnp.nanmean`` gives the
        coverage.

    Raises:
        DataError: if an input is not numeric or the shapes do not broadcast.
    """
    for name, a in (("lower", lower), ("upper", upper), ("observed", observed)):
        _check_numeric("interval_covered", name, a)
    _broadcast_shapes("interval_covered", lower=lower, upper=upper, observed=observed)
    return _covered_kernel(_as_float(lower), _as_float(upper), _as_float(observed))


@jax.jit
def _covered_kernel(lo: Array, hi: Array, y: Array) -> PerTarget:
    """1.0 inside, 0.0 outside, NaN if anything is missing (see :func:`interval_covered`)."""
    inside = ((lo <= y) & (y <= hi)).astype(jnp.result_type(lo, hi, y))
    missing = jnp.isnan(lo) | jnp.isnan(hi) | jnp.isnan(y)
    return jnp.where(missing, jnp.nan, inside)


class Coverage(NamedTuple):
    """Empirical coverage of intervals (see :func:`coverage`); a jax pytree.

    Attributes:
        fraction: ``k / n``, NaN where ``n == 0``.
        k: Number of observed targets inside their interval.
        n: Number of observed targets (NaN observations are not counted).
    """

    fraction: PerTarget
    k: Counts
    n: Counts


def coverage(
    lower: BoundInput, upper: BoundInput, observed: ObservedInput, axis: Axis = -1
) -> Coverage:
    """Fraction of the observed targets inside their closed interval ``[lower, upper]``.

    Targets whose observation (or an interval end) is NaN count in neither ``k`` nor ``n``.
    Feed ``k`` and ``n`` to :func:`coverage_interval` or :func:`coverage_drift` to judge the
    fraction against the nominal level.

    Args:
        lower: Lower ends of the intervals.
        upper: Upper ends, broadcastable with ``lower``.
        observed: Observations, broadcastable with the ends; NaN means not observed.
        axis: Axis (or axes) of the targets to pool; ``None`` pools all. Default: the last.

    Returns:
        :class:`Coverage` ``(fraction, k, n)`` with the remaining axes; ``fraction`` is NaN
        where no target was observed.

    Raises:
        DataError: as :func:`interval_covered`.
    """
    for name, a in (("lower", lower), ("upper", upper), ("observed", observed)):
        _check_numeric("coverage", name, a)
    _broadcast_shapes("coverage", lower=lower, upper=upper, observed=observed)
    axis = tuple(axis) if isinstance(axis, list) else axis  # static arguments must hash
    return _coverage_kernel(_as_float(lower), _as_float(upper), _as_float(observed), axis=axis)


@functools.partial(jax.jit, static_argnames=("axis",))
def _coverage_kernel(lo: Array, hi: Array, y: Array, axis: Axis) -> Coverage:
    """Coverage of checked float inputs (see :func:`coverage`)."""
    hit = _covered_kernel(lo, hi, y)
    seen = ~jnp.isnan(hit)
    n = jnp.sum(seen, axis=axis)
    k = jnp.sum(seen & (hit > 0.5), axis=axis)
    fraction = jnp.where(n > 0, k / jnp.maximum(n, 1), jnp.nan).astype(hit.dtype)
    return Coverage(fraction=fraction, k=k, n=n)


def _check_counts(fn: str, k: ArrayLike, n: ArrayLike) -> None:
    """Raise :class:`DataError` unless concrete counts satisfy ``0 <= k <= n``."""
    _check_numeric(fn, "k", k)
    _check_numeric(fn, "n", n)
    _broadcast_shapes(fn, k=k, n=n)
    if not (_is_concrete(k) and _is_concrete(n)):
        return
    ka, na = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    if not np.all((ka >= 0) & (ka <= na)):
        raise DataError(
            f"{fn}() needs counts with 0 <= k <= n (k targets inside the interval out of n "
            f"observed). Got k={ka.tolist()}, n={na.tolist()}. Pass k and n from coverage()."
        )


def coverage_interval(
    k: CountInput, n: CountInput, conf: float = 0.95
) -> tuple[PerTarget, PerTarget]:
    """Wilson score confidence interval of a binomial proportion ``k / n`` (e.g. coverage).

    With ``p = k / n`` and ``z`` the standard normal ``(1 + conf) / 2`` quantile::

        centre = (p + z^2 / (2n)) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))

    The Wilson interval (rather than Clopper-Pearson, which needs beta quantiles) is closed
    form, never leaves [0, 1] and keeps close to nominal coverage even for ``p`` near 0 or 1,
    where the Wald interval fails. For ``n == 0`` it is ``[0, 1]`` (its limit: no evidence).

    Args:
        k: Successes (targets inside their interval), ``0 <= k <= n``.
        n: Trials (observed targets), broadcastable with ``k``.
        conf: Confidence level in (0, 1).

    Returns:
        ``(low, high)`` bounds of the proportion, in [0, 1].

    Raises:
        DataError: if concrete counts break ``0 <= k <= n`` or ``conf`` is not in (0, 1).

    Reference: Wilson 1927, JASA 22:209.
    """
    _check_counts("coverage_interval", k, n)
    _check_unit_open("coverage_interval", "conf", conf)
    return _wilson_kernel(_as_float(k), _as_float(n), conf)


@jax.jit
def _wilson_kernel(kf: Array, nf: Array, conf: ArrayLike) -> tuple[Array, Array]:
    """Wilson interval of checked float counts (see :func:`coverage_interval`)."""
    z = jax.scipy.special.ndtri(0.5 + 0.5 * jnp.asarray(conf, dtype=kf.dtype))
    has = nf > 0
    n_safe = jnp.where(has, nf, 1.0)
    p = kf / n_safe
    z2n = z * z / n_safe
    centre = (p + 0.5 * z2n) / (1.0 + z2n)
    spread = jnp.maximum(p * (1.0 - p), 0.0) / n_safe + z2n / (4.0 * n_safe)
    half = z / (1.0 + z2n) * jnp.sqrt(spread)
    low = jnp.where(has, jnp.clip(centre - half, 0.0, 1.0), 0.0)
    high = jnp.where(has, jnp.clip(centre + half, 0.0, 1.0), 1.0)
    return low, high


def coverage_drift(k: CountInput, n: CountInput, nominal: LevelInput, conf: float = 0.99) -> Flags:
    """Flag coverage that is out of bounds: the nominal level lies outside the Wilson interval.

    True when ``nominal`` is outside :func:`coverage_interval` ``(k, n, conf)``: the observed
    coverage ``k / n`` is incompatible with the nominal coverage at confidence ``conf``
    (too narrow intervals when below, too wide when above). Never true for ``n == 0``.

    Args:
        k: Observed targets inside their interval.
        n: Observed targets.
        nominal: Nominal coverage of the intervals in (0, 1), e.g. 0.8.
        conf: Confidence level of the test interval in (0, 1); the default 0.99 keeps false
            alarms rare when many intervals are monitored.

    Returns:
        Boolean flags with the broadcast shape of ``k``, ``n`` and ``nominal``.

    Raises:
        DataError: as :func:`coverage_interval`, or if ``nominal`` is not in (0, 1).
    """
    _check_unit_open("coverage_drift", "nominal", nominal)
    _broadcast_shapes("coverage_drift", k=k, n=n, nominal=nominal)
    _check_counts("coverage_drift", k, n)
    _check_unit_open("coverage_drift", "conf", conf)
    return _drift_kernel(_as_float(k), _as_float(n), _as_float(nominal), conf)


@jax.jit
def _drift_kernel(kf: Array, nf: Array, nominal: Array, conf: ArrayLike) -> Flags:
    """Nominal outside the Wilson interval (see :func:`coverage_drift`)."""
    low, high = _wilson_kernel(kf, nf, conf)
    return (nominal < low) | (nominal > high)


def interval_score(
    lower: BoundInput, upper: BoundInput, observed: ObservedInput, level: LevelInput
) -> PerTarget:
    """Interval score of central ``level`` intervals (lower is better; proper).

    With ``alpha = 1 - level``::

        IS = (u - l) + (2 / alpha) (l - y) 1{y < l} + (2 / alpha) (y - u) 1{y > u}

    the width plus a penalty for a miss that grows with its distance. This is the negatively
    oriented form (Gneiting & Raftery 2007, section 6.2, define the score as ``-IS``); it is
    the building block of the weighted interval score used in forecast hubs.

    Args:
        lower: Lower ends ``l`` of the intervals.
        upper: Upper ends ``u``, broadcastable with ``lower``.
        observed: Observations ``y``; NaN means not observed.
        level: Nominal coverage of the intervals in (0, 1), broadcastable with the ends
            (e.g. shape ``[n_levels]`` for intervals with the levels last).

    Returns:
        The interval score per target, in the unit of the data; NaN where not observed.

    Raises:
        DataError: if an input is not numeric, the shapes do not broadcast, or a concrete
            ``level`` is not strictly inside (0, 1).

    Reference: Gneiting & Raftery 2007, JASA 102:359, eq. 43.
    """
    for name, a in (("lower", lower), ("upper", upper), ("observed", observed)):
        _check_numeric("interval_score", name, a)
    _check_unit_open("interval_score", "level", level)
    _broadcast_shapes("interval_score", lower=lower, upper=upper, observed=observed, level=level)
    return _interval_score_kernel(
        _as_float(lower), _as_float(upper), _as_float(observed), _as_float(level)
    )


@jax.jit
def _interval_score_kernel(lo: Array, hi: Array, y: Array, level: Array) -> PerTarget:
    """Interval score of checked float inputs (see :func:`interval_score`)."""
    alpha = 1.0 - level
    below = jnp.where(y < lo, lo - y, 0.0)
    above = jnp.where(y > hi, y - hi, 0.0)
    score = (hi - lo) + (2.0 / alpha) * (below + above)
    return _nan_where_unobserved(score, y)


# --------------------------------------------------------------------------- point errors


def _point_error(fn: str, predicted: PredictedInput, observed: ObservedInput, axis: Axis) -> Array:
    """Check the inputs of ``fn`` (``"mae"``, ``"rmse"`` or ``"mard"``) and compute it."""
    _check_numeric(fn, "predicted", predicted)
    _check_numeric(fn, "observed", observed)
    _broadcast_shapes(fn, predicted=predicted, observed=observed)
    axis = tuple(axis) if isinstance(axis, list) else axis  # static arguments must hash
    return _point_error_kernel(_as_float(predicted), _as_float(observed), kind=fn, axis=axis)


@functools.partial(jax.jit, static_argnames=("kind", "axis"))
def _point_error_kernel(p: Array, y: Array, kind: str, axis: Axis) -> Array:
    """MAE, RMSE or MARD of checked float inputs over the pairs without NaN."""
    shape = jnp.broadcast_shapes(p.shape, y.shape)
    p = jnp.broadcast_to(p, shape)
    y = jnp.broadcast_to(y, shape)
    valid = ~(jnp.isnan(p) | jnp.isnan(y))
    # Fill skipped pairs before any arithmetic, so that no NaN enters it (or its gradient).
    err = jnp.where(valid, p - y, 0.0)
    if kind == "mae":
        return _masked_mean(jnp.abs(err), valid, axis)
    if kind == "rmse":
        return jnp.sqrt(_masked_mean(err * err, valid, axis))
    rel = jnp.abs(err) / jnp.abs(jnp.where(valid, y, 1.0))
    return 100.0 * _masked_mean(rel, valid, axis)


def _masked_mean(x: Array, valid: Array, axis: Axis) -> Array:
    """Mean of ``x`` over the valid entries along ``axis``; NaN where none is valid."""
    n = jnp.sum(valid, axis=axis)
    total = jnp.sum(jnp.where(valid, x, 0.0), axis=axis)
    return jnp.where(n > 0, total / jnp.maximum(n, 1), jnp.nan)


def mae(predicted: PredictedInput, observed: ObservedInput, axis: Axis = -1) -> Array:
    """Mean absolute error ``mean |predicted - observed|`` over the valid pairs along ``axis``.

    Pairs with a NaN on either side are skipped; NaN where none is valid. ``axis=None`` pools
    all targets. Unit: that of the data.
    """
    return _point_error("mae", predicted, observed, axis)


def rmse(predicted: PredictedInput, observed: ObservedInput, axis: Axis = -1) -> Array:
    """Root mean squared error ``sqrt(mean (predicted - observed)^2)`` over the valid pairs.

    Pairs with a NaN on either side are skipped; NaN where none is valid. ``axis=None`` pools
    all targets. Unit: that of the data.
    """
    return _point_error("rmse", predicted, observed, axis)


def mard(predicted: PredictedInput, observed: ObservedInput, axis: Axis = -1) -> Array:
    """Mean absolute relative difference in percent: ``100 * mean(|pred - obs| / |obs|)``.

    The standard accuracy metric of continuous glucose monitors (the reference value in the
    denominator); the same formula scores a forecast against the readings. Pairs with a NaN on
    either side are skipped; NaN where none is valid. An observation of 0 gives ``inf``
    (glucose is positive). ``axis=None`` pools all targets.

    Reference: Danne et al. 2017, Diabetes Care 40:1631.
    """
    return _point_error("mard", predicted, observed, axis)
