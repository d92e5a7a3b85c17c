"""Progress of long work, on stderr, so that stdout stays the command's output (tables, lines
that scripts and tests parse).

Drawn by rich in the style of ``trial run``'s bar (description, bar, done/total, elapsed time;
a spinner where the total is not known) and removed when the work ends. Where stderr is not a
terminal (a pipe, a log file, a test's capture) the progress is off (rich's ``disable``; rich
would still end it with an empty line), so stderr is what it was without progress.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["bar", "spinner", "stderr"]

stderr = Console(stderr=True)  # resolves sys.stderr on each write (so captures see it)


def bar(unit: str) -> Progress:
    """A transient progress bar on stderr: ``description [bar] done/total unit elapsed``."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
        TimeElapsedColumn(), console=stderr, transient=True, disable=not stderr.is_terminal,
    )  # fmt: skip


def spinner() -> Progress:
    """A transient status line on stderr for work of unknown length: ``spinner description
    elapsed``."""
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=stderr,
        transient=True, disable=not stderr.is_terminal,
    )  # fmt: skip
