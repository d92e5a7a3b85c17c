"""Activation times, APD and conduction velocity on traces whose answers are known exactly."""

import numpy as np

import medtwin  # noqa: F401
from medtwin.models.cardiology import (
    action_potential_duration,
    activation_times,
    local_conduction_velocity,
    plane_wave_speed,
)


def test_activation_time_interpolates_the_crossing():
    ts = np.arange(0.0, 10.0, 1.0)
    # a ramp u = (t - t_a) / 2 + 0.5 through 0.5 at t_a, per cell; one cell never crosses
    t_a = np.array([2.3, 5.75, 40.0])
    u = np.clip((ts[:, None] - t_a[None]) / 2 + 0.5, 0.0, 1.0)
    lat = np.asarray(activation_times(ts, u, 0.5))
    assert np.allclose(lat[:2], t_a[:2], atol=1e-12) and np.isnan(lat[2])
    # the first crossing after a time: a second beat
    two = np.concatenate([u[:, :1], u[:, :1]])
    lat2 = activation_times(np.arange(20.0), two, 0.5, after=9.0)
    assert np.isclose(float(lat2[0]), 12.3, atol=1e-12)


def test_apd_of_a_trapezoid():
    ts = np.arange(0.0, 400.0, 0.5)
    # rise 0 -> 1 over [10, 12], plateau to 200, fall linearly to 0 at 300
    u = np.interp(ts, [0, 10, 12, 200, 300, 400], [0, 0, 1, 1, 0, 0])
    # APD90: threshold 0.1, up at 10.2, down at 290
    assert np.isclose(float(action_potential_duration(ts, u, 0.9)), 290.0 - 10.2, atol=1e-9)
    assert np.isclose(float(action_potential_duration(ts, u, 0.5)), 250.0 - 11.0, atol=1e-9)
    assert np.isnan(float(action_potential_duration(ts[:300], u[:300], 0.9)))  # never falls


def test_conduction_velocity_of_a_planar_activation_map():
    h, c, ang = 0.2, 0.6, 0.5
    x, y = np.meshgrid(np.arange(30) * h, np.arange(20) * h, indexing="ij")
    lat = 3.0 + (x * np.cos(ang) + y * np.sin(ang)) / c
    assert np.allclose(local_conduction_velocity(lat, h), c, rtol=1e-12)
    assert np.isclose(float(plane_wave_speed(x[:, 0], lat[:, 0])), c / np.cos(ang), rtol=1e-12)
