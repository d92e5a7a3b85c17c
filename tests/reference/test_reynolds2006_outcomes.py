"""Reference test of the Reynolds et al. 2006 model: the paper's three outcomes of infection.

What the paper reports. With the Table 1 parameters, N*(0) = D(0) = 0 and C_A(0) = s_c/mu_c =
0.125, the time courses of Fig. 2 show the three outcomes, reproduced by the BioModels curators
of BIOMD0000000714 as three scenarios:

    (a) k_pg = 0.3, P(0) = 1    -> health          (P, N*, D -> 0; C_A -> 0.125)
    (b) k_pg = 0.3, P(0) = 1.5  -> aseptic death   (P -> 0; N*, D stay elevated)
    (c) k_pg = 0.6, P(0) = 1    -> septic death    (P, N*, D stay elevated)

Small loads are cleared; above a threshold load the response either clears the pathogen but
keeps damaging tissue (slow pathogen, k_pg = 0.3) or fails to clear it (fast pathogen,
k_pg = 0.6). The exact region boundaries of the paper's bifurcation figures could not be
consulted for this test, so the boundaries below are our own.

What we find (scratch scan, Adaptive(rtol=atol=1e-10), 1000 h, P0 from 0.05 to p_inf = 20):

    k_pg = 0.3: health for P0 < 1.0357, aseptic death for 1.0357 < P0 <= 20. No septic death
                at any load: at k_pg = 0.3 the only equilibria are health, aseptic death and a
                saddle (P = 0, N* = 0.215, D = 3.99) between them.
    k_pg = 0.6: health for P0 < 0.3610, septic death for 0.3610 < P0 <= 20.

(A stable septic state first appears between k_pg = 0.5 and 0.55.) So "large loads give septic
death" holds for the fast pathogen only. Case (a) lies 3.5 % below the health/aseptic boundary;
RK4 at input_dt = 0.05 h errs by ~1e-7, far less, and the test checks it with both solvers.
The other cases sit at least 20 % (in P0) from a boundary, where trajectories settle within
1000 h; near a boundary they linger by the saddle and the class depends on the integrator.

Independent check: the settled states must equal the equilibria of eqs. (2.1)-(2.4), written
again here in NumPy and solved with scipy.optimize.fsolve (and stable: Jacobian eigenvalues
with negative real parts). The slowest decay rate is ~0.02/h (mu_d), so after 1000 h the
states are within 1e-7 of them (7e-7 for case (a), whose damage peaks at 3.2); tolerance 1e-5
relative + 1e-5 absolute.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from medtwin.credibility.evidence import reynolds2006 as ev
from medtwin.models.inflammation import Reynolds2006, outcome_class
from medtwin.simulate import Adaptive, simulate

# The cases, the independent equations and the equilibrium solver are the evidence items'
# (medtwin.credibility.evidence.reynolds2006); this test asserts on what they compute.
T_END = ev.T_END  # 1000 h
EQ_RTOL, EQ_ATOL = ev.EQ_RTOL, ev.EQ_ATOL  # 1e-5, 1e-5
PUBLISHED, CASES = ev.PUBLISHED, ev.CASES


def _equilibrium(guess: list[float], p: dict[str, float]) -> np.ndarray:
    eq = ev.equilibrium(guess, p)
    assert eq.converged, eq.message
    assert eq.residual < 1e-12
    assert eq.max_real_eigenvalue < -1e-3  # the equilibrium must be an attractor
    return eq.y


@pytest.fixture(scope="module")
def model() -> Reynolds2006:
    return Reynolds2006()


@pytest.fixture(scope="module")
def settled(model) -> np.ndarray:
    """End states of every case at T_END, one batched call of the default solver (RK4)."""
    return ev.settle(model, CASES, T_END)  # raises if a member failed


_published_params = ev.published_params


@pytest.mark.parametrize(
    "case", range(len(CASES)), ids=lambda i: f"k_pg={CASES[i][0]:g},P0={CASES[i][1]:g}"
)
def test_outcome_class(settled, case):
    _, p0, expected = CASES[case]
    np.testing.assert_allclose(settled[case, 0], [p0, 0.0, 0.0, 0.125], rtol=1e-15)
    assert outcome_class(settled[case, -1]) == expected
    assert outcome_class(settled[case, 1]) == expected  # already at T_END / 2


@pytest.mark.parametrize(
    ("k_pg", "outcome", "guess"),
    [
        (0.3, "health", [0.0, 0.0, 0.0, 0.1]),
        (0.6, "health", [0.0, 0.0, 0.0, 0.1]),
        (0.3, "aseptic death", [0.0, 0.6, 17.0, 0.5]),
        (0.6, "septic death", [5.0, 1.0, 17.0, 0.5]),
    ],
)
def test_settled_states_are_the_equilibria(model, settled, k_pg, outcome, guess):
    eq = _equilibrium(guess, _published_params(model, k_pg))
    members = [i for i, (k, _, o) in enumerate(CASES) if (k, o) == (k_pg, outcome)]
    assert len(members) >= 2
    np.testing.assert_allclose(settled[members, -1], np.broadcast_to(eq, (len(members), 4)),
                               rtol=EQ_RTOL, atol=EQ_ATOL)  # fmt: skip


def test_published_equilibrium_values(model):
    # Health: C_A at s_c/mu_c = 0.0125/0.1 = 0.125 exactly. Aseptic death: D near its ceiling
    # k_dn/mu_d = 17.5 (the Hill term nearly saturated). Septic death: P ~ 4.94 (x 1e6/cc),
    # a quarter of p_inf, with N* ~ 0.98 (WBC ~ 16.8 x 10^3/uL with the default mapping).
    p = _published_params(model, 0.3)
    np.testing.assert_allclose(_equilibrium([0.0, 0.0, 0.0, 0.1], p), [0, 0, 0, 0.125], atol=1e-12)
    aseptic = _equilibrium([0.0, 0.6, 17.0, 0.5], p)
    np.testing.assert_allclose(aseptic, [0.0, 0.63501, 17.39896, 0.52286], rtol=1e-5, atol=1e-12)
    septic = _equilibrium([5.0, 1.0, 17.0, 0.5], _published_params(model, 0.6))
    np.testing.assert_allclose(septic, [4.93635, 0.98097, 17.49252, 0.52288], rtol=1e-5)


def test_published_cases_agree_with_the_reference_solver(model, settled):
    # Fig. 2 (a)-(c) with diffrax Dopri5 at rtol = atol = 1e-10: the same classes and end states.
    params = jnp.stack([model.make_params(k_pg=k, P0=p0) for k, p0, _ in PUBLISHED])
    ref = simulate(model, params, t1=T_END, saveat=[T_END], solver=Adaptive(rtol=1e-10, atol=1e-10))
    assert bool(jnp.all(ref.ok))
    end = np.asarray(ref.states[:, -1])
    assert outcome_class(end).tolist() == [o for _, _, o in PUBLISHED]
    np.testing.assert_allclose(settled[-len(PUBLISHED) :, -1], end, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("cases", ["published", "all"])
def test_the_evidence_items_pass(cases):
    # The dossier's items over the same computations: outcomes and equilibria pass.
    for check in (ev.check_outcomes, ev.check_equilibria):
        result = check(Reynolds2006, cases=cases)
        assert result.passed, result.checks
    assert ev.check_outcomes(Reynolds2006, cases=cases).metrics["correct"] == len(ev._cases(cases))
