"""load_petab(): a PEtab v1 problem (YAML) in, a :class:`~._problem.PetabProblem` out.

The SBML model goes through :func:`medtwin.sbml.load_sbml`; the tables are mapped onto the
model here (see :mod:`._problem` for what the arrays mean). Refused, with what was expected and
how to fix it: an SBML model with events (not yet simulated by the likelihood), measurements
at ``time = inf`` (steady-state measurements), a condition-table column that is no parameter,
species or compartment of the model, a quantity set by a condition that an assignment rule
computes at every time, formulas naming unknown identifiers, and override cells whose count
does not match the placeholders of the observable. A condition that sets a quantity the
document computes by an initial assignment replaces that assignment (:mod:`._initial`).
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from ..errors import DataError, ModelError
from ..sbml import SBMLEventModel, SBMLModel, load_sbml
from ..sbml._mathml import free_symbols
from ..sbml._model import resolve
from ..sbml._program import amount_key
from ._formula import parse_formula, replace_time
from ._initial import override_initial_assignments
from ._noise import DISTRIBUTIONS, TRANSFORMATIONS, code
from ._parameters import Parameters, prior_code, scale_code
from ._problem import PetabProblem, _gather, _Observable
from ._read import Cell, Tables, read_problem
from ._solve import SolverSettings, jump_expressions

__all__ = ["load_petab"]

_PLACEHOLDER = re.compile(r"^(observableParameter|noiseParameter)(\d+)_(.+)$")


def load_petab(
    yaml_path: str | os.PathLike[str], *, settings: SolverSettings | None = None
) -> PetabProblem:
    """Load a PEtab v1 problem: its SBML model (through :func:`medtwin.sbml.load_sbml`), the
    parameter, condition, observable and measurement tables, for
    :meth:`~medtwin.petab.PetabProblem.nllh` and its gradient.

    ``settings``: the ODE solver and tolerances (:class:`~medtwin.petab.SolverSettings`;
    default diffrax ``Kvaerno5``, rtol 1e-8, atol 1e-10).

    Supported: observable formulas over the model's species (their SBML values:
    concentrations unless ``hasOnlySubstanceUnits``), parameters, compartments and reactions,
    ``observableParameter``/``noiseParameter`` placeholders with per-measurement overrides,
    noise distributions ``normal`` and ``laplace`` with transformations ``lin``, ``log`` and
    ``log10``, parameter scales ``lin``/``log``/``log10``, condition-specific values of
    parameters, compartments and species' initial values, and pre-equilibration to steady
    state. Raises :class:`~medtwin.errors.DataError` for what is refused (module docstring).
    """
    read = read_problem(yaml_path)
    tables, text = override_initial_assignments(read)
    model_cls = load_sbml(read.sbml if text is None else text)
    if issubclass(model_cls, SBMLEventModel):
        raise DataError(
            f"The SBML model of the PEtab problem {str(yaml_path)!r} has events; the PEtab "
            "likelihood simulates models without events only (so far). Remove the events or "
            "use a tool that supports them (AMICI)."
        )
    assert issubclass(model_cls, SBMLModel)
    model = model_cls()
    params = _parameters(tables)
    return _compile(tables, model, params, settings or SolverSettings(), read.conditions)


def _parameters(tables: Tables) -> Parameters:
    rows = tables.parameters
    if not rows:
        raise DataError("The PEtab parameter table is empty; at least one parameter is expected.")
    ids = tuple(r.id for r in rows)
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise DataError(f"The PEtab parameter table repeats parameterId(s) {dup}; each once.")
    for r in rows:
        if r.estimate and not r.lower <= r.nominal <= r.upper:
            raise DataError(
                f"Parameter {r.id!r} has nominalValue {r.nominal:g} outside its bounds "
                f"[{r.lower:g}, {r.upper:g}]. Fix the parameter table."
            )
        if r.estimate and scale_code(r.scale, r.id) > 0 and r.lower <= 0:
            raise DataError(
                f"Parameter {r.id!r} is estimated on {r.scale} scale but its lowerBound is "
                f"{r.lower:g}; a positive lower bound is expected. Raise it or use 'lin'."
            )
    return Parameters(
        ids,
        np.array([scale_code(r.scale, r.id) for r in rows], np.int64),
        np.array([r.lower for r in rows]),
        np.array([r.upper for r in rows]),
        np.array([r.nominal for r in rows]),
        np.array([i for i, r in enumerate(rows) if r.estimate], np.int64),
        np.array([prior_code(r.prior, r.id) for r in rows], np.int64),
        np.array([r.prior_args for r in rows], np.float64).reshape(len(rows), 2),
    )


def _condition(tables: Tables, cid: str, role: str) -> dict[str, Cell]:
    if cid not in tables.conditions:
        raise DataError(
            f"The measurement table uses {role} condition {cid!r}, which the condition table "
            f"lacks. Expected one of: {', '.join(tables.conditions)}. Add it."
        )
    return tables.conditions[cid]


def _compile(tables: Tables, model: SBMLModel, params: Parameters, settings: SolverSettings,
             given: dict[str, dict[str, Cell]]) -> PetabProblem:  # fmt: skip
    layout = model.equations.layout
    pnames = list(model.parameter_names)
    defaults = [float(p.default) for p in model.parameters]
    state_keys = model.equations.state_keys
    meas = tables.measurements
    if not meas:
        raise DataError("The PEtab measurement table is empty; at least one row is expected.")
    for m in meas:
        if not math.isfinite(m.time) or m.time < 0:
            raise DataError(
                f"A measurement of {m.observable!r} in condition {m.condition!r} is at time "
                f"{m.time}; finite times >= 0 are expected (steady-state measurements, "
                "time = inf, are not supported yet)."
            )
    # the columns of the condition table: model parameters (including compartments and the
    # species whose initial value the document gives)
    columns = {c for cond in tables.conditions.values() for c in cond}
    for c in sorted(columns):
        if c not in pnames:
            kind = "quantity set by an assignment rule" if c in layout.rhs_defs else "id"
            raise DataError(
                f"The condition table has a column {c!r}; it must name a parameter, compartment "
                f"or species of the model whose value the SBML document gives. {c!r} is a "
                f"{kind} the model computes or does not have. Set the quantities it is "
                "computed from instead, or remove the column."
            )
    experiments = sorted({(m.preeq, m.condition) for m in meas})
    exp_index = {e: i for i, e in enumerate(experiments)}

    def model_cells(cid: str, role: str) -> list[Cell]:
        cond = _condition(tables, cid, role)
        out: list[Cell] = []
        for name in pnames:
            v = cond.get(name, math.nan)
            if isinstance(v, float) and math.isnan(v):
                v = name if name in params.ids else math.nan
            out.append(v)
        return out

    p_sim = _gather([model_cells(c, "simulation") for _, c in experiments], len(pnames),
                    params, defaults, lambda i: f"Condition {experiments[i][1]!r}")  # fmt: skip
    has_pre = any(pre for pre, _ in experiments)
    p_pre = reinit = None
    if has_pre:
        p_pre = _gather([model_cells(pre or c, "pre-equilibration") for pre, c in experiments],
                        len(pnames), params, defaults,
                        lambda i: f"Condition {experiments[i][0]!r}")  # fmt: skip
        reinit = np.zeros((len(experiments), len(state_keys)), bool)
        for i, (pre, c) in enumerate(experiments):
            cond = given[c]  # the table as written: which states the condition sets
            for j, key in enumerate(state_keys):
                sid = key[len("amount(") : -1] if key.startswith("amount(") else key
                v = cond.get(sid, math.nan)
                set_here = not (isinstance(v, float) and math.isnan(v))
                reinit[i, j] = (not pre) or (set_here and key in (amount_key(sid), sid))
    # measurement times per experiment
    times: list[list[float]] = [[] for _ in experiments]
    for m in meas:
        times[exp_index[(m.preeq, m.condition)]].append(m.time)
    uniq = [sorted(set(t)) for t in times]
    width = max(len(u) for u in uniq)
    ts = np.array([u + [u[-1]] * (width - len(u)) for u in uniq], np.float64)
    experiment = np.array([exp_index[(m.preeq, m.condition)] for m in meas], np.int64)
    time_index = np.array([uniq[exp_index[(m.preeq, m.condition)]].index(m.time) for m in meas],
                          np.int64)  # fmt: skip
    observables, table_names, n_obs, n_noise = _observables(tables, model, params)
    obs_par = _overrides(tables, "observable", n_obs, params)
    noise_par = _overrides(tables, "noise", n_noise, params)
    consts = frozenset(k for k in layout.consts if not k.startswith("amount("))
    jumps = jump_expressions(list(layout.rhs_defs.values()), consts)
    return PetabProblem(
        model, params, settings, observables,
        np.array([m.value for m in meas]), np.array([m.time for m in meas]),
        experiment, time_index, ts, p_sim, p_pre, reinit, obs_par, noise_par,
        table_names, jumps,
    )  # fmt: skip


def _observables(tables: Tables, model: SBMLModel, params: Parameters):
    layout = model.equations.layout
    used = {m.observable for m in tables.measurements}
    known = {o.id for o in tables.observables}
    missing = sorted(used - known)
    if missing:
        raise DataError(
            f"The measurement table uses observable(s) {missing} that the observable table "
            f"lacks. Expected one of: {', '.join(sorted(known))}. Add them."
        )
    observables = []
    table_names: set[str] = set()
    n_obs = {o.id: 0 for o in tables.observables}
    n_noise = dict(n_obs)
    rows_of: dict[str, list[int]] = {}
    for i, m in enumerate(tables.measurements):
        rows_of.setdefault(m.observable, []).append(i)
    for o in tables.observables:
        if o.id not in used:
            continue
        formula = parse_formula(o.formula, f"observableFormula of observable {o.id!r}")
        noise = parse_formula(o.noise, f"noiseFormula of observable {o.id!r}")
        names: list[str] = []
        for what, expr in (("observableFormula", formula), ("noiseFormula", noise)):
            for s in sorted(free_symbols(expr)):
                ph = _PLACEHOLDER.match(s)
                if ph is not None and ph.group(3) == o.id:
                    counts = n_obs if ph.group(1) == "observableParameter" else n_noise
                    counts[o.id] = max(counts[o.id], int(ph.group(2)))
                    continue
                try:
                    resolve(layout, s)
                    if s not in names:
                        names.append(s)
                    continue
                except ModelError:
                    pass
                if s in params.ids:
                    table_names.add(s)
                elif s in ("t", "time"):
                    continue
                else:
                    raise DataError(
                        f"The {what} of observable {o.id!r} names {s!r}, which is no model "
                        "quantity (species, parameter, compartment, reaction), no parameter of "
                        f"the parameter table and no placeholder such as "
                        f"observableParameter1_{o.id}. Fix the formula or add the parameter."
                    )
        if "t" not in names and "t" not in table_names:
            formula, noise = replace_time(formula, "t"), replace_time(noise, "t")
        observables.append(_Observable(
            o.id, formula, noise, tuple(names),
            code(o.transformation, TRANSFORMATIONS, "observableTransformation", o.id),
            code(o.distribution, DISTRIBUTIONS, "noiseDistribution", o.id),
            tuple(rows_of[o.id]),
        ))  # fmt: skip
    return tuple(observables), tuple(sorted(table_names)), n_obs, n_noise


def _overrides(tables: Tables, kind: str, counts: dict[str, int], params: Parameters):
    cells = []
    for i, m in enumerate(tables.measurements):
        given = m.observable_parameters if kind == "observable" else m.noise_parameters
        want = counts[m.observable]
        if len(given) != want:
            raise DataError(
                f"Measurement table row {i + 1} (observable {m.observable!r}) gives "
                f"{len(given)} {kind}Parameters ({';'.join(map(str, given)) or 'none'}); the "
                f"observable's formulas have {want} {kind}Parameter placeholder(s). Give one "
                "value or parameter id per placeholder, separated by ';'."
            )
        cells.append(list(given))
    width = max(counts.values(), default=0)
    return _gather(cells, width, params, [math.nan] * width,
                   lambda i: f"Measurement table row {i + 1}")  # fmt: skip
