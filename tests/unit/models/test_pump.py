"""Unit tests of medtwin.models.glucose.pump: quantisation, limits, NaN, command, presets."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtwin.errors import ModelError
from medtwin.models.glucose import PUMP_PRESETS, InsulinPump, pump_preset

jax.config.update("jax_enable_x64", True)  # before any array is made

INC = 0.05


def on_grid(x: np.ndarray, increment: float) -> bool:
    k = np.asarray(x) / increment
    return bool(np.all(np.abs(k - np.round(k)) <= 1e-6))


def test_quantises_down_to_the_increment() -> None:
    pump = InsulinPump()
    requests = np.array([0.0, 0.01, 0.049, 0.05, 0.07, 0.15, 1.234, 0.999999, 2.0, 29.99])
    expected = np.array([0.0, 0.0, 0.0, 0.05, 0.05, 0.15, 1.2, 0.95, 2.0, 29.95])
    for deliver in (pump.deliver_basal, pump.deliver_bolus):
        got = np.asarray(deliver(requests))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert np.all(got <= requests)
        assert np.all(got > requests - INC - 1e-12)
        assert on_grid(got, INC)


def test_grid_requests_are_delivered_in_full() -> None:
    # 0.15 / 0.05 = 2.9999999999999996 in floating point: still 3 increments, not 2.
    grid = np.arange(0, 601) * INC
    got = np.asarray(InsulinPump().deliver_basal(grid))
    assert np.all(got <= grid)
    np.testing.assert_allclose(got, grid, rtol=0, atol=1e-12)


def test_limits_negative_nan_and_infinite_requests() -> None:
    requests = np.array([-1.0, -np.inf, np.nan, 1e300, np.inf, 31.0])
    insulet, cozmo = pump_preset("Insulet"), pump_preset("Cozmo")
    np.testing.assert_array_equal(insulet.deliver_basal(requests), [0, 0, 0, 30, 30, 30])
    np.testing.assert_array_equal(insulet.deliver_bolus(requests), [0, 0, 0, 30, 30, 30])
    np.testing.assert_array_equal(cozmo.deliver_basal(requests), [0, 0, 0, 35, 35, 31])
    np.testing.assert_array_equal(cozmo.deliver_bolus(requests), [0, 0, 0, 75, 75, 31])


def test_any_shape_and_jit() -> None:
    pump = InsulinPump()
    x = jnp.linspace(-1.0, 40.0, 24).reshape(2, 3, 4)
    out = pump.deliver_bolus(x)
    assert out.shape == (2, 3, 4) and out.dtype == jnp.float64
    np.testing.assert_array_equal(jax.jit(pump.deliver_bolus)(x), out)
    assert pump.deliver_basal(1.0).shape == ()


def test_command_is_the_insulin_rate_in_u_per_min() -> None:
    pump = InsulinPump()
    # 1.23 U/h -> 1.2 U/h -> 0.02 U/min; 3.04 U bolus -> 3.0 U within the 1-minute step.
    assert float(pump.command(1.23, 3.04)) == pytest.approx(0.02 + 3.0, abs=1e-12)
    assert float(pump.command(1.2)) == pytest.approx(0.02, abs=1e-12)
    assert float(pump.command(1.2, 3.0, dt=5.0)) == pytest.approx(0.02 + 0.6, abs=1e-12)
    rates = pump.command(jnp.array([0.6, 1.2]), jnp.array([[0.0], [1.0]]))
    np.testing.assert_allclose(rates, [[0.01, 0.02], [1.01, 1.02]], rtol=0, atol=1e-12)
    assert float(pump.command(np.nan, np.nan)) == 0.0


def test_presets_match_simglucose_pump_params() -> None:
    assert set(PUMP_PRESETS) == {"Cozmo", "Insulet"}
    assert pump_preset("Insulet") == InsulinPump(30.0, 0.05, 30.0, 0.05)
    assert pump_preset("Cozmo") == InsulinPump(35.0, 0.05, 75.0, 0.05)
    with pytest.raises(ModelError, match="Insulet"):
        pump_preset("Medtronic")


@pytest.mark.parametrize("field", ["max_basal", "basal_increment", "max_bolus", "bolus_increment"])
def test_invalid_configuration_raises(field: str) -> None:
    with pytest.raises(ModelError, match=field):
        InsulinPump(**{field: 0.0})


requests = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-1.0, 100.0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(requests, min_size=1, max_size=20),
    st.sampled_from(["Insulet", "Cozmo"]),
    st.sampled_from(["basal", "bolus"]),
)
def test_delivery_is_in_range_on_grid_and_never_above_the_request(
    values: list[float], name: str, kind: str
) -> None:
    pump = pump_preset(name)
    maximum = pump.max_basal if kind == "basal" else pump.max_bolus
    increment = pump.basal_increment if kind == "basal" else pump.bolus_increment
    deliver = pump.deliver_basal if kind == "basal" else pump.deliver_bolus
    x = np.array(values, dtype=np.float64)
    out = np.asarray(deliver(x))
    assert out.shape == x.shape and np.all(np.isfinite(out))
    assert np.all((out >= 0.0) & (out <= maximum))
    assert on_grid(out, increment)
    wanted = np.clip(np.nan_to_num(x, nan=0.0, posinf=np.inf, neginf=0.0), 0.0, maximum)
    assert np.all(out <= wanted)  # never more than asked (nor than the maximum)
    assert np.all(out > wanted - increment - 1e-12)  # and less by under one increment
