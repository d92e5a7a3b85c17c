"""A stored twin whose CGM readings carry the sensor's autocorrelated error
(``TwinConfig.sensor``): the configuration stores as before when unset, refuses an observable
the model lacks and a twin kind without a filter; the twin it makes carries every particle's
AR(1) sensor state through updates and the store's blob, and is the twin ``medtwin twin replay``
makes of the same CGM readings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from medtwin import loop
from medtwin.assimilate import Observations
from medtwin.errors import StoreError
from medtwin.loop import PendingObservation, TwinConfig, replay_stream
from medtwin.simulate import Regimen

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CGM = "99504-3"  # the T1D twin's sc_glucose
READINGS = ((1.0, 150.0), (6.0, 162.0), (11.0, 171.0), (16.0, 176.0))  # min, mg/dL
N = 32


def config(**kw) -> TwinConfig:
    return TwinConfig("t1d", T0, n=N, seed=3, horizon=60.0, **kw)


def test_the_configuration_stores_as_before_without_a_sensor():
    assert "sensor" not in json.loads(config().to_json())
    with_sensor = config(sensor="sc_glucose")
    assert json.loads(with_sensor.to_json())["sensor"] == "sc_glucose"
    assert TwinConfig.from_json(with_sensor.to_json()) == with_sensor
    assert TwinConfig.from_json(config().to_json()).sensor is None
    assert loop.build_twin(with_sensor)[2].sensor.observable == "sc_glucose"
    assert loop.build_twin(config())[2].sensor is None


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"sensor": "cgm"}, "has no observable named 'cgm'. Expected one of: bg, sc_glucose"),
        ({"sensor": 5}, "the name of an observable read by a continuous sensor"),
        ({"sensor": ""}, "the name of an observable read by a continuous sensor"),
    ],
)
def test_a_sensor_the_model_does_not_read_is_refused(kw, message):
    with pytest.raises(StoreError, match=message.replace("(", r"\(")):
        config(**kw)


def test_a_network_twin_has_no_sensor():
    with pytest.raises(StoreError, match="reads findings, not a sensor stream"):
        TwinConfig("stroke", T0, sensor="sc_glucose")


@pytest.mark.slow
def test_the_stored_twin_is_the_replayed_twin_with_its_sensor_state():
    cfg = config(sensor="sc_glucose")
    twin = loop.create(cfg).twin
    for i, (t, g) in enumerate(READINGS):
        obs = [PendingObservation(i + 1, CGM, T0 + timedelta(minutes=t), g, 0)]
        step = loop.update(cfg, twin, obs, [])
        twin = step.twin
    ens = twin.ensemble
    assert ens.sensor is not None and ens.sensor.shape == (N,)
    assert ens.sensor_time == pytest.approx(READINGS[-1][0])
    # what `medtwin twin replay` makes of the same readings (a CGM file: sensor sc_glucose)
    t = np.array([r[0] for r in READINGS])
    data = Observations(t, ("sc_glucose",) * len(t), np.array([r[1] for r in READINGS]),
                        np.zeros(len(t), np.int8))  # fmt: skip
    replayed = replay_stream(data, Regimen(), horizon=60.0, particles=N, seed=3, model="t1d",
                             sensor="sc_glucose").twin.ensemble  # fmt: skip
    for name in ("params", "states", "log_weights", "sensor"):
        np.testing.assert_allclose(getattr(ens, name), getattr(replayed, name), rtol=1e-12,
                                   atol=1e-12, err_msg=name)  # fmt: skip
    # the store's blob keeps the sensor state bit for bit
    back = loop.restore(cfg, len(READINGS), loop.packed(cfg, step).state, ()).ensemble
    assert np.array_equal(np.asarray(back.sensor), np.asarray(ens.sensor))
    assert back.sensor_time == ens.sensor_time
    # the same readings without the sensor state make another posterior
    plain = loop.create(config()).twin
    for i, (t_, g) in enumerate(READINGS):
        obs = [PendingObservation(i + 1, CGM, T0 + timedelta(minutes=t_), g, 0)]
        plain = loop.update(config(), plain, obs, []).twin
    assert plain.ensemble.sensor is None
    assert not np.allclose(plain.ensemble.params, ens.params)
