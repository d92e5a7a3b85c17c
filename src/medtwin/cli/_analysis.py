"""Analysis commands: ``medtwin sensitivity`` and ``medtwin identifiability``.

``sensitivity MODEL --output [STAT:]OBSERVABLE --method sobol|morris -n N`` varies ``--params``
(default: every parameter with finite bounds) over their ParameterSpec bounds around the base
point (``--patient`` for UVA/Padova, else the defaults), simulates ``--hours`` under the
``--events`` CSV (``time,kind,amount``: meal g, bolus U, basal U/h; glucose models), reduces
the observable with STAT (mean, min, max, final; tir, tbr, tar: % of time in 70-180, below 70,
above 180 mg/dL) and prints the indices with their bootstrap CIs.

``identifiability MODEL --data CSV --free a,b,c`` reads the data (``time,observable,value``, or
a CGM file ``time,glucose_mg_dl`` or a Dexcom Clarity, LibreView or Nightscout export, its
local times read as UTC and its own insulin and carbs not read: ``--events`` gives them; times
in the model's time unit from t0 = 0), the events, and
the point (base point with ``--point a=1,b=2``), and prints the Fisher-information rank and each
free parameter's profile-likelihood verdict and confidence interval.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ..errors import DataError
from ..limits import BATCH_ROWS, SEED, SENSITIVITY_RUNS, SIMULATION_SPAN, WORKERS
from ..timeunits import convert
from ._checks import OVERWRITE_HELP, input_file, limit, output_file
from ._store_cmds import _one_line_errors

__all__ = ["ModelOutput", "register"]

console = Console(width=150)
STATS = ("mean", "min", "max", "final", "tir", "tbr", "tar")


class ModelOutput:
    """Picklable sensitivity function: rows ``[n, len(names)]`` -> one scalar per row (the
    statistic ``stat`` of ``observable`` over the run), for the process and Dask executors."""

    def __init__(self, model: str, base, names, regimen, t1: float, observable: str, stat: str):
        self.model, self.base, self.names = model, np.asarray(base, dtype=np.float64), names
        self.regimen, self.t1, self.observable, self.stat = regimen, t1, observable, stat

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        from ..analysis import time_above, time_below, time_in_range
        from ..models import get_model
        from ..simulate import simulate

        model = get_model(self.model)
        full = np.tile(self.base, (rows.shape[0], 1))
        for j, name in enumerate(self.names):
            full[:, model.param_index(name)] = rows[:, j]
        traj = simulate(model, full, self.regimen, t1=self.t1, save_states=False)
        y = np.asarray(traj.observable(self.observable))
        reduce = {
            "mean": lambda v: v.mean(axis=1),
            "min": lambda v: v.min(axis=1),
            "max": lambda v: v.max(axis=1),
            "final": lambda v: v[:, -1],
            "tir": time_in_range,
            "tbr": time_below,
            "tar": time_above,
        }[self.stat]
        return np.asarray(reduce(y), dtype=np.float64)


def _names(text: str | None, option: str) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    if text is not None and not names:
        raise DataError(f"{option} expects comma-separated parameter names. Got {text!r}.")
    return names


def _base_point(model, patient: str | None, point: str | None) -> np.ndarray:
    if patient is not None:
        if model.name != "uva-padova":
            raise DataError(f"--patient applies to the t1d (UVA/Padova) model, not {model.name!r}.")
        from ..data import load_virtual_patient

        base = np.array(load_virtual_patient(patient))
    else:
        base = np.array(model.default_params())
    for item in _names(point, "--point") if point else []:
        name, _, value = item.partition("=")
        j = model.param_index(name.strip())  # raises on unknown names
        try:
            base[j] = float(value)
        except ValueError:
            raise DataError(
                f"--point expects NAME=NUMBER pairs, e.g. Vmx=0.05. Got {item!r}."
            ) from None
    return base


def _regimen(events: Path | None):
    from ..simulate import Regimen

    if events is None:
        return Regimen()
    from ..data import read_events_csv

    return read_events_csv(events)


def _data_header(path: Path) -> bool:
    """Whether ``path`` is a CGM file (``time,glucose_mg_dl`` or a device export,
    :mod:`medtwin.data.cgm_formats`) rather than a long CSV (``time,observable,value``); else
    a :class:`DataError` naming what it expected."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No such file: {str(path)!r}. Expected a CSV of observations.")
    with path.open(newline="") as fh:
        header = tuple(c.strip() for c in next(csv.reader(fh), []))
    if header[:2] == ("time", "glucose_mg_dl"):
        return True
    if header[:3] == ("time", "observable", "value"):
        return False
    if header[:1] != ("time",):
        from ..data.cgm_formats import cgm_format

        try:
            cgm_format(path)  # a Dexcom Clarity, LibreView or Nightscout export
            return True
        except DataError:
            pass
    raise DataError(
        f"{path.name}: expected the header time,observable,value (or time,glucose_mg_dl, or "
        f"a Dexcom Clarity, LibreView or Nightscout CGM export). Got "
        f"{','.join(header)[:80] or '(empty file)'}."
    )


