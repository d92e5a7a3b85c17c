"""A model's declaration is data the registry reads without loading JAX; the model class takes
its class attributes from it (one place), and classes registered at run time are declared too."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import ClassVar

import pytest

from medtwin.errors import ModelError, UnknownModelError
from medtwin.models import (
    AbstractODEModel,
    Declaration,
    ObservableSpec,
    ParameterSpec,
    StateSpec,
    declaration,
    declared,
    get_model,
    list_declarations,
    list_models,
    register_model,
)
from medtwin.models._registry import _BUILTIN, _load, unregister_model


def test_each_builtin_class_is_its_declaration():
    classes = {cls.name: cls for cls in list_models()}
    builtin = [_load(path) for path in _BUILTIN]
    assert {d.name for d in builtin} <= set(classes)
    for d in builtin:
        cls = classes[d.name]
        assert _load(d.model) is cls
        assert Declaration.of(cls) == d
        assert declaration(d.name) == d and all(declaration(a) == d for a in d.aliases)
        assert (cls.parameters, cls.observables, cls.events, cls.time_unit) == (
            d.parameters, d.observables, d.events, d.time_unit)  # fmt: skip
    # the lookups a command uses read the same from a declaration as from the model
    t1d, model = declaration("t1d"), get_model("t1d")
    assert t1d.param_index("Vmx") == model.param_index("Vmx") == 9
    assert t1d.observable_for_code("99504-3") == model.observable_for_code("99504-3")
    assert t1d.event_kinds() == model.event_kinds() == [("meal", "g"), ("bolus", "U"),
                                                         ("basal", "U/h")]  # fmt: skip
    assert declaration("glioma").states == () and get_model("glioma").n_states == 160


def test_declarations_load_no_numerics():
    code = textwrap.dedent("""
        import sys
        from medtwin.models import declaration, list_declarations
        from medtwin.data.loinc import LOINC
        names = sorted(n for d in list_declarations() for n in d.names())
        assert declaration("sepsis").time_unit == "h"
        assert LOINC["99504-3"].canonical_unit == "mg/dL"
        print(names, sorted(m for m in ("jax", "numpy", "scipy") if m in sys.modules))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    names, loaded = res.stdout.strip().split("] [")
    assert "'t1d'" in names and "'glioma'" in names and "'sepsis'" in names
    assert loaded == "]", f"loaded {loaded}"


class _Tiny(AbstractODEModel):
    name: ClassVar[str] = "test-tiny-decay"
    aliases: ClassVar[tuple[str, ...]] = ("test-tiny",)
    title: ClassVar[str] = "First-order decay (test model)"
    reference: ClassVar[str] = "analytic"
    time_unit: ClassVar[str] = "h"
    states: ClassVar = (StateSpec("x", "mg/L"),)
    parameters: ClassVar = (ParameterSpec("k", "1/h", 0.1, (0.01, 1.0)),)
    inputs: ClassVar = ()
    observables: ClassVar = (ObservableSpec("x", "mg/L"),)
    input_dt: float = 0.1


def test_a_class_registered_at_run_time_is_declared_and_overrides():
    register_model(_Tiny)
    try:
        d = declaration("test-tiny")
        assert d.name == "test-tiny-decay" and d.model.endswith(":_Tiny")
        assert d.parameters == _Tiny.parameters and d in list_declarations()
        assert isinstance(get_model("test-tiny"), _Tiny)
    finally:
        unregister_model(_Tiny.name)
    with pytest.raises(UnknownModelError, match=r"Unknown model 'test-tiny'.*t1d"):
        declaration("test-tiny")


def test_declared_names_the_class_it_decorates():
    d = Declaration.of(_Tiny)
    with pytest.raises(ModelError, match="names its class 'elsewhere:Other'"):
        declared(Declaration(**{**vars(d), "model": "elsewhere:Other"}))(_Tiny)
