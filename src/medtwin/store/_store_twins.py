"""Twins, their forecasts and recommendations: the methods :class:`~medtwin.store.Store`
gets from :class:`TwinMethods` (a mixin; the batched updates are in ``_store_twin_batch``).

A twin is created or updated in three phases (``_twin_update``): read, compute with no
transaction open, write if the head has not moved. The store knows the model by name only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import StoreError
from ..loop import TwinConfig
from . import _records, _replay, _twin_update, _updates
from ._schema import RecommendationRow, TwinRow
from ._store_mixin import StoreMixin
from ._views import StoredForecast, StoredRecommendation, TwinVersionView

__all__ = ["TwinMethods"]


class TwinMethods(StoreMixin):
    """A patient's twin: create, update alone, read; its versions, forecasts and
    recommendations."""

    # -- twins ----------------------------------------------------------------------------

    def twin_shapes(self) -> list[TwinConfig]:
        """One configuration per distinct shape of the stored twins (model, prior, free
        parameters, particles, forecast horizon and cadence, drift), epoch and seed cleared:
        what a starting service warms up (``medtwin.loop.warm_up``). No patient data."""
        with self._read() as s:
            texts = s.execute(select(TwinRow.config)).scalars().all()
        shapes: dict[tuple, TwinConfig] = {}
        for text in texts:
            c = TwinConfig.from_json(text)
            shapes.setdefault((c.model, c.prior, c.free, c.n, c.horizon, c.every, c.drift), c)
        return list(shapes.values())

    def create_twin(self, pid: str, config: TwinConfig, *, actor: str) -> TwinVersionView:
        """Version 0 of ``pid``'s twin (with its prior forecast). Pending observations are
        applied by the next :meth:`update_twin`. Calling again with the same ``config``
        returns version 0; another config is an error. The prior and its forecast are computed
        with no transaction open (see ``_twin_update``)."""
        if not isinstance(config, TwinConfig):
            raise StoreError(f"create_twin() needs a TwinConfig. Got {type(config).__name__}.")
        unit = _updates.unit_of(config)
        detail = {"model": config.model, "version": 0}
        with _twin_update.twin_guard(self.url, pid):
            with self._tx() as s:
                _records.patient_row(s, pid)
                row = _twin_update.existing_twin(s, pid, config)
                if row is not None:
                    self._log(s, actor, "twin.create", pid, "Twin", detail)
                    return _updates.version_view(row, None, config.epoch, unit)
            made = _twin_update.compute_create(config)

            def write(s: Session) -> TwinVersionView:
                # Another process may have created it meanwhile, or be inserting it now: then
                # the insert fails (unique violation) and _retry's second try finds its row.
                _records.patient_row(s, pid)
                row = _twin_update.existing_twin(s, pid, config)
                if row is None:
                    row = _twin_update.write_create(s, pid, config, made)
                self._log(s, actor, "twin.create", pid, "Twin", detail)
                return _updates.version_view(row, None, config.epoch, unit)

            return self._retry(write)

    def update_twin(self, pid: str, *, actor: str) -> TwinVersionView | None:
        """Apply the pending observations and events of ``pid`` as one new twin version (with
        its forecast); None if nothing is pending. Read, compute with no transaction open, then
        write in a short transaction holding the twin's lock if its head has not moved (else
        read and compute again, up to ``_twin_update.TRIES`` times). One update takes at most
        what ``medtwin.limits`` allows; the rest waits for the next update."""
        with _twin_update.twin_guard(self.url, pid):
            return self._update_alone(pid, actor, _twin_update.TRIES)

    def twin(self, pid: str, *, actor: str, version: int | None = None) -> Any:
        """The twin of ``pid`` at ``version`` (latest if None), restored so that further
        assimilation gives the same numbers as an uninterrupted run: of its kind (a
        :class:`~medtwin.twin.Twin` ensemble, or a network twin, ``medtwin.loop``)."""
        with self._tx() as s:
            stored = _updates.read_stored(s, pid, version)
            self._log(s, actor, "twin.read", pid, "Twin", {"version": stored.version})
        return _updates.restore(stored)  # no transaction open: others go on meanwhile

    def replay_steps(
        self, pid: str, first: int, last: int, *, actor: str
    ) -> tuple[TwinConfig, list[Any]]:
        """What the store holds of versions ``first``..``last`` of ``pid``'s twin (from the
        newest kept ensemble before ``first``) for ``medtwin.loop.replay_versions``: the
        configuration and a :class:`~medtwin.loop.StoredStep` per version."""
        with self._tx() as s:
            out = _replay.replay_steps(s, pid, first, last)
            self._log(s, actor, "twin.replay", pid, "TwinVersion", {"first": first, "last": last})
            return out

    def twin_versions(self, pid: str, *, actor: str) -> list[TwinVersionView]:
        with self._tx() as s:
            out = _updates.versions(s, pid)
            self._log(s, actor, "twin.search", pid, "TwinVersion", {"count": len(out)})
            return out

    def forecasts(self, pid: str, *, actor: str, limit: int | None = None) -> list[StoredForecast]:
        """The stored forecasts of ``pid``, newest first."""
        with self._tx() as s:
            out = _updates.forecasts(s, pid, limit)
            self._log(s, actor, "forecast.search", pid, "Forecast", {"count": len(out)})
            return out

    def add_recommendation(self, pid: str, payload: dict[str, Any], *, actor: str) -> int:
        """Store a recommendation (a JSON document) for ``pid``; returns its id."""
        try:
            text = json.dumps(payload, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"A recommendation must be JSON. Got {payload!r}: {exc}.") from None
        with self._tx() as s:
            _records.patient_row(s, pid)
            row = RecommendationRow(
                pid=pid, created_at=datetime.now(UTC), actor=actor, payload=text
            )
            s.add(row)
            s.flush()
            self._log(s, actor, "recommendation.create", pid, f"Recommendation/{row.id}")
            return row.id

    def recommendations(self, pid: str, *, actor: str) -> list[StoredRecommendation]:
        with self._tx() as s:
            _records.patient_row(s, pid)
            rows = s.execute(
                select(RecommendationRow)
                .where(RecommendationRow.pid == pid)
                .order_by(RecommendationRow.id)
            ).scalars()
            out = [
                StoredRecommendation(r.id, r.pid, r.created_at, r.actor, json.loads(r.payload))
                for r in rows
            ]
            self._log(s, actor, "recommendation.search", pid, "Recommendation", {"count": len(out)})
            return out
