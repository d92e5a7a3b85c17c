"""`medtwin recommend` reaches the treatment-schedule search through the model's declared
decision (``TwinDefaults.decision``), not a model name: a pneumonia twin gets its antibiotic
schedules ranked by P(cleared); a model without a decision is refused, naming those with one."""

from __future__ import annotations

import jax
import pytest
from rich.console import Console

from medtwin.assimilate import SpecPrior
from medtwin.cli._control import _recommend_table
from medtwin.errors import DataError
from medtwin.models import get_model
from medtwin.twin import Twin


def _text(table) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


@pytest.mark.slow
def test_a_pneumonia_twin_gets_antibiotic_schedules_ranked_by_clearance():
    model = get_model("pneumonia")
    twin = Twin.create(model, SpecPrior(("r",)), key=jax.random.key(0), n=8)
    ranking = _recommend_table(twin, 10.0, 40.0, 0.0, 0)
    text = _text(ranking.table)
    assert "P(cleared)" in text and "searched" in text and "no treatment" in text
    assert "anti-inflammatory" not in text  # the lung model has none to search
    assert any("P(cleared)" in line and "240 h" in line for line in ranking.legend)


def test_a_model_without_a_decision_is_refused():
    model = get_model("bergman")
    twin = Twin.create(model, SpecPrior(()), key=jax.random.key(0), n=4)
    with pytest.raises(DataError, match="declaring a decision"):
        _recommend_table(twin, 10.0, 40.0, 0.0, 0)
