"""Imported models: the methods :class:`~medtwin.store.Store` gets from :class:`ModelMethods`.

A site imports a model once (an SBML document and its mapping document, by name: the table
``imported_models``) and every process of the site uses it. The store keeps the rows; what a
row means -- the model class -- is built by ``medtwin.data.model_mapping`` and registered in
the process's model registry (``register_stored``):

* when the store opens, every stored model is registered;
* on a registry miss (a name no process-local registration knows: a model imported by
  another service worker after this one opened), the store's finder reads the table again;
* :meth:`ModelMethods.import_model` registers what it stored.

Importing is all-or-nothing and idempotent: the same name with the same document bytes and
mapping is the stored model again (one more audit entry, ``unchanged``); the same name with
other content is refused (:class:`~medtwin.errors.StoreError`, "other content": the API's
409) and nothing is written.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..data.model_mapping import register_stored, unwatch, watch
from ..errors import MedtwinError, StoreError
from ._schema import ImportedModelRow
from ._store_mixin import StoreMixin

__all__ = ["ImportedModel", "ModelMethods"]

log = logging.getLogger("medtwin.store")

KINDS = ("sbml",)


@dataclass(frozen=True)
class ImportedModel:
    """A stored imported model. ``mapping``: the mapping document as stored (canonical
    JSON); ``created``: whether the call that returned it stored it (False: it was stored
    already, byte for byte)."""

    name: str
    kind: str
    sha256: str
    mapping: str
    imported_by: str
    imported_at: datetime
    size: int
    document: bytes = field(repr=False)
    created: bool = False


def _view(row: ImportedModelRow, created: bool = False) -> ImportedModel:
    return ImportedModel(row.name, row.kind, row.sha256, row.mapping, row.imported_by,
                         row.imported_at, len(row.document), row.document, created)  # fmt: skip


class ModelMethods(StoreMixin):
    """The site's imported models: import, list, register."""

    def import_model(
        self, name: str, kind: str, document: bytes, mapping: str, *, actor: str
    ) -> ImportedModel:
        """Store the model ``name`` of ``kind`` (``sbml``): the ``document`` bytes and the
        ``mapping`` document (JSON text), with an audit entry, and register it in this
        process. The same name again with the same bytes and mapping returns the stored model
        (``created`` False); with other content it is refused and nothing is written. The
        caller checks the document and mapping first (``medtwin.data.model_mapping``)."""
        if kind not in KINDS:
            raise StoreError(f"An imported model's kind must be one of {KINDS}. Got {kind!r:.40}.")
        if not isinstance(document, bytes) or not isinstance(mapping, str):
            raise StoreError("import_model() needs the document as bytes and the mapping as text.")
        sha = hashlib.sha256(document).hexdigest()
        detail = {"model": name, "kind": kind, "sha256": sha, "bytes": len(document)}

        def write(s: Session) -> ImportedModel:
            row = s.get(ImportedModelRow, name)
            if row is not None:
                if (row.kind, row.sha256, row.mapping) != (kind, sha, mapping):
                    what = "document" if row.sha256 != sha else "mapping"
                    raise StoreError(
                        f"A model named {name!r} is already imported with other content (its "
                        f"{what} differs: stored document sha256 {row.sha256[:16]}..., "
                        f"imported by {row.imported_by} at {row.imported_at:%Y-%m-%d %H:%M} "
                        "UTC). Twins may use it, so it is not replaced: import the new "
                        "version under another name."
                    )
                self._log(s, actor, "model.import", None, f"Model/{name}",
                          {**detail, "unchanged": True})  # fmt: skip
                return _view(row)
            row = ImportedModelRow(name=name, kind=kind, sha256=sha, document=document,
                                   mapping=mapping, imported_by=actor,
                                   imported_at=datetime.now(UTC))  # fmt: skip
            s.add(row)
            s.flush()
            self._log(s, actor, "model.import", None, f"Model/{name}", detail)
            return _view(row, created=True)

        stored = self._retry(write)  # a concurrent import of the same name: seen on retry
        _register(stored)
        return stored

    def imported_models(self) -> list[ImportedModel]:
        """Every imported model, by name (no patient data: no audit entry)."""
        with self._read() as s:
            rows = s.execute(select(ImportedModelRow).order_by(ImportedModelRow.name)).scalars()
            return [_view(r) for r in rows]

    def imported_model(self, name: str) -> ImportedModel | None:
        """The imported model ``name``, or None."""
        with self._read() as s:
            row = s.get(ImportedModelRow, name)
            return None if row is None else _view(row)

    def register_imported_models(self) -> list[str]:
        """Register every imported model in this process's model registry; returns the names
        registered. A model this medtwin cannot build (python-libsbml missing, a feature no
        longer supported) is skipped with a logged warning: a twin that needs it then fails
        with the reason (the registry miss asks the store again)."""
        done = []
        for stored in self.imported_models():
            try:
                _register(stored)
            except MedtwinError as exc:
                log.warning("imported model %r not registered: %s", stored.name, exc)
                continue
            done.append(stored.name)
        return done

    def _find_model(self, name: str) -> None:
        """The registry's finder: register ``name`` if this store holds it (a model another
        process imported after this one opened)."""
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            return
        try:
            stored = self.imported_model(name)
        except SQLAlchemyError:  # a closed or vanished database: not this store's model
            return
        if stored is not None:
            _register(stored)

    def _watch_models(self) -> None:
        """Register the stored models and ask this store on a registry miss (until close)."""
        self.register_imported_models()
        watch(self._find_model)

    def _unwatch_models(self) -> None:
        unwatch(self._find_model)


def _register(stored: ImportedModel) -> None:
    """Build the model class of ``stored`` and register it (the same document and mapping give
    the same class: ``load_sbml``'s cache)."""
    register_stored(stored.document, stored.mapping)
