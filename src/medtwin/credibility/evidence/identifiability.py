"""Identifiability evidence for any registered model: does the context's data design determine
the parameters the twin learns?

One check for every model (each declares its settings): the readings the context of use
collects (``design``: observable -> times) are predicted at a declared ``truth`` without noise --
"expected data", whose maximum-likelihood estimate is the truth itself -- and
:func:`medtwin.analysis.identifiability` computes the Fisher information of the learnt
parameters there and profiles the likelihood around it (Raue et al. 2009), with the noise the
model declares for each observable. The acceptance, in V&V 40's "model inputs" factor:

* the Fisher information has full rank in the learnt parameters (no structural
  non-identifiability at the truth), and
* every learnt parameter is *identifiable*: its 95 % profile-likelihood interval is closed on
  both sides (a practically non-identifiable parameter, bounded at most on one side by this
  design, fails the item).

The intervals (relative to the truth) are reported as metrics and plotted as profiles. With
noise-free expected data they are the design's asymptotic intervals, not one noisy sample's.

Reference: Raue A et al. Bioinformatics 25(15):1923-1929 (2009); ASME V&V 40-2018 section 8.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...analysis import identifiability
from ...assimilate import Observations
from ...simulate import simulate
from .._evidence import EvidenceResult, Figure, resolve
from .._svg import line_plot

__all__ = ["check_identifiability", "expected_data"]


def expected_data(model, point, design: Mapping[str, Sequence[float]], regimen=None):
    """The readings of ``design`` (observable -> times) predicted at ``point``, without noise."""
    times = sorted({float(t) for ts in design.values() for t in ts})
    traj = simulate(model, point, regimen, t1=max(times) + model.input_dt,
                    saveat=np.asarray(times), save_states=False)  # fmt: skip
    tt, names, vals = [], [], []
    for name, ts in design.items():
        y = np.asarray(traj.observable(name)).reshape(-1)
        for t in ts:
            tt.append(float(t))
            names.append(name)
            vals.append(float(y[times.index(float(t))]))
    order = np.argsort(tt, kind="stable")
    return Observations(np.asarray(tt)[order], tuple(names[i] for i in order),
                        np.asarray(vals)[order], np.zeros(len(tt), dtype=np.int8))  # fmt: skip


def check_identifiability(
    model_cls,
    *,
    learnt: Sequence[str],
    truth: Mapping[str, float],
    design: Mapping[str, Sequence[float]],
    regimen: str | None = None,
    model_args: Sequence[Any] = (),
    level: float = 0.95,
) -> EvidenceResult:
    """Fisher information and profile likelihood of ``learnt`` at ``truth`` for the readings of
    ``design`` under ``regimen`` (a ``"module:NAME"`` Regimen, or none); the checks of the
    module docstring."""
    model = model_cls(*model_args)
    point = model.make_params(**truth)
    reg = resolve(regimen) if regimen else None
    data = expected_data(model, point, design, reg)
    rep = identifiability(model, data, reg, free=tuple(learnt), point=point, level=level)
    fim, prof = rep.fisher, rep.profiles
    metrics: dict[str, float] = {"fim_rank": float(fim.rank), "readings": float(len(data.times))}
    checks = {f"the Fisher information has full rank ({fim.rank} of {len(learnt)})":
              fim.rank == len(learnt)}  # fmt: skip
    series = []
    for p in prof.profiles:
        value = float(np.asarray(point)[model.param_index(p.name)])
        if p.lower is not None:
            metrics[f"{p.name}_lower_over_truth"] = p.lower / value
        if p.upper is not None:
            metrics[f"{p.name}_upper_over_truth"] = p.upper / value
        checks[f"{p.name}: identifiable (95 % profile interval closed; verdict {p.verdict})"] = (
            p.verdict == "identifiable"
        )
        series.append((p.name, np.asarray(p.values) / value, np.asarray(p.delta)))
    fig = line_plot(series, title="Profile likelihoods around the truth",
                    xlabel="parameter / truth", ylabel="delta negative log-likelihood",
                    logx=True)  # fmt: skip
    design_text = "; ".join(f"{k} at {', '.join(f'{t:g}' for t in v)}" for k, v in design.items())
    return EvidenceResult(
        metrics=metrics,
        checks=checks,
        figures=(Figure(f"Profiles for the design: {design_text} ({model.time_unit}).", fig),),
        notes=f"Expected (noise-free) data at {dict(truth)}; threshold {prof.threshold:.3g}.",
    )
