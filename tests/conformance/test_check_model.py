"""Every registered model passes check_model() (the scikit-learn check_estimator idea)."""

import dataclasses

import pytest

from medtwin.errors import ModelError
from medtwin.models import UVAPadova, get_model, list_models
from medtwin.simulate import check_model

# The two slowest (10-14 s each on 2 cores, a model that compiles long) run with `make test-all`.
SLOW = {"ten-tusscher", "pneumonia-sepsis"}


@pytest.mark.parametrize(
    "cls",
    [
        pytest.param(c, id=c.name, marks=pytest.mark.slow if c.name in SLOW else ())
        for c in list_models()
    ],
)
def test_registered_model_conforms(cls):
    check_model(get_model(cls.name))


def test_check_model_catches_a_broken_declaration():
    class Broken(UVAPadova):
        name = "broken"
        parameters = (
            dataclasses.replace(UVAPadova.parameters[0], default=1000.0),
            *UVAPadova.parameters[1:],
        )

    with pytest.raises(ModelError, match=r"default of 'BW' \(1000\) lies outside"):
        check_model(Broken())


def test_registry_lookup():
    assert get_model("t1d").name == "uva-padova"
    with pytest.raises(ModelError, match=r"Unknown model 'no-such-model'. Expected one of: .*t1d"):
        get_model("no-such-model")
