"""update_many(): one step of the twin loop for many twins at once (micro-batching across
patients), with the numbers of one :func:`~medtwin.loop.update` call per twin.

Each twin's pending records are planned on the host exactly as :func:`update` plans them
(:func:`~medtwin.loop._step.plan_update`). Twins that share a model, a particle count, a filter,
free parameters and a forecast (horizon and cadence) form a group: the group is assimilated by
one :func:`~medtwin.assimilate.assimilate_many` call and forecast by one
:func:`~medtwin.forecast.forecast_many` call, each a ``jax.vmap`` over patients (both run
alone, inside, what they cannot batch: a stochastic model, non-finite parameters). A group of
one is updated by :func:`update` itself. The results are those of one-by-one calls: the same
ensembles, reports, forecasts and marks (float64; ``tests/unit/loop/test_update_many.py``
compares them to 1e-12).

A twin whose update fails gets its exception in its place (``errors="return"``) and the
others go on; ``errors="raise"`` raises the first failure, in item order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

from ..assimilate import Assimilation, assimilate_many
from ..forecast import forecast_many
from ..twin import Twin
from ._alerts import forecast_alerts
from ._config import TwinConfig
from ._step import (
    PendingEvent,
    PendingObservation,
    Planned,
    Step,
    _forecast,  # the one-by-one forecast and alerts of update()
    finish_update,
    plan_update,
)
from ._step import update as update_one

__all__ = ["UpdateItem", "update_many"]


class UpdateItem(NamedTuple):
    """One twin's update: its configuration, the twin, and its pending records by time."""

    config: TwinConfig
    twin: Twin
    observations: Sequence[PendingObservation]
    events: Sequence[PendingEvent]


def _group(item: UpdateItem) -> tuple:
    """Twins with equal groups are assimilated and forecast together."""
    config, twin = item.config, item.twin
    return (
        config.model, type(twin.model), twin.ensemble.size, twin.method, twin.free,
        float(config.horizon), None if config.every is None else float(config.every),
    )  # fmt: skip


def update_many(
    items: Sequence[UpdateItem | tuple],
    *,
    errors: Literal["raise", "return"] = "raise",
) -> list[Step | Exception]:
    """:func:`~medtwin.loop.update` for each ``(config, twin, observations, events)`` of
    ``items``, in order, computed together where twins can share a computation (see the
    module docstring). ``errors="return"``: a twin's failure is its result, not the batch's."""
    todo: list[UpdateItem] = [UpdateItem(*it) for it in items]
    results: list[Step | Exception | None] = [None] * len(todo)
    groups: dict[tuple, list[tuple[int, Planned]]] = {}
    for i, it in enumerate(todo):
        try:
            planned = plan_update(it.config, it.twin, it.observations, it.events)
        except Exception as exc:  # a member's failure is its result
            results[i] = exc
            continue
        groups.setdefault(_group(it), []).append((i, planned))
    for members in groups.values():
        if len(members) == 1:
            (i, _), = members  # fmt: skip
            results[i] = _one(todo[i])
        else:
            _batch(todo, members, results)
    if errors == "raise":
        for r in results:
            if isinstance(r, Exception):
                raise r
    return results  # type: ignore[return-value]


def _one(item: UpdateItem) -> Step | Exception:
    try:
        return update_one(*item)
    except Exception as exc:
        return exc


def _batch(
    items: list[UpdateItem],
    members: list[tuple[int, Planned]],
    results: list,
) -> None:
    """Assimilate and forecast one group together; fill ``results`` in place."""
    twins = [items[i].twin for i, _ in members]
    outs = assimilate_many(
        twins,
        [p.observations for _, p in members],
        [p.regimen for _, p in members],
        until=[p.until for _, p in members],
        errors="return",
    )
    done: list[tuple[int, Planned, Assimilation]] = []
    for (i, planned), out in zip(members, outs, strict=True):
        if isinstance(out, Exception):
            results[i] = out
        else:
            done.append((i, planned, out))
    if len(done) == 1:
        i, planned, out = done[0]
        results[i] = _forecast_alone(items[i], planned, out)
        return
    if not done:
        return
    config = items[done[0][0]].config
    twins_out = [out.twin for _, _, out in done]
    fcs: list[Any]
    try:
        fcs = list(forecast_many(twins_out, config.horizon, every=config.every, errors="return"))
    except Exception:  # each twin alone then says what fails for it
        fcs = [None] * len(done)
    for (i, planned, out), fc in zip(done, fcs, strict=True):
        if fc is None:
            results[i] = _forecast_alone(items[i], planned, out)
            continue
        try:
            if isinstance(fc, Exception):
                raise fc
            results[i] = finish_update(planned, out, fc, forecast_alerts(fc, out.twin.model))
        except Exception as exc:
            results[i] = exc


def _forecast_alone(item: UpdateItem, planned: Planned, out: Assimilation) -> Step | Exception:
    """The forecast and step of one assimilated twin, as :func:`update` makes them."""
    try:
        fc, alerts = _forecast(out.twin, item.config)
        return finish_update(planned, out, fc, alerts)
    except Exception as exc:
        return exc
