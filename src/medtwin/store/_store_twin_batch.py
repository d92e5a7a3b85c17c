"""Twin updates of many patients at once: the methods :class:`~medtwin.store.Store` gets from
:class:`TwinBatchMethods` -- :meth:`~TwinBatchMethods.update_twins`, the micro-batched
automatic update after each write of data, and the single update's read-compute-write loop.

A batch keeps the three phases of ``_twin_update`` and their guarantees, for all its twins
together: (1) one short read-only transaction reads every twin's plan; (2) with no transaction open,
``_twin_update.compute_updates`` computes them in one ``medtwin.loop.update_many`` call (the
numbers of one-by-one updates); (3) one transaction takes the twins' row locks in pid order,
writes each twin whose head has not moved (a savepoint each: one twin's failed write undoes
only its own), appends their audit entries and commits. A twin whose head moved meanwhile
(another process wrote it) is read, computed and written again alone, as
:meth:`Store.update_twin` does. Within the process each twin's guard is held throughout, so two
threads never compute the same twin's update at once; a twin whose guard another thread holds
is updated after the batch, alone, once that thread is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from ..errors import StoreError
from . import _twin_update, _updates
from ._batcher import Batching, UpdateBatcher
from ._schema import TwinRow
from ._store_mixin import StoreMixin
from ._views import TwinVersionView

__all__ = ["TwinBatchMethods"]

Result = TwinVersionView | None | Exception


class TwinBatchMethods(StoreMixin):
    """Batched twin updates of a :class:`Store` (a mixin: uses ``_tx`` and ``_log``)."""

    _batcher: UpdateBatcher | None

    if TYPE_CHECKING:

        @property
        def url(self) -> str: ...

        def update_twin(self, pid: str, *, actor: str) -> TwinVersionView | None: ...

    # -- configuration --------------------------------------------------------------------

    def set_update_batching(self, batching: Batching | None) -> None:
        """Coalesce the twin updates of concurrent writers of this store (``batching``: the
        bounded wait and the batch size, see ``_batcher``), or update each writer's twins one
        by one (None)."""
        if batching is not None and not isinstance(batching, Batching):
            raise StoreError(
                f"set_update_batching() needs a Batching or None. Got {type(batching).__name__}."
            )
        self._batcher = None if batching is None else UpdateBatcher(self._auto_batch, batching)

    @property
    def update_batching(self) -> Batching | None:
        """The micro-batching of twin updates in force (None: one by one)."""
        return None if self._batcher is None else self._batcher.batching

    def _arriving(self) -> Any:
        """A context marking a writer whose twin update follows (see ``_batcher``)."""
        return self._batcher.arriving() if self._batcher is not None else nullcontext()

    # -- updates --------------------------------------------------------------------------

    def update_twins(
        self,
        pids: Iterable[str],
        *,
        actor: str,
        errors: Literal["raise", "return"] = "raise",
    ) -> dict[str, Result]:
        """:meth:`update_twin` for each of ``pids``, computed together (one vmapped update
        of all their twins; see the module docstring): per pid its new version, or None if
        nothing was pending. Every twin that can be updated is; then ``errors="raise"`` raises
        the first failure (in ``pids`` order), ``errors="return"`` returns it in its place."""
        pids = list(dict.fromkeys(pids))
        out = self._update_batch([(pid, actor) for pid in pids], missing="error")
        if errors == "raise":
            for pid in pids:
                if isinstance(out.get(pid), Exception):
                    raise out[pid]  # type: ignore[misc]
        return out

    def _auto_update(self, pids: Iterable[str], actor: str) -> dict[str, int]:
        """After a write of data: update the twins of ``pids`` that exist (patients without a
        twin are left alone), coalesced with concurrent writers' updates when batching is on;
        returns per updated pid its new version."""
        pids = list(dict.fromkeys(pids))
        if self._batcher is None:
            out = {}
            for pid in pids:
                with self._tx() as s:
                    if s.get(TwinRow, pid) is None:
                        continue
                view = self.update_twin(pid, actor=actor)
                if view is not None:
                    out[pid] = view.version
            return out
        with self._read() as s:  # patients without a twin do not queue behind computations
            have: set[str] = set()
            for k in range(0, len(pids), 500):
                q = select(TwinRow.pid).where(TwinRow.pid.in_(pids[k : k + 500]))
                have.update(s.execute(q).scalars())
        todo = [pid for pid in pids if pid in have]
        views = self._batcher.update(todo, actor)  # (also when empty: this writer arrived)
        return {pid: v.version for pid, v in views.items() if isinstance(v, TwinVersionView)}

    def _auto_batch(self, pairs: Sequence[tuple[str, str]]) -> dict[str, Result]:
        return self._update_batch(pairs, missing="skip")

    def _update_batch(
        self, pairs: Sequence[tuple[str, str]], *, missing: Literal["skip", "error"]
    ) -> dict[str, Result]:
        """Update the twins of the ``(pid, actor)`` pairs together (each actor audits its
        pid's update); ``missing="skip"``: a patient without a twin gets None, not an error."""
        actors = dict(pairs)
        out: dict[str, Result] = {}
        with _twin_update.free_twin_guards(self.url, list(actors)) as held:
            plans = self._read_plans(held, missing, out)
            done = _twin_update.compute_updates(list(plans.values())) if plans else []
            computed = {}
            for pid, res in zip(plans, done, strict=True):
                if isinstance(res, Exception):
                    out[pid] = res
                else:
                    computed[pid] = res
            lost = self._write_batch(plans, computed, actors, out)
            for pid in lost:  # another process wrote first: read and compute again, alone
                out[pid] = self._try(lambda pid=pid: self._update_alone(
                    pid, actors[pid], _twin_update.TRIES - 1))  # fmt: skip
        for pid in actors:  # guarded by another thread meanwhile: after it, alone
            if pid not in out and pid not in held:
                out[pid] = self._try(lambda pid=pid: self.update_twin(pid, actor=actors[pid]))
        return out

    def _read_plans(
        self, pids: list[str], missing: str, out: dict[str, Result]
    ) -> dict[str, _twin_update.Plan]:
        """Phase 1 for ``pids`` in one transaction; no plan (None in ``out``) where nothing is
        pending, a :class:`StoreError` where the patient has no twin (None if ``missing`` is
        ``skip``)."""
        plans = {}
        with self._read() as s:  # reads only: on SQLite no write lock, on PostgreSQL a snapshot
            for pid in pids:
                try:
                    plan = _twin_update.read_update(s, pid)
                except StoreError as exc:
                    out[pid] = None if missing == "skip" and s.get(TwinRow, pid) is None else exc
                    continue
                if plan is None:
                    out[pid] = None
                else:
                    plans[pid] = plan
        return plans

    def _write_batch(
        self,
        plans: dict[str, _twin_update.Plan],
        computed: dict[str, _twin_update.Computed],
        actors: dict[str, str],
        out: dict[str, Result],
    ) -> list[str]:
        """Phase 3 for the computed twins in one transaction; returns the pids whose head moved
        (nothing written for them). Fills ``out`` with the versions written."""
        if not computed:
            return []
        lost: list[str] = []
        written = []
        try:
            with self._tx() as s:
                _twin_update.lock_twins(s, list(computed))
                for pid in sorted(computed):
                    plan, done = plans[pid], computed[pid]
                    try:
                        with s.begin_nested():
                            row = _twin_update.write_update(s, plan, done)
                    except Exception as exc:  # this twin's write only; the others go on
                        out[pid] = exc
                        continue
                    if row is None:
                        lost.append(pid)
                    else:
                        written.append((pid, row, plan, done))
                for pid, row, _plan, done in written:
                    report = done.report
                    self._log(s, actors[pid], "twin.update", pid, "Twin",
                              {"version": row.version, "used": report["data"]["used"],
                               "late": report["late"], "events": report["events"]})  # fmt: skip
                if written:
                    _twin_update.pause_before_commit()
        except Exception:  # the transaction failed as a whole: nothing of it was written
            return lost + [pid for pid, *_ in written]
        for pid, row, plan, _done in written:
            config = plan.stored.config
            out[pid] = _updates.version_view(
                row, row.version - 1, config.epoch, _updates.unit_of(config)
            )
        return lost

    def _update_alone(self, pid: str, actor: str, tries: int) -> TwinVersionView | None:
        """The read-compute-write loop of one twin whose guard the caller holds (up to
        ``tries`` rounds; None if nothing is pending or the head kept moving)."""
        for _ in range(tries):
            with self._tx() as s:
                plan = _twin_update.read_update(s, pid)
            if plan is None:
                return None
            done = _twin_update.compute_update(plan)
            with self._tx() as s:
                row = _twin_update.write_update(s, plan, done)
                if row is None:
                    continue  # another process wrote the next version first
                config, report = plan.stored.config, done.report
                self._log(s, actor, "twin.update", pid, "Twin",
                          {"version": row.version, "used": report["data"]["used"],
                           "late": report["late"], "events": report["events"]})  # fmt: skip
                _twin_update.pause_before_commit()
                return _updates.version_view(
                    row, row.version - 1, config.epoch, _updates.unit_of(config)
                )
        return None  # the head kept moving: others are applying this twin's data

    @staticmethod
    def _try(fn: Any) -> Result:
        try:
            return fn()
        except Exception as exc:
            return exc
