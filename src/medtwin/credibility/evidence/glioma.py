"""Evidence for the Swanson proliferation-invasion glioma model.

The computations behind ``tests/reference/test_glioma_verification.py`` and
``tests/reference/test_glioma_calibration.py`` (their docstrings give the analytic facts and
tolerances): the Fisher-KPP front speed 2 sqrt(D rho) (Fisher 1937; Kolmogorov, Petrovsky and
Piskunov 1937), mass conservation without proliferation, second-order convergence to the 3D
heat kernel, agreement of the 1D radial, 2D and 3D grids, and recovery of D and rho from
phantom scans by the two-radius estimate (Harpold et al. 2007) and by the twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np

from ...assimilate import SpecPrior, assimilate
from ...imaging import ScanSeries, synthetic_phantom, two_radius_estimate
from ...models.oncology import synthetic_brain
from ...simulate import simulate
from ...twin import Twin
from .._evidence import Evidence, EvidenceItem, EvidenceResult, Figure, ParameterRange
from .._svg import line_plot

SPEED_TOL = 0.01
MASS_TOL = 1e-10
ORDER, ORDER_TOL = 2.0, 0.2
AGREE_RTOL = 0.02
RECOVERY_TOL = 0.10


def front_speed(model_cls, *, D: float = 0.05, rho: float = 0.1, cells: int = 1700,
                h: float = 0.2, t_a: float = 1500.0, t_b: float = 2000.0) -> float:  # fmt: skip
    """The slope of the T2 radius over [t_a, t_b] on a radial grid, over 2 sqrt(D rho)."""
    m = model_cls(1, (cells,), h)
    p = m.make_params(D=D, rho=rho, R0=5.0)
    traj = simulate(m, p, t1=t_b, saveat=np.array([t_a, t_b]), save_states=False)
    r = np.asarray(traj.observable("radius_t2"))
    return float((r[1] - r[0]) / (t_b - t_a) / (2 * math.sqrt(D * rho)))


def check_front_speed(model_cls, **settings) -> EvidenceResult:
    ratio = front_speed(model_cls, **settings)
    return EvidenceResult(
        metrics={"speed_over_2sqrt_D_rho": ratio},
        checks={f"front speed within {SPEED_TOL:.0%} of 2 sqrt(D rho)": abs(ratio - 1) < SPEED_TOL},
        covered=(
            ParameterRange(
                "D", "mm^2/d", settings.get("D", 0.05), settings.get("D", 0.05), "front speed"
            ),
        ),
    )


def mass_change(m, y0, t1: float = 30.0) -> float:
    """Relative change of the tumour mass over [0, t1] with rho = 0."""
    p = m.make_params(rho=0.0)
    traj = simulate(m, p, y0=y0, t1=t1, saveat=np.array([t1]))
    m0, m1 = float(m.mass(y0)), float(m.mass(np.asarray(traj.states)[-1]))
    return abs(m1 - m0) / m0


def mass_cases(model_cls, n3: int = 20) -> dict[str, float]:
    """The relative mass change on a radial grid and on an ``n3``^3 brain with grey/white."""
    m1 = model_cls(1, (80,), 0.5)
    y1 = np.exp(-(((np.arange(80) + 0.5) * 0.5) ** 2) / 20.0)
    mask, white = synthetic_brain((n3, n3, n3), 1.0, cortex=2.0)
    m3 = model_cls(3, (n3, n3, n3), 1.0, mask=mask, white=white)
    y3 = np.exp(-((m3.distance() - 3.0) ** 2) / 8.0) * mask
    return {"radial": mass_change(m1, y1), "brain_3d": mass_change(m3, y3.reshape(-1))}


def check_mass(model_cls, *, n3: int = 20) -> EvidenceResult:
    change = mass_cases(model_cls, n3)
    return EvidenceResult(
        metrics={f"relative_mass_change_{k}": v for k, v in change.items()},
        checks={
            f"{k}: mass conserved to {MASS_TOL:g} with rho = 0": v < MASS_TOL
            for k, v in change.items()
        },
    )


def _heat_kernel(r, t, D):
    return np.exp(-(r**2) / (4 * D * t)) / (4 * math.pi * D * t) ** 1.5


def convergence(model_cls, hs: tuple[float, ...] = (0.4, 0.2, 0.1)) -> tuple[list, np.ndarray]:
    """L2 errors against the 3D heat kernel (rho = 0, dt_s proportional to h^2) and the
    observed orders between successive grids."""
    D, t0, t1 = 0.1, 10.0, 20.0
    errs = []
    for k, h in enumerate(hs):
        n = round(24.0 / h)
        m = model_cls(1, (n,), h, substeps=2 * 4**k)
        r = (np.arange(n) + 0.5) * h
        y0 = _heat_kernel(r, t0, D) / _heat_kernel(0.0, t0, D)
        p = m.make_params(D=D, rho=0.0)
        end = np.asarray(simulate(m, p, y0=y0, t0=t0, t1=t1, saveat=np.array([t1])).states)[-1]
        exact = _heat_kernel(r, t1, D) / _heat_kernel(0.0, t0, D)
        errs.append(math.sqrt(np.sum(m.cell_volumes() * (end - exact) ** 2)))
    return errs, np.log2(np.array(errs[:-1]) / np.array(errs[1:]))


def check_convergence(model_cls, *, hs: tuple[float, ...] = (0.4, 0.2, 0.1)) -> EvidenceResult:
    errs, orders = convergence(model_cls, hs)
    fig = line_plot([("L2 error", list(hs), errs), ("order 2", list(hs),
                     [errs[0] * (h / hs[0]) ** 2 for h in hs])], title="Grid convergence",
                    xlabel="h (mm)", ylabel="L2 error", logx=True, logy=True)  # fmt: skip
    return EvidenceResult(
        metrics={**{f"order_{i}": float(o) for i, o in enumerate(orders)}},
        checks={
            f"order {float(o):.3f} within {ORDER_TOL} of {ORDER}": bool(abs(o - ORDER) < ORDER_TOL)
            for o in orders
        },
        figures=(Figure("Error against the 3D heat kernel, radial grid, dt_s ~ h^2.", fig),),
    )


def dimension_radii(model_cls, *, R0: float = 7.0, t1: float = 15.0, radial: int = 80,
                    cube: int = 32, square: int = 44) -> dict[str, np.ndarray]:  # fmt: skip
    """(T1Gd, T2) radii at ``t1`` of a symmetric tumour: radial 3D ('r3') and 2D ('r2') at
    h = 0.25, a ``cube``^3 grid at 1 mm ('c3') and a ``square``^2 grid at 0.75 mm ('c2')."""
    kw = {"D": 0.1, "rho": 0.05, "R0": R0}
    out = {}
    for name, m in (
        ("r3", model_cls(1, (radial,), 0.25)),
        ("r2", model_cls(1, (radial,), 0.25, radial_dim=2)),
        ("c3", model_cls(3, (cube, cube, cube), 1.0)),
        ("c2", model_cls(2, (square, square), 0.75)),
    ):
        traj = simulate(m, m.make_params(**kw), t1=t1, saveat=np.array([t1]), save_states=False)
        out[name] = np.asarray(traj.observables)[-1]
    return out


def check_dimensions(model_cls, **settings) -> EvidenceResult:
    out = dimension_radii(model_cls, **settings)
    dev = {
        "3d": float(np.max(np.abs(out["c3"] / out["r3"] - 1))),
        "2d": float(np.max(np.abs(out["c2"] / out["r2"] - 1))),
    }
    return EvidenceResult(
        metrics={f"max_relative_radius_difference_{k}": v for k, v in dev.items()},
        checks={
            f"{k} grid radii within {AGREE_RTOL:.0%} of the radial grid's": v <= AGREE_RTOL
            for k, v in dev.items()
        },
    )


D_TRUE, RHO_TRUE = 0.12, 0.03


def phantom_series(*, shape: tuple[int, ...] = (72, 72, 72), days=(0, 45, 90, 135),
                   R0: float = 15.0, seed: int = 3):  # fmt: skip
    """Synthetic phantom scans of known D and rho (1 mm voxels, smooth noise of sd 0.05)."""
    return synthetic_phantom(D_TRUE, RHO_TRUE, list(days), R0=R0, shape=shape, seed=seed,
                             radial_spacing=0.2)  # fmt: skip


@dataclass(frozen=True)
class Recovery:
    D_two_radius: float
    rho_two_radius: float
    quantiles: dict[str, tuple]


def recover(model_cls, series: ScanSeries, *, cells: int = 140, h: float = 0.5,
            particles: int = 600) -> Recovery:  # fmt: skip
    """The two-radius estimate and the twin's posterior quantiles (5, 50, 95 %) of D, rho."""
    est = two_radius_estimate(series)
    model = model_cls(1, (cells,), h)
    twin = Twin.create(model, SpecPrior(("D", "rho", "R0")), key=jax.random.key(0), n=particles)
    twin = assimilate(twin, series.observations())
    return Recovery(float(est.D), float(est.rho), twin.parameter_quantiles((0.05, 0.5, 0.95)))


