"""``medtwin sbml``: bring your own model from the command line.

``medtwin sbml import FILE.xml`` reads an SBML document as medtwin would simulate it and prints
what it became: the model's name, time unit, states, parameters (SBML id, default), observables
and events. A feature medtwin does not import is refused with one line naming the feature and
the element (:class:`~medtwin.sbml.UnsupportedSBMLError`), exit status 2.

``medtwin sbml simulate FILE.xml --t1 T --out F.csv`` simulates it at its default parameters
(``--set ID=VALUE`` changes one) from 0 to ``T`` in the model's time unit and writes the
observables on a grid of ``--dt``: the columns ``time`` and one per observable (SBML id,
``amount(S)`` or ``concentration(S)``), as libroadrunner's and COPASI's time courses do. A model
without events is integrated by Dopri5 (diffrax) at ``--tol`` (relative and absolute); one with
events locates each trigger within the step at the same tolerance.

Everything that needs no document (the bounds, the paths) is checked before the document is
read; the document is read before JAX is imported.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ..errors import DataError, MedtwinError
from ..limits import SIMULATION_POINTS
from ._checks import OVERWRITE_HELP, input_file, limit, output_file
from ._store_cmds import _one_line_errors

__all__ = ["register"]

console = Console(width=150)
sbml_app = typer.Typer(
    help="Bring your own model: import an SBML document, simulate it.", no_args_is_help=True
)

Document = Annotated[Path, typer.Argument(help="SBML Level 2 or 3 core document (.xml).")]
Name = Annotated[
    str | None, typer.Option(help="The model's medtwin name (default: sbml-<id>-<hash>).")
]
Observables = Annotated[
    str | None,
    typer.Option(help="What to observe: SBML ids, amount(S) or concentration(S), comma-separated "
                 "(default: every species and every quantity moved by a rule)."),
]  # fmt: skip
TimeUnit = Annotated[
    str | None,
    typer.Option("--time-unit", help="s, min, h or d, where the document declares none medtwin "
                 "knows (SBML's default is seconds)."),
]  # fmt: skip


def _load(document: Path, name: str | None, observables: str | None, time_unit: str | None):
    """The imported model class (the document read before JAX loads: it is checked first)."""
    input_file(document, "an SBML document (.xml)")
    if time_unit is not None and time_unit not in ("s", "min", "h", "d"):
        raise DataError(f"--time-unit must be s, min, h or d. Got {time_unit!r}.")
    ids = None
    if observables is not None:
        ids = [o.strip() for o in observables.split(",") if o.strip()]
        if not ids:
            raise DataError(f"--observables expects comma-separated ids. Got {observables!r}.")
    try:
        from ..sbml import load_sbml
    except ImportError as exc:  # python-libsbml missing: the message names the extra
        raise MedtwinError(str(exc)) from None
    return load_sbml(document, name=name, observables=ids, time_unit=time_unit)


def import_command(
    document: Document,
    name: Name = None,
    observables: Observables = None,
    time_unit: TimeUnit = None,
) -> None:
    """Import an SBML document and print the model medtwin makes of it (or the one feature it
    does not import, named)."""
    cls = _load(document, name, observables, time_unit)
    from ..sbml import SBMLEventModel

    kind = "ODE with events" if issubclass(cls, SBMLEventModel) else "ODE"
    console.print(f"[bold]{cls.name}[/bold]: {cls.title or '(no title)'}")
    console.print(f"  {kind}; time unit {cls.time_unit}; {len(cls.states)} states, "
                  f"{len(cls.parameters)} parameters, {len(cls.observables)} observables; "
                  f"SHA-256 {cls.sbml_sha256[:16]}...")  # fmt: skip
    table = Table("parameter", "default", "unit", "description")
    for p in cls.parameters:
        table.add_row(p.name, f"{p.default:.6g}", p.unit, p.description)
    console.print(table)
    console.print("  States: " + ", ".join(s.name for s in cls.states))
    console.print("  Observables: " + ", ".join(o.name for o in cls.observables))
    console.print(f"Next: `medtwin sbml simulate {document} --t1 T --out F.csv`.")


def simulate_command(
    document: Document,
    t1: Annotated[float, typer.Option("--t1", help="End time, in the model's time unit.")],
    dt: Annotated[float, typer.Option(help="Output grid step, in the model's time unit.")] = 1.0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="ID=VALUE: a parameter's value instead of its default."),
    ] = None,
    tol: Annotated[float, typer.Option(help="Relative and absolute tolerance.")] = 1e-8,
    name: Name = None,
    observables: Observables = None,
    time_unit: TimeUnit = None,
    out: Annotated[
        Path | None, typer.Option(help="CSV: time and one column per observable.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
) -> None:
    """Simulate an SBML document from 0 to --t1 and write the observables on a grid of --dt."""
    for value, option in ((t1, "--t1"), (dt, "--dt")):
        if not (math.isfinite(value) and value > 0):
            raise DataError(f"{option} must be a finite number > 0. Got {value!r}.")
    steps = t1 / dt
    limit(SIMULATION_POINTS, round(steps) + 1, f"--t1 / --dt + 1 ({t1:g} / {dt:g} + 1)")
    if abs(steps - round(steps)) > 1e-9 * steps:
        raise DataError(f"--t1 must be a whole number of --dt steps. Got {t1:g} and {dt:g}.")
    if not (math.isfinite(tol) and 1e-14 <= tol <= 1e-2):
        raise DataError(f"--tol must lie in [1e-14, 1e-2]. Got {tol!r}.")
    values = dict(_assignment(s) for s in set_ or [])
    out = output_file(out, overwrite=overwrite)
    cls = _load(document, name, observables, time_unit)

    from ..sbml import SBMLEventModel
    from ..simulate import Adaptive, simulate

    if issubclass(cls, SBMLEventModel):
        model = cls(input_dt=dt, rtol=tol, atol=tol)
        solver = None
    else:
        model = cls(input_dt=dt)
        solver = Adaptive(rtol=tol, atol=tol, max_steps=1_000_000)
    params = model.make_params(**values)  # an unknown id names the model's parameters
    traj = simulate(model, params, t1=t1, solver=solver, save_states=False)
    if not bool(traj.ok):
        raise MedtwinError(
            f"The simulation of {cls.name!r} failed (status {int(traj.status)}): the solver "
            "did not reach --t1 within its step budget. Try a looser --tol or a shorter --t1."
        )
    ts, obs = np.asarray(traj.ts), np.asarray(traj.observables)
    if out is None:
        table = Table(f"observable [{cls.time_unit}]", "at 0", f"at {t1:g}", "min", "max")
        for j, o in enumerate(cls.observables):
            col = obs[:, j]
            table.add_row(o.name, *(f"{v:.6g}" for v in (col[0], col[-1], col.min(), col.max())))
        console.print(table)
        return
    from ..data.csvio import write_csv

    header = ["time", *(o.name for o in cls.observables)]
    write_csv(out, header, np.column_stack([ts, obs]).tolist(), digits=12, option="--out")
    console.print(f"Wrote {len(ts)} rows to {out}")


def _assignment(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not sep or not key.strip() or not math.isfinite(number):
        raise DataError(f"--set expects ID=VALUE with a finite number. Got {text!r}.")
    return key.strip(), number


def register(app: typer.Typer) -> None:
    """Add ``medtwin sbml import`` and ``medtwin sbml simulate`` to the ``medtwin`` app."""
    sbml_app.command("import")(_one_line_errors(import_command))
    sbml_app.command("simulate")(_one_line_errors(simulate_command))
    app.add_typer(sbml_app, name="sbml")
