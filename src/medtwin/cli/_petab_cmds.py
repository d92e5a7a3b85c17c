"""``medtwin petab``: calibration problems of the systems-biology community.

``medtwin petab llh PROBLEM.yaml`` loads a PEtab v1 problem (:func:`medtwin.petab.load_petab`)
and prints its size and the log-likelihood at the nominal parameters, with the norm of its
gradient (the PEtab benchmark collection's check of a simulator).

``medtwin petab fit PROBLEM.yaml --starts N --seed S --out FITTED.tsv`` calibrates it by seeded
multi-start L-BFGS-B with the JAX gradient (:func:`medtwin.petab.fit`), prints the best
parameters (linear units) and how many starts reached the best value (a waterfall's first
step), and writes the problem's parameter table with the fitted values as ``nominalValue``
(a PEtab table: another tool can start from it).
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ..errors import DataError, MedtwinError
from ..limits import SEED
from ._checks import OVERWRITE_HELP, atomic, input_file, limit, output_file
from ._store_cmds import _one_line_errors

__all__ = ["register"]

console = Console(width=150)
petab_app = typer.Typer(
    help="PEtab problems: the log-likelihood at the nominal parameters, a multi-start fit.",
    no_args_is_help=True,
)
Problem = Annotated[Path, typer.Argument(help="The problem's PEtab YAML file.")]
MAX_STARTS = 1000  # each start is a local optimisation of up to --maxiter gradient calls
REACHED = 1e-3  # a start "reaches" the best value within this (log-likelihood units)


def _load(problem: Path):
    input_file(problem, "a PEtab problem's YAML file")
    try:
        from ..petab import load_petab
    except ImportError as exc:  # petab or python-libsbml missing: the message names the extra
        raise MedtwinError(
            f"medtwin petab needs the petab extra ({exc.name} is missing). Install it with "
            "`pip install 'medtwin[petab]'`."
        ) from None
    return load_petab(problem)


def llh_command(problem: Problem) -> None:
    """The log-likelihood of a PEtab problem at its nominal parameters."""
    p = _load(problem)
    t = time.perf_counter()
    value, grad = p.value_and_grad(p.z_nominal)
    first = time.perf_counter() - t
    t = time.perf_counter()
    value, grad = p.value_and_grad(p.z_nominal)
    again = time.perf_counter() - t
    console.print(
        f"{problem.name}: {len(p.measurement)} measurements in {p.ts.shape[0]} experiments, "
        f"{len(p.parameter_ids)} estimated parameters"
    )
    console.print(f"log-likelihood at the nominal parameters: {-float(value):.10g}")
    console.print(f"gradient norm there (on the parameter scales): "
                  f"{float(np.linalg.norm(np.asarray(grad))):.4g}")  # fmt: skip
    console.print(f"value and gradient: {first:.1f} s the first time (compiling), "
                  f"{again:.3f} s after")  # fmt: skip


def fit_command(
    problem: Problem,
    starts: Annotated[int, typer.Option(help="Number of seeded starts within the bounds.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the start points.")] = 0,
    maxiter: Annotated[int, typer.Option(help="L-BFGS-B iterations per start.")] = 1000,
    prior: Annotated[
        bool, typer.Option("--prior", help="Minimise nllh + the tables' priors (MAP).")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="TSV: the parameter table with the fitted values.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
) -> None:
    """Calibrate a PEtab problem by multi-start L-BFGS-B with the JAX gradient."""
    if not 1 <= starts <= MAX_STARTS:
        raise DataError(f"--starts must be an integer in 1..{MAX_STARTS}. Got {starts}.")
    if not 1 <= maxiter <= 100_000:
        raise DataError(f"--maxiter must be an integer in 1..100000. Got {maxiter}.")
    limit(SEED, seed, "--seed")
    out = output_file(out, overwrite=overwrite)
    p = _load(problem)

    from ..petab import fit
    from ..petab._parameters import SCALES

    t = time.perf_counter()
    res = fit(p, n_starts=starts, seed=seed, maxiter=maxiter, prior=prior)
    took = time.perf_counter() - t
    best = np.asarray(p.parameters.from_z(res.z))
    reached = int(np.sum(res.values <= res.value + REACHED))
    what = "negative log-posterior" if prior else "negative log-likelihood"
    console.print(f"{problem.name}: {starts} starts in {took:.1f} s; best {what} "
                  f"{res.value:.10g}; {reached} of {starts} starts within {REACHED:g} of it, "
                  f"{int(res.converged.sum())} converged")  # fmt: skip
    table = Table("parameter", "scale", "nominal", "fitted", "lower", "upper")
    pars = p.parameters
    for pid in res.parameter_ids:
        i = pars.index(pid)
        scale = SCALES[int(pars.scale[i])]
        row = (pars.nominal[i], best[i], pars.lower[i], pars.upper[i])
        table.add_row(pid, scale, *(f"{v:.6g}" for v in row))
    console.print(table)
    if out is not None:
        _write_parameter_table(problem, best, pars.ids, out)
        console.print(f"Wrote the parameter table with the fitted values to {out}")


def _write_parameter_table(
    problem: Path, values: np.ndarray, ids: tuple[str, ...], out: Path
) -> None:
    """The problem's parameter table (its first one) with ``nominalValue`` set to ``values``."""
    import yaml

    spec = yaml.safe_load(problem.read_text())  # read once already by load_petab
    name = spec.get("parameter_file") if isinstance(spec, dict) else None
    if isinstance(name, list):
        name = name[0] if name else None
    if not isinstance(name, str):
        raise DataError(f"{problem.name}: no parameter_file to write the fitted values into.")
    source = problem.parent / name
    with source.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or "parameterId" not in rows[0]:
        raise DataError(f"{source.name}: expected a PEtab parameter table (parameterId, ...).")
    fitted = {pid: float(v) for pid, v in zip(ids, values, strict=True)}
    for row in rows:
        v = fitted.get(row["parameterId"])
        if v is not None and math.isfinite(v):
            row["nominalValue"] = repr(v)
    with atomic(out) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def register(app: typer.Typer) -> None:
    """Add ``medtwin petab llh`` and ``medtwin petab fit`` to the ``medtwin`` app."""
    petab_app.command("llh")(_one_line_errors(llh_command))
    petab_app.command("fit")(_one_line_errors(fit_command))
    app.add_typer(petab_app, name="petab")
