"""Unit tests of medtwin.analysis.metrics: hand-computed values, gaps, batches, jit/vmap, errors."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.analysis.metrics import (
    GlucoseMetrics,
    coefficient_of_variation,
    glucose_metrics,
    glucose_sd,
    gmi,
    hbgi,
    lbgi,
    mean_glucose,
    time_above,
    time_below,
    time_in_range,
)
from medtwin.errors import DataError

jax.config.update("jax_enable_x64", True)  # before any array is made

NAN = float("nan")

# [50, 60, 100, 200, 300] mg/dL, 5 samples:
#   in 70..180: {100}                -> TIR    1/5 = 20 %
#   < 70:       {50, 60}             -> TBR70  2/5 = 40 %
#   < 54:       {50}                 -> TBR54  1/5 = 20 %
#   > 180:      {200, 300}           -> TAR180 2/5 = 40 %
#   > 250:      {300}                -> TAR250 1/5 = 20 %
#   mean = 710 / 5 = 142 mg/dL
#   deviations -92, -82, -42, 58, 158; squares 8464 + 6724 + 1764 + 3364 + 24964 = 45280
#   population variance = 45280 / 5 = 9056 -> SD = sqrt(9056) = 95.1630...
#   CV = 100 * sqrt(9056) / 142 = 67.016... %
#   GMI = 3.31 + 0.02392 * 142 = 3.31 + 3.39664 = 6.70664 %
SERIES = [50.0, 60.0, 100.0, 200.0, 300.0]


def kovatchev_f(bg: float) -> float:
    """f(BG) = 1.509 * (ln(BG)^1.084 - 5.381), written out independently of the module."""
    return 1.509 * (math.log(bg) ** 1.084 - 5.381)


# --------------------------------------------------------------------------- hand values


def test_time_in_ranges_of_hand_series() -> None:
    g = np.array(SERIES)
    assert float(time_in_range(g)) == pytest.approx(20.0)
    assert float(time_below(g, 70.0)) == pytest.approx(40.0)
    assert float(time_below(g, 54.0)) == pytest.approx(20.0)
    assert float(time_above(g, 180.0)) == pytest.approx(40.0)
    assert float(time_above(g, 250.0)) == pytest.approx(20.0)


def test_defaults_are_consensus_thresholds() -> None:
    g = np.array(SERIES)
    assert float(time_below(g)) == pytest.approx(40.0)  # default 70
    assert float(time_above(g)) == pytest.approx(40.0)  # default 180


def test_mean_sd_cv_gmi_of_hand_series() -> None:
    g = np.array(SERIES)
    assert float(mean_glucose(g)) == pytest.approx(142.0, rel=1e-12)
    assert float(glucose_sd(g)) == pytest.approx(math.sqrt(9056.0), rel=1e-12)
    assert float(glucose_sd(g)) == pytest.approx(95.16301802, rel=1e-9)
    assert float(coefficient_of_variation(g)) == pytest.approx(
        100.0 * math.sqrt(9056.0) / 142.0, rel=1e-12
    )
    assert float(coefficient_of_variation(g)) == pytest.approx(67.01621, rel=1e-6)
    assert float(gmi(g)) == pytest.approx(6.70664, rel=1e-12)


def test_sd_is_population_sd() -> None:
    # [100, 200]: mean 150, deviations +-50 -> ddof=0 SD = 50 (ddof=1 would be 70.71).
    assert float(glucose_sd([100.0, 200.0])) == pytest.approx(50.0, rel=1e-12)


def test_gmi_of_constant_154() -> None:
    # 3.31 + 0.02392 * 154 = 3.31 + 3.68368 = 6.99368 %
    assert float(gmi(np.full(12, 154.0))) == pytest.approx(6.99368, rel=1e-12)


def test_constant_series_has_zero_sd_and_cv() -> None:
    g = np.full(7, 154.0)
    assert float(glucose_sd(g)) == 0.0
    assert float(coefficient_of_variation(g)) == 0.0


# --------------------------------------------------------------------------- boundaries


def test_range_bounds_70_and_180_are_in_range() -> None:
    g = np.array([70.0, 180.0])
    assert float(time_in_range(g)) == pytest.approx(100.0)
    assert float(time_below(g, 70.0)) == 0.0
    assert float(time_above(g, 180.0)) == 0.0


def test_just_outside_range_bounds() -> None:
    g = np.array([69.999, 180.001])
    assert float(time_in_range(g)) == 0.0
    assert float(time_below(g, 70.0)) == pytest.approx(50.0)
    assert float(time_above(g, 180.0)) == pytest.approx(50.0)


def test_thresholds_are_strict() -> None:
    assert float(time_below([54.0], 54.0)) == 0.0
    assert float(time_below([54.0], 70.0)) == pytest.approx(100.0)
    assert float(time_above([250.0], 250.0)) == 0.0
    assert float(time_above([250.0], 180.0)) == pytest.approx(100.0)


def test_custom_range() -> None:
    # 70..140 (tight range): {70, 100, 140} of [60, 70, 100, 140, 150] -> 3/5 = 60 %
    g = [60.0, 70.0, 100.0, 140.0, 150.0]
    assert float(time_in_range(g, low=70.0, high=140.0)) == pytest.approx(60.0)


def test_integer_input_is_converted_to_float() -> None:
    out = mean_glucose(np.array([100, 101], dtype=np.int32))
    assert out.dtype == jnp.float64
    assert float(out) == pytest.approx(100.5)


# --------------------------------------------------------------------------- risk indices


def test_risk_crosses_zero_near_112_5() -> None:
    # f(112.5) = 1.509 * (ln(112.5)^1.084 - 5.381) = -2.88e-4 (just below 0), so
    # r = 10 f^2 = 8.29e-7: LBGI = 8.29e-7 (~0), HBGI = 0 exactly (f is not > 0).
    f = kovatchev_f(112.5)
    assert f == pytest.approx(-2.8796e-4, rel=1e-3)
    assert float(lbgi([112.5])) == pytest.approx(10.0 * f * f, rel=1e-9)
    assert float(lbgi([112.5])) < 1e-3
    assert float(hbgi([112.5])) == 0.0


def test_lbgi_hbgi_of_50() -> None:
    # ln(50) = 3.91202; 3.91202^1.084 = 4.38695; f = 1.509 * (4.38695 - 5.381) = -1.50001
    # rl = 10 * 1.50001^2 = 22.5004; rh = 0
    f = kovatchev_f(50.0)
    assert f == pytest.approx(-1.500015, rel=1e-6)
    assert float(lbgi([50.0])) == pytest.approx(10.0 * f * f, rel=1e-12)
    assert float(lbgi([50.0])) == pytest.approx(22.50045, rel=1e-6)
    assert float(hbgi([50.0])) == 0.0


def test_lbgi_hbgi_of_300() -> None:
    # ln(300) = 5.70378; 5.70378^1.084 = 6.60208; f = 1.509 * (6.60208 - 5.381) = 1.84261
    # rh = 10 * 1.84261^2 = 33.9520; rl = 0
    f = kovatchev_f(300.0)
    assert f == pytest.approx(1.842607, rel=1e-6)
    assert float(hbgi([300.0])) == pytest.approx(10.0 * f * f, rel=1e-12)
    assert float(hbgi([300.0])) == pytest.approx(33.95199, rel=1e-6)
    assert float(lbgi([300.0])) == 0.0


def test_lbgi_hbgi_average_over_all_samples() -> None:
    # [50, 300]: LBGI = (22.50 + 0) / 2, HBGI = (0 + 33.95) / 2
    g = [50.0, 300.0]
    assert float(lbgi(g)) == pytest.approx(5.0 * kovatchev_f(50.0) ** 2, rel=1e-12)
    assert float(hbgi(g)) == pytest.approx(5.0 * kovatchev_f(300.0) ** 2, rel=1e-12)


@pytest.mark.parametrize("low", [0.0, -5.0, 0.5, 1.0])
def test_lbgi_clips_below_1_mg_dl(low: float) -> None:
    # BG is clipped to 1 mg/dL: ln(1) = 0, f = 1.509 * (0 - 5.381) = -8.119929,
    # r = 10 * 8.119929^2 = 659.3325 (finite, not -inf/NaN).
    expected = 10.0 * (1.509 * 5.381) ** 2
    assert expected == pytest.approx(659.33247, rel=1e-7)
    assert float(lbgi([low])) == pytest.approx(expected, rel=1e-12)
    assert float(hbgi([low])) == 0.0


def test_hbgi_clips_above_600_mg_dl() -> None:
    assert float(hbgi([1000.0])) == pytest.approx(10.0 * kovatchev_f(600.0) ** 2, rel=1e-12)
    assert float(hbgi([1000.0])) == pytest.approx(99.94805, rel=1e-6)


# --------------------------------------------------------------------------- NaN gaps

ALL_FUNCS = [
    time_in_range,
    time_below,
    time_above,
    mean_glucose,
    glucose_sd,
    coefficient_of_variation,
    gmi,
    lbgi,
    hbgi,
]


@pytest.mark.parametrize("func", ALL_FUNCS, ids=lambda f: f.__name__)
def test_nan_samples_are_ignored(func) -> None:
    with_gaps = np.array([NAN, 50.0, 60.0, NAN, 100.0, 200.0, 300.0, NAN])
    assert float(func(with_gaps)) == pytest.approx(float(func(np.array(SERIES))), rel=1e-12)


def test_nan_handling_hand_values() -> None:
    # [100, nan, 200, nan]: valid {100, 200} -> TIR 1/2 = 50 %, TAR180 50 %, mean 150, SD 50
    g = [100.0, NAN, 200.0, NAN]
    assert float(time_in_range(g)) == pytest.approx(50.0)
    assert float(time_above(g)) == pytest.approx(50.0)
    assert float(mean_glucose(g)) == pytest.approx(150.0)
    assert float(glucose_sd(g)) == pytest.approx(50.0)


@pytest.mark.parametrize("func", ALL_FUNCS, ids=lambda f: f.__name__)
def test_all_nan_series_gives_nan(func) -> None:
    assert math.isnan(float(func(np.full(4, NAN))))


def test_all_nan_row_does_not_spoil_other_rows() -> None:
    g = np.array([[NAN, NAN], [100.0, 200.0]])
    out = time_in_range(g)
    assert math.isnan(float(out[0]))
    assert float(out[1]) == pytest.approx(50.0)


def test_gradient_is_finite_with_gaps() -> None:
    g = jnp.array([NAN, 50.0, 300.0, 0.0])
    for func in (lbgi, hbgi, mean_glucose, glucose_sd):
        grad = jax.grad(lambda x, f=func: f(x))(g)
        assert bool(jnp.all(jnp.isfinite(grad))), func.__name__
        assert float(grad[0]) == 0.0


# --------------------------------------------------------------------------- batches


def _batch() -> np.ndarray:
    rng = np.random.default_rng(1234)
    g = rng.uniform(40.0, 350.0, size=(2, 3, 11))
    g[0, 1, [2, 5]] = NAN
    g[1, 2, :] = NAN  # one series with no valid sample
    return g


@pytest.mark.parametrize("func", ALL_FUNCS, ids=lambda f: f.__name__)
def test_batch_axes_match_per_row(func) -> None:
    g = _batch()
    out = np.asarray(func(g))
    assert out.shape == (2, 3)
    expected = np.array([[float(func(g[i, j])) for j in range(3)] for i in range(2)])
    np.testing.assert_allclose(out, expected, rtol=1e-12, equal_nan=True)
    assert np.isnan(out[1, 2])
    assert np.isfinite(out[:, :2]).all()


def test_glucose_metrics_batch_shapes_and_values() -> None:
    g = _batch()
    m = glucose_metrics(g)
    for leaf in jax.tree_util.tree_leaves(m):
        assert leaf.shape == (2, 3)
    np.testing.assert_allclose(m.tbr54, time_below(g, 54.0), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(m.tar250, time_above(g, 250.0), rtol=1e-12, equal_nan=True)


# --------------------------------------------------------------------------- glucose_metrics


def test_glucose_metrics_hand_series() -> None:
    m = glucose_metrics(SERIES)
    assert isinstance(m, GlucoseMetrics)
    assert float(m.tir) == pytest.approx(20.0)
    assert float(m.tbr70) == pytest.approx(40.0)
    assert float(m.tbr54) == pytest.approx(20.0)
    assert float(m.tar180) == pytest.approx(40.0)
    assert float(m.tar250) == pytest.approx(20.0)
    assert float(m.mean) == pytest.approx(142.0)
    assert float(m.cv) == pytest.approx(100.0 * math.sqrt(9056.0) / 142.0, rel=1e-12)
    assert float(m.gmi) == pytest.approx(6.70664, rel=1e-12)
    # LBGI = (rl(50) + rl(60)) / 5, HBGI = (rh(200) + rh(300)) / 5; rl(100) = 10 f(100)^2.
    expected_lbgi = sum(10.0 * kovatchev_f(b) ** 2 for b in (50.0, 60.0, 100.0)) / 5.0
    expected_hbgi = sum(10.0 * kovatchev_f(b) ** 2 for b in (200.0, 300.0)) / 5.0
    assert float(m.lbgi) == pytest.approx(expected_lbgi, rel=1e-12)
    assert float(m.hbgi) == pytest.approx(expected_hbgi, rel=1e-12)


def test_glucose_metrics_is_frozen() -> None:
    m = glucose_metrics(SERIES)
    with pytest.raises(AttributeError):
        m.tir = 0.0  # type: ignore[misc]


def test_as_rows_scalar() -> None:
    rows = glucose_metrics(SERIES).as_rows()
    assert len(rows) == 10
    assert all(isinstance(label, str) and isinstance(unit, str) for label, unit, _ in rows)
    assert all(type(value) is float for _, _, value in rows)
    values = [value for _, _, value in rows]
    assert values[:5] == pytest.approx([20.0, 40.0, 20.0, 40.0, 20.0])
    assert values[5] == pytest.approx(142.0)
    assert rows[5][1] == "mg/dL"
    assert rows[0][1] == "%"


def test_as_rows_of_batch_raises() -> None:
    m = glucose_metrics(_batch())
    with pytest.raises(DataError, match=r"single series.*\(2, 3\)"):
        m.as_rows()


# --------------------------------------------------------------------------- jit and vmap


@pytest.mark.parametrize("func", ALL_FUNCS, ids=lambda f: f.__name__)
def test_functions_under_jit_and_vmap(func) -> None:
    g = _batch()[0]  # (3, 11)
    eager = np.asarray(func(g))
    np.testing.assert_allclose(jax.jit(func)(g), eager, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(jax.vmap(func)(jnp.asarray(g)), eager, rtol=1e-12)


def test_jit_threshold_argument_is_traceable() -> None:
    g = jnp.asarray(SERIES)
    below = jax.jit(time_below)
    assert float(below(g, 54.0)) == pytest.approx(20.0)
    assert float(below(g, 70.0)) == pytest.approx(40.0)


def test_glucose_metrics_under_jit_and_vmap() -> None:
    g = jnp.asarray(_batch())
    eager = glucose_metrics(g)
    jitted = jax.jit(glucose_metrics)(g)
    vmapped = jax.vmap(glucose_metrics)(g)
    assert isinstance(jitted, GlucoseMetrics)
    assert isinstance(vmapped, GlucoseMetrics)
    for a, b, c in zip(
        jax.tree_util.tree_leaves(eager),
        jax.tree_util.tree_leaves(jitted),
        jax.tree_util.tree_leaves(vmapped),
        strict=True,
    ):
        np.testing.assert_allclose(b, a, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(c, a, rtol=1e-12, equal_nan=True)
    assert float(jitted.tir[0, 0]) == pytest.approx(float(time_in_range(g[0, 0])))


# --------------------------------------------------------------------------- validation


def test_empty_time_axis_raises_data_error() -> None:
    with pytest.raises(DataError, match=r"at least one glucose sample.*shape \(3, 0\)"):
        glucose_metrics(np.zeros((3, 0)))


def test_empty_list_raises_data_error() -> None:
    with pytest.raises(DataError, match=r"shape \(0,\)"):
        glucose_metrics([])


def test_scalar_raises_data_error() -> None:
    with pytest.raises(DataError, match="scalar"):
        glucose_metrics(120.0)


def test_non_numeric_raises_data_error() -> None:
    with pytest.raises(DataError, match="numeric"):
        glucose_metrics(np.array(["120", "130"]))


def test_data_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        glucose_metrics(jnp.zeros((0,)))
