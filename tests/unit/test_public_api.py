"""The public API is what __all__ says, and every name in it exists."""

import importlib
import types

import pytest

PACKAGES = [
    "medtwin",
    "medtwin.models",
    "medtwin.models.glucose",
    "medtwin.simulate",
    "medtwin.analysis",
    "medtwin.data",
    "medtwin.assimilate",
    "medtwin.forecast",
    "medtwin.control",
    "medtwin.cohorts",
    "medtwin.data.fhir",
    "medtwin.store",
    "medtwin.petab",
    "medtwin.sbml",
    "medtwin.service",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete_and_importable(name):
    mod = importlib.import_module(name)
    for item in mod.__all__:
        assert hasattr(mod, item), f"{name}.__all__ lists missing {item!r}"
    public = {
        k
        for k, v in vars(mod).items()
        if not k.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public <= set(mod.__all__), (
        f"{name} exports names not in __all__: {public - set(mod.__all__)}"
    )


def test_float64_is_enabled_on_import():
    import jax.numpy as jnp

    import medtwin  # noqa: F401

    assert jnp.asarray(1.0).dtype == jnp.float64
