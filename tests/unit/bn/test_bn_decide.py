"""The stroke twin's decisions: ranking, eligibility, delay, causal paths."""

from __future__ import annotations

import itertools

import pytest

from medtwin.bn import (
    assimilate,
    causal_paths,
    create_twin,
    get_network,
    list_networks,
    recommend,
    stroke_network,
)
from medtwin.errors import UnknownModelError


@pytest.fixture(scope="module")
def twin():
    ex = stroke_network()
    return create_twin(ex.net, ex.prior)


def _by(results):
    return {r.option: r for r in results}


def test_early_lvo_ranks_thrombectomy_first_and_delay_costs(twin):
    res = recommend(assimilate(twin, {"lvo": "yes", "ott": "60-120", "sbp": "140-185"}))
    ranked = [r.option for r in res]
    assert ranked[:2] == ["ivt+mt", "mt"] or ranked[:2] == ["mt", "ivt+mt"]
    assert ranked[2:] == ["ivt", "none"] and all(r.eligible for r in res)
    by = _by(res)
    for opt in ("ivt", "mt", "ivt+mt"):
        assert by[opt].per_minute < 0  # each minute of delay costs utility
        eus = [eu for _, eu in by[opt].delay_curve]
        assert all(a > b for a, b in itertools.pairwise(eus[:6]))
    assert by["none"].per_minute == pytest.approx(0.0, abs=1e-15)
    # the last bin is after both no-effect times: nothing left but the treatment's harm
    assert by["mt"].delay_curve[-1][1] < by["none"].delay_curve[-1][1] + 1e-12


def test_eligibility_follows_the_guideline(twin):
    nlvo = _by(recommend(assimilate(twin, {"lvo": "no", "ott": "0-60"})))
    assert not nlvo["mt"].eligible and "large-vessel" in nlvo["mt"].reason
    assert nlvo["ivt"].eligible and nlvo["ivt"].expected_utility > nlvo["none"].expected_utility
    late = _by(recommend(assimilate(twin, {"lvo": "yes", "ott": "270-378"})))
    assert not late["ivt"].eligible and "4.5 h" in late["ivt"].reason and late["mt"].eligible
    high = recommend(assimilate(twin, {"lvo": "yes", "ott": "0-60", "sbp": ">185"}))
    assert [r.option for r in high if not r.eligible] == ["ivt+mt", "ivt"] or {
        r.option for r in high if not r.eligible} == {"ivt", "ivt+mt"}  # fmt: skip
    assert not high[-1].eligible  # ineligible options come last


def test_the_ranking_is_explained_by_causal_paths(twin):
    assert causal_paths(twin.net, "ivt", "mrs") == [("ivt", "sich", "mrs"), ("ivt", "mrs")]
    by = _by(recommend(assimilate(twin, {"lvo": "yes", "ott": "60-120"})))
    ivt = {e.via: e for e in by["ivt"].paths}
    assert set(ivt) == {"mrs", "sich"}
    assert ivt["mrs"].gain > 0 > ivt["sich"].gain  # reperfusion helps, bleeding harms
    mt = {e.via: e for e in by["mt"].paths}
    assert mt["oedema"].gain > 0  # thrombectomy prevents malignant oedema
    total = by["mt"].expected_utility - by["none"].expected_utility
    assert sum(e.gain for e in by["mt"].paths) + by["mt"].interaction == pytest.approx(total)
    # evidence of a bleed changes the outcome of every option
    bled = _by(recommend(assimilate(twin, {"lvo": "yes", "ott": "60-120", "sich": "yes"})))
    assert bled["mt"].expected_utility < by["mt"].expected_utility


def test_registry_lists_the_stroke_network():
    assert [e.name for e in list_networks()] == ["acute-ischaemic-stroke"]
    assert get_network("stroke").net.name == "acute_ischaemic_stroke"
    with pytest.raises(UnknownModelError, match="Unknown network 'sepsis'"):
        get_network("sepsis")
