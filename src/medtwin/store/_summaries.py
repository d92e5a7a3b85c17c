"""What a patient list shows of each patient, for many patients in a few queries.

A list poll (the dashboard's, every few seconds) used to read every patient's observations and
twin versions (ensembles included), one audited transaction each: 1 + 2N audit entries and the
whole history per poll. :func:`summaries` reads only aggregates -- the time of the last
observation and of the first applied one, the latest twin version's model, number and time --
for a chunk of patients per query; the store audits it as one ``patient.list`` entry naming the
patients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..loop import TwinConfig, from_model_time
from ._schema import ObservationRow, TwinRow, TwinVersionRow
from ._updates import unit_of

__all__ = ["PatientSummary", "summaries"]

_CHUNK = 500


@dataclass(frozen=True)
class PatientSummary:
    """One patient's line in a list: ``last_data`` (time of the last observation, any status),
    ``first_applied`` (of the first one a twin version took), and the latest twin version's
    ``model``, ``version`` and ``time`` (None without a twin)."""

    pid: str
    last_data: datetime | None
    first_applied: datetime | None
    model: str | None
    version: int | None
    time: datetime | None


def summaries(session: Session, pids: Sequence[str]) -> dict[str, PatientSummary]:
    """The summaries of ``pids`` (every one, also those without data or twin)."""
    last: dict[str, datetime] = {}
    first: dict[str, datetime] = {}
    twins: dict[str, tuple[str, int, datetime]] = {}
    units: dict[str, str] = {}
    for i in range(0, len(pids), _CHUNK):
        chunk = list(pids[i : i + _CHUNK])
        obs = ObservationRow
        q = select(obs.pid, func.max(obs.time)).where(obs.pid.in_(chunk)).group_by(obs.pid)
        last.update((p, t) for p, t in session.execute(q).all())
        q = (
            select(obs.pid, func.min(obs.time))
            .where(obs.pid.in_(chunk), obs.status == "applied")
            .group_by(obs.pid)
        )
        first.update((p, t) for p, t in session.execute(q).all())
        q_twin = (
            select(TwinRow.pid, TwinRow.config, TwinVersionRow.model, TwinVersionRow.version,
                   TwinVersionRow.model_time)
            .join(TwinVersionRow, and_(TwinVersionRow.pid == TwinRow.pid,
                                       TwinVersionRow.version == TwinRow.head_version))
            .where(TwinRow.pid.in_(chunk))
        )  # fmt: skip
        for pid, config_text, model, version, model_time in session.execute(q_twin).all():
            config = TwinConfig.from_json(config_text)
            unit = units.get(config.model) or units.setdefault(config.model, unit_of(config))
            twins[pid] = (model, version, from_model_time(model_time, config.epoch, unit))
    out = {}
    for pid in pids:
        head = twins.get(pid, (None, None, None))  # model, version, time
        out[pid] = PatientSummary(pid, last.get(pid), first.get(pid), *head)
    return out
