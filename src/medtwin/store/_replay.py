"""What replaying stored versions reads (``medtwin replay-version``): for each version from a
kept ensemble up to the last asked, the records it applied, the ``until`` of its report, its
ensemble blob if kept, the events applied up to it and its forecast blob
(:class:`medtwin.loop.StoredStep`). The store reads; the loop recomputes and compares
(``medtwin.loop.replay_versions``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import loop
from ..errors import StoreError
from ..loop import TwinConfig
from ._schema import ForecastRow, TwinEnsembleRow, TwinVersionRow
from ._updates import _redo_steps, twin_row

__all__ = ["replay_steps"]


def replay_steps(
    session: Session, pid: str, first: int, last: int
) -> tuple[TwinConfig, list[loop.StoredStep]]:
    """The configuration of ``pid``'s twin and what the store holds of its versions from the
    newest kept ensemble before ``first`` (or ``first`` itself when it is 0) up to ``last``."""
    row = twin_row(session, pid)
    config = TwinConfig.from_json(row.config)
    if not 0 <= first <= last <= row.head_version:
        raise StoreError(
            f"Patient {pid!r}'s twin has versions 0..{row.head_version}. Got {first}..{last}."
        )
    kept = dict(
        session.execute(
            select(TwinVersionRow.version, TwinEnsembleRow.data)
            .join(TwinEnsembleRow, TwinEnsembleRow.version_id == TwinVersionRow.id)
            .where(TwinVersionRow.pid == pid, TwinVersionRow.version <= last)
        ).all()
    )
    start = 0 if first == 0 else max((v for v in kept if v < first), default=0)
    fcs = {
        int(r.version): r
        for r in session.execute(
            select(ForecastRow).where(
                ForecastRow.pid == pid, ForecastRow.version >= start, ForecastRow.version <= last
            )
        ).scalars()
    }
    redo = _redo_steps(session, pid, -1, last)  # every version's records: the history needs them
    history: list[tuple[int, str, Any, float]] = []
    out = []
    for v, step in enumerate(redo):
        history.extend(step.evs)
        if v < start:
            continue
        state = kept.get(v)
        f = fcs.get(v)
        out.append(
            loop.StoredStep(
                version=v, obs=step.obs, evs=step.evs, until=step.until,
                state=None if state is None else bytes(state),
                history=tuple((k, t, a) for _, k, t, a in sorted(history, key=_by_time)),
                forecast=None if f is None else bytes(f.data),
                observables=() if f is None else tuple(json.loads(f.observables)),
                levels=() if f is None else tuple(json.loads(f.levels)),
            )
        )  # fmt: skip
    return config, out


def _by_time(e: tuple) -> tuple:
    return (e[2], e[0])  # as the store restores: by time, then id
