"""``medtwin trial run spec.yaml``: an in-silico trial of insulin regimens on UVA/Padova virtual
patients, described by a YAML file (see ``examples/trial_two_regimens.yaml`` and
``docs/trials.md``), printed as tables (arm means, paired differences, subgroups) with the
per-patient results written as CSV.

``trial_app`` is the ``trial`` sub-app; other trial commands register on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..errors import DataError
from ..limits import (
    BATCH_ROWS,
    SEED,
    SIMULATION_SPAN,
    TRIAL_BOOTSTRAP,
    TRIAL_PATIENTS,
    WORKERS,
    finite,
)
from ..limits import shown as limits_shown
from . import _progress
from ._checks import OVERWRITE_HELP, limit, output_file
from ._plots import plot_file, plot_trial

__all__ = ["TrialSpec", "basal_day", "load_spec", "run_spec", "trial_app"]

trial_app = typer.Typer(help="In-silico trials on virtual populations.", no_args_is_help=True)
console = Console(width=150)

_KNOWN = {
    "seed", "model", "population", "days", "meals", "arms", "endpoints", "run_in_hours",
    "subgroups", "executor", "chunk", "conf", "n_boot", "reference",
}  # fmt: skip


@dataclass(frozen=True)
class TrialSpec:
    """A parsed trial spec (the YAML file's keys)."""

    raw: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


def load_spec(path: Path) -> TrialSpec:
    """Read and check a YAML trial spec."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - depends on the environment
        raise DataError("medtwin trial run needs PyYAML: pip install pyyaml") from None
    if not path.exists():
        raise DataError(f"Trial spec {str(path)!r} does not exist.")
    if not path.is_file():
        raise DataError(
            f"Trial spec {str(path)!r} is a folder: give the YAML file (see "
            "examples/trial_two_regimens.yaml)."
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise DataError(
            f"Trial spec {path.name} is not valid YAML{where}: {problem}. See "
            "examples/trial_two_regimens.yaml for the format."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"Cannot read the trial spec {str(path)!r}: {exc}.") from None
    if not isinstance(raw, dict):
        raise DataError(f"A trial spec is a YAML mapping of keys. Got {type(raw).__name__}.")
    unknown = set(raw) - _KNOWN
    if unknown:
        raise DataError(
            f"Unknown keys in the trial spec: {sorted(unknown)}. Expected some of {sorted(_KNOWN)}."
        )
    for key in ("arms", "endpoints"):
        if not raw.get(key):
            raise DataError(f"The trial spec needs a non-empty {key!r} list.")
    if str(raw.get("model", "t1d")) not in ("t1d", "uva-padova"):
        raise DataError(f"trial run supports model: t1d for now. Got {raw.get('model')!r}.")
    _check_work(raw)
    return TrialSpec(raw)


def _check_work(raw: dict[str, Any]) -> None:
    """The spec's numbers that scale the work, against the declared bounds (medtwin.limits)."""
    if "seed" in raw:
        limit(SEED, raw["seed"], "seed")
    if "days" in raw:
        limit(SIMULATION_SPAN, raw["days"], "days", "d")
    if "chunk" in raw:
        limit(BATCH_ROWS, raw["chunk"], "chunk")
    if "n_boot" in raw:
        limit(TRIAL_BOOTSTRAP, raw["n_boot"], "n_boot")
    if "conf" in raw:
        conf = finite(raw["conf"], "conf", "a trial report")
        if not 0 < conf < 1:
            raise DataError(f"conf must be a confidence level in (0, 1), e.g. 0.95. Got {conf!r}.")
    for key, kind in (("population", dict), ("executor", dict), ("meals", dict),
                      ("arms", list), ("endpoints", list)):  # fmt: skip
        if key in raw and raw[key] is not None and not isinstance(raw[key], kind):
            raise DataError(
                f"The trial spec's {key!r} must be a {'mapping' if kind is dict else 'list'}. "
                f"Got {limits_shown(raw[key])}."
            )
    if "workers" in (raw.get("executor") or {}):
        limit(WORKERS, raw["executor"]["workers"], "executor.workers")
    enlarge = (raw.get("population") or {}).get("enlarge")
    if enlarge is not None:
        if not isinstance(enlarge, dict) or "n" not in enlarge:
            raise DataError("population.enlarge must be a mapping with n (virtual patients).")
        limit(TRIAL_PATIENTS, enlarge["n"], "population.enlarge.n")


def basal_day(rows: np.ndarray, seed: np.random.SeedSequence) -> np.ndarray:
    """Plausibility observables of UVA/Padova patients ``[n, P]``: plasma glucose after 24 h on
    their steady-state basal alone (no meals) and the day's minimum, mg/dL ``[n, 2]``."""
    from ..models import UVAPadova
    from ..simulate import simulate

    traj = simulate(UVAPadova(), rows, t1=1440.0, saveat=np.arange(0.0, 1441.0, 15.0),
                    save_states=False)  # fmt: skip
    bg = np.asarray(traj.observable("bg"))
    return np.column_stack([bg[:, -1], bg.min(axis=1)])


def _minute(value: Any) -> float:
    if isinstance(value, (int, float)):  # YAML 1.1 reads 07:00 as 420 (minutes, sexagesimal)
        return float(value)
    from ._parse import parse_clock

    return float(parse_clock(str(value), "meals.at"))


def _population(spec: TrialSpec, executor: Any, seed: int, progress: Any) -> Any:
    from ..cohorts import enlarge, observe, plausible
    from ..data import virtual_population
    from ..models import UVAPadova

    cfg = dict(spec.get("population") or {})
    source = cfg.pop("source", "virtual-patients")
    if source != "virtual-patients":
        raise DataError(f"population.source must be 'virtual-patients'. Got {source!r}.")
    names = cfg.pop("patients", None)  # a subset of the 30, e.g. [adult#001, child#002]
    pop = virtual_population() if names is None else virtual_population([str(n) for n in names])
    if "enlarge" in cfg:
        e = dict(cfg.pop("enlarge"))
        model = UVAPadova()
        bounds = {p.name: p.bounds for p in model.parameters}
        pop = enlarge(pop, int(e.pop("n")), bounds=bounds, seed=seed, **e)
        ranges = cfg.pop("plausible", {"bg_24h": [70, 180], "bg_min": [50, 400]})
        pop = observe(pop, basal_day, ("bg_24h", "bg_min"), chunk=int(spec.get("chunk", 100)),
                      executor=executor, seed=seed, progress=progress)  # fmt: skip
        n0 = len(pop)
        pop = plausible(pop, {k: tuple(v) for k, v in ranges.items()})
        console.print(f"Enlarged cohort: {len(pop)} of {n0} new patients plausible ({ranges}).")
    if cfg:
        raise DataError(
            f"Unknown population keys {sorted(cfg)}; expected source, patients, enlarge."
        )
    return pop


def _executor(spec: TrialSpec, override: str | None) -> Any:
    from ..cohorts import DaskExecutor, ProcessExecutor, SerialExecutor

    cfg = dict(spec.get("executor") or {})
    kind = override or cfg.get("kind", "serial")
    workers = int(cfg.get("workers", 2))
    if kind == "serial":
        return SerialExecutor()
    if kind == "process":
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(cfg.get("address"), n_workers=workers)
    raise DataError(f"executor.kind must be serial, process or dask. Got {kind!r}.")


def run_spec(spec: TrialSpec, *, executor: str | None = None, seed: int | None = None) -> Any:
    """Build the population, arms and endpoints of ``spec`` and run the trial (with a progress
    bar); returns the :class:`~medtwin.cohorts.TrialResult`."""
    from ..cohorts import GlucoseEndpoint, MealScenario, RegimenArm, T1DRegimen, run_trial
    from ..models import UVAPadova

    seed = int(spec.get("seed", 0) if seed is None else seed)
    days = int(spec.get("days", 1))
    meals_cfg = dict(spec.get("meals") or {})
    plan = meals_cfg.get("plan", [{"at": 420, "grams": 45}, {"at": 750, "grams": 70},
                                  {"at": 1140, "grams": 60}])  # fmt: skip
    scenario = MealScenario(
        tuple((_minute(m["at"]), float(m["grams"])) for m in plan),
        days=days,
        jitter=float(meals_cfg.get("jitter", 30.0)),
        spread=float(meals_cfg.get("spread", 0.3)),
    )
    model = UVAPadova()
    saveat = np.arange(0.0, scenario.horizon + 1.0, 5.0)
    arms = []
    for a in spec.get("arms"):
        a = dict(a)
        name = str(a.pop("name"))
        arms.append(RegimenArm(name, model, T1DRegimen(scenario, **a), t1=scenario.horizon,
                               saveat=saveat, save_states=False, observables=("bg",)))  # fmt: skip
    start = 60.0 * float(spec.get("run_in_hours", 0.0))
    endpoints = [GlucoseEndpoint(str(k), start=start) for k in spec.get("endpoints")]
    ex = _executor(spec, executor)
    with _progress_bar() as bar:
        task = bar.add_task("population", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        enter = getattr(ex, "__enter__", None)
        if enter is not None:
            enter()
        try:
            pop = _population(spec, ex, seed, progress)
            bar.update(task, description="trial", completed=0, total=None)
            return run_trial(pop, arms, endpoints, chunk=int(spec.get("chunk", 100)),
                             executor=ex, seed=seed, progress=progress)  # fmt: skip
        finally:
            if enter is not None:
                ex.__exit__(None, None, None)


def _progress_bar() -> Progress:
    """The trial's progress (population, then trial) in chunks, on stderr."""
    return _progress.bar("chunks")


def _fmt(m: float, lo: float, hi: float) -> str:
    return f"{m:.2f} [{lo:.2f}, {hi:.2f}]"


def print_report(result: Any, spec: TrialSpec) -> None:
    """Arm means, paired differences and the subgroup reports of ``spec`` as rich tables."""
    conf = float(spec.get("conf", 0.95))
    n_boot = int(spec.get("n_boot", 2000))
    seed = int(spec.get("seed", 0))
    ref = spec.get("reference") or result.arms[0]
    pct = f"{100 * conf:g} % CI"
    table = Table(title=f"Arm means ({len(result.population)} patients, {pct} by bootstrap)")
    table.add_column("endpoint")
    table.add_column("unit")
    for arm in result.arms:
        table.add_column(arm, justify="right")
    by = {(s.arm, s.endpoint): s for s in result.summary(conf=conf, n_boot=n_boot, seed=seed)}
    for e, unit in zip(result.endpoints, result.units, strict=True):
        table.add_row(e, unit, *(_fmt(by[a, e].mean, by[a, e].low, by[a, e].high)
                                 for a in result.arms))  # fmt: skip
    console.print(table)
    table = Table(title=f"Paired differences vs {ref} ({pct})")
    for col in ("arm", "endpoint", "n", "difference"):
        table.add_column(col, justify="right" if col in ("n", "difference") else "left")
    for d in result.differences(ref, conf=conf, n_boot=n_boot, seed=seed):
        table.add_row(d.arm, f"{d.endpoint} ({d.unit})", str(d.n), _fmt(d.mean, d.low, d.high))
    console.print(table)
    for sg in spec.get("subgroups") or []:
        sg = dict(sg)
        rep = result.subgroups(
            str(sg["by"]), str(sg.get("endpoint", result.endpoints[0])), reference=ref,
            bins=sg.get("bins"), target_shares=sg.get("target_shares"),
            min_n=int(sg.get("min_n", 30)), conf=conf, n_boot=n_boot, seed=seed,
        )  # fmt: skip
        others = [a for a in result.arms if a != ref]
        table = Table(title=f"{rep.endpoint} by {rep.by} (difference vs {ref}, {pct})")
        cols = ("group", "n", "share", "target", *result.arms, *(f"{a} - {ref}" for a in others))
        for col in (*cols, "flag"):
            table.add_column(col, justify="left" if col in ("group", "flag") else "right")
        for r in rep.rows:
            target = "" if r.target_share is None else f"{r.target_share:.0%}"
            diffs = [_fmt(r.differences[a].mean, r.differences[a].low, r.differences[a].high)
                     for a in others]  # fmt: skip
            flag = f"UNDER-REPRESENTED: {r.reason}" if r.flagged else ""
            table.add_row(r.group, str(r.n), f"{r.share:.0%}", target,
                          *(f"{r.means[a]:.2f}" for a in result.arms), *diffs, flag)  # fmt: skip
        console.print(table)


@trial_app.command("run")
def trial_run_command(
    spec: Annotated[Path, typer.Argument(help="YAML trial spec (see docs/trials.md).")],
    out: Annotated[Path | None, typer.Option(help="CSV of per-patient results.")] = None,
    executor: Annotated[
        str | None, typer.Option(help="Override the spec's executor: serial, process or dask.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the spec's seed.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="PNG: each endpoint's distribution per arm.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
) -> None:
    """Run an in-silico trial: population, arms, endpoints -> report, per-patient CSV and
    (--plot) a PNG of each endpoint's distribution per arm."""
    out = output_file(out, overwrite=overwrite)
    plot = plot_file(plot, overwrite=overwrite, out=out)
    if seed is not None:
        limit(SEED, seed, "--seed")
    parsed = load_spec(spec)
    result = run_spec(parsed, executor=executor, seed=seed)
    print_report(result, parsed)
    if out is not None:
        from ..data.csvio import write_columns

        write_columns(out, result.columns(), digits=6, option="--out")
        console.print(f"Wrote {len(result.arms) * len(result.population)} rows to {out}")
    if plot is not None:
        from ..cohorts import GLUCOSE_METRICS

        days = int(parsed.get("days", 1))
        plot_trial(
            plot, arms=result.arms, endpoints=result.endpoints, units=result.units,
            values=result.values, descriptions={k: v[1] for k, v in GLUCOSE_METRICS.items()},
            title=f"trial {spec.name}: {len(result.population)} virtual patients, {days} "
            "day(s); each point a patient",
        )  # fmt: skip
        console.print(f"Wrote the plot to {plot}")
