"""``medtwin replay-version PATIENT VERSION [--all]``: recompute a stored twin version (or
every version) from what the store holds -- its parent's state, the records it applied, the
twin's configuration and seed -- and compare the state and the forecast with the stored ones,
bit for bit (``medtwin.loop.replay_versions``). One line per version: ``equal`` or ``DIFFERS``
with the largest absolute and relative difference of the state and of the forecast. Exit
status 0 when every version replays bit for bit, 1 when one differs, 2 on bad input."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import DataError
from ._store_cmds import _actor, _one_line_errors, _open, _patient

__all__ = ["register"]

console = Console(width=150)


def _cell(d) -> str:
    if d is None:
        return "not kept"
    return "equal" if d.equal else f"DIFFERS: max abs {d.max_abs:.3g}, max rel {d.max_rel:.3g}"


@_one_line_errors
def replay_version(
    patient: Annotated[str, typer.Argument(help="Patient id (or source id) in the store.")],
    version: Annotated[
        int | None, typer.Argument(help="The version to replay (omit with --all).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Replay every version.")] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL (default $MEDTWIN_DB, else sqlite:///./medtwin.db)."
        ),
    ] = None,
) -> None:
    """Recompute stored twin versions and compare them with the store, bit for bit."""
    if (version is None) == (not every):
        raise DataError(
            "Give one VERSION to replay, or --all for every version"
            + (f"; got VERSION {version} and --all." if every else ".")
        )
    if version is not None and version < 0:
        raise DataError(f"VERSION must be a twin version >= 0. Got {version}.")
    with _open(db, create=False) as store:  # a missing store: refused before JAX loads
        pid = _patient(store, patient)
        head = store.twin_versions(pid, actor=_actor())[-1].version
        first, last = (0, head) if every else (version, version)
        assert first is not None and last is not None
        config, steps = store.replay_steps(pid, first, last, actor=_actor())
    from ..loop import replay_versions

    wanted = list(range(first, last + 1))
    results = replay_versions(config, steps, wanted)
    table = Table("version", "state", "forecast")
    for r in results:
        table.add_row(str(r.version), _cell(r.state), _cell(r.forecast))
    console.print(table)
    bad = [r.version for r in results if not r.equal]
    if bad:
        console.print(f"{len(bad)} of {len(results)} versions differ from the store: "
                      f"{', '.join(map(str, bad))}.", soft_wrap=True)  # fmt: skip
        raise typer.Exit(1)
    console.print(f"{len(results)} version(s) replay bit for bit.")


def register(app: typer.Typer) -> None:
    """Add ``replay-version`` to the ``medtwin`` app."""
    app.command("replay-version")(replay_version)
