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

``medtwin sbml export FILE.xml --t1 T --dt D --out ARCHIVE.omex`` writes a COMBINE archive
(OMEX) that another tool (tellurium, COPASI) reruns: the document as SBML L3V2 with the
parameter values (``--set ID=VALUE``, else the defaults), a SED-ML time course from 0 to ``T``
on a grid of ``D`` with the observables as its report, and the manifest. ``--sbml-out F.xml``
writes the SBML alone (with or without ``--out``).

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
    help="Bring your own model: import an SBML document, simulate it, export it.",
    no_args_is_help=True,
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

ArchiveEnd = Annotated[
    float | None,
    typer.Option("--t1", help="End time of the archive's time course, in the model's time unit "
                 "(needed with --out)."),
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
    _points(t1, dt)
    _check_tol(tol)
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


def _points(t1: float, dt: float) -> int:
    """The grid's number of times, 0 and --t1 included (checked: bounds, whole steps)."""
    for value, option in ((t1, "--t1"), (dt, "--dt")):
        if not (math.isfinite(value) and value > 0):
            raise DataError(f"{option} must be a finite number > 0. Got {value!r}.")
    steps = t1 / dt
    limit(SIMULATION_POINTS, round(steps) + 1, f"--t1 / --dt + 1 ({t1:g} / {dt:g} + 1)")
    if abs(steps - round(steps)) > 1e-9 * steps:
        raise DataError(f"--t1 must be a whole number of --dt steps. Got {t1:g} and {dt:g}.")
    return round(steps) + 1


def _check_tol(tol: float) -> None:
    if not (math.isfinite(tol) and 1e-14 <= tol <= 1e-2):
        raise DataError(f"--tol must lie in [1e-14, 1e-2]. Got {tol!r}.")


def export_command(
    document: Document,
    t1: ArchiveEnd = None,
    dt: Annotated[float, typer.Option(help="Output grid step, in the model's time unit.")] = 1.0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="ID=VALUE: a parameter's value instead of its default."),
    ] = None,
    tol: Annotated[
        float, typer.Option(help="Relative and absolute tolerance the SED-ML asks for.")
    ] = 1e-8,
    name: Name = None,
    observables: Observables = None,
    time_unit: TimeUnit = None,
    out: Annotated[
        Path | None,
        typer.Option(help="COMBINE archive (.omex): the SBML, a SED-ML time course, manifest."),
    ] = None,
    sbml_out: Annotated[
        Path | None, typer.Option("--sbml-out", help="The SBML document alone (.xml).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
) -> None:
    """Export an SBML document with parameter values (--set) as SBML and, with --out, as a
    COMBINE archive whose SED-ML reruns a time course from 0 to --t1 on a grid of --dt."""
    if out is None and sbml_out is None:
        raise DataError("Nothing to write: give --out ARCHIVE.omex, --sbml-out F.xml or both.")
    points = 0
    if out is not None:
        if t1 is None:
            raise DataError("--out needs --t1, the end time of the archive's time course.")
        if out.suffix.lower() != ".omex":
            raise DataError(
                f"--out names a COMBINE archive and must end in .omex. Got {str(out)!r}."
            )
        points = _points(t1, dt)
    _check_tol(tol)
    values = dict(_assignment(s) for s in set_ or [])
    out = output_file(out, overwrite=overwrite)
    sbml_out = output_file(sbml_out, option="--sbml-out", overwrite=overwrite)
    if out is not None and sbml_out is not None and out.resolve() == sbml_out.resolve():
        raise DataError("--out and --sbml-out name the same file; give two paths.")
    cls = _load(document, name, observables, time_unit)
    known = [p.name for p in cls.parameters]
    for key in values:
        if key not in known:
            raise DataError(
                f"--set names {key!r}, which is no parameter of {cls.name!r}. Its parameters: "
                f"{', '.join(known[:12])}{' ...' if len(known) > 12 else ''} (`medtwin sbml "
                "import` lists them all)."
            )
    from ..sbml import export_omex, export_sbml

    try:
        sbml = export_sbml(cls, values, source=document)
        if out is not None:
            assert t1 is not None
            export_omex(out, cls, values, source=document, t1=t1, points=points, rtol=tol,
                        atol=tol, check=True)  # fmt: skip
    except ImportError as exc:  # python-libcombine or python-libsedml missing: names the extra
        raise MedtwinError(str(exc)) from None
    if out is not None:
        console.print(f"Wrote {out}: model.xml (SBML L3V2), simulation.sedml (0 to {t1:g} "
                      f"{cls.time_unit}, {points} points, {len(cls.observables)} observables), "
                      "manifest.xml")  # fmt: skip
    if sbml_out is not None:
        sbml_out.write_text(sbml, encoding="utf-8")
        console.print(f"Wrote {sbml_out} (SBML L3V2, {len(values)} value(s) set)")


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
    """Add ``medtwin sbml import``, ``simulate`` and ``export`` to the ``medtwin`` app (the
    top-level ``medtwin export`` is the de-identified research export of the store)."""
    sbml_app.command("import")(_one_line_errors(import_command))
    sbml_app.command("simulate")(_one_line_errors(simulate_command))
    sbml_app.command("export")(_one_line_errors(export_command))
    app.add_typer(sbml_app, name="sbml")
