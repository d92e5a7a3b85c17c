"""Reading SBML safely and refusing what is not imported: a DTD (external entities, entity
expansion), oversize and non-UTF-8 documents, libsbml errors, Level 1, packages, algebraic
rules, fast reactions and the delay csymbol -- each with an error that names what came and
the element. (Delayed events are imported: their queue's states are checked here.)"""

from __future__ import annotations

import pytest
from sbml_docs import (
    DELAY,
    RATE_OF,
    apply,
    assignment_rule,
    ci,
    cn,
    compartment,
    math,
    model_doc,
    parameter,
    rate_rule,
    reaction,
    sbml,
    species,
)

from medtwin.errors import DataError
from medtwin.sbml import SBMLEventModel, UnsupportedSBMLError, load_sbml

SIMPLE = model_doc(
    compartments=[compartment()],
    species_=[species("S", amount=1.0)],
    parameters=[parameter("k", 0.5)],
    reactions=[reaction("r", {"S": 1}, {}, apply("times", ci("k"), ci("S")))],
)


def test_a_plain_document_loads_from_text_bytes_and_path(tmp_path):
    path = tmp_path / "m.xml"
    path.write_text(SIMPLE, encoding="utf-8")
    a, b, c = load_sbml(SIMPLE), load_sbml(SIMPLE.encode()), load_sbml(path)
    assert a is b is c  # cached by the document's SHA-256
    assert [s.name for s in a.states] == ["S"]