def check_recovery(model_cls, *, shape=(72, 72, 72), cells=140, h=0.5, particles=600):
    ph = phantom_series(shape=tuple(shape))
    series = ph.series()
    rec = recover(model_cls, series, cells=cells, h=h, particles=particles)
    q = rec.quantiles
    prior_width = 2 * 1.645 * 0.8  # the log-normal rho prior's 90 % width in log units
    width = float(np.log(q["rho"][2] / q["rho"][0]))
    fig = line_plot([("T1Gd", series.days, series.radius_t1gd), ("T2", series.days,
                     series.radius_t2)], title="Phantom radii", xlabel="day",
                    ylabel="radius (mm)", points=True)  # fmt: skip
    return EvidenceResult(
        metrics={
            "D_two_radius": rec.D_two_radius,
            "rho_two_radius": rec.rho_two_radius,
            "D_q05": float(q["D"][0]),
            "D_q95": float(q["D"][2]),
            "rho_q05": float(q["rho"][0]),
            "rho_q95": float(q["rho"][2]),
            "rho_log_width_over_prior": width / prior_width,
        },
        checks={
            f"two-radius D within {RECOVERY_TOL:.0%} of {D_TRUE}": abs(
                rec.D_two_radius / D_TRUE - 1
            )
            < RECOVERY_TOL,
            f"two-radius rho within {RECOVERY_TOL:.0%} of {RHO_TRUE}": abs(
                rec.rho_two_radius / RHO_TRUE - 1
            )
            < RECOVERY_TOL,
            "twin 90 % interval of D covers the truth": q["D"][0] < D_TRUE < q["D"][2],
            "twin 90 % interval of rho covers the truth": q["rho"][0] < RHO_TRUE < q["rho"][2],
            "rho posterior narrower than half the prior": width < 0.5 * prior_width,
        },
        figures=(Figure("The phantom's segmented radii the estimates used.", fig),),
        covered=(
            ParameterRange("D", "mm^2/d", float(q["D"][0]), float(q["D"][2]), "phantom twin"),
            ParameterRange("rho", "1/d", float(q["rho"][0]), float(q["rho"][2]), "phantom twin"),
            ParameterRange(
                "radius_t2",
                "mm",
                float(np.min(series.radius_t2)),
                float(np.max(series.radius_t2)),
                "phantom scans",
                kind="input",
            ),
        ),
    )


