"""medtwin.bn's exact inference against independent implementations.

- ALARM (Beinlich et al. 1989; 37 nodes, the BIF file shipped with pgmpy 1.1.x): posteriors
  under 60 seeded random evidence sets (hard and soft findings) equal pgmpy's variable
  elimination to 1e-9 (a different library, a different algorithm: tolerance 1e-9, the sum of
  products of 4-digit tables in float64 is exact to ~1e-15);
- do-queries equal pyAgrum's causal module (``causalImpact``, which finds an adjustment formula
  on the causal model) and pgmpy's ``CausalInference`` to 1e-9;
- Asia (Lauritzen and Spiegelhalter, JRSS B 50:157, 1988): the marginals derived by hand from
  its tables, to 1e-12;
- BIF reading: every table of ALARM, Child and Hailfinder (which uses ``table`` rows with
  parents) equals pgmpy's reader (to 1e-15: both rescale the printed columns to sum to one).

ALARM's printed columns sum to one only within 1e-7; medtwin rescales them on reading, and the
pgmpy model is normalised the same way (``TabularCPD.normalize``), else the libraries differ by
up to 3e-8 depending on whether they sum out a barren node or drop it.
"""

from __future__ import annotations

import gzip
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from medtwin.bn import query, read_bif

pytestmark = pytest.mark.filterwarnings("ignore")  # pgmpy's own deprecation warnings

PGMPY = importlib.util.find_spec("pgmpy")
MODELS = Path(PGMPY.origin).parent / "utils" / "example_models" if PGMPY else None
TOL = 1e-9
N_SETS = 60


