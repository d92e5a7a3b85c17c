"""SBML events (L3V2 section 4.12) against analytic solutions: a state-triggered reset located
within the step and applied per member of a batch, time-triggered events in priority order,
initialValue (firing at t0), useValuesFromTriggerTime, and what is refused. Delayed events:
test_sbml_event_delays.py."""

from __future__ import annotations

import math as pymath

import numpy as np
import pytest
from sbml_docs import (
    TIME,
    apply,
    ci,
    cn,
    compartment,
    math,
    model_doc,
    parameter,
    reaction,
    species,
)

from medtwin.sbml import SBMLEventModel, UnsupportedSBMLError, load_sbml
from medtwin.simulate import advance, simulate


def event(eid: str, trigger: str, assignments: dict[str, str], *, initial: bool = True,
          persistent: bool = True, priority: str | None = None, delay: str | None = None,
          trigger_time_values: bool = True) -> str:  # fmt: skip
    prio = f"<priority>{math(priority)}</priority>" if priority is not None else ""
    dly = f"<delay>{math(delay)}</delay>" if delay is not None else ""
    assigns = "".join(
        f'<eventAssignment variable="{v}">{math(m)}</eventAssignment>'
        for v, m in assignments.items()
    )
    return (
        f'<event id="{eid}" useValuesFromTriggerTime="{str(trigger_time_values).lower()}">'
        f'<trigger initialValue="{str(initial).lower()}" '
        f'persistent="{str(persistent).lower()}">{math(trigger)}</trigger>{dly}{prio}'
        f"<listOfEventAssignments>{assigns}</listOfEventAssignments></event>"
    )


# S decays at rate k from 10 and is reset to 10 whenever it falls below 5: S(t) = 10
# exp(-k (t - t_n)) with resets at t_n = n ln(2) / k.
RESET = model_doc(
    compartments=[compartment("c", 1.0)],
    species_=[species("S", amount=10.0)],
    parameters=[parameter("k", 1.0)],
    reactions=[reaction("decay", {"S": 1}, {}, apply("times", ci("k"), ci("S")))],
    events=[event("refill", apply("lt", ci("S"), cn(5)), {"S": cn(10)})],
)


@pytest.mark.slow
def test_a_state_triggered_event_is_located_within_the_step_for_each_member():
    cls = load_sbml(RESET)
    assert issubclass(cls, SBMLEventModel)
    model = cls(input_dt=0.5, rtol=1e-10, atol=1e-12)
    ks = (1.0, 2.0, 0.3)
    batch = np.stack([model.make_params(k=k) for k in ks])
    traj = simulate(model, batch, t1=3.0)
    assert np.all(np.asarray(traj.status) == 0)
    t = np.asarray(traj.ts)
    for i, k in enumerate(ks):
        period = pymath.log(2.0) / k
        # the saved time's distance from the last reset (a reset at a grid time is applied
        # before the save)
        since = t - np.floor(t / period + 1e-9) * period
        np.testing.assert_allclose(traj.observable("S")[i], 10 * np.exp(-k * since), rtol=1e-7)
    assert traj.state("trigger(refill)").shape == (3, 7)


# Time-triggered: at t0 (initialValue false, trigger true) p := 3; at t >= 2 two events, the
# higher priority doubling p, the lower adding 1: 3 * 2 + 1 = 7 (the other order gives 8).
# q := p at t > 0.75.
ORDER = model_doc(
    compartments=[compartment("c", 1.0)],
    parameters=[parameter("p", 0.0, constant=False), parameter("q", 0.0, constant=False)],
    events=[
        event("start", apply("geq", TIME, cn(0)), {"p": cn(3)}, initial=False),
        event("add", apply("geq", TIME, cn(2)), {"p": apply("plus", ci("p"), cn(1))},
              priority=cn(1), trigger_time_values=False),
        event("double", apply("geq", TIME, cn(2)), {"p": apply("times", ci("p"), cn(2))},
              priority=cn(5), trigger_time_values=False),
        event("copy", apply("gt", TIME, cn(0.75)), {"q": ci("p")}),
    ],
)  # fmt: skip


@pytest.mark.slow
def test_time_triggered_events_fire_at_t0_and_in_priority_order():
    model = load_sbml(ORDER, observables=["p", "q"])(input_dt=0.5)
    traj = simulate(model, model.default_params(), t1=3.0)
    np.testing.assert_allclose(traj.observable("p"), [3, 3, 3, 3, 7, 7, 7])
    np.testing.assert_allclose(traj.observable("q"), [0, 0, 3, 3, 3, 3, 3])
    # initialValue true: the trigger true at t0 does not fire
    doc = ORDER.replace('initialValue="false"', 'initialValue="true"')
    model = load_sbml(doc, observables=["p"])(input_dt=0.5)
    p = simulate(model, model.default_params(), t1=3.0).observable("p")
    np.testing.assert_allclose(p, [0, 0, 0, 0, 1, 1, 1])  # 0 * 2 + 1
    # useValuesFromTriggerTime: both values read when the triggers fire, before either runs
    doc = ORDER.replace('useValuesFromTriggerTime="false"', 'useValuesFromTriggerTime="true"')
    model = load_sbml(doc, observables=["p"])(input_dt=0.5)
    p = simulate(model, model.default_params(), t1=3.0).observable("p")
    np.testing.assert_allclose(p, [3, 3, 3, 3, 4, 4, 4])  # the last executed: 3 + 1


def test_equal_priorities_are_refused_by_name():
    # (delayed events are imported: test_sbml_event_delays.py)
    tied = ORDER.replace("<cn>5</cn></math></priority>", "<cn>1</cn></math></priority>")
    with pytest.raises(UnsupportedSBMLError) as info:
        load_sbml(tied)
    assert info.value.feature == "random event execution order"


@pytest.mark.slow
def test_chained_advance_calls_carry_the_event_memory():
    model = load_sbml(RESET)(input_dt=0.25)
    p = model.default_params()
    traj = simulate(model, p, t1=2.0)
    a = advance(model, model.initial_state(p), p, None, 0.0, 1.0)
    b = advance(model, a.state, p, None, 1.0, 2.0)
    np.testing.assert_allclose(b.state, traj.states[-1], rtol=1e-12)
    np.testing.assert_allclose(b.state[0], 10 * np.exp(-(2.0 - 2 * pymath.log(2.0))), rtol=1e-6)


# E1 (q > 0 -> q := 0) and E2 (q < thr -> q := 1) trigger each other without end where
# thr > 0: that member fails (status, NaN), the other runs.
LOOP = model_doc(
    compartments=[compartment("c", 1.0)],
    parameters=[parameter("q", 1.0, constant=False), parameter("thr", 0.5)],
    events=[
        event("E1", apply("gt", ci("q"), cn(0)), {"q": cn(0)}, initial=False),
        event("E2", apply("lt", ci("q"), ci("thr")), {"q": cn(1)}),
    ],
)


def test_an_endless_cascade_fails_its_member_only():
    model = load_sbml(LOOP, observables=["q"])(input_dt=1.0, max_events=50)
    batch = np.stack([model.make_params(thr=0.5), model.make_params(thr=-1.0)])
    traj = simulate(model, batch, t1=2.0)
    assert int(traj.status[0]) != 0 and np.all(np.isnan(traj.observable("q")[0]))
    assert int(traj.status[1]) == 0
    np.testing.assert_allclose(traj.observable("q")[1], [0, 0, 0])  # E1 fired at t0 only
