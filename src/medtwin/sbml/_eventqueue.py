"""The pending executions of delayed SBML events, kept in the state vector.

An event with a delay (SBML L3V2 core section 4.12.3) that fires at time ``t`` executes at
``t + delay`` (the delay evaluated when it fires); it may fire again before then, so each
delayed event has a queue of pending executions. Under ``jax.vmap`` every member has its own
queue, so the queues live in the member's state, after the ODE states and the triggers'
memory (see :class:`~medtwin.sbml.SBMLEventModel`): per delayed event ``E``, a fixed number
``capacity`` of slots, in this order --

* ``pending(E)[k]``: 1.0 where slot ``k`` holds an execution, else 0.0;
* ``time(E)[k]``: its execution time (model time units; 0.0 in an empty slot);
* ``held(E)[k].<variable>``: with ``useValuesFromTriggerTime`` (the default), the value of
  each assignment computed when the event fired (section 4.12.5); without it nothing is held
  (the values are computed at execution).

Empty slots hold finite numbers (``simulate`` reads a non-finite state as a failed member).
The occupied slots are a prefix, in the order the executions were scheduled: :func:`push`
appends, :func:`take` removes one and moves the later ones up, so executions of one event due
at the same time run in the order they fired. A push into a full queue reports an overflow;
the caller (:mod:`._eventstep`) makes the member's state NaN (a non-zero ``simulate``
status), never drops an execution silently. The capacity is :data:`MAX_PENDING` unless
``load_sbml(..., max_pending=...)`` says otherwise.

Reference: SBML Level 3 Version 2 Core, release 2 (Hucka et al. 2019), section 4.12.3 (delay),
4.12.2 (persistent), 4.12.5 (useValuesFromTriggerTime).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import jax.numpy as jnp
from jaxtyping import Array

from ..errors import ModelError
from ..models._base import StateSpec

if TYPE_CHECKING:
    from ._program import Layout

__all__ = ["MAX_PENDING", "Queue", "QueueLayout", "memory_specs", "queue_layout"]

MAX_PENDING = 16
"""Default number of pending executions held per delayed event (the SBML Test Suite's
delayed-event cases need at most a handful)."""


@dataclass(frozen=True)
class QueueLayout:
    """Where the queues sit: ``rows`` the positions (in the document's event order) of the
    delayed events, ``held`` per row the number of values held per slot, ``capacity`` slots
    per row; ``width`` the largest ``held`` (the padded width in :class:`Queue`)."""

    rows: tuple[int, ...]
    held: tuple[int, ...]
    capacity: int

    @property
    def width(self) -> int:
        return max(self.held, default=0)

    @property
    def size(self) -> int:
        """The number of states the queues take."""
        return sum(self.capacity * (2 + n) for n in self.held)


class Queue(NamedTuple):
    """The queues of one member as arrays: ``busy (rows, capacity)`` bool, ``time (rows,
    capacity)``, ``held (rows, capacity, width)`` (padded with zeros)."""

    busy: Array
    time: Array
    held: Array


def _check_capacity(capacity: object) -> int:
    if not (isinstance(capacity, int) and not isinstance(capacity, bool) and capacity >= 1):
        raise ModelError(
            "load_sbml(max_pending=...) must be an integer >= 1 (pending executions held per "
            f"delayed event). Got {capacity!r}."
        )
    return capacity


def queue_layout(events: Sequence, capacity: int) -> QueueLayout:
    """The queue layout of ``events`` (:class:`~._eventgraph.EventInfo`)."""
    rows = tuple(i for i, e in enumerate(events) if e.delay is not None)
    held = tuple(len(events[i].values) if events[i].use_trigger_values else 0 for i in rows)
    return QueueLayout(rows, held, _check_capacity(capacity))


def memory_specs(layout: Layout, capacity: int, time_unit: str) -> tuple[StateSpec, ...]:
    """The states after the ODE states of a model with events: each trigger's memory, then
    the queues of the delayed events (see the module docstring)."""
    events = layout.events
    specs = [StateSpec(f"trigger({e.label})", "1", f"trigger of event {e.label} at the last "
                       "check (1 true, 0 false)", "memory") for e in events]  # fmt: skip
    q = queue_layout(events, capacity)
    for i, n in zip(q.rows, q.held, strict=True):
        e = events[i]
        slots = range(q.capacity)
        specs += [StateSpec(f"pending({e.label})[{k}]", "1", f"1 where slot {k} of event "
                            f"{e.label}'s queue holds an execution, else 0", "memory")
                  for k in slots]  # fmt: skip
        specs += [StateSpec(f"time({e.label})[{k}]", time_unit, "execution time in slot "
                            f"{k} of event {e.label}'s queue", "memory")
                  for k in slots]  # fmt: skip
        for k in slots:
            specs += [StateSpec(f"held({e.label})[{k}].{v}", layout.units.get(v, "(undeclared)"),
                                f"value for {v} held from the trigger time in slot {k} of "
                                f"event {e.label}'s queue", "memory")
                      for v in e.variables[:n]]  # fmt: skip
    return tuple(specs)


def unpack(q: QueueLayout, flat: Array) -> Queue:
    """The queues from their states (see the module docstring for the order)."""
    busy, time, held = [], [], []
    at, cap = 0, q.capacity
    for n in q.held:
        busy.append(flat[at : at + cap] > 0.5)
        time.append(flat[at + cap : at + 2 * cap])
        h = flat[at + 2 * cap : at + cap * (2 + n)].reshape(cap, n)
        held.append(jnp.pad(h, ((0, 0), (0, q.width - n))))
        at += cap * (2 + n)
    if not q.rows:
        return Queue(jnp.zeros((0, cap), bool), jnp.zeros((0, cap)), jnp.zeros((0, cap, 0)))
    return Queue(jnp.stack(busy), jnp.stack(time), jnp.stack(held))


def pack(q: QueueLayout, queue: Queue) -> Array:
    """The states of the queues (the inverse of :func:`unpack`)."""
    parts = []
    for r, n in enumerate(q.held):
        parts += [queue.busy[r].astype(jnp.float64), queue.time[r],
                  queue.held[r, :, :n].reshape(-1)]  # fmt: skip
    return jnp.concatenate(parts) if parts else jnp.zeros((0,))


def empty(q: QueueLayout) -> Queue:
    """Queues with no pending execution."""
    shape = (len(q.rows), q.capacity)
    return Queue(jnp.zeros(shape, bool), jnp.zeros(shape), jnp.zeros((*shape, q.width)))


def push(queue: Queue, fired: Array, when: Array, values: Array) -> tuple[Queue, Array]:
    """Append an execution at ``when[r]`` holding ``values[r]`` to each row ``r`` where
    ``fired[r]``; returns the queues and whether a row was already full (overflow)."""
    n_busy = queue.busy.sum(axis=1)
    cap = queue.busy.shape[1]
    slot = (jnp.arange(cap)[None, :] == n_busy[:, None]) & fired[:, None]
    busy = queue.busy | slot
    time = jnp.where(slot, when[:, None], queue.time)
    held = jnp.where(slot[:, :, None], values[:, None, :], queue.held)
    overflow = jnp.any(fired & (n_busy >= cap))
    return Queue(busy, time, held), overflow


def cancel(queue: Queue, rows: Array) -> Queue:
    """Drop every pending execution of the rows where ``rows`` is true."""
    busy = queue.busy & ~rows[:, None]
    return queue._replace(busy=busy, time=jnp.where(busy, queue.time, 0.0),
                          held=jnp.where(busy[:, :, None], queue.held, 0.0))  # fmt: skip


def due(queue: Queue, limit: Array) -> Array:
    """``(rows, capacity)``: the slots whose execution time is at most ``limit``."""
    return queue.busy & (queue.time <= limit)


def first_due(queue: Queue, row: Array, limit: Array) -> Array:
    """The slot of ``row`` due first (earliest time; of equal times, the earliest scheduled)."""
    ready = due(queue, limit)[row]
    return jnp.argmin(jnp.where(ready, queue.time[row], jnp.inf))


def take(queue: Queue, row: Array, slot: Array) -> Queue:
    """Remove the execution in ``slot`` of ``row``; the later ones move up one slot."""
    cap = queue.busy.shape[1]
    shift = jnp.arange(cap) >= slot

    def drop(a: Array, fill: float | bool) -> Array:
        moved = jnp.concatenate([a[row, 1:], jnp.full_like(a[row, :1], fill)])
        return a.at[row].set(jnp.where(shift.reshape(-1, *([1] * (a.ndim - 2))), moved, a[row]))

    return Queue(drop(queue.busy, False), drop(queue.time, 0.0), drop(queue.held, 0.0))


def next_time(queue: Queue) -> Array:
    """The earliest pending execution time (+inf where none is pending)."""
    return jnp.min(jnp.where(queue.busy, queue.time, jnp.inf), initial=jnp.inf)
