"""``medtwin backup`` and ``medtwin restore``: a store's database to a file and back, with the
audit chain verified before the backup and after the restore (see ``medtwin.store._backup``).

Errors print one line and exit with status 2; a restore whose backup or audit log fails
verification prints the report and exits with status 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._checks import output_file
from ._store_cmds import Db, Overwrite, _actor, _one_line_errors, _store_module

__all__ = ["register"]


@_one_line_errors
def backup_command(
    out: Annotated[
        Path, typer.Option(help="Backup file to write (mode 0600), with FILE.checkpoint.json.")
    ],
    db: Db = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Back up even a store whose audit log fails verification."),
    ] = False,
    overwrite: Overwrite = False,
) -> None:
    """Back up an existing store (SQLite online backup; PostgreSQL pg_dump), consistent while the
    service runs, after verifying its audit log; beside the file, a signed checkpoint of the log
    that `medtwin restore` checks. Keep the key out of the backups."""
    checked = output_file(out, overwrite=overwrite, beside=(".checkpoint.json",))
    _store_module().refuse_missing(db)  # before the store (and JAX) load
    res = _store_module().backup_store(checked or out, db, force=force, actor=_actor())
    typer.echo(
        f"Wrote the {res.backend} backup {res.path} ({res.size} bytes) and its signed checkpoint "
        f"{res.manifest} (audit entry {res.checkpoint.seq if res.checkpoint else '-'}); "
        f"{res.audit}"
    )
    if not res.audit.ok:
        typer.echo("warning: backed up with --force; a restore of it reports FAILED.", err=True)


@_one_line_errors
def restore_command(
    file: Annotated[Path, typer.Argument(help="A backup file written by `medtwin backup`.")],
    db: Db = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Overwrite the medtwin store at --db (stop the service first)."
        ),
    ] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="The backup's checkpoint file (default FILE.checkpoint.json)."),
    ] = None,
) -> None:
    """Restore a backup into a new SQLite file or an empty PostgreSQL database, then verify the
    restored audit log against the backup's checkpoint; exit 1 if anything fails."""
    store = _store_module()
    res = store.restore_store(file, db, replace=replace, manifest=checkpoint, actor=_actor())
    typer.echo(f"Restored the {res.backend} backup {file} (written {res.created_at}).")
    for problem in res.problems:
        typer.echo(f"backup FAILED: {problem}")
    if not res.problems:
        typer.echo("backup file OK: it is the file written, sealed with this key")
    typer.echo(str(res.report))
    if not res.ok:
        typer.echo(
            "The restored copy is not to be trusted: it was kept for inspection only. Restore "
            "an earlier backup, or investigate with `medtwin audit verify`.",
            err=True,
        )
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
