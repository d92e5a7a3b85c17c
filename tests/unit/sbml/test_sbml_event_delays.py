"""SBML events with a delay (L3V2 section 4.12.3) against counts worked out by hand: several
executions of one event pending at once (a queue per member, in the state vector), values
held from the trigger time or computed at execution, a non-persistent event cancelled when
its trigger falls before it executes, a full queue or a negative delay failing its member
only, and the queue carried across chained ``advance`` calls.

The model: ``phase`` runs at rate 1 and an undelayed event resets it to 0 when it reaches 1,
so ``phase >= 0.4`` rises at ``k + 0.4`` and falls at ``k + 1`` (k = 0, 1, ...). The event
``late`` fires at each rise and, ``d`` later, adds 1 to ``n``.
"""

from __future__ import annotations

import math as pymath

import numpy as np
import pytest
from sbml_docs import apply, ci, cn, compartment, model_doc, parameter, rate_rule
from test_sbml_events import event

from medtwin.errors import ModelError
from medtwin.sbml import SBMLEventModel, load_sbml
from medtwin.simulate import advance, simulate

T1, DT = 6.0, 0.5


def doc(*, persistent: bool = True, trigger_time_values: bool = False) -> str:
    return model_doc(
        compartments=[compartment("c", 1.0)],
        parameters=[parameter("phase", 0.0, constant=False), parameter("n", 0.0, constant=False),
                    parameter("d", 0.3)],
        rules=[rate_rule("phase", cn(1))],
        events=[
            event("wrap", apply("geq", ci("phase"), cn(1)), {"phase": cn(0)}),
            event("late", apply("geq", ci("phase"), cn(0.4)), {"n": apply("plus", ci("n"), cn(1))},
                  delay=ci("d"), persistent=persistent, trigger_time_values=trigger_time_values),
        ],
    )  # fmt: skip


def names(model) -> list[str]:
    return [s.name for s in model.states]


def executed_by(t: np.ndarray, d: float) -> np.ndarray:
    """The executions of ``late`` done by each time ``t``: fired at k + 0.4, run at k + 0.4 +
    d (for a persistent event)."""
    k = np.arange(20)
    return ((k[None, :] + 0.4 + d) <= t[:, None] + 1e-9).sum(axis=1).astype(float)


@pytest.mark.slow
def test_several_pending_executions_run_each_at_its_time_per_member():
    cls = load_sbml(doc(), observables=["n"])
    assert issubclass(cls, SBMLEventModel)
    model = cls(input_dt=DT, rtol=1e-10, atol=1e-12)
    assert "pending(late)[0]" in names(model) and "time(late)[15]" in names(model)
    ds = (0.3, 2.3, 1.35)  # 2.3: three executions pending at once
    batch = np.stack([model.make_params(d=d) for d in ds])
    traj = simulate(model, batch, t1=T1)
    assert np.all(np.asarray(traj.status) == 0)
    t = np.asarray(traj.ts)
    for i, d in enumerate(ds):
        np.testing.assert_array_equal(traj.observable("n")[i], executed_by(t, d))
    # at t = 3 (d = 2.3): fired at 0.4, 1.4, 2.4; run at 2.7; pending at 3.7 and 4.7
    k = int(np.argmin(np.abs(t - 3.0)))
    assert traj.state("pending(late)[0]")[1, k] == 1 and traj.state("pending(late)[2]")[1, k] == 0
    np.testing.assert_allclose(traj.state("time(late)[1]")[1, k], 4.7, rtol=1e-9)


@pytest.mark.slow
def test_values_from_the_trigger_time_are_held_until_the_execution():
    # n + 1 is computed when the event fires: execution k sets n to (runs done by k + 0.4) + 1
    model = load_sbml(doc(trigger_time_values=True), observables=["n"])(input_dt=DT)
    traj = simulate(model, model.make_params(d=2.3), t1=T1)
    t = np.asarray(traj.ts)
    expected = np.zeros_like(t)
    for k in range(10):
        if k + 2.7 <= t[-1] + 1e-9:
            done_at_fire = executed_by(np.asarray([k + 0.4]), 2.3)[0]
            expected[t >= k + 2.7 - 1e-9] = done_at_fire + 1
    np.testing.assert_array_equal(traj.observable("n"), expected)
    assert expected[-1] == 2.0  # run k = 3 at 5.7 sets 1 + 1 (values at execution: 4)
    assert "held(late)[0].n" in names(model)


@pytest.mark.slow
def test_a_non_persistent_event_is_cancelled_when_its_trigger_falls_first():
    model = load_sbml(doc(persistent=False), observables=["n"])(input_dt=DT)
    # d = 0.3: runs at k + 0.7, before the fall at k + 1; d = 0.7: the fall at k + 1 comes first
    batch = np.stack([model.make_params(d=0.3), model.make_params(d=0.7)])
    traj = simulate(model, batch, t1=T1)
    np.testing.assert_array_equal(traj.observable("n")[0], executed_by(np.asarray(traj.ts), 0.3))
    np.testing.assert_array_equal(traj.observable("n")[1], np.zeros(len(traj.ts)))


def test_a_full_queue_or_a_negative_delay_fails_its_member_only():
    model = load_sbml(doc(), observables=["n"], max_pending=2)(input_dt=DT)
    assert sum(s.startswith("pending(late)") for s in names(model)) == 2
    batch = np.stack([model.make_params(d=d) for d in (2.3, 0.3, -0.1)])
    traj = simulate(model, batch, t1=T1)
    status = np.asarray(traj.status)
    assert status[0] != 0 and status[2] != 0 and status[1] == 0
    assert np.all(np.isnan(traj.observable("n")[0][-1]))
    np.testing.assert_array_equal(traj.observable("n")[1], executed_by(np.asarray(traj.ts), 0.3))
    # the queue held two executions: the member failed when the third fired, at 2.4
    t = np.asarray(traj.ts)
    np.testing.assert_array_equal(traj.observable("n")[0][t < 2.4], 0.0)
    with pytest.raises(ModelError, match="max_pending"):
        load_sbml(doc(), max_pending=0)


@pytest.mark.slow
def test_chained_advance_calls_carry_the_queue():
    model = load_sbml(doc(), observables=["n"])(input_dt=0.25)
    p = model.make_params(d=2.3)
    traj = simulate(model, p, t1=T1)
    a = advance(model, model.initial_state(p), p, None, 0.0, 3.0)  # two executions pending
    b = advance(model, a.state, p, None, 3.0, T1)
    np.testing.assert_allclose(b.state, traj.states[-1], rtol=1e-12, atol=1e-12)
    assert model.observe(T1, b.state, p)[0] == executed_by(np.asarray([T1]), 2.3)[0]
    assert pymath.isclose(float(b.state[names(model).index("phase")]), 0.0, abs_tol=1e-6)
