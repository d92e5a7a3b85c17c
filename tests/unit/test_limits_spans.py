"""The time spans of a twin follow its model (``medtwin.limits.Spans``, declared in
``TwinDefaults.spans``): a model that declares none keeps the bounds every twin had (a week's
forecast and update, a two-day what-if, in its own unit), the LDL twin reaches ten years of
days, and no declared span may cost more input steps than ``TWIN_STEPS``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medtwin import limits
from medtwin.errors import LimitError
from medtwin.loop import TwinConfig, time_bounds
from medtwin.models import declaration, get_model

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("unit", ["min", "h"])
def test_the_default_spans_are_the_bounds_as_they_were(unit):
    b = limits.Spans().bounds(unit)
    assert b.horizon == limits.FORECAST_HORIZON.in_unit(unit)
    assert b.every == limits.FORECAST_EVERY.in_unit(unit)
    assert b.update == limits.UPDATE_SPAN.in_unit(unit)
    assert b.what_if == limits.WHAT_IF_HORIZON.in_unit(unit)
    assert b.event_after == limits.EVENT_AFTER.in_unit(unit)
    assert b.horizon.high == {"min": 10080.0, "h": 168.0}[unit]


@pytest.mark.parametrize("name", ["t1d", "sepsis", "bergman"])
def test_models_that_declare_no_spans_keep_a_week(name):
    model = get_model(name)
    assert model.twin_defaults.spans == limits.Spans()
    assert time_bounds(model).horizon == limits.FORECAST_HORIZON.in_unit(model.time_unit)


def test_the_ldl_twin_reaches_ten_years_of_days():
    b = time_bounds(get_model("ldl"))
    assert (b.horizon.high, b.update.high, b.what_if.high, b.horizon.unit) == (
        3653,
        3653,
        3653,
        "d",
    )
    assert "ESC/EAS 2019" in b.horizon.reason  # the model's own reason, in its refusals
    # the command line reads the same bound off the declaration, before JAX loads
    decl = declaration("ldl")
    assert decl.twin_defaults.spans.bounds(decl.time_unit).horizon == b.horizon
    config = TwinConfig("ldl", EPOCH, prior="spec", n=64, horizon=1800.0, every=30.0)
    assert config.time_unit == "d"
    with pytest.raises(LimitError, match=r"\(0, 3653\] d\. Got 3660"):
        TwinConfig("ldl", EPOCH, prior="spec", n=64, horizon=3660.0, every=30.0)
    with pytest.raises(LimitError, match="forecast points"):  # 3,650 daily points > 2,016
        TwinConfig("ldl", EPOCH, prior="spec", n=64, horizon=3650.0, every=1.0)


def test_a_span_costing_more_steps_than_allowed_is_refused():
    limits.Spans(3653, 3653, 3653, "d").check_cost("ldl", "d", 1.0)  # 3,653 steps
    limits.Spans().check_cost("t1d", "min", 1.0)  # 10,080: the most allowed
    limits.Spans().check_cost("sepsis", "h", 0.05)  # 3,360
    with pytest.raises(LimitError, match=r"20,000 of its 1-h input steps; .* at most 10,080"):
        limits.Spans(20_000, 100, 100, "h").check_cost("m", "h", 1.0)
    with pytest.raises(LimitError, match="The update span of model 'm'"):
        limits.Spans(1, 20_000, 1, "d").check_cost("m", "d", 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"unit": "fortnight"}, "Spans.unit"), ({"forecast": 0}, "'forecast' span"),
     ({"what_if": float("nan")}, "'what_if'"), ({"update": True}, "'update'")],
)  # fmt: skip
def test_bad_spans_are_refused(kwargs, match):
    with pytest.raises(LimitError, match=match):
        limits.Spans(**kwargs)
