"""Evidence for the Reynolds et al. 2006 inflammation model (the sepsis twin).

The computations behind ``tests/reference/test_reynolds2006_outcomes.py`` and
``tests/reference/test_sepsis_twin.py`` (their docstrings give the cases, the scans behind the
region boundaries and the observed numbers): the paper's outcome classes (Fig. 2), the settled
states against the equilibria of eqs. (2.1)-(2.4) written again here in NumPy and solved with
scipy's ``fsolve``, RK4 against diffrax Dopri5 at 1e-10, and the sepsis twin learning the
outcome from white-cell counts.

Reference: Reynolds A, Rubin J, Clermont G, Day J, Vodovotz Y, Ermentrout GB. A reduced
mathematical model of the acute inflammatory response: I. Derivation of model and analysis of
anti-inflammation. J Theor Biol 242:220-236 (2006).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import fsolve

from ...assimilate import PopulationPrior, assimilate, observations
from ...models.inflammation.reynolds2006 import outcome_class
from ...simulate import Adaptive, simulate
from ...twin import Twin
from .._evidence import Evidence, EvidenceItem, EvidenceResult, Figure, ParameterRange
from .._svg import line_plot

T_END = 1000.0  # h
EQ_RTOL, EQ_ATOL = 1e-5, 1e-5
SOLVER_RTOL, SOLVER_ATOL = 1e-6, 1e-8
PROB_MIN = 0.8

# (k_pg, P0, expected outcome); PUBLISHED are the three Fig. 2 scenarios.
PUBLISHED = [(0.3, 1.0, "health"), (0.3, 1.5, "aseptic death"), (0.6, 1.0, "septic death")]
CASES = [
    *[(0.3, p0, "health") for p0 in (0.1, 0.5, 0.8)],
    *[(0.3, p0, "aseptic death") for p0 in (2.0, 5.0, 10.0, 20.0)],
    *[(0.6, p0, "health") for p0 in (0.1, 0.2)],
    *[(0.6, p0, "septic death") for p0 in (0.6, 3.0, 10.0, 20.0)],
    *PUBLISHED,
]
# (k_pg, outcome) -> initial guess of its equilibrium for fsolve
GUESSES = {
    (0.3, "health"): [0.0, 0.0, 0.0, 0.1],
    (0.6, "health"): [0.0, 0.0, 0.0, 0.1],
    (0.3, "aseptic death"): [0.0, 0.6, 17.0, 0.5],
    (0.6, "septic death"): [5.0, 1.0, 17.0, 0.5],
}
# Equilibria at the published parameters, to 5 significant digits (health: C_A = s_c/mu_c).
PUBLISHED_EQUILIBRIA = {
    (0.3, "health"): [0.0, 0.0, 0.0, 0.125],
    (0.3, "aseptic death"): [0.0, 0.63501, 17.39896, 0.52286],
    (0.6, "septic death"): [4.93635, 0.98097, 17.49252, 0.52288],
}


def _states(traj) -> np.ndarray:
    """A trajectory's saved states (simulate saves them unless told not to)."""
    return np.asarray(traj.states)