_HERE = "medtwin.credibility.evidence.glioma"
_TESTS = "tests/reference/"
EVIDENCE = Evidence(
    intended_use=(
        "A per-patient twin of glioma growth (proliferation and invasion) that learns D and rho "
        "from segmented tumour radii on serial MRI and forecasts growth with and without "
        "radiotherapy, for research and for discussing prognosis; not for planning doses."
    ),
    data=(
        "Analytic solutions (Fisher-KPP front speed, the heat kernel); synthetic phantom scans "
        "of known D and rho with smooth imaging noise. No patient images have been used."
    ),
    limitations=(
        "Validated on phantoms only: real segmentations, oedema and mass effect are absent.",
        "The T1Gd and T2 detection thresholds are assumptions shared by the phantom and the "
        "model (Swanson 2008); a different scanner or protocol shifts them.",
        "Spherically symmetric growth in the radial twin; anisotropic white-matter invasion "
        "only on the 3D grid.",
    ),
    domain_note="D 0.01-1 mm^2/d and rho 0.005-0.2 /d (Harpold 2007's range), radii 5-40 mm.",
    items=(
        EvidenceItem(
            "front_speed", "Fisher-KPP front speed 2 sqrt(D rho)", "verification",
            ("code_verification",), "high", "T2 radius slope within 1 % of 2 sqrt(D rho)",
            f"{_HERE}:check_front_speed", {"fast": {}, "full": {}},
            reference="Fisher 1937; Kolmogorov, Petrovsky, Piskunov 1937",
            test=_TESTS + "test_glioma_verification.py",
        ),
        EvidenceItem(
            "mass", "Mass conservation without proliferation", "verification",
            ("code_verification",), "high", "relative mass change < 1e-10 (radial and 3D brain)",
            f"{_HERE}:check_mass", {"fast": {"n3": 12}, "full": {"n3": 20}},
            test=_TESTS + "test_glioma_verification.py",
        ),
        EvidenceItem(
            "convergence", "Second-order convergence to the heat kernel", "convergence",
            ("calculation_verification",), "high", "observed orders within 0.2 of 2",
            f"{_HERE}:check_convergence",
            {"fast": {"hs": (0.4, 0.2)}, "full": {"hs": (0.4, 0.2, 0.1)}},
            test=_TESTS + "test_glioma_verification.py",
        ),
        EvidenceItem(
            "dimensions", "1D radial, 2D and 3D grids agree", "convergence",
            ("calculation_verification",), "medium", "T1Gd and T2 radii within 2 %",
            f"{_HERE}:check_dimensions",
            {"fast": {}, "full": {"R0": 9.0, "t1": 30.0, "radial": 160, "cube": 48,
                                  "square": 64}},
            test=_TESTS + "test_glioma_verification.py",
        ),
        EvidenceItem(
            "sensitivity", "Morris screening of the T2 radius after a year", "sensitivity",
            ("model_inputs",), "medium",
            "every parameter with mu* >= 10 % of the largest is learnt or declared characterised",
            "medtwin.credibility.evidence.sensitivity:check_sensitivity",
            {p: {"observable": "radius_t2", "stat": "final", "t1": 365.0,
                 "learnt": ("D", "rho"), "r": r} for p, r in (("fast", 10), ("full", 40))},
            reference="Morris 1991; Campolongo et al. 2007",
        ),
        EvidenceItem(
            "identifiability", "D and rho from T1Gd and T2 radii on three scans",
            "identifiability", ("model_inputs",), "medium",
            "Fisher information of full rank; both 95 % profile-likelihood intervals closed",
            "medtwin.credibility.evidence.identifiability:check_identifiability",
            {p: {"learnt": ("D", "rho"), "truth": {"D": 0.1, "rho": 0.05},
                 "design": {"radius_t1gd": (30.0, 120.0, 210.0),
                            "radius_t2": (30.0, 120.0, 210.0)}}
             for p in ("fast", "full")},
            reference="Raue et al. 2009 (profile likelihood)",
        ),
        EvidenceItem(
            "recovery", "D and rho recovered from phantom scans", "validation",
            ("output_comparison", "test_samples", "equivalence_of_inputs", "model_inputs",
             "test_conditions", "relevance"), "medium",
            "two-radius D and rho within 10 %; the twin's 90 % intervals hold both and rho's "
            "is less than half as wide as the prior's",
            f"{_HERE}:check_recovery", {"fast": {}, "full": {}},
            reference="Harpold HLP et al. J Neuropathol Exp Neurol 66:1 (2007)",
            test=_TESTS + "test_glioma_calibration.py",
        ),
    ),
)  # fmt: skip
