"""The twin's predictive low alert: the patient eats the rescue carbohydrate before the reading
is low when even MPC's least-insulin plan leaves a low likely within 30 min; the treatment rule
counts an alert as a low reading; bad settings and a loop without a treatment are refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.control import (
    MPC,
    BasalBolus,
    ClosedLoop,
    HypoTreatment,
    LowAlert,
    MealSchedule,
)
from medtwin.data import T1D_CGM_FILTER, load_virtual_patients, t1d_population_prior
from medtwin.errors import ModelError
from medtwin.models import UVAPadova


def test_an_alert_counts_as_a_low_reading_and_keeps_the_recheck():
    rule = HypoTreatment(grams=15.0, recheck=15.0)
    cgm = jnp.array([120.0, 120.0, 60.0, 120.0])
    last = jnp.array([-jnp.inf, -jnp.inf, -jnp.inf, 95.0])  # the last: treated 5 min ago
    alert = jnp.array([False, True, False, True])
    got = rule.due(cgm, jnp.float64(100.0), last, alert)
    np.testing.assert_array_equal(got, [0.0, 15.0, 15.0, 0.0])
    np.testing.assert_array_equal(rule.due(cgm, jnp.float64(100.0), last), [0, 0, 15, 0])


def test_bad_settings_are_refused():
    with pytest.raises(ModelError, match="probability in"):
        LowAlert(probability=0.0)
    with pytest.raises(ModelError, match=r"within=-5"):
        LowAlert(within=-5)
    with pytest.raises(ModelError, match=r"one of 'twin', 'reading'\. Got anchor='cgm'"):
        LowAlert(anchor="cgm")
    with pytest.raises(ModelError, match="must be a LowAlert"):
        MPC(BasalBolus(1.0, 10.0, 50.0), low_alert=0.5)  # type: ignore[arg-type]
    mpc = MPC(BasalBolus(1.0, 10.0, 50.0), low_alert=LowAlert())
    with pytest.raises(ModelError, match="low_alert makes the patient eat"):
        mpc.decide(None)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match=r"MPC.plan\(\) gives an insulin command"):
        mpc.plan(None)  # type: ignore[arg-type]
    model = UVAPadova()
    truth = np.asarray(load_virtual_patients(["adult#001"]))
    loop = ClosedLoop(model, t1d_population_prior(), method=T1D_CGM_FILTER, particles=8)
    sc = MealSchedule(np.array([[30.0]]), np.array([[60.0]]), np.array([[60.0]]))
    with pytest.raises(ModelError, match="no hypoglycaemia treatment"):
        loop.run([MPC(BasalBolus(1.0, 10.0, 50.0), particles=4, low_alert=LowAlert())], truth,
                 sc, days=0.1, key=jax.random.key(0))  # fmt: skip


def test_in_the_loop_the_alert_treats_before_the_reading_is_low(overdosed):
    # a patient whose carb ratio is a third of the truth's, at the usual basal: the meal bolus
    # brings glucose down to the high 60s; with the alert the patient eats before the reading
    # is low and stays higher
    model, name, truth, bb = (overdosed.model, overdosed.name, overdosed.truth,
                              overdosed.therapy)  # fmt: skip
    sc = MealSchedule(np.array([[30.0]]), np.array([[60.0]]), np.array([[60.0]]))
    loop = ClosedLoop(model, [t1d_population_prior(exclude=(name,))], method=T1D_CGM_FILTER,
                      particles=64, rescue=HypoTreatment(logged=True))  # fmt: skip
    runs = {}
    for anchor, alert in (("twin", LowAlert()), ("reading", LowAlert(anchor="reading")),
                          (None, None)):  # fmt: skip
        mpc = MPC(bb, particles=8, bolus_reference="basal-bolus", bolus_levels=(1.0,),
                  basal_levels=(1.0,), low_alert=alert)  # fmt: skip
        runs[anchor] = loop.run([mpc], truth, sc, days=0.25, key=jax.random.key(1))
    on, off = runs["twin"], runs[None]
    assert off.alert is None and not np.any(off.rescue)  # never read low: no treatment
    assert on.alert is not None and on.rescue is not None
    treated = np.flatnonzero(on.rescue[0] > 0)
    assert treated.size and np.all(on.alert[0, treated])  # every treatment on an alert...
    assert on.cgm[0, treated[0]] >= 70  # ...the first before the reading was low
    assert np.all(on.rescue[0, treated] == 15.0)
    assert np.min(off.bg) < 70 <= np.min(on.bg)
    # the chance behind each alert is recorded at every decision: the alert is on exactly
    # where it reaches the alert's probability on a trusted twin
    assert off.p_low is None and on.p_low is not None
    assert np.all((on.p_low >= 0) & (on.p_low <= 1)) and np.any(on.p_low > 0)
    np.testing.assert_array_equal(on.alert, (on.p_low >= 0.5) & (on.fallback == 0))
    # anchored on the reading, the alert too treats before the reading is low
    read = runs["reading"]
    assert read.alert is not None and read.rescue is not None
    alerted = np.flatnonzero(read.rescue[0] > 0)
    assert alerted.size, "the reading-anchored alert never treated"
    first = alerted[0]
    assert read.alert[0, first] and read.cgm[0, first] >= 70, (first, read.cgm[0, first])
    assert np.min(off.bg) < np.min(read.bg), (np.min(off.bg), np.min(read.bg))
