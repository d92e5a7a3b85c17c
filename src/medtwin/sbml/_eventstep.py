"""One input step of an SBML model with events, for one member (vmapped by ``simulate``).

The member's state is ``[x, prev, queues]``: the ODE states ``x``, each trigger's value at
the last check ``prev`` (1.0/0.0) and the pending executions of the delayed events
(:mod:`._eventqueue`). Keeping the event memory in the state lets ``simulate``, ``advance``
and the twin loop carry it with no special case.

Over ``[t, t + dt]`` (SBML L3V2 core section 4.12):

1. At time 0 (:func:`initial_memory`, called by the model's ``initial_state``, so the saved
   initial state shows them) the triggers are evaluated at 0 itself: a trigger true there
   whose ``initialValue`` is false fires at 0; ``prev`` starts from the triggers' values.
2. diffrax ``Dopri5`` (PID step-size control) integrates until a root function of a trigger
   atom (:mod:`._eventgraph`) crosses zero -- located by Newton's method on the dense
   output --, the earliest pending execution of a delayed event, or ``t + dt``. Each member
   stops at its own times.
3. At a stop ``s`` the triggers are evaluated just after it, at ``s + h`` with the state moved
   by one Euler step (``h = 1e-9 * max(1, |s|)``), so that a trigger such as ``x > 5`` reads
   the side it is crossing to, whatever the rounding of the located root. Each trigger that
   went false -> true *fires* its event: an event without a delay becomes *pending* (once
   more, if it already is); a delayed one gets an execution queued at ``s + delay`` (the
   delay evaluated at ``s``, section 4.12.3), which is pending once its time is at most
   ``s + h``. Pending executions run one at a time, highest priority first (priorities
   evaluated at each choice; ties in document order; executions of one event in the order
   they fired). An event's assignments are evaluated at its execution (or, with
   ``useValuesFromTriggerTime``, when it fired, and held in the queue until it executes) and
   applied together. After each execution the triggers are evaluated again: new
   false -> true transitions fire (cascades; a delay of 0 executes at the same time) and the
   pending or queued executions of a non-persistent event whose trigger turned false are
   dropped (at every stop, not only at executions). More than ``max_events`` executions in
   one input step, more than ``max_stops`` solver stops, a failed solve, a negative or NaN
   delay, or a full queue (``max_pending``) make the member's state NaN (its ``simulate``
   status is then non-zero); the other members are unaffected.
4. After a located root or a queued execution, integration resumes at ``s + h``; an event
   at ``t + dt`` itself is applied before the state is saved.

Reference: SBML Level 3 Version 2 Core, release 2, section 4.12 (events), 4.12.7 (execution
order); diffrax ``Event`` (Kidger 2021, "On Neural Differential Equations").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import diffrax
import jax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import Array, ArrayLike

from . import _eventqueue as queue
from ._eventqueue import MAX_PENDING, Queue

if TYPE_CHECKING:
    from ._model import Equations

__all__ = ["EventSettings", "event_step", "initial_memory"]

LOOKAHEAD = 1e-9  # relative time offset at which triggers are read after a stop
ROOT_TOL = 1e-12  # Newton's tolerance on the located root time (relative and absolute)


@dataclass(frozen=True)
class EventSettings:
    """Tolerances and bounds of :func:`event_step` (plain values, fixed while tracing):
    the integrator's ``rtol``, ``atol`` and ``max_steps`` per solve, at most ``max_events``
    executions and ``max_stops`` solver stops per input step, and ``max_pending`` queued
    executions per delayed event (the model's, fixed by ``load_sbml``)."""

    rtol: float
    atol: float
    max_steps: int
    max_events: int
    max_stops: int
    max_pending: int = MAX_PENDING


class _Events:
    """The event functions of one member (``eq`` and ``params`` bound)."""

    def __init__(self, eq: Equations, params: Array, cfg: EventSettings) -> None:
        self.eq, self.params, self.cfg = eq, params, cfg
        self.events = eq.layout.events
        self.trig_keys = tuple(e.trigger for e in self.events)
        self.prio_keys = tuple(e.priority for e in self.events)
        self.n_vals = max((len(e.values) for e in self.events), default=0)
        self.persistent = jnp.asarray([e.persistent for e in self.events])
        self.runs = [self._executor(i) for i in range(len(self.events))]
        self.queues = queue.queue_layout(self.events, cfg.max_pending)
        rows = self.queues.rows
        self.rows = jnp.asarray(rows, jnp.int32)
        self.delayed = jnp.asarray([i in rows for i in range(len(self.events))])
        self.row_of = jnp.asarray([rows.index(i) if i in rows else 0
                                   for i in range(len(self.events))], jnp.int32)  # fmt: skip
        self.delay_keys = tuple(str(self.events[i].delay) for i in rows)

    def f(self, s: Array, x: Array) -> Array:
        return self.eq.rhs(s, x, self.params)

    def truth(self, s: Array, x: Array, h: Array) -> Array:
        """The triggers at ``s + h`` (``x`` moved by one Euler step)."""
        return self.eq.quantities(s + h, x + h * self.f(s, x), self.params, self.trig_keys) != 0

    def values(self, s: Array, x: Array) -> Array:
        rows = []
        for e in self.events:
            v = self.eq.quantities(s, x, self.params, e.values) if e.values else jnp.zeros(0)
            rows.append(jnp.pad(v, (0, self.n_vals - len(e.values))))
        return jnp.stack(rows) if self.n_vals else jnp.zeros((len(self.events), 0))

    def _executor(self, i: int):
        e, eq, params = self.events[i], self.eq, self.params

        def run(s: Array, x: Array, captured: Array) -> Array:
            # Species amounts follow the sizes before the event: a species' concentration
            # assigned becomes an amount in the old size, and a resized compartment keeps
            # the amounts of its species (SBML Test Suite cases 01505, 01506).
            now = eq.quantities(s, x, params, e.values) if e.values else jnp.zeros((0,))
            v = captured[: len(e.values)] if e.use_trigger_values else now
            conc = [(k, size, j) for j, (k, size) in enumerate(e.targets) if size is not None]
            old = eq.quantities(s, x, params, tuple(sz for _, sz, _ in conc)) if conc else x[:0]
            sizes_of = tuple(c for _, c in e.rescale)
            before = eq.quantities(s, x, params, sizes_of) if sizes_of else None
            for j, (k, size) in enumerate(e.targets):
                x = x.at[k].set(v[j] if size is None else v[j] * old[conc.index((k, size, j))])
            if before is not None:  # concentration states: amounts kept, sizes changed
                after = eq.quantities(s, x, params, sizes_of)
                for (k, _), b, a in zip(e.rescale, before, after, strict=True):
                    x = x.at[k].multiply(b / a)
            return x

        return run

    def _queue(self, s: Array, x: Array, rising: Array, keep: Array, captured: Array,
               q: Queue, bad: Array) -> tuple[Queue, Array]:  # fmt: skip
        """The delayed events' queues after a check at ``s``: the executions of a
        non-persistent event whose trigger is false dropped (``keep`` false), one execution
        queued at ``s + delay`` per delayed event that fired (``rising``)."""
        if not self.queues.rows:
            return q, bad
        q = queue.cancel(q, ~keep[self.rows])
        fired = rising[self.rows]
        delay = self.eq.quantities(s, x, self.params, self.delay_keys)
        values = captured[self.rows, : self.queues.width]
        q, overflow = queue.push(q, fired, s + delay, values)
        return q, bad | overflow | jnp.any(fired & ~(delay >= 0))  # a NaN delay too

    def fire(self, s: Array, x: Array, prev: Array, new: Array, count: Array, h: Array,
             q: Queue, bad: Array):  # fmt: skip
        """Execute the events whose trigger went false -> true at ``s`` (queue those with a
        delay), the queued executions due by ``s + h``, and their cascades; returns the
        state, the triggers' values, the count of executions, the queues and whether the
        member failed (a full queue, a negative or NaN delay). ``pending`` counts each
        undelayed event's executions due (a trigger that rises again before its event has
        run adds one more)."""
        rising = new & ~prev
        pending = (rising & ~self.delayed).astype(jnp.int32)
        captured = self.values(s, x)
        q, bad = self._queue(s, x, rising, new | self.persistent, captured, q, bad)
        limit = s + h

        def ready(pending, q):
            if not self.queues.rows:
                return pending > 0
            queued = jnp.zeros(len(self.events), bool)
            queued = queued.at[self.rows].set(jnp.any(queue.due(q, limit), axis=1))
            return (pending > 0) | queued

        def cond(c):
            _, pending, _, _, count, q, bad = c
            return jnp.any(ready(pending, q)) & (count <= self.cfg.max_events) & ~bad

        def body(c):
            x, pending, prev, captured, count, q, bad = c
            prio = self.eq.quantities(s, x, self.params, self.prio_keys)
            score = jnp.where(ready(pending, q), jnp.nan_to_num(prio, nan=-1e300), -jnp.inf)
            i = jnp.argmax(score)
            vals = captured[i]
            if self.queues.rows:
                row = self.row_of[i]
                slot = queue.first_due(q, row, limit)
                held = jnp.pad(q.held[row, slot], (0, self.n_vals - self.queues.width))
                vals = jnp.where(self.delayed[i], held, vals)
                taken = queue.take(q, row, slot)
                q = jax.tree.map(lambda a, b: jnp.where(self.delayed[i], a, b), taken, q)
            x = jax.lax.switch(i, self.runs, s, x, vals)
            pending = pending.at[i].add(-1)
            new = self.truth(s, x, h)
            rising = new & ~prev
            captured = jnp.where(rising[:, None], self.values(s, x), captured)
            keep = new | self.persistent
            pending = jnp.where(keep, pending, 0) + (rising & ~self.delayed).astype(jnp.int32)
            q, bad = self._queue(s, x, rising, keep, captured, q, bad)
            return x, jnp.maximum(pending, 0), new, captured, count + 1, q, bad

        init = (x, pending, new, captured, count, q, bad)
        x, _, prev, _, count, q, bad = jax.lax.while_loop(cond, body, init)
        return x, prev, count, q, bad

    def initial(self, t: Array, x: Array, prev: Array, q: Queue):
        """The check at the initial time ``t`` (triggers read at ``t`` itself)."""
        zero = jnp.zeros((), jnp.float64)
        new = self.truth(t, x, zero)
        return self.fire(t, x, prev, new, jnp.int32(0), zero, q, jnp.bool_(False))


def initial_memory(eq: Equations, x: Array, params: Array, cfg: EventSettings) -> Array:
    """``[x, prev, queues]`` at time 0 from the initial ODE state ``x``, the events that fire
    at time 0 executed or queued (step 1 of the module docstring)."""
    ev = _Events(eq, params, cfg)
    prev0 = jnp.asarray([e.initial_value for e in ev.events])
    x, prev, count, q, bad = ev.initial(jnp.zeros((), jnp.float64), x, prev0,
                                        queue.empty(ev.queues))  # fmt: skip
    y = jnp.concatenate([x, prev.astype(jnp.float64), queue.pack(ev.queues, q)])
    return jnp.where((count <= cfg.max_events) & ~bad, y, jnp.nan)


def event_step(
    eq: Equations, t: ArrayLike, y: Array, params: Array, dt: float, cfg: EventSettings
) -> Array:
    """Advance ``y = [x, prev, queues]`` from ``t`` to ``t + dt`` (see the module
    docstring)."""
    ev = _Events(eq, params, cfg)
    lay = eq.layout
    n_x, n_e = len(lay.states), len(lay.events)
    t0 = jnp.asarray(t, jnp.float64)
    t_end = t0 + dt
    x0, prev0 = y[:n_x], y[n_x : n_x + n_e] > 0.5
    q0 = queue.unpack(ev.queues, y[n_x + n_e :])
    f, truth, fire = ev.f, ev.truth, ev.fire
    count0 = jnp.int32(0)

    def vector_field(s, x, args):
        return f(s, x)

    term = diffrax.ODETerm(vector_field)

    def root_fn(key: str):
        def cond_fn(t, y, args, **kwargs):
            return eq.quantities(t, y, params, (key,))[0]

        return cond_fn

    conds = [root_fn(key) for key in lay.roots]
    event = diffrax.Event(conds, optx.Newton(rtol=ROOT_TOL, atol=ROOT_TOL)) if conds else None

    def cond(c):
        tc, _, _, count, ok, stops, _ = c
        return (tc < t_end) & ok & (stops < cfg.max_stops) & (count <= cfg.max_events)

    def body(c):
        tc, x, prev, count, ok, stops, q = c
        # stop at the earliest queued execution, if it comes before the end of the step
        t_stop = jnp.minimum(t_end, jnp.maximum(tc, queue.next_time(q)))
        sol = diffrax.diffeqsolve(
            term, diffrax.Dopri5(), t0=tc, t1=t_stop, dt0=None, y0=x, event=event,
            saveat=diffrax.SaveAt(t1=True),
            stepsize_controller=diffrax.PIDController(rtol=cfg.rtol, atol=cfg.atol),
            max_steps=cfg.max_steps, throw=False,
        )  # fmt: skip
        s, xs = sol.ts[-1], sol.ys[-1]
        hit = sol.result == diffrax.RESULTS.event_occurred
        good = hit | (sol.result == diffrax.RESULTS.successful)
        h = LOOKAHEAD * jnp.maximum(1.0, jnp.abs(s))
        x2, prev2, count2, q2, bad = fire(s, xs, prev, truth(s, xs, h), count, h, q,
                                          jnp.bool_(False))  # fmt: skip
        resume = (hit | (s < t_end)) & (s + h < t_end)
        x3 = jnp.where(resume, x2 + h * f(s, x2), x2)
        t3 = jnp.where(resume, s + h, t_end)
        return t3, x3, prev2, count2, ok & good & ~bad, stops + 1, q2

    init = (t0, x0, prev0, count0, jnp.bool_(True), jnp.int32(0), q0)
    tc, x, prev, count, ok, _, q = jax.lax.while_loop(cond, body, init)
    ok = ok & (tc >= t_end) & (count <= cfg.max_events)
    y = jnp.concatenate([x, prev.astype(jnp.float64), queue.pack(ev.queues, q)])
    return jnp.where(ok, y, jnp.nan)