def _pgmpy_model(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.readwrite import BIFReader

        text = gzip.decompress((MODELS / f"{name}.bif.gz").read_bytes()).decode()
        model = BIFReader(string=text).get_model()
        for cpd in model.get_cpds():  # the files print 2-4 digits: columns sum to 1 +- 1e-7
            cpd.normalize()
        return model


@pytest.fixture(scope="module")
def alarm():
    return read_bif(MODELS / "alarm.bif.gz")


def _random_evidence(net, rng):
    k = int(rng.integers(1, 7))
    nodes = rng.choice(len(net.nodes), size=k + 4, replace=False)
    ev, targets = {}, []
    for j, i in enumerate(nodes):
        n = net.nodes[i]
        if j < k:
            if rng.random() < 0.25:  # soft finding: a likelihood per state
                ev[n] = tuple(rng.uniform(0.05, 1.0, net.card(n)))
            else:
                ev[n] = net.states[n][int(rng.integers(net.card(n)))]
        else:
            targets.append(n)
    return ev, targets


def _pgmpy_posterior(model, ve, ev, target):
    """pgmpy's posterior; a soft finding enters as a virtual child (Pearl's virtual evidence)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.factors.discrete import TabularCPD

        hard = {n: v for n, v in ev.items() if isinstance(v, str)}
        virtual = []
        for n, lik in ev.items():
            if isinstance(lik, str):
                continue
            card = len(model.get_cpds(n).state_names[n])
            virtual.append(
                TabularCPD(
                    n,
                    card,
                    np.array(lik).reshape(card, 1),
                    state_names={n: list(model.get_cpds(n).state_names[n])},
                )
            )
        f = ve.query([target], evidence=hard, virtual_evidence=virtual or None,
                     show_progress=False)  # fmt: skip
        return dict(zip(f.state_names[target], f.values, strict=True))


@pytest.mark.skipif(PGMPY is None, reason="pgmpy (the oracle) is in the dev group")
def test_alarm_posteriors_equal_pgmpy_on_60_seeded_evidence_sets(alarm):
    from pgmpy.inference import VariableElimination

    model = _pgmpy_model("alarm")
    ve = VariableElimination(model)
    rng = np.random.default_rng(20261204)
    checked, worst = 0, 0.0
    while checked < N_SETS:
        ev, targets = _random_evidence(alarm, rng)
        try:
            ours = query(alarm, targets, ev)
        except ValueError:  # evidence of probability zero: drawn again
            continue
        for t in targets:
            ref = _pgmpy_posterior(model, ve, ev, t)
            theirs = np.array([ref[s] for s in alarm.states[t]])
            worst = max(worst, float(np.max(np.abs(ours[t] - theirs))))
        checked += 1
    assert worst <= TOL, worst


@pytest.mark.slow
@pytest.mark.skipif(PGMPY is None, reason="pgmpy (the oracle) is in the dev group")
def test_do_queries_equal_pyagrum_causal_and_pgmpy(alarm):
    from pgmpy.inference import CausalInference
    from pyagrum.causal_model import CausalModel, causalImpact

    from medtwin.bn._infer import to_pyagrum

    cm = CausalModel(to_pyagrum(alarm))
    ci = CausalInference(_pgmpy_model("alarm"))
    cases = [
        ("HRSAT", {"HR": "LOW"}, {}),
        ("BP", {"CO": "HIGH"}, {}),
        ("PRESS", {"VENTTUBE": "ZERO"}, {}),
        ("HRBP", {"HR": "HIGH"}, {}),
        ("CATECHOL", {"SAO2": "LOW"}, {}),
        ("EXPCO2", {"VENTLUNG": "ZERO"}, {}),
        ("CO", {"STROKEVOLUME": "LOW"}, {"HR": "NORMAL"}),
        ("BP", {"TPR": "LOW"}, {"CO": "HIGH"}),
    ]
    for target, do, knowing in cases:
        ours = query(alarm, target, knowing, do=do)[target]
        ((x, v),) = do.items()
        _, impact, _ = causalImpact(cm, on=target, doing=x, knowing=set(knowing) or None,
                                    values={x: v, **knowing})  # fmt: skip
        theirs = np.array([impact[{target: s}] for s in alarm.states[target]])
        np.testing.assert_allclose(ours, theirs, atol=TOL, rtol=0)
        if knowing:  # pgmpy 1.1.2 conditions on evidence differently from Pearl's P(y|do(x),z)
            continue
        f = ci.query([target], do=do, show_progress=False)
        ref = dict(zip(f.state_names[target], f.values, strict=True))
        np.testing.assert_allclose(ours, [ref[s] for s in alarm.states[target]], atol=TOL)
    # P(CO | do(STROKEVOLUME=LOW), HR=NORMAL) is CO's own table column: both parents are set
    ours = query(alarm, "CO", {"HR": "NORMAL"}, do={"STROKEVOLUME": "LOW"})["CO"]
    i, j = (alarm.states[p].index(v) for p, v in (("HR", "NORMAL"), ("STROKEVOLUME", "LOW")))
    idx = (i, j) if alarm.parents["CO"] == ("HR", "STROKEVOLUME") else (j, i)
    np.testing.assert_allclose(ours, alarm.tables["CO"][idx], atol=1e-15)
    # and the intervention is not conditioning: seeing HR high says something about CO, doing
    # it does not (HR is a parent of CO in ALARM: do(HR) cuts nothing upstream)
    seen = query(alarm, "LVFAILURE", {"CO": "LOW"})["LVFAILURE"]
    done = query(alarm, "LVFAILURE", do={"CO": "LOW"})["LVFAILURE"]
    prior = query(alarm, "LVFAILURE")["LVFAILURE"]
    assert abs(seen[0] - prior[0]) > 0.01 and np.allclose(done, prior, atol=1e-15)


def test_asia_marginals_by_hand():
    asia = read_bif(MODELS / "asia.bif.gz") if MODELS else pytest.skip("pgmpy's Asia file")
    p = query(asia)
    tub = 0.01 * 0.05 + 0.99 * 0.01
    lung = 0.5 * 0.1 + 0.5 * 0.01
    bronc = 0.5 * 0.6 + 0.5 * 0.3
    either = 1 - (1 - tub) * (1 - lung)
    xray = either * 0.98 + (1 - either) * 0.05
    dysp = 0.0  # bronc and either share the parent smoke: sum over it
    for p_bronc, p_lung in ((0.6, 0.1), (0.3, 0.01)):  # smoke yes, no (each 0.5)
        e = 1 - (1 - tub) * (1 - p_lung)
        dysp += 0.5 * (p_bronc * (e * 0.9 + (1 - e) * 0.8)
                       + (1 - p_bronc) * (e * 0.7 + (1 - e) * 0.1))  # fmt: skip
    for node, value in dict(tub=tub, lung=lung, bronc=bronc, either=either, xray=xray,
                            dysp=dysp).items():  # fmt: skip
        assert p[node][0] == pytest.approx(value, abs=1e-12), node
    # The textbook values (Lauritzen and Spiegelhalter 1988, 4 digits)
    assert [round(p[n][0], 4) for n in ("tub", "lung", "bronc", "xray", "dysp")] == [
        0.0104, 0.055, 0.45, 0.1103, 0.436]  # fmt: skip
    # A patient back from Asia with dyspnoea and a positive x-ray: tuberculosis is now likely
    post = query(asia, ["tub", "lung"], {"asia": "yes", "dysp": "yes", "xray": "yes"})
    assert post["tub"][0] > 0.3 and post["lung"][0] > 0.3


@pytest.mark.skipif(PGMPY is None, reason="pgmpy (the oracle) is in the dev group")
@pytest.mark.parametrize("name", ["alarm", "child", "hailfinder"])
def test_bif_tables_equal_pgmpy_reader(name):
    net = read_bif(MODELS / f"{name}.bif.gz")
    model = _pgmpy_model(name)
    for n in net.nodes:
        cpd = model.get_cpds(n)
        assert list(cpd.state_names[n]) == list(net.states[n])
        pars = list(cpd.variables[1:])
        assert sorted(pars) == sorted(net.parents[n])
        values = cpd.get_values()  # (card, parent configs in pars order, last fastest)
        shape = [len(cpd.state_names[p]) for p in pars]
        ref = values.T.reshape(*shape, len(net.states[n]))
        for p in pars:
            assert list(cpd.state_names[p]) == list(net.states[p])
        ours = np.transpose(
            net.tables[n], [*(list(net.parents[n]).index(p) for p in pars), len(pars)]
        )
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-15)