def reference_rhs(y: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Reynolds et al. 2006, eqs. (2.1)-(2.4), independently of the model code."""
    P, N, D, CA = y

    def f(v):
        return v / (1.0 + (CA / p["c_inf"]) ** 2)

    R = f(p["k_nn"] * N + p["k_np"] * P + p["k_nd"] * D)
    return np.array(
        [
            p["k_pg"] * P * (1 - P / p["p_inf"])
            - p["k_pm"] * p["s_m"] * P / (p["mu_m"] + p["k_mp"] * P)
            - p["k_pn"] * f(N) * P,
            p["s_nr"] * R / (p["mu_nr"] + R) - p["mu_n"] * N,
            p["k_dn"] * f(N) ** 6 / (p["x_dn"] ** 6 + f(N) ** 6) - p["mu_d"] * D,
            p["s_c"]
            + p["k_cn"] * f(N + p["k_cnd"] * D) / (1 + f(N + p["k_cnd"] * D))
            - p["mu_c"] * CA,
        ]
    )


@dataclass(frozen=True)
class Equilibrium:
    """An equilibrium found by fsolve: the state, whether fsolve converged (and its message),
    the largest |rhs| there and the largest real part of the Jacobian's eigenvalues."""

    y: np.ndarray
    converged: bool
    message: str
    residual: float
    max_real_eigenvalue: float


def equilibrium(guess: list[float], p: dict[str, float]) -> Equilibrium:
    y, _, ier, msg = fsolve(reference_rhs, np.asarray(guess), args=(p,), xtol=1e-13,
                            full_output=True)  # fmt: skip
    h = 1e-7  # central-difference Jacobian: the equilibrium must be an attractor
    jac = np.column_stack(
        [(reference_rhs(y + h * e, p) - reference_rhs(y - h * e, p)) / (2 * h) for e in np.eye(4)]
    )
    return Equilibrium(y, ier == 1, str(msg), float(np.max(np.abs(reference_rhs(y, p)))),
                       float(np.linalg.eigvals(jac).real.max()))  # fmt: skip


def published_params(model, k_pg: float) -> dict[str, float]:
    """The model's parameters by name at the published values, with growth rate ``k_pg``."""
    vec = np.asarray(model.make_params(k_pg=k_pg))
    return dict(zip(model.parameter_names, vec.tolist(), strict=True))


def settle(model, cases, t_end: float = T_END) -> np.ndarray:
    """States at 0, t_end/2 and t_end of every case, one batched call of the default solver."""
    params = jnp.stack([model.make_params(k_pg=k, P0=p0) for k, p0, _ in cases])
    tr = simulate(model, params, t1=t_end, saveat=np.array([0.0, t_end / 2, t_end]))
    if not bool(jnp.all(tr.ok)):
        raise ArithmeticError(
            f"simulate() failed for member(s) {np.flatnonzero(~np.asarray(tr.ok))}"
        )
    return np.asarray(tr.states)


def _cases(which: str) -> list[tuple[float, float, str]]:
    return {"published": PUBLISHED, "all": CASES}[which]


def _covered(cases) -> tuple[ParameterRange, ...]:
    k = [c[0] for c in cases]
    p0 = [c[1] for c in cases]
    return (
        ParameterRange("k_pg", "1/h", min(k), max(k), "outcome cases (Reynolds 2006 Fig. 2)"),
        ParameterRange("P0", "1e6 cells/cc", min(p0), max(p0), "outcome cases"),
    )


def validated_ranges(model_cls) -> tuple[ParameterRange, ...]:
    """The sepsis twin's validated domain (``medtwin.credibility.validated_domain``): the span
    of the outcome cases (``CASES``, which the full ``outcomes`` item runs and reports as its
    covered range): k_pg 0.3-0.6 /h and P0 0.1-20 (1e6 cells/cc). A twin whose patient grows
    faster or slower, or started from a load outside that span, is flagged. No input ranges:
    the outcome cases apply no treatment, so treatment events are not checked."""
    del model_cls  # the ranges are the case table's, the same for any registered copy
    return _covered(CASES)


def check_outcomes(model_cls, *, cases: str = "all", t_end: float = T_END) -> EvidenceResult:
    """The outcome class of every case, at t_end and already at t_end / 2."""
    model = model_cls()
    chosen = _cases(cases)
    settled = settle(model, chosen, t_end)
    checks = {}
    for i, (k, p0, expected) in enumerate(chosen):
        got = (str(outcome_class(settled[i, -1])), str(outcome_class(settled[i, 1])))
        checks[f"k_pg={k:g}, P0={p0:g}: {expected} (got {got[0]}; at t/2 {got[1]})"] = got == (
            expected,
            expected,
        )
    right = sum(checks.values())
    fig = line_plot(
        [(o, [c[1] for c in chosen if c[2] == o], [float(settled[i, -1, 2]) + 1e-3
          for i, c in enumerate(chosen) if c[2] == o]) for o in sorted({c[2] for c in chosen})],
        title="Settled damage D by initial load", xlabel="P0 (1e6 cells/cc)",
        ylabel="D at t_end + 1e-3 (a.u.)", logx=True, logy=True, points=True,
    )  # fmt: skip

    return EvidenceResult(
        metrics={"cases": float(len(chosen)), "correct": float(right)},
        checks=checks,
        figures=(Figure("Outcome classes: health settles D to 0, death keeps D near 17.5.", fig),),
        covered=_covered(chosen),
    )


def check_equilibria(model_cls, *, cases: str = "all", t_end: float = T_END) -> EvidenceResult:
    """Settled states against the independent equilibria; those against the published values."""
    model = model_cls()
    chosen = _cases(cases)
    settled = settle(model, chosen, t_end)
    checks: dict[str, bool] = {}
    worst = 0.0
    for (k, outcome), guess in GUESSES.items():
        members = [i for i, c in enumerate(chosen) if (c[0], c[2]) == (k, outcome)]
        if not members:
            continue
        eq = equilibrium(guess, published_params(model, k))
        checks[f"k_pg={k:g} {outcome}: fsolve converged to a stable equilibrium"] = (
            eq.converged and eq.residual < 1e-12 and eq.max_real_eigenvalue < -1e-3
        )
        dev = np.abs(settled[members, -1] - eq.y) / (EQ_ATOL + EQ_RTOL * np.abs(eq.y))
        worst = max(worst, float(dev.max()))
        checks[f"k_pg={k:g} {outcome}: {len(members)} settled state(s) equal it "
               f"(rtol {EQ_RTOL:g} + atol {EQ_ATOL:g})"] = bool(dev.max() <= 1.0)  # fmt: skip
        if (k, outcome) in PUBLISHED_EQUILIBRIA:
            ref = np.asarray(PUBLISHED_EQUILIBRIA[(k, outcome)])
            ok = np.all(np.abs(eq.y - ref) <= 1e-12 + 1e-5 * np.abs(ref))
            checks[f"k_pg={k:g} {outcome}: equilibrium {np.round(eq.y, 5).tolist()} equals "
                   f"{ref.tolist()} (rtol 1e-5)"] = bool(ok)  # fmt: skip
    initial = np.asarray([[p0, 0.0, 0.0, 0.125] for _, p0, _ in chosen])
    checks["initial states are (P0, 0, 0, s_c/mu_c = 0.125)"] = bool(
        np.allclose(settled[:, 0], initial, rtol=1e-15, atol=0.0)
    )
    return EvidenceResult(
        metrics={"max_scaled_deviation": worst},
        checks=checks,
        covered=_covered(chosen),
        notes="Deviation scaled by atol + rtol |y|: <= 1 passes.",
    )


def check_reference_solver(model_cls, *, t_end: float = T_END) -> EvidenceResult:
    """The published cases with RK4 (default) and with diffrax Dopri5 at rtol = atol = 1e-10."""
    model = model_cls()
    rk4 = settle(model, PUBLISHED, t_end)[:, -1]
    params = jnp.stack([model.make_params(k_pg=k, P0=p0) for k, p0, _ in PUBLISHED])
    ref = simulate(model, params, t1=t_end, saveat=np.array([t_end]),
                   solver=Adaptive(rtol=1e-10, atol=1e-10))  # fmt: skip
    end = np.asarray(_states(ref)[:, -1])
    diff = np.abs(rk4 - end)
    within = np.all(diff <= SOLVER_ATOL + SOLVER_RTOL * np.abs(end))
    classes = [str(c) for c in np.atleast_1d(outcome_class(end))]
    return EvidenceResult(
        metrics={"max_abs_difference": float(diff.max())},
        checks={
            "the reference solver succeeds": bool(jnp.all(ref.ok)),
            "the reference solver gives the published classes": classes
            == [o for _, _, o in PUBLISHED],
            f"RK4 end states within rtol {SOLVER_RTOL:g} + atol {SOLVER_ATOL:g} of it": bool(
                within
            ),
        },
    )


@dataclass(frozen=True)
class SepsisTwinRun:
    true_class: str
    before: float
    after: float
    k_pg_interval: tuple[float, float]
    times: np.ndarray
    wbc: np.ndarray


def outcome_probability(twin, outcome: str, horizon: float = 500.0) -> float:
    """The posterior probability of ``outcome`` from simulations of every particle."""
    ens = twin.ensemble
    end = simulate(twin.model, ens.params, t0=ens.time, t1=ens.time + horizon, y0=ens.states,
                   saveat=np.array([ens.time + horizon]))  # fmt: skip
    classes = outcome_class(np.asarray(_states(end)[:, -1]))
    return float(np.sum(np.asarray(ens.weights)[classes == outcome]))


def run_sepsis_twin(model_cls, *, particles: int = 400, population: int = 400,
                    hours: float = 24.0, seed: int = 5) -> SepsisTwinRun:  # fmt: skip
    """Truth k_pg = 0.6, P0 = 1 (septic death); 2-hourly noisy WBC for ``hours``; a twin over
    a population prior (P0 log-normal around 1, k_pg around 0.4 /h)."""
    model = model_cls()
    rng = np.random.default_rng(seed)
    base = np.asarray(model.default_params())
    pop = np.tile(base, (population, 1))
    pop[:, model.param_index("P0")] = np.exp(rng.normal(0.0, 0.5, population))
    pop[:, model.param_index("k_pg")] = 0.4 * np.exp(rng.normal(0.0, 0.3, population))
    truth = model.make_params(k_pg=0.6, P0=1.0)
    times = np.arange(2.0, hours + 2.0, 2.0)
    traj = simulate(model, truth, t1=hours, saveat=times)
    wbc = np.asarray(traj.observable("wbc"))
    noise = model.observables[model.observable_index("wbc")].noise
    wbc = wbc + np.asarray(noise.sd(wbc)) * rng.standard_normal(wbc.size)

    prior = PopulationPrior(pop, ("P0", "k_pg"))
    twin = Twin.create(model, prior, key=jax.random.key(3), n=particles)
    end = simulate(model, truth, t1=500.0, saveat=np.array([500.0]))
    true_class = str(outcome_class(_states(end)[-1]))
    before = outcome_probability(twin, true_class)
    twin = assimilate(twin, observations(times, wbc, "wbc"))
    after = outcome_probability(twin, true_class)
    q = twin.parameter_quantiles((0.05, 0.95))["k_pg"]
    return SepsisTwinRun(true_class, before, after, (float(q[0]), float(q[1])), times, wbc)


def check_sepsis_twin(model_cls, **settings) -> EvidenceResult:
    run = run_sepsis_twin(model_cls, **settings)
    lo, hi = run.k_pg_interval

    fig = line_plot([("WBC (noisy)", run.times, run.wbc)], title="Assimilated white-cell counts",
                    xlabel="time (h)", ylabel="WBC (10^3/uL)", points=True)  # fmt: skip
    return EvidenceResult(
        metrics={
            "p_true_before": run.before,
            "p_true_after": run.after,
            "k_pg_q05": lo,
            "k_pg_q95": hi,
        },
        checks={
            "the truth (k_pg 0.6, P0 1) is septic death": run.true_class == "septic death",
            f"P(true outcome) after the data > {PROB_MIN} and > before": run.after > PROB_MIN
            and run.after > run.before,
            "the 90 % interval of k_pg covers the truth 0.6": lo < 0.6 < hi,
        },
        figures=(Figure("The white-cell counts the twin assimilated.", fig),),
        covered=(
            ParameterRange("k_pg", "1/h", lo, hi, "sepsis twin: 90 % posterior on synthetic truth"),
            ParameterRange(
                "wbc",
                "10*3/uL",
                float(run.wbc.min()),
                float(run.wbc.max()),
                "sepsis twin: assimilated counts",
                kind="input",
            ),
        ),
    )


_HERE = "medtwin.credibility.evidence.reynolds2006"
_TESTS = "tests/reference/"
EVIDENCE = Evidence(
    intended_use=(
        "A per-patient twin of the acute inflammatory response to infection that learns the "
        "pathogen load and growth rate from white-cell counts and gives the probability of "
        "each outcome (health, aseptic death, septic death), for research on sepsis "
        "management and trial design; not for bedside decisions."
    ),
    data=(
        "Reynolds et al. 2006 Table 1 parameters (as curated in BIOMD0000000714); the paper's "
        "Fig. 2 outcomes; synthetic white-cell counts from the model with its declared noise."
    ),
    limitations=(
        "A reduced four-variable model in arbitrary units: N*, D and C_A are not measurable; "
        "the WBC mapping is a medtwin assumption.",
        "The host response is fixed at the published values, which were chosen for qualitative "
        "behaviour, not fitted to patients: the peak damage depends on several of them (k_dn, "
        "mu_d, c_inf, ...) about as much as on the learnt growth rate, so the sensitivity item "
        "fails and outcome probabilities are conditional on the published host.",
        "No clinical validation: the outcome classes are compared with the paper's own "
        "simulations, not with patients.",
        "Near a region boundary trajectories linger by the saddle and the class depends on the "
        "integrator.",
    ),
    domain_note="k_pg 0.3-0.6 /h and P0 0.1-20 (x 1e6 cells/cc), the outcome cases' span.",
    domain=f"{_HERE}:validated_ranges",
    items=(
        EvidenceItem(
            "outcomes", "The paper's three outcomes of infection", "validation",
            ("output_comparison", "test_conditions"), "medium",
            "every case settles to its expected class by 500 h and stays there at 1000 h",
            f"{_HERE}:check_outcomes",
            {"fast": {"cases": "published"}, "full": {"cases": "all"}},
            reference="Reynolds et al. 2006, Fig. 2",
            test=_TESTS + "test_reynolds2006_outcomes.py",
        ),
        EvidenceItem(
            "equilibria", "Settled states against independently solved equilibria",
            "verification", ("code_verification",), "high",
            "settled states equal the fsolve equilibria of eqs. (2.1)-(2.4) within 1e-5 "
            "relative + 1e-5 absolute; those equal the published values to 1e-5",
            f"{_HERE}:check_equilibria",
            {"fast": {"cases": "published"}, "full": {"cases": "all"}},
            reference="Reynolds et al. 2006, eqs. (2.1)-(2.4)",
            test=_TESTS + "test_reynolds2006_outcomes.py",
        ),
        EvidenceItem(
            "reference_solver", "RK4 against diffrax Dopri5 at 1e-10", "convergence",
            ("calculation_verification",), "high",
            "end states within 1e-6 relative + 1e-8 absolute; the same classes",
            f"{_HERE}:check_reference_solver", {"fast": {}, "full": {}},
            test=_TESTS + "test_reynolds2006_outcomes.py",
        ),
        EvidenceItem(
            "sensitivity", "Morris screening of the peak tissue damage", "sensitivity",
            ("model_inputs",), "medium",
            "every parameter with mu* >= 10 % of the largest is learnt or declared characterised",
            "medtwin.credibility.evidence.sensitivity:check_sensitivity",
            {p: {"observable": "damage", "stat": "max", "t1": 168.0, "learnt": ("k_pg", "P0"),
                 "r": r} for p, r in (("fast", 10), ("full", 40))},
            reference="Morris 1991; Campolongo et al. 2007",
        ),
        EvidenceItem(
            "identifiability", "k_pg and P0 from a day of 2-hourly white-cell counts",
            "identifiability", ("model_inputs",), "medium",
            "Fisher information of full rank; both 95 % profile-likelihood intervals closed",
            "medtwin.credibility.evidence.identifiability:check_identifiability",
            {p: {"learnt": ("k_pg", "P0"), "truth": {"k_pg": 0.6, "P0": 1.0},
                 "design": {"wbc": tuple(float(t) for t in range(2, 25, 2))}}
             for p in ("fast", "full")},
            reference="Raue et al. 2009 (profile likelihood)",
        ),
        EvidenceItem(
            "sepsis_twin", "The sepsis twin learns the outcome from white-cell counts",
            "validation",
            ("test_samples", "equivalence_of_inputs", "model_inputs", "relevance"), "medium",
            "P(true outcome) > 0.8 and above the prior's after 24 h of 2-hourly WBC; the 90 % "
            "interval of k_pg covers the truth",
            f"{_HERE}:check_sepsis_twin", {"fast": {}, "full": {}},
            test=_TESTS + "test_sepsis_twin.py",
        ),
    ),
)  # fmt: skip
