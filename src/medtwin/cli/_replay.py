"""``medtwin twin replay``: run a recorded stream through a twin of any registered model as if
live (``medtwin.loop.replay_stream``), print the forecast skill and write every forecast."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from ..errors import DataError
from ..limits import PARTICLES, SEED
from . import _progress
from ._checks import event_amount, input_file, limit, physical
from ._plots import GLUCOSE_CODES
from ._store_cmds import _one_line_errors

__all__ = ["run_replay"]

console = Console()


@_one_line_errors
def run_replay(
    data: Path,
    model: str | None,
    events: Path | None,
    horizon: float,
    particles: int,
    seed: int,
    out: Path | None,
    write_csv,
    plot: Path | None = None,
    *,
    sbml: Path | None = None,
    mapping: Path | None = None,
    tz: str | None = None,
) -> None:
    """The command's body (``write_csv(path, columns)`` writes the forecasts; ``plot``, a
    checked path, the PNG of :func:`~medtwin.cli._plots.plot_replay`; ``sbml`` and
    ``mapping``, an SBML document and its model mapping, in place of ``model``; ``tz``, the
    zone of a CGM export's local times). What needs no model is checked before the model
    loads: the bounds, the files being there. A twin that observes ``sc_glucose`` (t1d) also
    reads CGM exports (Dexcom Clarity, LibreView, Nightscout: :mod:`medtwin.data.cgm_formats`),
    the format detected and printed; the file's insulin and carbohydrates are its events
    unless ``--events`` gives them."""
    limit(PARTICLES, particles, "--particles")  # the bounds the service enforces
    limit(SEED, seed, "--seed")
    input_file(data, "a CSV with a time column, or a CGM export")
    if events is not None:
        input_file(events, "a CSV with the columns time,kind,amount")
    if (sbml is None) != (mapping is None):
        raise DataError(
            "--sbml and --mapping go together: the SBML document and its model mapping (which "
            "output each LOINC code measures, in which unit, how noisy; docs/sbml.md). Got only "
            f"{'--sbml' if mapping is None else '--mapping'}."
        )
    if sbml is not None and model is not None:
        raise DataError(
            f"--model {model!r} and --sbml name two models; the twin of --sbml runs under its "
            "mapping's name. Give one of them."
        )
    if sbml is not None and mapping is not None:
        model = _import(sbml, mapping)
    model = model or "t1d"

    from ..data._csvrows import event_rows, stream_rows
    from ..models import declaration

    decl = declaration(model)  # the model's declaration: no numerics loaded yet
    unit = decl.time_unit
    limit(decl.twin_defaults.spans.bounds(unit).horizon, horizon, "--horizon")  # model's unit
    device = _device_file(data, decl, tz)
    if device is None:
        _check_readings(*stream_rows(data, decl), decl, Path(data).name)
    else:
        for e in device.events:
            event_amount(e.kind, e.amount, f"{device.name}: the {e.kind} at minute {e.time:g}")
    if events is not None:
        _check_events(event_rows(events, decl), Path(events).name)

    from ..data import read_model_events_csv, read_stream_csv
    from ..data.csvio import cgm_observations, cgm_regimen
    from ..loop import forecast_rows, model_of, replay_stream
    from ..simulate import Regimen

    spec = model_of(model)
    every = 5 * spec.input_dt
    k = round(horizon / every)
    if k < 1 or abs(k * every - horizon) > 1e-9 * horizon:
        raise DataError(
            f"--horizon must be a positive multiple of {every:g} {unit} (the forecast cadence "
            f"of a {spec.name} twin). Got {horizon:g}."
        )
    sensor: str | None = None
    if device is None:
        stream = read_stream_csv(data, spec)
        console.print(f"Read {Path(data).name} as a plain stream CSV (time,"
                      f"{','.join(sorted(set(stream.observable)))}).", soft_wrap=True)  # fmt: skip
        regimen = read_model_events_csv(events, spec) if events is not None else Regimen()
    else:
        stream, regimen = cgm_observations(device), cgm_regimen(device)
        console.print(device.summary(), soft_wrap=True)
        # a CGM's error is autocorrelated: every particle carries it as an AR(1) state (the
        # Dexcom model of Breton & Kovatchev 2008, as the closed loop's sensor)
        sensor = "sc_glucose"
        console.print("Sensor error: the CGM's autocorrelated error as every particle's AR(1) "
                      "state (Breton & Kovatchev 2008).", soft_wrap=True)  # fmt: skip
        if events is not None:
            regimen = read_model_events_csv(events, spec)
            if device.events:
                console.print(f"The file's {len(device.events)} events are replaced by "
                              f"{Path(events).name}.")  # fmt: skip
    with _progress.bar("reading times") as bar:  # on stderr
        task = bar.add_task(f"Replaying {len(stream)} readings through a {spec.name} twin "
                            f"({particles} particles), a forecast after each")  # fmt: skip

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        res = replay_stream(stream, regimen, horizon=horizon, particles=particles, seed=seed,
                            model=model, sensor=sensor, progress=step)  # fmt: skip
    first = next(iter(res.skills))
    first_spec = spec.observables[spec.observable_index(first)]
    suffix = re.sub(r"[^0-9a-z]+", "_", first_spec.unit.lower()).strip("_")
    rows = forecast_rows(res.forecasts, first, suffix, unit) if out or plot else {}
    if out is not None:
        write_csv(out, rows)
    drops = ", ".join(f"{n} {why}" for why, n in res.dropped.items()) or "none"
    summary = (f"{len(stream)} readings: {res.used} assimilated, dropped: {drops}; "
               f"{res.censored} of the assimilated censored (LO/HI)")  # fmt: skip
    console.print(summary, soft_wrap=True)
    for name, skill in res.skills.items():
        title = f"Forecast skill ({skill.scored} scored targets)"
        table = Table(title=title if len(res.skills) == 1 else f"{name}: {title}")
        cols = (f"horizon ({unit})", "n", "50 % cov", "80 % cov", "95 % cov", "CRPS", "MARD %",
                "RMSE")  # fmt: skip
        for col in cols:
            table.add_column(col, justify="right")
        for row in skill.by_horizon:
            cov = [f"{100 * row.coverage[lv]:.0f}" for lv in (0.5, 0.8, 0.95)]
            table.add_row(f"{row.horizon:g}", str(row.n), *cov, f"{row.crps:.1f}",
                          f"{row.mard:.1f}", f"{row.rmse:.1f}")  # fmt: skip
        console.print(table)
        if skill.drifting:
            console.print(f"[bold red]Drift:[/bold red] recent band coverage of {name} is out of "
                          "bounds.")  # fmt: skip
    q = res.twin.parameter_quantiles()
    console.print("Posterior (5 %, 50 %, 95 %): " + "; ".join(
        f"{k} {v[1]:.3g} [{v[0]:.3g}, {v[2]:.3g}]" for k, v in q.items()))  # fmt: skip
    if out is not None:
        console.print(f"Wrote the forecasts to {out}")
    if plot is not None:
        from ._plots import plot_replay, target_range

        mine = np.array([o == first for o in stream.observable], dtype=bool)
        plot_replay(
            plot, times=stream.times[mine], values=stream.values[mine],
            censored=stream.censored[mine],
            rows={_unsuffixed(k, suffix, unit): v for k, v in rows.items()},
            horizon=horizon, time_unit=unit, observable=first, unit=first_spec.unit,
            cadence=every, target=target_range(first_spec.loinc, first_spec.unit),
            title=f"twin replay of {Path(data).name}: a {spec.name} twin, {particles} "
            f"particles, forecasts {horizon:g} {unit} ahead",
        )  # fmt: skip
        console.print(f"Wrote the plot to {plot}")


def _device_file(data: Path, decl, tz: str | None):
    """The CGM export ``data`` read (a :class:`~medtwin.data.cgm_formats.CgmFile`) when the
    twin observes ``sc_glucose`` and the file is a device export; None for a stream CSV."""
    from ..data.cgm_formats import cgm_format, read_cgm

    device = None
    if "sc_glucose" in decl.observable_names and cgm_format(data) != "plain":
        if decl.time_unit != "min":  # the t1d twins count minutes; kept for a future model
            raise DataError(f"CGM exports feed twins timed in minutes; {decl.name} counts "
                            f"{decl.time_unit}.")  # fmt: skip
        device = read_cgm(data, tz=tz)
    if tz is not None and device is None:
        raise DataError(
            f"--tz sets the zone of a CGM export's local times (Dexcom Clarity, LibreView); "
            f"{Path(data).name} is a stream CSV whose times are already {decl.time_unit} from "
            "its start. Leave --tz out."
        )
    return device


def _import(sbml: Path, mapping: Path) -> str:
    """Import the SBML document ``sbml`` under the model mapping ``mapping`` and register it
    in this process; the model's name (the mapping's)."""
    input_file(sbml, "an SBML document (.xml)")
    input_file(mapping, "a model mapping (JSON or YAML; docs/sbml.md)")
    from ..data.model_mapping import imported_model, read_mapping
    from ..loop import name_taken
    from ..models import register_model

    doc = read_mapping(Path(mapping).read_bytes())
    if name_taken(doc.name):
        raise DataError(
            f"The mapping {Path(mapping).name!r} names the model {doc.name!r}, the name of a "
            "built-in or registered model or network. Choose another name in the mapping."
        )
    return register_model(imported_model(Path(sbml).read_bytes(), doc)).name


def _unsuffixed(column: str, *suffixes: str) -> str:
    """``median_mg_dl`` -> ``median``, ``issued_at_min`` -> ``issued_at``."""
    for s in suffixes:
        if s and column.endswith("_" + s):
            return column[: -len(s) - 1]
    return column


def _check_readings(times, values, observed, decl, name: str) -> None:
    """Every reading within its observable's physically possible range -- the range FHIR
    ingestion, and so the API, accepts (LOINC table) -- or a one-line error naming it; a
    censored reading's limit (``<0.5``) too. ``LO``/``HI`` name a CGM's limits (40 and 400
    mg/dL), so another observable's reading must name its own (``<0.5``). A reading that is no
    number otherwise (a gap, a typo) is left to the reader."""
    for t, v, obs in zip(times, values, observed, strict=True):
        spec = decl.observables[decl.observable_index(obs)]
        code = spec.loinc
        if v.upper() in ("LO", "HI") and code not in GLUCOSE_CODES:
            raise DataError(
                f"{name}: the {obs} reading at time {t:g} is {v!r}, which names a CGM's limit "
                f"(40 or 400 mg/dL), not one of {obs} [{spec.unit}]. Write a reading beyond a "
                f"limit with the limit, e.g. '<0.5' for below an assay's detection limit of "
                f"0.5 {spec.unit}."
            )
        try:
            x = float(v.lstrip("<>=").strip() if v[:1] in ("<", ">") else v)
        except ValueError:
            continue
        if code is not None and x == x:  # a declared code; not a gap (NaN)
            physical(x, code, f"{name}: the {obs} reading at time {t:g}")


def _check_events(rows, name: str) -> None:
    """Every event amount within the range the API accepts (``_checks.event_amount``), in the
    unit the file gives it."""
    for _, kind, t, amount in rows:
        event_amount(kind, amount, f"{name}: the {kind} at time {t:g}")
