"""The public API of medtwin.data.fhir and medtwin.data.units is what __all__ says."""

from __future__ import annotations

import importlib
import types

import pytest


@pytest.mark.parametrize("name", ["medtwin.data.fhir", "medtwin.data.units"])
def test_all_is_complete_and_importable(name):
    mod = importlib.import_module(name)
    for item in mod.__all__:
        assert hasattr(mod, item), f"{name}.__all__ lists missing {item!r}"
    public = {
        k
        for k, v in vars(mod).items()
        if not k.startswith("_") and not isinstance(v, types.ModuleType)
    }
    imported = {"annotations", "Any", "Mapping", "MappingProxyType", "dataclass", "field", "re"}
    assert public - imported <= set(mod.__all__), public - set(mod.__all__)
