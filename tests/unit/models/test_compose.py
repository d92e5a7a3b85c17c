"""compose(): two registered ODE models wired into one model through named outputs and ports.

What the composition must hold: with its links silent the composed model *is* its components
side by side (states and observables to round-off, the same solver and step); each kind of
port (input, parameter, state flux) receives the link's value; the declaration is derived
from the components' (prefixed names, LOINC codes, shared inputs, events, twin defaults); and
bad wiring is refused with an error naming it."""

from __future__ import annotations

from dataclasses import replace

import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.errors import ModelError
from medtwin.models import (
    Declaration,
    Excess,
    Identity,
    Linear,
    Link,
    ParameterSpec,
    compose,
    declaration,
)
from medtwin.models.infection import Smith2011
from medtwin.models.inflammation import Reynolds2006
from medtwin.simulate import Regimen, SetRate, simulate

GAIN = ParameterSpec("g", "1/h per CFU/mL", 1.0e-9, (0.0, 1.0), reference="test")


def _pair(links, **kw):
    return compose("test-pair", ("lung", "pneumonia"), ("sys", "sepsis"), links=links, **kw)


@pytest.mark.slow
def test_silent_links_give_each_component_as_if_run_alone():
    # A dissemination link whose rate is 0: the composed run equals Smith 2011 and Reynolds
    # 2006 each run alone at the composed step (0.02 h), with one antibiotic course shared.
    rate = ParameterSpec("k", "1/h", 0.0, (0.0, 1.0), reference="test")
    thr = ParameterSpec("thr", "CFU/mL", 1.0e6, (1.0, 1.0e9), reference="test")
    link = Link("lung.P", "sys.P", Excess(rate, thr, "CFU/mL", "1e6 cells/cc/h", scale=1e-6))
    model = _pair([link], shared=("antibiotic",))()
    lung, body = Smith2011(input_dt=0.02), Reynolds2006(input_dt=0.02)
    assert model.input_dt == 0.02
    pl = lung.make_params(P0=3.0e4)
    pb = body.make_params(P0=1.2, k_pg=0.5)
    params = jnp.concatenate([pl, pb, jnp.asarray([0.0, 1.0e6])])
    # rates, not doses: RK4 refines the steps around a dose (simulate's rule), which would
    # refine the lung's steps too in the composed run
    course = [SetRate(6.0, "antibiotic", 0.4), SetRate(30.0, "antibiotic", 0.0)]
    ai = [SetRate(10.0, "anti_inflammatory", 0.05), SetRate(20.0, "anti_inflammatory", 0.0)]
    both = Regimen((*course, *(replace(e, input="sys.anti_inflammatory") for e in ai)))
    t = np.arange(0.0, 48.01, 2.0)
    got = simulate(model, params, both, t1=48.0, saveat=t)
    a = simulate(lung, pl, Regimen(tuple(course)), t1=48.0, saveat=t)
    b = simulate(body, pb, Regimen((*course, *ai)), t1=48.0, saveat=t)
    ys = np.asarray(got.states)
    np.testing.assert_allclose(ys[:, :6], np.asarray(a.states), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ys[:, 6:], np.asarray(b.states), rtol=1e-12, atol=1e-12)
    obs = np.asarray(got.observables)
    np.testing.assert_allclose(obs[:, :3], np.asarray(a.observables), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(obs[:, 3:], np.asarray(b.observables), rtol=1e-12, atol=1e-12)
    # the runs did something: the antibiotic cut the lung's titre and the body responded
    assert float(np.asarray(a.states)[-1, 0]) < 1.0 < float(np.asarray(a.states)[6, 0])
    assert float(np.asarray(b.states)[:, 1].max()) > 0.05


def test_each_kind_of_port_receives_the_links_value():
    rng = np.random.default_rng(3)
    lung, body = Smith2011(), Reynolds2006()
    to_input = Link("lung.P", "sys.antibiotic", Linear(GAIN, "CFU/mL", "1/h"), name="ab")
    k_pg = ParameterSpec("s", "1/h per cells/mL", 1.0e-6, (0.0, 1.0), reference="test")
    to_param = Link("lung.N", "sys.k_pg", Linear(k_pg, "cells/mL", "1/h"), name="kp")
    back = Link("sys.damage", "lung.d_E", Linear(ParameterSpec("w", "1/h per a.u.", 0.01,
                (0.0, 1.0), reference="test"), "a.u.", "1/h"), name="dmg")  # fmt: skip
    model = _pair([to_input, to_param, back])()  # a cycle: lung -> body -> lung
    assert model.input_names == ("lung.antibiotic", "sys.anti_inflammatory")
    assert [e.input for e in model.events] == ["lung.antibiotic", "sys.anti_inflammatory"]
    pl, pb = lung.default_params(), body.default_params()
    params = jnp.concatenate([pl, pb, jnp.asarray([2.0e-9, 3.0e-6, 0.01])])
    yl = jnp.asarray([5.0e5, 9.0e7, 2.0e5, 0.7, 4.0e4, 30.0]) * (1 + 0.1 * rng.random(6))
    yb = jnp.asarray([1.5, 0.3, 2.0, 0.2])
    u = jnp.asarray([0.25, 0.1])
    got = model.vector_field(0.0, jnp.concatenate([yl, yb]), u, params)
    d = float(body.observe(0.0, yb, pb)[1])  # damage, read with the body's own parameters
    pl2 = pl.at[lung.param_index("d_E")].set(0.01 * d)
    pb2 = pb.at[body.param_index("k_pg")].set(3.0e-6 * float(yl[4]))
    want_l = lung.vector_field(0.0, yl, u[:1], pl2)
    want_b = body.vector_field(0.0, yb, jnp.asarray([2.0e-9 * float(yl[0]), 0.1]), pb2)
    np.testing.assert_allclose(got, jnp.concatenate([want_l, want_b]), rtol=1e-13)
    # a state flux adds to the rate of change; an Identity link needs one unit
    to_c = Link("sys.P", "lung.C", Linear(GAIN, "1e6 cells/cc", "a.u./h"))
    flux = _pair([to_c], shared=("antibiotic",))()
    base = jnp.concatenate([lung.vector_field(0.0, yl, u[:1], pl),
                            body.vector_field(0.0, yb, jnp.asarray([0.25, 0.1]), pb)])  # fmt: skip
    got = flux.vector_field(0.0, jnp.concatenate([yl, yb]), jnp.asarray([0.25, 0.1]),
                            jnp.concatenate([pl, pb, jnp.asarray([0.5])]))  # fmt: skip
    np.testing.assert_allclose(got - base, np.eye(10)[3] * 0.5 * 1.5, atol=1e-9)
    with pytest.raises(ModelError, match=r"source is in '1e6 cells/cc' and the target takes"):
        _pair([Link("sys.P", "lung.P0", Identity())])


def test_the_declaration_is_derived_from_the_components():
    d = declaration("pneumonia-sepsis")
    smith, reynolds = declaration("pneumonia"), declaration("sepsis")
    assert (
        d.time_unit == "h"
        and d.n_states == 10
        and d.n_params == smith.n_params + reynolds.n_params + 2
    )
    assert d.state_names[:2] == ("lung.P", "lung.EU") and d.state_names[6] == "sys.P"
    assert d.parameters[0] == ParameterSpec(**{**vars(smith.parameters[0]), "name": "lung.r"})
    assert d.parameter_names[-2:] == ("link.k_dis", "link.P_dis")
    assert d.parameters[d.param_index("sys.P0")].default == 0.0
    assert d.observable_for_code("6690-2") == "sys.wbc"
    assert d.input_names == ("antibiotic", "sys.anti_inflammatory")
    assert d.event_kinds() == [("antibiotic", "1/h"), ("anti_inflammatory", "a.u./h")]
    assert d.twin_defaults.free == ("lung.P0", "lung.r", "link.k_dis")
    assert [a.observable for a in d.twin_defaults.alerts] == ["lung.log10_pathogen", "sys.wbc"]
    # derived twin defaults when none are given: both components' learnt parameters and alerts
    plain = _pair([], shared=("antibiotic",))
    assert plain.twin_defaults.free == ("lung.P0", "lung.r")
    assert plain.time_unit == "h" and Declaration.of(plain).n_params == d.n_params - 2


@pytest.mark.parametrize(
    ("a", "b", "links", "kw", "message"),
    [
        ("pneumonia", "sepsis", [Link("lung.Q", "sys.P")], {}, r"no state or observable 'Q'"),
        ("pneumonia", "sepsis", [Link("lung.P", "sys.nope")], {},
         r"no input, parameter or state 'nope'"),
        ("pneumonia", "sepsis", [Link("P", "sys.P")], {}, r"'prefix.name' with prefix one of"),
        ("pneumonia", "sepsis", [Link("lung.P", "lung.EU")], {}, r"stays inside one component"),
        ("pneumonia", "sepsis", [Link("lung.P", "sys.P")], {},
         r"source is in 'CFU/mL' and the target takes '1e6 cells/cc/h'"),
        ("pneumonia", "sepsis", [Link("lung.P", "sys.antibiotic", Linear(GAIN, "CFU/mL", "1/h")),
                                 Link("lung.N", "sys.antibiotic", Linear(GAIN, "CFU/mL", "1/h"),
                                      name="l2")], {}, r"both drive 'sys.antibiotic'"),
        ("pneumonia", "influenza", [], {}, r"'smith2011' is in 'h', 'baccam2006' in 'd'"),
        ("pneumonia", "glioma", [], {}, r"joins ODE models.*'glioma'"),
        ("sepsis", "sepsis", [], {}, r"LOINC \['6690-2', '96790-1'\]"),
        ("pneumonia", "sepsis", [], {"shared": ("insulin",)}, r"'insulin' is not an input"),
        ("pneumonia", "sepsis", [], {"defaults": {"sys.nope": (1.0, "x")}},
         r"defaults names 'sys.nope'"),
        ("pneumonia", "sepsis", [], {}, r"components take events of kind 'antibiotic'"),
    ],
)  # fmt: skip
def test_bad_wiring_is_refused_with_its_name(a, b, links, kw, message):
    prefixes = ("lung", "sys") if (a, b) != ("sepsis", "sepsis") else ("a", "b")
    with pytest.raises(ModelError, match=message):
        compose("test-bad", (prefixes[0], a), (prefixes[1], b), links=links, **kw)
    with pytest.raises(ModelError, match="different prefixes"):
        compose("test-bad", ("x", "pneumonia"), ("x", "sepsis"), links=[])
