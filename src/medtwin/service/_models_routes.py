"""``/models``: the site's models -- every built-in and imported model with its declaration
(``GET``), and importing an SBML model with its mapping document (``POST``, admin only).

An import is checked in full before anything is stored: the body's size (the app's body limit:
413 before it is read), the mapping (pydantic, :mod:`medtwin.data.model_mapping`), then the
document (no DTD or entity declaration -- external entities, "billion laughs" -- UTF-8,
libsbml's parse, the supported SBML subset, the mapping's ids against the document). A refusal
is a 4xx with a one-line reason and writes nothing: no row, no audit entry. An accepted model is
stored with an audit entry (``model.import``) and registered, so twins can use it at once; the
same document and mapping again is 200 (nothing new), the same name with other content 409.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Response
from pydantic import Field, StrictStr

from ..data.model_mapping import ModelMapping, imported_model
from ..errors import DataError
from ..loop import name_taken
from ..models import Declaration, declaration, list_declarations
from ..store import ImportedModel, Store
from ._bodies import Body, BodyRoute, json_body
from ._deps import StoreOf, Who
from ._errors import ApiError

__all__ = ["ImportModelBody", "models_router"]


class ImportModelBody(Body):
    """An SBML document and its mapping document (see ``docs/sbml.md``)."""

    what: ClassVar[str] = "a model import"

    sbml: StrictStr = Field(
        min_length=1,
        description="The SBML Level 2 or 3 document, as text (UTF-8 XML, no DTD).",
    )
    mapping: ModelMapping = Field(
        description="The mapping document: name, time_unit, outputs (SBML id, LOINC code, "
        "UCUM unit, noise), free parameters with log-normal priors, drift."
    )


ImportModelJson = Annotated[ImportModelBody, json_body(ImportModelBody)]


def models_router() -> APIRouter:
    """The routes over the site's models."""
    router = APIRouter(tags=["models"], route_class=BodyRoute)

    @router.get("/models")
    def list_models(who: Who, store: StoreOf) -> dict[str, Any]:
        """Every model a twin can use -- built in, imported at this site (``kind: sbml``) or
        registered by the running process -- with its declaration: time unit, observables
        (LOINC codes, units), event kinds, parameters and twin defaults."""
        imported = _imported(store)
        return {"models": [_summary(d, imported.get(d.name)) for d in list_declarations()]}

    @router.post("/models", status_code=201)
    def import_model(
        who: Who, body: ImportModelJson, store: StoreOf, response: Response
    ) -> dict[str, Any]:
        """Import an SBML model: ``{"sbml": "<sbml ...>", "mapping": {...}}``. Admin only.
        201 with its declaration; 200 if the same document and mapping are imported already;
        409 if the name is taken by another model; 413 over the body limit; 422 for a document
        or mapping refused (a DTD or entity declaration, an unsupported SBML feature, an id the
        document lacks), with the reason."""
        who.require("admin", action="model.import")
        mapping = body.mapping
        if store.imported_model(mapping.name) is None and name_taken(mapping.name):
            raise ApiError(
                409,
                f"The model name {mapping.name!r} is taken by a model that is not imported at "
                "this site (a built-in or registered model or network). Choose another name in "
                "the mapping.",
                expression="mapping.name",
            )
        document = body.sbml.encode("utf-8")
        try:
            cls = imported_model(document, mapping)
        except DataError as exc:
            raise ApiError(422, _one_line(exc), expression="sbml") from None
        stored = store.import_model(mapping.name, mapping.kind, document,
                                    mapping.canonical_json(), actor=who.name)  # fmt: skip
        response.status_code = 201 if stored.created else 200
        return _summary(declaration(cls.name), stored)

    return router


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:2000]


def _imported(store: Store) -> dict[str, ImportedModel]:
    """The stored imported models by name, each registered in this process (a model another
    worker imported since this one started is registered here now)."""
    store.register_imported_models()
    return {m.name: m for m in store.imported_models()}


def _summary(d: Declaration, stored: ImportedModel | None) -> dict[str, Any]:
    builtin = d.model.startswith("medtwin.models.")
    out: dict[str, Any] = {
        "name": d.name,
        "aliases": list(d.aliases),
        "title": d.title,
        "kind": stored.kind if stored is not None else ("built-in" if builtin else "registered"),
        "time_unit": d.time_unit,
        "observables": [{"name": o.name, "unit": o.unit, "loinc": o.loinc,
                         "description": o.description} for o in d.observables],
        "events": [{"kind": k, "unit": u} for k, u in d.event_kinds()],
        "parameters": len(d.parameters),
        "twin_defaults": {"prior": d.twin_defaults.prior, "free": list(d.twin_defaults.free),
                          "drift": d.twin_defaults.drift},
    }  # fmt: skip
    if stored is not None:
        out["imported"] = {
            "sha256": stored.sha256,
            "bytes": stored.size,
            "by": stored.imported_by,
            "at": stored.imported_at.isoformat(),
            "mapping": json.loads(stored.mapping),
        }
    return out
