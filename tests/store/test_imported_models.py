"""The store keeps a site's imported models (SQLite and PostgreSQL): one row per name with the
document's bytes and SHA-256 and the mapping, one audit entry per import; the same content
again changes nothing, other content under the same name is refused and writes nothing;
opening the store registers its models, and a registry miss reads the table again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from medtwin.errors import StoreError, UnknownModelError
from medtwin.models import declaration, list_declarations
from medtwin.models._registry import unregister_model
from medtwin.store import open_store

_SHARED = (Path(__file__).resolve().parents[2].parent / "shared", Path("/work/shared"))
BIOMD379 = next(
    (p for s in _SHARED if (p := s / "reference/biomodels/BIOMD0000000379.xml").is_file()), None
)
pytestmark = pytest.mark.skipif(BIOMD379 is None, reason="BIOMD0000000379.xml is not here")
NAME = "store-test-dallaman"
MAPPING = json.dumps({"name": NAME, "time_unit": "min", "outputs": [
    {"output": "G", "loinc": "2339-0", "unit": "mg/dL", "noise": {"absolute": 4.0}}]})  # fmt: skip


@pytest.fixture
def registered():
    yield
    unregister_model(NAME)


def canonical(text: str) -> str:
    from medtwin.data.model_mapping import read_mapping

    return read_mapping(text).canonical_json()


def test_imported_models_are_kept_registered_and_found_again(db_url, key, registered):
    doc = BIOMD379.read_bytes()
    mapping = canonical(MAPPING)
    with open_store(db_url, key=key) as s:
        first = s.import_model(NAME, "sbml", doc, mapping, actor="ops")
        assert first.created and first.sha256 == hashlib.sha256(doc).hexdigest()
        assert declaration(NAME).observables[0].loinc == "2339-0"  # registered at once
        again = s.import_model(NAME, "sbml", doc, mapping, actor="ops2")
        assert not again.created and again.imported_by == "ops"
        with pytest.raises(StoreError, match=r"other content .*document differs"):
            s.import_model(NAME, "sbml", doc + b"\n", mapping, actor="ops")
        with pytest.raises(StoreError, match=r"other content .*mapping differs"):
            s.import_model(NAME, "sbml", doc, mapping.replace("4.0", "5.0"), actor="ops")
        (row,) = s.imported_models()
        assert (row.name, row.kind, row.document, row.mapping) == (NAME, "sbml", doc, mapping)
        entries = s.audit_entries(action="model.import")
        assert [(e.actor, e.detail.get("unchanged", False)) for e in entries] == [
            ("ops", False),
            ("ops2", True),
        ]
        assert s.verify_audit().ok
    # A new process: nothing registered until the store opens, which registers the table.
    unregister_model(NAME)
    assert NAME not in {d.name for d in list_declarations()}
    with open_store(db_url, key=key) as s:
        assert NAME in {d.name for d in list_declarations()}
        unregister_model(NAME)  # as if another worker imported it after this one opened
        assert declaration(NAME).name == NAME  # the registry miss asked the store
    unregister_model(NAME)
    with pytest.raises(UnknownModelError):  # a closed store is asked no more
        declaration(NAME)
