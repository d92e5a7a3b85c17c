"""An imported SBML model is an ordinary medtwin model: analytic solutions of small models
(amounts vs concentrations, compartments, hasOnlySubstanceUnits, conversion factors, rules,
initial assignments, rateOf), batches (one vmapped call; member k equals a solo run; initial
assignments follow each member's parameters), check_model(), units, names and the cache."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from sbml_docs import (
    RATE_OF,
    TIME,
    apply,
    assignment_rule,
    ci,
    cn,
    compartment,
    initial_assignment,
    math,
    model_doc,
    parameter,
    rate_rule,
    reaction,
    species,
)

import medtwin.sbml
from medtwin.sbml import SBMLModel, load_sbml
from medtwin.simulate import RK4, Adaptive, check_model, simulate

TIGHT = Adaptive(rtol=1e-11, atol=1e-13)

DECAY = model_doc(
    compartments=[compartment("c", 2.0)],
    species_=[species("S", conc=3.0), species("P", amount=0.0)],
    parameters=[parameter("k", 0.3), parameter("k2", constant=True)],
    initial=[initial_assignment("k2", apply("times", cn(2), ci("k")))],
    reactions=[reaction("r", {"S": 1}, {"P": 1}, apply("times", ci("k2"), ci("S"), ci("c")))],
)


def test_first_order_decay_matches_the_analytic_solution_in_amounts_and_concentrations():
    cls = load_sbml(DECAY)
    assert issubclass(cls, SBMLModel)
    assert [p.name for p in cls.parameters] == ["c", "S", "P", "k"]  # k2 comes from k
    model = cls(input_dt=0.5)
    p = model.default_params()
    traj = simulate(model, p, t1=5.0, solver=TIGHT)
    t = np.asarray(traj.ts)
    amount = 6.0 * np.exp(-0.6 * t)  # initial concentration 3 in a size-2 compartment
    np.testing.assert_allclose(traj.state("S"), amount, rtol=1e-9)
    np.testing.assert_allclose(traj.state("P"), 6.0 - amount, rtol=1e-9, atol=1e-12)
    names = ["S", "amount(S)", "concentration(P)"]
    got = jax.vmap(lambda tt, y: model.quantities(tt, y, p, names))(traj.ts, traj.states)
    np.testing.assert_allclose(got[:, 0], amount / 2.0, rtol=1e-9)
    np.testing.assert_allclose(got[:, 1], amount, rtol=1e-9)
    np.testing.assert_allclose(got[:, 2], (6.0 - amount) / 2.0, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(traj.observable("S"), amount / 2.0, rtol=1e-9)


def test_a_batch_is_one_call_and_initial_assignments_follow_each_member():
    model = load_sbml(DECAY)(input_dt=0.5)
    ks = np.array([0.1, 0.3, 0.7])
    batch = np.stack([np.asarray(model.make_params(k=k, c=1.0 + k)) for k in ks])
    traj = simulate(model, batch, t1=4.0, solver=TIGHT)
    t = np.asarray(traj.ts)
    for i, k in enumerate(ks):  # amount 3 * c, decaying at 2 k
        np.testing.assert_allclose(traj.states[i, :, 0], 3.0 * (1 + k) * np.exp(-2 * k * t),
                                   rtol=1e-9)  # fmt: skip
        solo = simulate(model, batch[i], t1=4.0, solver=TIGHT)
        np.testing.assert_allclose(solo.states, traj.states[i], rtol=1e-12, atol=1e-15)


def test_assignment_rules_are_evaluated_inside_every_right_hand_side_call():
    # dx/dt = y with y := time: x = t^2 / 2, which RK4 integrates exactly even with one step
    # per unit of time -- a rule frozen over the step would give x = 0 after the first step.
    text = model_doc(
        parameters=[parameter("x", 0.0, constant=False), parameter("y", constant=False)],
        rules=[assignment_rule("y", TIME), rate_rule("x", ci("y"))],
    )
    model = load_sbml(text)(input_dt=1.0)
    traj = simulate(model, model.default_params(), t1=3.0, solver=RK4(substeps=1))
    np.testing.assert_allclose(traj.state("x"), [0.0, 0.5, 2.0, 4.5], rtol=1e-14)


def test_a_growing_compartment_keeps_amounts_and_dilutes_concentrations():
    # V = 1 + t (rate rule); A is in no reaction and K is constant: both keep their amount 1
    # (SBML Test Suite cases 01117/01118); B has a rate rule on its concentration;
    # r := rateOf(A) = d(1 / V)/dt = -1 / (1 + t)^2.
    text = model_doc(
        compartments=[compartment("V", 1.0, constant=False)],
        species_=[
            species("A", amount=1.0, comp="V"),
            species("B", conc=2.0, comp="V"),
            species("K", conc=1.0, comp="V", constant=True),
        ],
        parameters=[parameter("r", constant=False)],
        rules=[
            rate_rule("V", cn(1)),
            rate_rule("B", cn(-0.5)),
            assignment_rule("r", f"<apply>{RATE_OF}{ci('A')}</apply>"),
        ],
    )
    names = ["A", "amount(A)", "B", "amount(B)", "r", "V", "K", "amount(K)"]
    model = load_sbml(text, observables=names)(input_dt=1)
    p = model.default_params()
    traj = simulate(model, p, t1=4.0, solver=TIGHT)
    t = np.asarray(traj.ts)
    got = jax.vmap(lambda tt, y: model.observe(tt, y, p))(traj.ts, traj.states)
    np.testing.assert_allclose(got[:, 0], 1.0 / (1.0 + t), rtol=1e-10)
    np.testing.assert_allclose(got[:, 1], 1.0, rtol=1e-12)
    np.testing.assert_allclose(got[:, 2], 2.0 - 0.5 * t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[:, 3], (2.0 - 0.5 * t) * (1.0 + t), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[:, 4], -1.0 / (1.0 + t) ** 2, rtol=1e-10)
    np.testing.assert_allclose(got[:, 5], 1.0 + t, rtol=1e-12)
    np.testing.assert_allclose(got[:, 6], 1.0 / (1.0 + t), rtol=1e-10)
    np.testing.assert_allclose(got[:, 7], 1.0, rtol=1e-12)
    assert [s.name for s in model.states] == ["V", "B"]


def test_non_finite_values_and_zero_dimensional_compartments():
    # value="INF"/"NaN" are values (constants, not parameters: a parameter must be finite);
    # a 0-D compartment with a size is like any other (case 01809), a sizeless one holds
    # amounts (cases 00048-00050, converted from Level 2).
    zero_d = compartment("Z", 2.0).replace('spatialDimensions="3"', 'spatialDimensions="0"')
    bare = compartment("B", None).replace('spatialDimensions="3"', 'spatialDimensions="0"')
    text = model_doc(
        compartments=[zero_d, bare],
        species_=[species("S", conc=1.0, comp="Z"), species("T", amount=3.0, comp="B")],
        parameters=[parameter("P", "INF"), parameter("Q", "-INF"), parameter("R", "NaN")],
    )
    cls = load_sbml(text, observables=["P", "Q", "R", "S", "amount(S)", "T"])
    assert [p.name for p in cls.parameters] == ["Z", "S", "T"]
    model = cls()
    p = model.default_params()
    got = np.asarray(model.observe(0.0, model.initial_state(p), p))
    np.testing.assert_array_equal(got, [np.inf, -np.inf, np.nan, 1.0, 2.0, 3.0])


def test_only_substance_units_conversion_factors_and_local_parameters():
    # S (amount 4, hasOnlySubstanceUnits, in a size-2 compartment) -> P at rate k * S with the
    # reaction's own k = 0.5; P's conversion factor 3 triples what it receives.
    text = model_doc(
        compartments=[compartment("c", 2.0)],
        species_=[species("S", amount=4.0, only_substance=True),
                  species("P", amount=0.0).replace("/>", ' conversionFactor="f"/>')],
        parameters=[parameter("f", 3.0), parameter("k", 99.0)],
        reactions=[reaction("r", {"S": 1}, {"P": 1}, apply("times", ci("k"), ci("S")),
                            local='<localParameter id="k" value="0.5"/>')],
    )  # fmt: skip
    cls = load_sbml(text)
    assert "r_k" in [p.name for p in cls.parameters]
    model = cls(input_dt=1.0)
    traj = simulate(model, model.default_params(), t1=4.0, solver=TIGHT)
    s = 4.0 * np.exp(-0.5 * np.asarray(traj.ts))
    np.testing.assert_allclose(traj.state("S"), s, rtol=1e-9)
    np.testing.assert_allclose(traj.state("P"), 3.0 * (4.0 - s), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(traj.observable("S"), s, rtol=1e-9)  # its value is its amount


def test_level_2_stoichiometry_math_and_function_definitions_are_imported():
    call = f"<apply>{ci('mass_action')}{ci('k')}{ci('S')}</apply>"
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?><sbml xmlns="http://www.sbml.org/sbml/level2/'
        'version4" level="2" version="4"><model id="l2"><listOfFunctionDefinitions>'
        f'<functionDefinition id="mass_action"><math xmlns="http://www.w3.org/1998/Math/MathML">'
        f"<lambda><bvar>{ci('k')}</bvar><bvar>{ci('x')}</bvar>"
        f"{apply('times', ci('k'), ci('x'))}</lambda></math></functionDefinition>"
        '</listOfFunctionDefinitions><listOfCompartments><compartment id="c" size="1"/>'
        '</listOfCompartments><listOfSpecies><species id="S" compartment="c" initialAmount="1"/>'
        '<species id="P" compartment="c" initialAmount="0"/></listOfSpecies><listOfParameters>'
        '<parameter id="k" value="1"/><parameter id="n" value="2"/></listOfParameters>'
        '<listOfReactions><reaction id="r" reversible="false"><listOfReactants>'
        '<speciesReference species="S"/></listOfReactants><listOfProducts>'
        '<speciesReference species="P"><stoichiometryMath>'
        f"{math(apply('times', ci('n'), cn(1.5)))}</stoichiometryMath></speciesReference>"
        f"</listOfProducts><kineticLaw>{math(call)}"
        "</kineticLaw></reaction></listOfReactions></model></sbml>"
    )  # fmt: skip
    model = load_sbml(doc)(input_dt=0.5)
    assert model.time_unit == "s"  # SBML Level 2's default
    traj = simulate(model, model.default_params(), t1=2.0, solver=TIGHT)
    s = np.exp(-np.asarray(traj.ts))
    np.testing.assert_allclose(traj.state("S"), s, rtol=1e-9)
    np.testing.assert_allclose(traj.state("P"), 3.0 * (1.0 - s), rtol=1e-9, atol=1e-12)


def test_an_imported_model_passes_check_model():
    check_model(load_sbml(DECAY)(input_dt=0.25))


def test_units_names_time_unit_and_the_cache():
    units = (
        '<listOfUnitDefinitions><unitDefinition id="mM"><listOfUnits>'
        '<unit kind="mole" exponent="1" scale="-3" multiplier="1"/>'
        '<unit kind="litre" exponent="-1" scale="0" multiplier="1"/></listOfUnits>'
        '</unitDefinition><unitDefinition id="per_min"><listOfUnits>'
        '<unit kind="second" exponent="-1" scale="0" multiplier="60"/></listOfUnits>'
        '</unitDefinition><unitDefinition id="minute"><listOfUnits>'
        '<unit kind="second" exponent="1" scale="0" multiplier="60"/></listOfUnits>'
        "</unitDefinition></listOfUnitDefinitions>"
    )
    text = DECAY.replace('timeUnits="second">', 'timeUnits="minute" substanceUnits="mole" '
                         'volumeUnits="litre">' + units)  # fmt: skip
    text = text.replace(
        '<parameter id="k" value="0.3"', '<parameter id="k" value="0.3" units="per_min"'
    )
    cls = load_sbml(text)
    assert cls.time_unit == "min"
    assert {p.name: p.unit for p in cls.parameters} == {"c": "L", "S": "mol/L", "P": "mol",
                                                         "k": "1/min"}  # fmt: skip
    assert {s.name: s.unit for s in cls.states} == {"S": "mol", "P": "mol"}
    assert cls.name.startswith("sbml-m-") and cls.sbml_sha256[:8] in cls.name
    assert load_sbml(text) is cls
    other = load_sbml(text, name="decay", observables=["amount(S)"], time_unit="h")
    assert other is not cls and (other.name, other.time_unit) == ("decay", "h")
    assert [o.name for o in other.observables] == ["amount(S)"]
    with pytest.raises(Exception, match="no quantity 'nope'"):
        load_sbml(text, observables=["nope"])


def test_the_public_api_is_what_all_says():
    mod = medtwin.sbml
    public = {k for k in vars(mod) if not k.startswith("_")} - {"annotations"}
    assert set(mod.__all__) == {
        "SBMLEventModel",
        "SBMLModel",
        "UnsupportedSBMLError",
        "export_omex",
        "export_sbml",
        "export_sedml",
        "load_sbml",
        "omex_errors",
        "sedml_errors",
    }
    assert all(hasattr(mod, k) for k in mod.__all__)
    assert {k for k in public if not isinstance(getattr(mod, k), type(mod))} <= set(mod.__all__)


def test_saved_observables_are_evaluated_at_their_own_times():
    # y := time is an observable that reads the time: simulate() must observe each saved state
    # at its own time, on the default grid and with saveat (uniform and uneven segments).
    text = model_doc(
        parameters=[parameter("y", constant=False), parameter("x", 0.0, constant=False)],
        rules=[assignment_rule("y", TIME), rate_rule("x", cn(1))],
    )
    model = load_sbml(text, observables=["y", "x"])(input_dt=1.0)
    traj = simulate(model, model.default_params(), t1=3.0)
    np.testing.assert_allclose(traj.observable("x"), [0.0, 1.0, 2.0, 3.0], rtol=1e-14)
    np.testing.assert_allclose(traj.observable("y"), [0.0, 1.0, 2.0, 3.0], rtol=1e-14)
    for saveat in ([1.0, 3.0], [2.0, 3.0], [0.0, 2.0]):
        part = simulate(model, model.default_params(), t1=3.0, saveat=saveat)
        np.testing.assert_allclose(part.observable("y"), saveat, rtol=1e-14)
        np.testing.assert_allclose(part.observable("x"), saveat, rtol=1e-14)
