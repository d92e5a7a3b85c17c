"""``medtwin twin create PATIENT``: a twin for a patient already in the store (``medtwin
ingest``), so that ``medtwin recommend`` and the dashboard have one to use.

The configuration is a :class:`~medtwin.loop.TwinConfig`, checked against the same declared
bounds as ``POST /patients/{pid}/twin`` (``medtwin.limits``) before anything is computed. The
epoch (model time 0) defaults to the time of the patient's first stored observation, so every
stored reading lies after it; the pending readings are then assimilated by one update (the most
one update takes, ``limits.UPDATE_TIMES``; the rest by the next data).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ..errors import DataError, ModelError
from ..limits import PARTICLES, SEED
from ._checks import limit
from ._store_cmds import Db, _actor, _one_line_errors, _open, _patient, _store_module

__all__ = ["register"]


def _epoch(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(
            f"--epoch must be an ISO 8601 date-time with a zone, e.g. 2025-03-01T08:00:00Z. "
            f"Got {text!r:.60}."
        ) from None
    if when.tzinfo is None:
        raise DataError(f"--epoch needs a time zone (e.g. ...T08:00:00Z). Got {text!r:.60}.")
    return when.astimezone(UTC)


@_one_line_errors
def twin_create_command(
    patient: Annotated[str, typer.Argument(help="Patient pseudonym (p-...) or source id.")],
    db: Db = None,
    model: Annotated[
        str, typer.Option(help="Twin model: t1d, sepsis, ..., or a network: stroke.")
    ] = "t1d",
    epoch: Annotated[
        str | None,
        typer.Option(
            help="Model time 0, ISO 8601 with a zone (default: the first stored observation; "
            "for the stroke twin: symptom onset)."
        ),
    ] = None,
    particles: Annotated[int, typer.Option(help="Particles of the twin's ensemble.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the twin's random numbers.")] = 0,
    horizon: Annotated[
        float,
        typer.Option(help="Forecast horizon (the model's time unit: min for t1d, d for ldl)."),
    ] = 60.0,
    prior: Annotated[str, typer.Option(help="population or spec.")] = "population",
    sensor: Annotated[
        str | None,
        typer.Option(
            help="The observable a continuous sensor reads (sc_glucose for a CGM): its "
            "autocorrelated error as every particle's AR(1) state, as `twin replay` does for "
            "a CGM file (default: independent errors)."
        ),
    ] = None,
) -> None:
    """Create the twin of a stored patient (then assimilate its pending data), so that
    `medtwin recommend PATIENT` and the dashboard can use it."""
    when = _epoch(epoch)
    limit(PARTICLES, particles, "--particles")  # what needs no model, before it loads
    limit(SEED, seed, "--seed")
    from ..bn import find_network  # the networks' registry: no inference library loaded
    from ..models import declaration  # a declaration: no numerics loaded

    if find_network(model) is None:  # a network twin has no forecast horizon to bound
        decl = declaration(model)  # the forecast span the model declares, in its time unit
        limit(decl.twin_defaults.spans.bounds(decl.time_unit).horizon, horizon, "--horizon")
        if sensor is not None:
            try:
                decl.observable_index(sensor)
            except ModelError as exc:
                raise DataError(
                    f"--sensor names the observable a continuous sensor reads (sc_glucose for "
                    f"a CGM): {exc}"
                ) from None
    _store_module().refuse_missing(db)
    from ..loop import TwinConfig

    # checked (limits, model, prior) before the store is opened or anything computed
    TwinConfig(model, when or datetime.now(UTC), prior=prior, n=particles, seed=seed,
               horizon=horizon, sensor=sensor)  # fmt: skip
    with _open(db, create=False) as store:
        pid = _patient(store, patient)
        if when is None:
            first = store.observations(pid, actor=_actor())
            when = first[0].time if first else datetime.now(UTC)
        config = TwinConfig(model, when, prior=prior, n=particles, seed=seed, horizon=horizon,
                            sensor=sensor)  # fmt: skip
        made = store.create_twin(pid, config, actor=_actor())
        typer.echo(
            f"Twin of {pid}: model {model}, epoch {when.isoformat()}, version {made.version}."
        )
        latest = store.update_twin(pid, actor=_actor())
    if latest is not None:
        typer.echo(f"Assimilated the pending data: version {latest.version}.")
    typer.echo(f"Next: `medtwin recommend {pid}`.")


def register(twin_app: typer.Typer) -> None:
    """Add ``medtwin twin create`` to the ``twin`` sub-app."""
    twin_app.command("create")(twin_create_command)
