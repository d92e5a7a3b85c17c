"""The treatment-schedule search reads each model's declared decision (DecisionSpec): the
pneumonia twin ranks by clearance, the sepsis twin by health (and, asked, its SOFA read-out),
models without a decision are refused."""

from dataclasses import replace

import jax
import numpy as np
import pytest

from medtwin.assimilate import SpecPrior
from medtwin.control import Schedule, decision_of, rank_schedules
from medtwin.errors import ModelError
from medtwin.models import DecisionSpec, declaration, get_model
from medtwin.models.infection.pneumonia_sepsis import outcome_class
from medtwin.models.infection.smith2011 import CLEARED_P
from medtwin.twin import Twin


def _twin(name, free, n=12, **params):
    model = get_model(name)
    prior = SpecPrior(free, base=tuple(np.asarray(model.make_params(**params)).tolist()))
    return Twin.create(model, prior, key=jax.random.key(0), n=n)


def test_pneumonia_schedules_rank_by_clearance():
    twin = _twin("pneumonia", ("r",), P0=1.0e6)
    ranking = rank_schedules(
        twin,
        {"none": Schedule(), "antibiotic": Schedule(antibiotic_rate=3.0, antibiotic_duration=48.0)},
        horizon=120.0,
    )
    assert ranking.outcomes == ("cleared", "sustained")
    assert ranking.names == ("antibiotic", "none")
    # 10^6 CFU/mL is far above the macrophages' threshold: untreated it grows in most particles
    # (a slow-growing few are cleared by the neutrophils), a kill rate of 3/h (above every
    # growth rate r ~ 1.13/h) for 48 h clears every one
    assert abs(ranking.p_health[0] - 1.0) < 1e-12 and ranking.p_health[1] < 0.5
    assert ranking.p_below is None and np.array_equal(ranking.p_success, ranking.p_health)
    with pytest.raises(ModelError, match="no anti-inflammatory input"):
        rank_schedules(twin, {"x": Schedule(anti_inflammatory_dose=1.0)}, horizon=24.0)
    with pytest.raises(ModelError, match="no ordinal score"):
        rank_schedules(twin, {"x": Schedule()}, horizon=24.0, threshold=2.0)


def test_sepsis_score_threshold_is_read_along_the_horizon():
    twin = _twin("sepsis", ("sofa_s",), k_pg=0.6)  # the paper's septic case; the link learnt
    schedules = {"none": Schedule(), "antibiotic": Schedule(antibiotic_rate=1.0)}
    plain = rank_schedules(twin, schedules, horizon=100.0)
    scored = rank_schedules(twin, schedules, horizon=100.0, threshold=2.0)
    assert plain.p_below is None and scored.threshold == 2.0 and scored.score == "sofa"
    order = [plain.names.index(n) for n in scored.names]
    np.testing.assert_array_equal(plain.p_outcome[order], scored.p_outcome)
    assert np.all(scored.p_joint <= scored.p_below + 1e-12)
    assert np.all(scored.p_joint <= scored.p_health + 1e-12)
    # untreated, damage D passes the cut points within days: the SOFA reaches 2 for everyone
    assert scored.p_below[scored.names.index("none")] == 0.0
    assert np.all(scored.se_success >= 0) and np.all(np.isfinite(scored.se_below))


def test_models_without_a_decision_are_refused():
    with pytest.raises(ModelError, match="declares no treatment decision"):
        decision_of(get_model("bergman"))


def test_decision_declarations_are_checked():
    with pytest.raises(ModelError, match="module:function"):
        DecisionSpec(antibiotic="antibiotic", outcome="no_colon", outcomes=("a",))
    with pytest.raises(ModelError, match="threshold needs the score"):
        DecisionSpec(antibiotic="a", outcome="m:f", outcomes=("a",), threshold=2.0)
    d = declaration("sepsis")
    bad = replace(d.twin_defaults.decision, antibiotic="penicillin")
    with pytest.raises(ModelError, match="acts on input 'penicillin'"):
        replace(d, twin_defaults=replace(d.twin_defaults, decision=bad))
    bad = replace(d.twin_defaults.decision, score="wbc")
    with pytest.raises(ModelError, match="no ordinal observation model"):
        replace(d, twin_defaults=replace(d.twin_defaults, decision=bad))


def test_composed_outcome_reads_both_compartments():
    model = get_model("pneumonia-sepsis")
    y = np.zeros((3, model.n_states))
    y[1, model.state_index("lung.P")] = 10 * CLEARED_P  # the lung keeps seeding the blood
    y[2, model.state_index("sys.D")] = 17.4  # cleared, damage persists
    assert list(outcome_class(y)) == ["health", "septic death", "aseptic death"]
    y[0, 0] = np.nan
    assert outcome_class(y[0]) == "unknown"
    with pytest.raises(ValueError, match="shape"):
        outcome_class(np.zeros(4))