def _read_data(path: Path, model, observable: str | None, cgm: bool):
    """Observations from a long CSV (time,observable,value) or, if ``cgm``, a CGM CSV
    (time,glucose_mg_dl); the header checked by :func:`_data_header`."""
    from ..assimilate import Observations, observations
    from ..data import read_cgm_csv

    path = Path(path)
    if cgm:
        readings = read_cgm_csv(path)
        name = observable or ("sc_glucose" if "sc_glucose" in model.observable_names else "bg")
        return Observations(readings.times, (name,) * len(readings), readings.values,
                            readings.censored)  # fmt: skip
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    try:
        times = [float(r["time"]) for r in rows]
    except ValueError:
        raise DataError(f"{path.name}: every time must be a number.") from None
    values = [r["value"].strip() or "nan" for r in rows]
    return observations(times, values, [r["observable"].strip() for r in rows])


def sensitivity_command(
    model: Annotated[str, typer.Argument(help="Model name or alias (see `medtwin models`).")],
    output: Annotated[
        str, typer.Option(help=f"[STAT:]OBSERVABLE, STAT one of {', '.join(STATS)} (mean).")
    ],
    method: Annotated[str, typer.Option(help="sobol or morris.")] = "sobol",
    n: Annotated[int, typer.Option("-n", help="Sobol base sample (power of 2) or Morris r.")] = 64,
    params: Annotated[str | None, typer.Option(help="Parameters to vary: a,b,c.")] = None,
    patient: Annotated[str | None, typer.Option(help="UVA/Padova virtual patient.")] = None,
    events: Annotated[Path | None, typer.Option(help="Events CSV: time,kind,amount.")] = None,
    hours: Annotated[float, typer.Option(help="Simulated hours.")] = 6.0,
    executor: Annotated[str, typer.Option(help="serial, process or dask.")] = "serial",
    workers: Annotated[int, typer.Option(help="Workers of the process/dask executor.")] = 2,
    chunk: Annotated[int, typer.Option(help="Rows per vmapped batch.")] = 1024,
    seed: Annotated[int, typer.Option(help="Seed of the sample and the bootstrap.")] = 0,
    out: Annotated[Path | None, typer.Option(help="CSV of the indices.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
) -> None:
    """Global sensitivity (Sobol or Morris) of a scalar model output to its parameters."""
    _check_method(method, n)  # what needs no model first: it loads after
    limit(SIMULATION_SPAN, hours, "--hours", "h")
    limit(BATCH_ROWS, chunk, "--chunk")
    limit(WORKERS, workers, "--workers")
    limit(SEED, seed, "--seed")
    out = output_file(out, overwrite=overwrite)
    from ..models import declaration

    d = declaration(model)  # what needs the model's declaration, before its numerics load
    stat, _, obs = output.rpartition(":")
    stat = stat or "mean"
    if stat not in STATS:
        raise DataError(f"--output STAT must be one of {', '.join(STATS)}. Got {stat!r}.")
    d.observable_index(obs)  # raises on unknown names
    if stat in ("tir", "tbr", "tar") and d.observables[d.observable_index(obs)].unit != "mg/dL":
        raise DataError(f"--output {stat} needs a glucose observable in mg/dL. Got {obs!r}.")
    names = _names(params, "--params") or [
        p.name for p in d.parameters if all(math.isfinite(b) for b in p.bounds)
    ]
    _check_runs(method, n, len(names))

    from ..analysis import MorrisResult, SobolResult, morris, problem_from_model, sobol
    from ..cohorts import DaskExecutor, Executor, ProcessExecutor, SerialExecutor
    from ..models import get_model

    m = get_model(model)
    problem = problem_from_model(m, names)
    t1 = round(convert(hours, "h", m.time_unit) / m.input_dt) * m.input_dt
    if not t1 > 0:
        raise DataError(f"--hours must be > 0. Got {hours!r}.")
    fn = ModelOutput(m.name, _base_point(m, patient, None), tuple(names), _regimen(events), t1,
                     obs, stat)  # fmt: skip
    executors: dict[str, Callable[[], Executor]] = {
        "serial": SerialExecutor,
        "process": lambda: ProcessExecutor(workers),
        "dask": lambda: DaskExecutor(n_workers=workers),
    }
    if executor not in executors:
        raise DataError(f"--executor must be serial, process or dask. Got {executor!r}.")
    ex = executors[executor]()
    res: SobolResult | MorrisResult
    if method == "sobol":
        res = sobol(fn, problem, n=n, seed=seed, executor=ex, chunk=chunk)
        header = ("S1", "S1 CI", "ST", "ST CI")
        rows = [(res.S1[i], res.S1_conf[i], res.ST[i], res.ST_conf[i]) for i in range(len(names))]
    elif method == "morris":
        res = morris(fn, problem, r=n, seed=seed, executor=ex, chunk=chunk)
        header = ("mu*", "mu* CI", "mu", "sigma")
        rows = [
            (res.mu_star[i], res.mu_star_conf[i], res.mu[i], res.sigma[i])
            for i in range(len(names))
        ]
    else:
        raise DataError(f"--method must be sobol or morris. Got {method!r}.")
    title = (
        f"{method.capitalize()} indices of {stat}({obs}) of {m.name}, {res.n_evaluations} runs, "
        f"{100 * res.conf:g} % bootstrap CIs"
    )
    console.print(title)
    table = Table()
    for col in ("parameter", *header):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for name, (a, da, b, db) in zip(names, rows, strict=True):
        ci_a = f"[{a - da:.3f}, {a + da:.3f}]" if method == "sobol" else f"±{da:.3g}"
        ci_b = f"[{b - db:.3f}, {b + db:.3f}]" if method == "sobol" else f"{db:.3g}"
        table.add_row(name, f"{a:.3g}", ci_a, f"{b:.3g}", ci_b)
    console.print(table)
    if out is not None:
        keys = ("S1", "S1_conf", "ST", "ST_conf") if method == "sobol" else (
            "mu_star", "mu_star_conf", "mu", "sigma")  # fmt: skip
        _write_rows(
            out, ("parameter", *keys), [(nm, *r) for nm, r in zip(names, rows, strict=True)]
        )
        console.print(f"Wrote the indices to {out}")


def _check_method(method: str, n: int) -> None:
    """``--method`` one of sobol and morris, and ``-n`` as it needs it."""
    if method == "sobol" and (n < 2 or n & (n - 1)):
        raise DataError(
            f"-n is Sobol's base sample size and must be a power of 2 (e.g. 64 or 1024). Got {n}."
        )
    if method == "morris" and n < 2:
        raise DataError(f"-n is the number of Morris trajectories and must be >= 2. Got {n}.")
    if method not in ("sobol", "morris"):
        raise DataError(f"--method must be sobol or morris. Got {method!r}.")


def _check_runs(method: str, n: int, d: int) -> None:
    """The model runs ``-n`` asks for (Sobol n x (d + 2), Morris n x (d + 1), ``d``
    parameters) within :data:`~medtwin.limits.SENSITIVITY_RUNS`."""
    k = 2 if method == "sobol" else 1
    limit(SENSITIVITY_RUNS, n * (d + k), f"-n x ({d} parameters + {k})")


def _write_rows(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    """Write a CSV atomically (see :func:`medtwin.data.csvio.write_csv`)."""
    from ..data.csvio import write_csv

    write_csv(path, header, [(r[0], *(float(v) for v in r[1:])) for r in rows], option="--out")


def identifiability_command(
    model: Annotated[str, typer.Argument(help="Model name or alias (see `medtwin models`).")],
    data: Annotated[
        Path,
        typer.Option(
            help="CSV: time,observable,value (or time,glucose_mg_dl, or a Dexcom Clarity, "
            "LibreView or Nightscout CGM export)."
        ),
    ],
    free: Annotated[str, typer.Option(help="Free parameters: a,b,c.")],
    point: Annotated[str | None, typer.Option(help="Parameter values: a=1,b=2.")] = None,
    patient: Annotated[str | None, typer.Option(help="UVA/Padova virtual patient.")] = None,
    events: Annotated[Path | None, typer.Option(help="Events CSV: time,kind,amount.")] = None,
    observable: Annotated[str | None, typer.Option(help="Observable of a CGM CSV.")] = None,
    level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
) -> None:
    """Which parameters the data pin down: Fisher-information rank and profile likelihood."""
    input_file(data, "a CSV with a time column")  # before the model loads
    cgm = _data_header(data)
    from ..analysis import identifiability
    from ..models import get_model

    m = get_model(model)
    names = _names(free, "--free")
    obs = _read_data(data, m, observable, cgm)
    base = _base_point(m, patient, point)
    rep = identifiability(m, obs, _regimen(events), free=names, point=base, level=level)
    fim, prof = rep.fisher, rep.profiles
    console.print(f"Data: {prof.data}")
    console.print(
        f"Fisher information at the point: rank {fim.rank} of {len(names)}, condition number "
        f"{fim.condition:.3g}"
    )
    for c in fim.poorly_determined():
        console.print(f"  poorly determined: {c}")
    table = Table(title=f"Profile likelihood, {100 * level:g} % intervals (threshold "
                  f"{prof.threshold:.2f})")  # fmt: skip
    for col in ("parameter", "point", "MLE", "lower", "upper", "verdict"):
        table.add_column(col, justify="left" if col in ("parameter", "verdict") else "right")
    for p, x in zip(prof.profiles, fim.point, strict=True):
        lo = "open" if p.lower is None else f"{p.lower:.4g}"
        hi = "open" if p.upper is None else f"{p.upper:.4g}"
        table.add_row(p.name, f"{x:.4g}", f"{p.mle:.4g}", lo, hi, p.verdict)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``sensitivity`` and ``identifiability`` to the ``medtwin`` app."""
    app.command("sensitivity")(_one_line_errors(sensitivity_command))
    app.command("identifiability")(_one_line_errors(identifiability_command))
