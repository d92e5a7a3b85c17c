"""Sensitivity evidence for any registered model: which parameters the twin's output depends on,
and whether the twin learns them.

One check for every model (each declares its settings): Morris elementary-effects screening
(:func:`medtwin.analysis.morris`, SALib) of one summary of one observable over a declared
scenario, every parameter varied at once -- the learnt ones over the model's validated domain
(:func:`medtwin.credibility.validated_domain`; without one, over their declared bounds), each
fixed one by +-``spread`` (default 20 %) around its declared value (a parameter declared 0 cannot
be scaled and is left out, named in the notes).

The acceptance, in V&V 40's "model inputs" factor: an output that depends strongly on a
parameter the twin does not learn is only as good as that fixed value. So every parameter whose
mu* is at least ``threshold`` (10 %) of the largest must be learnt by the twin, or declared
``characterised`` with the reason its fixed value is trusted (the reasons are printed with the
result; the model's limitations say the same). An influential fixed parameter nobody declared
fails the item, and the dossier shows it. Learnt parameters the summary is nearly blind to (mu*
below its bootstrap half-width) are named in the notes: the screening of one summary cannot say
they are unidentifiable (the twin learns from the whole trajectory; the identifiability items
say that), but a reader should know.

The summaries: ``mean``, ``min``, ``max`` or ``final`` of the observable, or ``rms_change``,
the RMS distance of the whole trajectory from the one at the declared values (sensitive to
timing as well as level).

Reference: Morris MD, Technometrics 33:161-174 (1991); Campolongo F, Cariboni J, Saltelli A,
Environ Model Softw 22:1509-1518 (2007) (mu*); ASME V&V 40-2018 section 8 (model inputs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...analysis.sensitivity import Problem, morris
from ...simulate import simulate
from .._domain import validated_domain
from .._evidence import EvidenceResult, Figure, resolve
from .._svg import line_plot

__all__ = ["THRESHOLD", "check_sensitivity", "screening_problem"]

THRESHOLD = 0.1  # mu* relative to the largest that makes a parameter influential


def screening_problem(model, learnt: Sequence[str], domain: Any, spread: float):
    """The :class:`Problem` of the screening and the parameters left out (declared 0)."""
    base = np.asarray(model.make_params(), dtype=np.float64)
    names, bounds, left_out = [], [], []
    for spec, value in zip(model.parameters, base, strict=True):
        r = domain.parameter(spec.name) if domain is not None else None
        if spec.name in learnt:
            lo, hi = (r.low, r.high) if r is not None and r.high > r.low else spec.bounds
        elif value != 0.0:
            lo, hi = sorted((value * (1 - spread), value * (1 + spread)))
        else:
            left_out.append(spec.name)
            continue
        names.append(spec.name)
        bounds.append((float(lo), float(hi)))
    return Problem(tuple(names), tuple(bounds), tuple(False for _ in names)), left_out


class _Output:
    """Rows of parameters -> the ``stat`` of ``observable`` over the scenario (one vmapped
    ``simulate`` call per chunk; ``rms_change`` runs the declared values once more)."""

    def __init__(self, model, names, regimen, t1: float, observable: str, stat: str) -> None:
        self.model, self.names, self.regimen = model, names, regimen
        self.t1, self.observable, self.stat = t1, observable, stat
        self.base = np.asarray(model.make_params(), dtype=np.float64)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        full = np.tile(self.base, (rows.shape[0], 1))
        for j, name in enumerate(self.names):
            full[:, self.model.param_index(name)] = rows[:, j]
        traj = simulate(self.model, full, self.regimen, t1=self.t1, save_states=False)
        y = np.asarray(traj.observable(self.observable))
        if self.stat == "rms_change":  # the trajectory's RMS distance from the declared values'
            ref = simulate(self.model, self.base[None], self.regimen, t1=self.t1,
                           save_states=False)  # fmt: skip
            return np.sqrt(np.mean((y - np.asarray(ref.observable(self.observable))) ** 2, axis=1))
        return {"mean": y.mean(axis=1), "min": y.min(axis=1), "max": y.max(axis=1),
                "final": y[:, -1]}[self.stat]  # fmt: skip


def check_sensitivity(
    model_cls,
    *,
    observable: str,
    stat: str,
    t1: float,
    learnt: Sequence[str],
    characterised: Mapping[str, str] | None = None,
    regimen: str | None = None,
    model_args: Sequence[Any] = (),
    spread: float = 0.2,
    r: int = 10,
    seed: int = 1,
    threshold: float = THRESHOLD,
) -> EvidenceResult:
    """Morris screening of ``stat`` (mean, max or final) of ``observable`` over ``[0, t1]``
    under ``regimen`` (a ``"module:NAME"`` Regimen, or none) with ``r`` trajectories; the
    checks of the module docstring. ``characterised`` maps a fixed parameter to the reason its
    value is trusted."""
    model = model_cls(*model_args)
    characterised = dict(characterised or {})
    domain = validated_domain(model.name)
    problem, left_out = screening_problem(model, tuple(learnt), domain, spread)
    scenario = resolve(regimen) if regimen else None
    out = _Output(model, problem.names, scenario, float(t1), observable, stat)
    res = morris(out, problem, r=int(r), seed=int(seed))
    top = float(res.mu_star.max())
    rel = res.mu_star / top if top > 0 else np.zeros_like(res.mu_star)
    half = res.mu_star_conf
    metrics: dict[str, float] = {
        f"mu_star_rel_{n}": float(v) for n, v in zip(problem.names, rel, strict=True)
    }
    metrics["evaluations"] = float(res.n_evaluations)
    influential = [n for n, v in zip(problem.names, rel, strict=True) if v >= threshold]
    frozen = [n for n in influential if n not in learnt and n not in characterised]
    blind = [n for n, m, h in zip(problem.names, res.mu_star, half, strict=True)
             if n in learnt and not m > h]  # fmt: skip
    checks = {
        f"every parameter with mu* >= {threshold:.0%} of the largest is learnt or declared "
        f"characterised (influential: {', '.join(influential)}"
        + (f"; neither: {', '.join(frozen)})" if frozen else ")"): not frozen,
    }
    order = np.argsort(-rel)
    learnt_rank = [(k, rel[i]) for k, i in enumerate(order) if problem.names[i] in learnt]
    fixed_rank = [(k, rel[i]) for k, i in enumerate(order) if problem.names[i] not in learnt]
    groups = (("learnt by the twin", learnt_rank), ("fixed", fixed_rank))
    series = [(label, [k + 1 for k, _ in pts], [v for _, v in pts]) for label, pts in groups if pts]
    fig = line_plot(series, title=f"Morris mu* of the {stat} {observable}, relative to the largest",
                    xlabel="rank", ylabel="mu* / max mu*", points=True)  # fmt: skip
    ranking = ", ".join(f"{problem.names[i]} {rel[i]:.2f}" for i in order)
    notes = [f"Ranking (mu* / largest): {ranking}."]
    notes += [f"{n} is fixed but characterised: {why}" for n, why in characterised.items()
              if n in influential]  # fmt: skip
    if blind:
        notes.append(f"Learnt, but the summary is nearly blind to (mu* below its bootstrap "
                     f"half-width): {', '.join(blind)}.")  # fmt: skip
    if left_out:
        notes.append(f"Declared 0, not varied: {', '.join(left_out)}.")
    return EvidenceResult(
        metrics=metrics,
        checks=checks,
        figures=(
            Figure(f"Morris screening, r = {r} trajectories ({res.n_evaluations} runs).", fig),
        ),
        notes=" ".join(notes),
    )
