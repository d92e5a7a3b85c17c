"""Clinical glucose metrics of continuous glucose monitoring (CGM) traces.

All functions take glucose in mg/dL with time on the **last** axis and any number of leading
batch axes; they return one value per series, with the leading axes. They are pure
``jax.numpy`` functions, so they accept numpy arrays, lists and jax arrays and work inside
``jax.jit``, ``jax.vmap`` and ``jax.grad``.

NaN samples are sensor gaps: every metric ignores them (they count in neither the numerator
nor the denominator). A series without a single valid sample gives NaN.

References
----------
- Battelino T. et al. (2019). Clinical targets for continuous glucose monitoring data
  interpretation: recommendations from the international consensus on time in range.
  Diabetes Care 42(8):1593-1603. (TIR, TBR, TAR, CV thresholds.)
- Bergenstal R. M. et al. (2018). Glucose management indicator (GMI): a new term for
  estimating A1C from continuous glucose monitoring. Diabetes Care 41(11):2275-2280.
- Kovatchev B. P. et al. (1997). Symmetrization of the blood glucose measurement scale and
  its applications. Diabetes Care 20(11):1655-1658.
- Kovatchev B. P. et al. (2006). Evaluation of a new measure of blood glucose variability in
  diabetes. Diabetes Care 29(11):2433-2438. (LBGI, HBGI.)
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Bool, Float

from ..errors import DataError

# jaxtyping shapes: time on the last axis, any leading batch axes. Aliases (rather than the
# strings inline in every signature) keep linters from parsing "*batch time" as Python code.
GlucoseInput = Float[ArrayLike, "*batch time"]  # glucose in mg/dL, NaN marks a gap
Samples = Float[Array, "*batch time"]
SampleMask = Bool[Array, "*batch time"]
PerSeries = Float[Array, "*batch"]  # one value per series

__all__ = [
    "GlucoseMetrics",
    "coefficient_of_variation",
    "glucose_metrics",
    "glucose_sd",
    "gmi",
    "hbgi",
    "lbgi",
    "mean_glucose",
    "time_above",
    "time_below",
    "time_in_range",
]

# Kovatchev risk-function constants (BG in mg/dL).
_RISK_ALPHA = 1.084
_RISK_BETA = 5.381
_RISK_GAMMA = 1.509
_RISK_SCALE = 10.0
# BG range the risk function is evaluated on, mg/dL (log(0) would give -inf).
_RISK_BG_MIN = 1.0
_RISK_BG_MAX = 600.0
# Any valid BG; stands in for gaps so that no NaN enters the arithmetic (or its gradient).
_GAP_FILL = 100.0

# GMI (%) = 3.31 + 0.02392 * mean glucose (mg/dL), Bergenstal et al. 2018.
_GMI_INTERCEPT = 3.31
_GMI_SLOPE = 0.02392


# --------------------------------------------------------------------------- helpers


def _as_float(g: ArrayLike) -> Samples:
    """``g`` as a floating jax array (integers become the default float dtype)."""
    g = jnp.asarray(g)
    return g.astype(jnp.result_type(g.dtype, float))


def _valid(g: Samples) -> SampleMask:
    """True where a sample is present (not NaN)."""
    return ~jnp.isnan(g)


def _masked_mean(x: Samples, valid: SampleMask) -> PerSeries:
    """Mean of ``x`` over the valid samples of the last axis; NaN where none is valid."""
    n = jnp.sum(valid, axis=-1)
    total = jnp.sum(jnp.where(valid, x, 0.0), axis=-1)
    return jnp.where(n > 0, total / jnp.maximum(n, 1), jnp.nan)


def _percent_of_valid(g: Samples, hit: SampleMask) -> PerSeries:
    """Percent of the valid (non-NaN) samples of ``g`` where ``hit`` holds."""
    return 100.0 * _masked_mean(hit.astype(g.dtype), _valid(g))


# --------------------------------------------------------------------------- time in ranges


def time_in_range(g: GlucoseInput, low: float = 70.0, high: float = 180.0) -> PerSeries:
    """Time in range: percent of valid samples with ``low <= g <= high`` (bounds included).

    Args:
        g: Glucose in mg/dL, time on the last axis. NaN samples are ignored.
        low: Lower bound in mg/dL, included (consensus: 70).
        high: Upper bound in mg/dL, included (consensus: 180).

    Returns:
        Percent (0-100) per series; NaN for a series without valid samples.

    Reference: Battelino et al. 2019, Diabetes Care 42:1593 (target > 70 %).
    """
    g = _as_float(g)
    return _percent_of_valid(g, (g >= low) & (g <= high))


def time_below(g: GlucoseInput, threshold: float = 70.0) -> PerSeries:
    """Time below range: percent of valid samples with ``g < threshold`` (strict).

    Args:
        g: Glucose in mg/dL, time on the last axis. NaN samples are ignored.
        threshold: mg/dL; the consensus uses 70 (level 1, target < 4 %) and 54 (level 2,
            target < 1 %).

    Returns:
        Percent (0-100) per series; NaN for a series without valid samples.

    Reference: Battelino et al. 2019, Diabetes Care 42:1593.
    """
    g = _as_float(g)
    return _percent_of_valid(g, g < threshold)


def time_above(g: GlucoseInput, threshold: float = 180.0) -> PerSeries:
    """Time above range: percent of valid samples with ``g > threshold`` (strict).

    Args:
        g: Glucose in mg/dL, time on the last axis. NaN samples are ignored.
        threshold: mg/dL; the consensus uses 180 (level 1, target < 25 %) and 250 (level 2,
            target < 5 %).

    Returns:
        Percent (0-100) per series; NaN for a series without valid samples.

    Reference: Battelino et al. 2019, Diabetes Care 42:1593.
    """
    g = _as_float(g)
    return _percent_of_valid(g, g > threshold)


# --------------------------------------------------------------------------- level and spread


def mean_glucose(g: GlucoseInput) -> PerSeries:
    """Mean glucose in mg/dL over the valid samples (NaN ignored; NaN if none is valid)."""
    g = _as_float(g)
    return _masked_mean(g, _valid(g))


def glucose_sd(g: GlucoseInput) -> PerSeries:
    """Standard deviation of glucose in mg/dL over the valid samples.

    This is the **population** SD (ddof=0: divides by the number of valid samples ``n``, not
    ``n - 1``). NaN samples are ignored; NaN if no sample is valid.
    """
    g = _as_float(g)
    valid = _valid(g)
    mean = _masked_mean(g, valid)
    dev = jnp.where(valid, g - mean[..., None], 0.0)
    return jnp.sqrt(_masked_mean(dev * dev, valid))


def coefficient_of_variation(g: GlucoseInput) -> PerSeries:
    """Coefficient of variation in percent: ``100 * SD / mean`` (population SD, ddof=0).

    NaN samples are ignored; NaN if no sample is valid. Consensus target: CV <= 36 %
    (Battelino et al. 2019, Diabetes Care 42:1593).
    """
    return 100.0 * glucose_sd(g) / mean_glucose(g)


def gmi(g: GlucoseInput) -> PerSeries:
    """Glucose management indicator in percent (an A1C-like number).

    ``GMI (%) = 3.31 + 0.02392 * mean glucose (mg/dL)``, mean over the valid samples.
    NaN if no sample is valid.

    Reference: Bergenstal et al. 2018, Diabetes Care 41:2275.
    """
    return _GMI_INTERCEPT + _GMI_SLOPE * mean_glucose(g)


# --------------------------------------------------------------------------- risk indices


def _risk(g: Samples) -> Samples:
    """Kovatchev symmetrized BG value ``f(BG)``; BG clipped to [1, 600] mg/dL first."""
    bg = jnp.clip(jnp.where(_valid(g), g, _GAP_FILL), _RISK_BG_MIN, _RISK_BG_MAX)
    return _RISK_GAMMA * (jnp.log(bg) ** _RISK_ALPHA - _RISK_BETA)


def lbgi(g: GlucoseInput) -> PerSeries:
    """Low blood glucose index (dimensionless): mean of the low-BG risk ``rl``.

    ``f = 1.509 * (ln(BG)^1.084 - 5.381)`` with BG in mg/dL, ``r = 10 f^2``,
    ``rl = r`` where ``f < 0`` else 0, ``LBGI = mean(rl)`` over the valid samples.
    ``f`` crosses 0 at about 112.5 mg/dL. BG is clipped to [1, 600] mg/dL before the
    logarithm, so values below 1 mg/dL (including 0 and negatives) count as 1 mg/dL instead
    of giving -inf or NaN. NaN samples are ignored; NaN if no sample is valid.

    References: Kovatchev et al. 1997, Diabetes Care 20:1655; Kovatchev et al. 2006,
    Diabetes Care 29:2433.
    """
    g = _as_float(g)
    f = _risk(g)
    rl = jnp.where(f < 0, _RISK_SCALE * f * f, 0.0)
    return _masked_mean(rl, _valid(g))


def hbgi(g: GlucoseInput) -> PerSeries:
    """High blood glucose index (dimensionless): mean of the high-BG risk ``rh``.

    Same risk function as :func:`lbgi`; ``rh = r`` where ``f > 0`` else 0. BG is clipped to
    [1, 600] mg/dL before the logarithm. NaN samples are ignored; NaN if no sample is valid.

    References: Kovatchev et al. 1997, Diabetes Care 20:1655; Kovatchev et al. 2006,
    Diabetes Care 29:2433.
    """
    g = _as_float(g)
    f = _risk(g)
    rh = jnp.where(f > 0, _RISK_SCALE * f * f, 0.0)
    return _masked_mean(rh, _valid(g))


# --------------------------------------------------------------------------- all at once

# (field, label, unit) in table order.
_ROWS: tuple[tuple[str, str, str], ...] = (
    ("tir", "Time in range 70-180 mg/dL", "%"),
    ("tbr70", "Time below 70 mg/dL", "%"),
    ("tbr54", "Time below 54 mg/dL", "%"),
    ("tar180", "Time above 180 mg/dL", "%"),
    ("tar250", "Time above 250 mg/dL", "%"),
    ("mean", "Mean glucose", "mg/dL"),
    ("cv", "Coefficient of variation", "%"),
    ("gmi", "Glucose management indicator", "%"),
    ("lbgi", "Low blood glucose index", "-"),
    ("hbgi", "High blood glucose index", "-"),
)


@dataclasses.dataclass(frozen=True)
class GlucoseMetrics:
    """The consensus CGM metrics of one or more glucose series (see :func:`glucose_metrics`).

    Every field is an array with the leading (batch) axes of the input; a single series gives
    0-d arrays. Units: percent for tir, tbr70, tbr54, tar180, tar250, cv and gmi; mg/dL for
    mean; lbgi and hbgi are dimensionless. It is a jax pytree, so it can be returned from
    ``jax.jit`` and ``jax.vmap``.
    """

    tir: PerSeries
    tbr70: PerSeries
    tbr54: PerSeries
    tar180: PerSeries
    tar250: PerSeries
    mean: PerSeries
    cv: PerSeries
    gmi: PerSeries
    lbgi: PerSeries
    hbgi: PerSeries

    def as_rows(self) -> list[tuple[str, str, float]]:
        """The metrics as ``(label, unit, value)`` rows, for printing a table.

        Raises:
            DataError: if the metrics are not scalars (they came from a batch of series).
        """
        shape = np.shape(self.tir)
        if shape != ():
            raise DataError(
                "GlucoseMetrics.as_rows() needs the metrics of a single series (scalar "
                f"fields). Got fields of shape {shape}. Index the batch first, e.g. "
                "jax.tree_util.tree_map(lambda x: x[0], metrics), or compute the metrics "
                "of one 1-D series."
            )
        return [(label, unit, float(getattr(self, name))) for name, label, unit in _ROWS]


jax.tree_util.register_dataclass(
    GlucoseMetrics, data_fields=[name for name, _, _ in _ROWS], meta_fields=[]
)


def _check_concrete(g: ArrayLike) -> None:
    """Raise :class:`DataError` for a concrete input that is not numeric or has no sample."""
    if isinstance(g, jax.core.Tracer):
        return
    arr = np.asarray(g)
    if arr.dtype.kind not in "iuf":
        raise DataError(
            "glucose_metrics() needs real numeric glucose values in mg/dL. Got an array of "
            f"dtype {arr.dtype}. Convert the data to float first (mark gaps as NaN)."
        )
    if arr.ndim == 0:
        raise DataError(
            "glucose_metrics() needs glucose samples with time on the last axis. Got a "
            "scalar. Pass a 1-D array of samples, e.g. [glucose]."
        )
    if arr.shape[-1] == 0:
        raise DataError(
            "glucose_metrics() needs at least one glucose sample on the last axis. Got an "
            f"array of shape {arr.shape}. Pass glucose in mg/dL with time on the last axis."
        )


def glucose_metrics(g: GlucoseInput) -> GlucoseMetrics:
    """All consensus CGM metrics of glucose ``g`` (mg/dL, time on the last axis).

    TIR 70-180, TBR < 70 and < 54, TAR > 180 and > 250, mean, CV (population SD), GMI, LBGI
    and HBGI; see the single-metric functions for definitions and references. NaN samples are
    ignored; a series without valid samples gives NaN in every field.

    Raises:
        DataError: if a concrete (non-traced) input is not real numeric, is a scalar, or has
            zero length on the last axis. Traced inputs (inside ``jax.jit``/``jax.vmap``) are
            not checked.
    """
    _check_concrete(g)
    g = _as_float(g)
    return GlucoseMetrics(
        tir=time_in_range(g),
        tbr70=time_below(g, 70.0),
        tbr54=time_below(g, 54.0),
        tar180=time_above(g, 180.0),
        tar250=time_above(g, 250.0),
        mean=mean_glucose(g),
        cv=coefficient_of_variation(g),
        gmi=gmi(g),
        lbgi=lbgi(g),
        hbgi=hbgi(g),
    )