@pytest.mark.parametrize(
    "dtd",
    [
        '<!DOCTYPE sbml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE sbml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        '<!doctype sbml SYSTEM "http://example.org/sbml.dtd">',
    ],
    ids=["external-entity", "entity-expansion", "external-dtd"],
)
def test_a_document_with_a_dtd_is_refused_before_parsing(dtd, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = SIMPLE.replace("?>\n", f"?>\n{dtd.replace('/etc/passwd', str(secret))}\n", 1)
    text = text.replace('name="test model"', 'name="&xxe;"') if "xxe" in dtd else text
    with pytest.raises(DataError, match="DTD or entity declarations are refused") as info:
        load_sbml(text)
    assert "TOP-SECRET" not in str(info.value)


def test_size_encoding_and_path_are_checked():
    with pytest.raises(DataError, match="at most 100 are read"):
        load_sbml(SIMPLE, max_bytes=100)
    with pytest.raises(DataError, match="UTF-8 is expected"):
        load_sbml(SIMPLE.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"))
    with pytest.raises(DataError, match="not valid UTF-8"):
        load_sbml(SIMPLE.encode() + b"<!-- \xff -->")
    with pytest.raises(DataError, match="neither an existing file nor text"):
        load_sbml("no/such/model.xml")


def test_malformed_xml_reports_libsbml_errors_with_their_line():
    with pytest.raises(DataError, match=r"libsbml reported \d+ error\(s\) reading .*line \d+"):
        load_sbml(SIMPLE.replace("</model>", "</modl>"))


def test_level_1_is_refused_with_a_conversion_hint():
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?><sbml xmlns="http://www.sbml.org/sbml/level1" '
        'level="1" version="2"><model name="m"><listOfCompartments><compartment name="c"/>'
        "</listOfCompartments></model></sbml>"
    )
    with pytest.raises(DataError, match="Level 2 or 3 is expected"):
        load_sbml(doc)


def test_a_package_is_refused_naming_it():
    ns = ' xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" comp:required="true"'
    with pytest.raises(UnsupportedSBMLError) as info:
        load_sbml(sbml("<listOfCompartments>" + compartment() + "</listOfCompartments>",
                       level=3, version=1, extra_ns=ns))  # fmt: skip
    assert info.value.feature == "SBML package 'comp'"
    assert "comp/version1" in info.value.element


def _refused(text: str) -> UnsupportedSBMLError:
    with pytest.raises(UnsupportedSBMLError) as info:
        load_sbml(text)
    assert "Unsupported SBML feature" in str(info.value)
    return info.value


def test_delayed_events_are_imported_with_a_queue_named_by_the_event():
    event = (
        '<event id="dose" useValuesFromTriggerTime="true"><trigger initialValue="false" '
        f'persistent="true">{math(apply("gt", ci("S"), cn(2)))}</trigger>'
        f"<delay>{math(cn(1))}</delay>"
        '<listOfEventAssignments><eventAssignment variable="S">'
        f"{math(cn(0))}</eventAssignment></listOfEventAssignments></event>"
    )
    cls = load_sbml(SIMPLE.replace("</model>", f"<listOfEvents>{event}</listOfEvents></model>"))
    names = [s.name for s in cls.states]
    assert issubclass(cls, SBMLEventModel) and cls.max_pending == 16
    assert names[-1] == "held(dose)[15].S"  # after the 16 pending and 16 time slots
    assert sum(n.startswith("pending(dose)[") for n in names) == 16


def test_algebraic_rules_are_refused():
    rule = f"<algebraicRule>{math(apply('minus', ci('x'), cn(1)))}</algebraicRule>"
    text = model_doc(parameters=[parameter("x", 1.0, constant=False)], rules=[rule])
    err = _refused(text)
    assert (err.feature, err.element) == ("algebraic rules", "algebraicRule #1")


def test_fast_reactions_are_refused_before_the_conversion_drops_the_attribute():
    l3v1 = sbml(
        "<listOfCompartments>" + compartment() + "</listOfCompartments><listOfSpecies>"
        + species("S", amount=1.0) + "</listOfSpecies><listOfReactions>"
        '<reaction id="quick" reversible="false" fast="true"><listOfReactants>'
        '<speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>'
        f"<kineticLaw>{math(ci('S'))}</kineticLaw></reaction></listOfReactions>",
        level=3, version=1,
    )  # fmt: skip
    err = _refused(l3v1)
    assert (err.feature, err.element) == ("fast reactions", "reaction 'quick'")


def test_the_delay_csymbol_is_refused_naming_the_rule():
    text = model_doc(
        parameters=[parameter("x", 1.0, constant=False), parameter("y", 0.0, constant=False)],
        rules=[assignment_rule("y", f"<apply>{DELAY}{ci('x')}{cn(1)}</apply>")],
    )
    err = _refused(text)
    assert err.feature == "csymbol delay" and "'y'" in err.element


def test_rate_of_an_assignment_ruled_variable_is_refused():
    text = model_doc(
        parameters=[parameter("a", 1.0, constant=False), parameter("b", 0.0, constant=False),
                    parameter("x", 0.0, constant=False)],
        rules=[assignment_rule("a", apply("times", cn(2), ci("b"))),
               rate_rule("b", cn(1)), rate_rule("x", f"<apply>{RATE_OF}{ci('a')}</apply>")],
    )  # fmt: skip
    err = _refused(text)
    assert (err.feature, err.element) == ("rateOf of an assignment-ruled variable", "'a'")


def test_missing_and_circular_values_are_refused_naming_them():
    missing = model_doc(parameters=[parameter("k"), parameter("x", 0.0, constant=False)],
                        rules=[rate_rule("x", ci("k"))])  # fmt: skip
    with pytest.raises(DataError, match="'k' is read by d/dt x but has no value"):
        load_sbml(missing)
    loop = model_doc(
        parameters=[parameter("a", constant=False), parameter("b", constant=False)],
        rules=[assignment_rule("a", apply("plus", ci("b"), cn(1))),
               assignment_rule("b", apply("times", ci("a"), cn(2)))],
    )  # fmt: skip
    with pytest.raises(DataError, match="depend on each other in a cycle"):
        load_sbml(loop)


def test_a_rule_on_a_species_that_reactions_change_is_refused():
    text = SIMPLE.replace("</listOfReactions>", "</listOfReactions><listOfRules>"
                          + rate_rule("S", cn(1)) + "</listOfRules>")  # fmt: skip
    with pytest.raises(DataError, match="'S' is changed by reactions and is the target of a rule"):
        load_sbml(text)
