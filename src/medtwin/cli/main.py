"""The ``medtwin`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from typer._click import exceptions as click  # the click that typer bundles

from .._jax_cache import enable_compilation_cache
from ..errors import MedtwinError
from ._checks import OVERWRITE_HELP, one_line, output_file

app = typer.Typer(
    name="medtwin",
    help="Medical digital twins: simulate, calibrate and forecast patient models.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()

DAY = 1440  # minutes


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"medtwin {version('medtwin')}")
        except PackageNotFoundError:  # pragma: no cover - run from a source tree, not installed
            typer.echo("medtwin (not installed: no version recorded)")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Medical digital twins: simulate, calibrate and forecast patient models."""


def _matches(cls, words: list[str]) -> bool:
    """True if every word occurs (case-insensitively) in the model's name, aliases, title,
    reference, or in one of its parameters, observables or inputs (``cls``: a declaration)."""
    parts = [cls.name, *cls.aliases, cls.title, cls.reference]
    parts += [f"{p.name} {p.unit} {p.description}" for p in cls.parameters]
    parts += [f"{o.name} {o.unit} {o.loinc or ''}" for o in cls.observables]
    parts += [f"{i.name} {i.unit}" for i in cls.inputs]
    text = " ".join(parts).lower()
    return all(w.lower() in text for w in words)


@app.command("models")
def models_command(
    model: Annotated[
        str | None, typer.Argument(help="Only this model (a name or alias, e.g. t1d).")
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            help="Only the parameters whose name, unit or description contain this text "
            "(case-insensitive), e.g. --search insulin."
        ),
    ] = None,
) -> None:
    """List the models, their parameters (unit, default, bounds) and references, then the
    Bayesian-network twins (nodes, states, the codes they take); MODEL and --search narrow the
    listing."""
    from ..bn import list_networks  # the networks' registry: no inference library loaded
    from ..models import declaration, list_declarations  # declarations: no numerics loaded

    networks = [e for e in list_networks() if model is None or model in (e.name, *e.aliases)]
    if model is not None and networks:
        classes = []
    else:
        classes = list_declarations() if model is None else [declaration(model)]
    if search is not None:
        classes = [c for c in classes if _matches(c, [search])]
        networks = [e for e in networks if _network_matches(e, search)]
        if not classes and not networks:
            raise MedtwinError(
                f"No model has a parameter, observable or input matching {search!r}. "
                "Run `medtwin models` for the full listing."
            )
    for cls in classes:
        aliases = ", ".join(cls.aliases)
        console.print(f"[bold]{cls.name}[/bold]" + (f" (alias: {aliases})" if aliases else ""))
        console.print(f"  {cls.title}")
        console.print(f"  Reference: {cls.reference}")
        refs = list(dict.fromkeys(p.reference for p in cls.parameters if p.reference))
        table = Table("parameter", "unit", "default", "bounds", "description", "ref")
        for p in cls.parameters:
            if search is not None and search.lower() not in (
                f"{p.name} {p.unit} {p.description}".lower()
            ):
                continue
            ref = str(refs.index(p.reference) + 1) if p.reference else ""
            bounds = f"[{p.bounds[0]:g}, {p.bounds[1]:g}]"
            table.add_row(p.name, p.unit, f"{p.default:.6g}", bounds, p.description, ref)
        console.print(table)
        for i, ref in enumerate(refs, 1):
            console.print(f"  [{i}] {ref}")
        obs = ", ".join(
            f"{o.name} [{o.unit}]" + (f" LOINC {o.loinc}" if o.loinc else "")
            for o in cls.observables
        )
        console.print(f"  Inputs: {', '.join(f'{i.name} [{i.unit}]' for i in cls.inputs)}")
        console.print(f"  Observables: {obs}\n")
    for entry in networks:
        _print_network(entry, search)


def _network_matches(entry, text: str) -> bool:
    codes = entry.loop.codes if entry.loop is not None else ()
    words = [entry.name, *entry.aliases, entry.title, entry.reference]
    words += [f"{c.node} {c.code} {c.unit} {c.display}" for c in codes]
    return text.lower() in " ".join(words).lower()


def _print_network(entry, search: str | None) -> None:
    """One Bayesian-network twin of ``medtwin models``: its nodes, states, parents and the
    code each observed node takes (``NetworkEntry.loop``)."""
    aliases = ", ".join(entry.aliases)
    net = entry.build().net
    console.print(f"[bold]{entry.name}[/bold]" + (f" (alias: {aliases})" if aliases else "")
                  + " -- a causal Bayesian network")  # fmt: skip
    console.print(f"  {entry.title}")
    console.print(f"  Reference: {entry.reference}")
    table = Table("node", "states", "parents", "evidence code", "unit")
    codes = {c.node: c for c in entry.loop.codes} if entry.loop is not None else {}
    for n in net.nodes:
        c = codes.get(n)
        row = (n, ", ".join(net.states[n]), ", ".join(net.parents[n]),
               c.code if c else "", c.unit if c else "")  # fmt: skip
        if (
            search is None
            or search.lower() in " ".join(row).lower()
            or (c is not None and search.lower() in c.display.lower())
        ):
            table.add_row(*row)
    console.print(table)
    console.print("")


@app.command("simulate")
def simulate_command(
    model: Annotated[
        str,
        typer.Argument(
            help="Model: t1d (UVA/Padova), bergman, glioma, ldl, cardiac, or an infection: "
            "pneumonia, pneumonia-sepsis, sepsis."
        ),
    ],
    patient: Annotated[
        str, typer.Option(help="Virtual patient of the UVA/Padova model, e.g. adult#001.")
    ] = "adult#001",
    meal: Annotated[
        list[str] | None, typer.Option(help="HH:MM=GRAMS carbohydrate, repeated daily.")
    ] = None,
    bolus: Annotated[
        list[str] | None, typer.Option(help="HH:MM=UNITS insulin bolus, repeated daily.")
    ] = None,
    basal: Annotated[
        float | None, typer.Option(help="Basal rate in U/h (default: patient's steady state).")
    ] = None,
    days: Annotated[int, typer.Option(help="Number of days to simulate.")] = 1,
    out: Annotated[Path | None, typer.Option(help="CSV file, one row per minute.")] = None,
    D: Annotated[float, typer.Option("--D", help="glioma: diffusion, mm^2/day.")] = 0.1,
    rho: Annotated[float, typer.Option("--rho", help="glioma: proliferation, 1/day.")] = 0.05,
    dim: Annotated[int, typer.Option(help="glioma: 1 (radial), 2 or 3.")] = 1,
    plot: Annotated[
        Path | None, typer.Option(help="PNG: glucose over clock time, target band, meals.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
    ldl0: Annotated[float, typer.Option(help="ldl: untreated LDL-C, mg/dL.")] = 160.0,
    slope: Annotated[float, typer.Option(help="ldl: its rise, mg/dL a year.")] = 0.7,
    resp: Annotated[float, typer.Option(help="ldl: response scale (1 typical).")] = 1.0,
    drug: Annotated[
        list[str] | None, typer.Option(help="ldl: DRUG=MG[@DAY] daily dose from a day on.")
    ] = None,
    years: Annotated[float, typer.Option(help="ldl: years to simulate.")] = 10.0,
    inoculum: Annotated[
        float | None,
        typer.Option(help="pneumonia: bacteria in the lung at t = 0, CFU/mL (model's P0)."),
    ] = None,
    antibiotic: Annotated[
        list[str] | None,
        typer.Option(help="pneumonia: HOUR=RATE antibiotic kill rate (1/h) from that hour on."),
    ] = None,
    hours: Annotated[float, typer.Option(help="pneumonia: hours to simulate.")] = 72.0,
    ionic: Annotated[str | None, typer.Option(help="cardiac: ionic model, aliev-panfilov "
                     "(default), mitchell-schaeffer or ten-tusscher.")] = None,
    phantom: Annotated[str | None, typer.Option(help="cardiac: scar-channel (default) or "
                       "homogeneous sheet.")] = None,
    channel: Annotated[str | None, typer.Option(help="cardiac: the scar channel's tissue, "
                       "border (default) or healthy.")] = None,
    phantom_size: Annotated[str | None, typer.Option(help="cardiac: the phantom's W,H in mm "
                            "(default 50,30; the scar scales with it).")] = None,
    phantom_spacing: Annotated[float | None, typer.Option(help="cardiac: the phantom's grid "
                               "spacing, mm (default 0.5).")] = None,
    lge: Annotated[Path | None, typer.Option(help="cardiac: an LGE scan (NIfTI, 2D or 3D, "
                   "cubic voxels) instead of a phantom, with --segmentation.")] = None,
    segmentation: Annotated[Path | None, typer.Option(help="cardiac: the scan's label image "
                            "(NIfTI): myocardium and blood pool.")] = None,
    myocardium_label: Annotated[int | None, typer.Option(help="cardiac: the myocardium's "
                                "value in --segmentation (default 1).")] = None,
    blood_pool_label: Annotated[int | None, typer.Option(help="cardiac: the blood pool's "
                                "value in --segmentation (default 2).")] = None,
    pace: Annotated[str | None, typer.Option(help="cardiac: pacing site X,Y[,Z] in mm (default:"
                    " the phantom's left edge; a scan's tissue centre).")] = None,
    s1_cycle: Annotated[float | None, typer.Option(help="cardiac: S1 cycle length, ms "
                        "(default 600).")] = None,
    s1_count: Annotated[int | None, typer.Option(help="cardiac: S1 beats (default 1).")] = None,
    s2: Annotated[list[float] | None, typer.Option(help="cardiac: an extrastimulus MS after "
                  "the previous stimulus; repeat for S3, S4.")] = None,
    ms: Annotated[float | None, typer.Option(help="cardiac: ms to simulate (default: the last "
                  "stimulus + 500).")] = None,
    electrode: Annotated[list[str] | None, typer.Option(help="cardiac: a pseudo-ECG electrode "
                         "X,Y[,Z] in mm, repeated (default: one beyond each side).")] = None,
) -> None:  # fmt: skip
    """Simulate a type-1 diabetes patient and write one row per minute as CSV (--plot: a PNG
    of glucose over the 70-180 mg/dL band); or, with MODEL glioma, a glioma (--out is then a
    folder: radii CSV, density NIfTI, slices PNG); or, with MODEL ldl, a person's LDL
    cholesterol over years under statins and ezetimibe (--out: one row per day); or, with
    MODEL pneumonia (pneumonia-sepsis, sepsis), an infection from --inoculum under
    --antibiotic (--out: every observable every 0.1 h; --plot: their courses); or, with MODEL
    cardiac, a paced scar phantom or LGE scan (--out is a folder: activation map PNG, movie
    GIF, pseudo-ECG CSV and PNG, activation times NIfTI)."""
    from ._cardiac_simulate import refuse_cardiac_options
    from ._infection import infection_declaration

    cardiac = dict(ionic=ionic, phantom=phantom, channel=channel, phantom_size=phantom_size,
                   phantom_spacing=phantom_spacing, lge=lge, segmentation=segmentation,
                   myocardium_label=myocardium_label, blood_pool_label=blood_pool_label,
                   pace=pace, s1_cycle=s1_cycle, s1_count=s1_count, s2=s2, ms=ms,
                   electrode=electrode)  # fmt: skip
    if model == "cardiac":
        from ._cardiac_simulate import simulate_cardiac

        if plot is not None:
            raise MedtwinError(
                "--plot draws the glucose models (t1d, bergman). simulate cardiac writes its "
                "images, activation.png and ecg.png, into the --out folder."
            )
        simulate_cardiac(out=out, overwrite=overwrite, **cardiac)
        return
    refuse_cardiac_options(model, cardiac)

    infection = infection_declaration(model)
    if infection is not None:
        from ._infection import simulate_infection, summary, write_outputs
        from ._plots import plot_file

        out = output_file(out, overwrite=overwrite)
        plot = plot_file(plot, overwrite=overwrite, out=out)
        course = simulate_infection(infection, inoculum, antibiotic or [], hours)
        console.print(summary(infection, course), markup=False, highlight=False, soft_wrap=True)
        for line in write_outputs(infection, course, out, plot, _write_csv):
            console.print(line, markup=False, highlight=False)
        return
    if model in ("ldl", "ldl-vargo2014"):
        from ._ldl import simulate_ldl

        console.print(simulate_ldl(ldl0, slope, resp, drug or [], years, out,
                                   overwrite=overwrite), markup=False)  # fmt: skip
        return
    if model == "glioma":
        from ._glioma import simulate_glioma

        if plot is not None:
            raise MedtwinError(
                "--plot draws the glucose models (t1d, bergman). simulate glioma writes its "
                "image, slices.png, into the --out folder."
            )
        simulate_glioma(D, rho, dim, days, out, overwrite=overwrite)
        return
    from ._plots import plot_file
    from ._t1d import t1d_setup

    out = output_file(out, overwrite=overwrite)
    plot = plot_file(plot, overwrite=overwrite, out=out)
    setup = t1d_setup(model, patient, meal or [], bolus or [], basal, days)
    from ..simulate import simulate

    traj = simulate(setup.model, setup.params, setup.regimen, t1=days * DAY, save_states=False)
    if int(traj.status) != 0:
        raise MedtwinError(f"The simulation failed for {patient!r} (status {int(traj.status)}).")
    n = days * DAY
    columns = {
        "time_min": np.arange(n, dtype=float),
        "bg_mg_dl": np.asarray(traj.observable("bg"))[:n],
        "sc_glucose_mg_dl": _maybe(traj, "sc_glucose", n),
        "insulin_u_per_min": setup.rates[:, setup.model.input_index("insulin")],
        "cho_g_per_min": setup.rates[:, setup.model.input_index("carbs")],
    }
    kept: dict[str, np.ndarray] = {k: v for k, v in columns.items() if v is not None}
    if out is None:
        _print_summary(np.asarray(traj.observable("bg")), f"{setup.label}, {days} day(s)")
    else:
        _write_csv(out, kept)
        console.print(f"Wrote {n} rows to {out}")
    if plot is not None:
        from ._t1d import plot_setup

        plot_setup(plot, setup, kept, days, basal)
        console.print(f"Wrote the plot to {plot}")


def _maybe(traj, name: str, n: int) -> np.ndarray | None:
    return np.asarray(traj.observable(name))[:n] if name in traj.observable_names else None


def _write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write the columns atomically (:func:`medtwin.data.csvio.write_csv`)."""
    from ..data.csvio import write_csv

    rows = np.column_stack(list(columns.values())).astype(float).tolist()
    write_csv(path, list(columns), rows, option="--out")


def _print_summary(bg: np.ndarray, title: str) -> None:
    from ..analysis import glucose_metrics

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for label, unit, value in glucose_metrics(bg).as_rows():
        table.add_row(label, f"{value:.2f}", unit)
    console.print(table)


@app.command("demo")
def demo_command(
    patient: Annotated[str, typer.Option(help="Virtual patient, e.g. adult#001.")] = "adult#001",
) -> None:
    """One simulated day of a virtual patient with meals and carb-counted boluses."""
    from ..data import therapy_settings
    from ..simulate import simulate
    from ._progress import spinner
    from ._t1d import t1d_setup

    with spinner() as progress:  # on stderr
        task = progress.add_task(f"Loading the virtual patient {patient}", total=None)
        therapy = therapy_settings(patient)
        meals = {"07:00": 45.0, "12:30": 70.0, "19:00": 60.0}
        boluses = [f"{t}={g / therapy.carb_ratio:.2f}" for t, g in meals.items()]
        setup = t1d_setup("t1d", patient, [f"{t}={g}" for t, g in meals.items()], boluses,
                          None, 1)  # fmt: skip
        progress.update(task, description=f"Simulating one day of {patient} (UVA/Padova; the "
                        "first run compiles the model)")  # fmt: skip
        traj = simulate(setup.model, setup.params, setup.regimen, t1=DAY, save_states=False)
    console.print(
        f"[bold]medtwin demo[/bold]: UVA/Padova virtual patient {patient}, one day.\n"
        f"Meals {', '.join(f'{t} {g:g} g' for t, g in meals.items())}; boluses by the patient's "
        f"carb ratio of {therapy.carb_ratio:g} g/U ({', '.join(boluses)} U); basal at steady state."
    )
    _print_summary(np.asarray(traj.observable("bg")), f"Plasma glucose, {patient}, 24 h")


twin_app = typer.Typer(
    help="Digital twins: create one for a stored patient, replay a recorded stream, glioma."
)
app.add_typer(twin_app, name="twin")


@twin_app.command("replay")
def twin_replay_command(
    data: Annotated[
        Path,
        typer.Option(
            help="Stream CSV: time (the model's time unit) and one column per observable or "
            "LOINC code; for t1d time,glucose_mg_dl (minutes; LO/HI); for influenza "
            "time,log10_titre (days; <0.5 below the detection limit)."
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(help="Twin model (any registered: t1d, sepsis, ...; default t1d)."),
    ] = None,
    sbml: Annotated[
        Path | None,
        typer.Option(
            help="An SBML document to replay through (with --mapping), instead of --model."
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="The model mapping (JSON or YAML; docs/sbml.md) of --sbml: outputs "
            "with LOINC codes, units and noise, the parameters the twin learns."
        ),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            help="Events CSV: time,kind,amount of the kinds the model takes (t1d: meal g, "
            "bolus U, basal U/h)."
        ),
    ] = None,
    horizon: Annotated[
        float, typer.Option(help="Forecast horizon (the model's time unit).")
    ] = 60.0,
    particles: Annotated[int, typer.Option(help="Particles of the twin's ensemble.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the twin's random numbers.")] = 0,
    out: Annotated[Path | None, typer.Option(help="CSV of every forecast issued.")] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="PNG: the readings and the forecasts made --horizon ahead (band)."),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            help="Time zone (IANA, e.g. Europe/Berlin) of a Clarity or LibreView export's "
            "local times; without it they are read as UTC."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
) -> None:
    """Replay a recorded stream as if live: assimilate each reading, forecast, score. The twin's
    model is a registered one (--model) or an SBML document with its mapping (--sbml, --mapping),
    imported and registered for this run under the mapping's name."""
    from . import _replay
    from ._plots import plot_file

    out = output_file(out, overwrite=overwrite)
    plot = plot_file(plot, overwrite=overwrite, out=out)
    _replay.run_replay(data, model, events, horizon, particles, seed, out, _write_csv, plot,
                       sbml=sbml, mapping=mapping, tz=tz)  # fmt: skip


# In-silico trials (`medtwin trial ...`) live in _trial.py.
from ._trial import trial_app  # noqa: E402

app.add_typer(trial_app, name="trial")

# `medtwin trial t1d-control` and `medtwin recommend` live in _control.py.
from ._control import register as _register_control  # noqa: E402

_register_control(app, trial_app)

# `medtwin twin glioma` lives in _glioma.py.
from ._glioma import register as _register_glioma  # noqa: E402

_register_glioma(twin_app)

# `medtwin twin cardiac` lives in _cardiac_twin.py.
from ._cardiac_twin import register as _register_cardiac_twin  # noqa: E402

_register_cardiac_twin(twin_app)

# `medtwin twin create` lives in _twin_create.py.
from ._twin_create import register as _register_twin_create  # noqa: E402

_register_twin_create(twin_app)

# The store's commands (users, audit, export, keygen) live in _store_cmds.py.
from ._store_cmds import register as _register_store_commands  # noqa: E402

_register_store_commands(app)
from ._users_cmds import register as _register_user_commands  # noqa: E402

_register_user_commands()  # users list, tokens, revoke-token, disable, enable

# sensitivity and identifiability live in _analysis.py.
from ._analysis import register as _register_analysis_commands  # noqa: E402

_register_analysis_commands(app)

# `medtwin sbml import` and `medtwin sbml simulate` live in _sbml_cmds.py.
from ._sbml_cmds import register as _register_sbml_commands  # noqa: E402

_register_sbml_commands(app)

# `medtwin petab llh` and `medtwin petab fit` live in _petab_cmds.py.
from ._petab_cmds import register as _register_petab_commands  # noqa: E402

_register_petab_commands(app)

# `medtwin bn query`, `bn fit` and `bn recommend` live in _bn_cmds.py.
from ._bn_cmds import register as _register_bn_commands  # noqa: E402

_register_bn_commands(app)

# `medtwin credibility MODEL --context FILE --out DIR` lives in _credibility.py.
from ._credibility import register as _register_credibility  # noqa: E402

_register_credibility(app)

# `medtwin replay-version PATIENT VERSION [--all]` lives in _replay_version.py.
from ._replay_version import register as _register_replay_version  # noqa: E402

_register_replay_version(app)


def main() -> None:
    """Entry point. A MedtwinError prints one line and exits with status 2, and so does a usage
    error (``error: <what click says>. See 'medtwin CMD --help'.``). JAX's persistent compilation
    cache is on for the process (``MEDTWIN_JAX_CACHE``, see ``medtwin._jax_cache``): a restart
    skips the compiles."""
    enable_compilation_cache()
    try:
        rc = app(standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        exc.show()  # the help text, as `medtwin` alone or `medtwin CMD` without arguments
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "medtwin"
        said = one_line(exc.format_message()).rstrip(".")
        print(f"{said}. See '{where} --help'.", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        sys.exit(1)
    except MedtwinError as exc:
        print(one_line(exc), file=sys.stderr)
        sys.exit(2)
    sys.exit(rc if isinstance(rc, int) else 0)
