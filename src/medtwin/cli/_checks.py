"""What every command checks before any work starts, and how it fails: one line, exit 2.

- **Outputs** (:func:`output_file`, :func:`output_folder`): a file to write must not be a
  folder, its folder must exist and take a new file (probed by creating and removing a temporary
  file there, which also catches read-only mounts and ``/proc``), and an existing file is kept
  unless the command was given ``--overwrite``. Files are then written atomically (a temporary
  file in the same folder, renamed: :func:`atomic`), so a failure leaves nothing behind.
- **Amounts of work**: through the declared bounds of :mod:`medtwin.limits` (:func:`limit`),
  the ones the API checks.
- **Physical values** (:func:`physical`, :func:`event_amount`): the ranges FHIR ingestion (and
  so the API) accepts -- a measurement's ``valid_range`` in the curated table
  (:data:`medtwin.data.units.CURATED`; a code only a model declares takes any finite value),
  a carbohydrate intake's (LOINC 9059-7, g), an insulin bolus's (U) and basal rate's (U/h) of
  FHIR MedicationAdministration -- and the what-if's :data:`~medtwin.limits.EVENT_AMOUNT` for
  any other event kind.

Errors are :class:`~medtwin.errors.MedtwinError`; :func:`one_line` is how a command prints one.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..data.units import CURATED, INSULIN_BASAL_RANGE, INSULIN_BOLUS_RANGE
from ..errors import DataError, MedtwinError
from ..limits import EVENT_AMOUNT, Bound

__all__ = [
    "CARBS_LOINC",
    "atomic",
    "event_amount",
    "input_file",
    "limit",
    "one_line",
    "output_file",
    "output_folder",
    "physical",
]

CARBS_LOINC = "9059-7"  # Carbohydrate intake Estimated (g): the API's meal records

OVERWRITE_HELP = "Replace an existing output file (otherwise refused)."


def one_line(exc: BaseException | str) -> str:
    """``error: <message>`` on one line (a multi-line message, e.g. a database driver's, is
    joined with ``; ``)."""
    parts = [p.strip() for p in str(exc).splitlines() if p.strip()]
    return "error: " + ("; ".join(parts) or type(exc).__name__)


def limit(bound: Bound, value: Any, option: str, unit: str | None = None) -> Any:
    """``value`` of ``option`` if it lies within ``bound`` (converted to the time ``unit`` if
    given), else :class:`~medtwin.errors.LimitError` naming the option."""
    return (bound.in_unit(unit) if unit else bound).check(value, name=option)


def _probe(folder: Path, option: str) -> None:
    """Refuse a folder in which no new file can be made (checked by making one)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".medtwin-probe-")
    except OSError as exc:
        raise DataError(
            f"{option}: cannot write in the folder {str(folder)!r} ({exc.strerror or exc}). "
            "Choose a folder you can write to."
        ) from None
    os.close(fd)
    os.unlink(tmp)


def output_file(
    path: Path | None, *, option: str = "--out", overwrite: bool = False, beside: Iterable[str] = ()
) -> Path | None:
    """``path`` (user-expanded) if a new file can be written there, else a one-line error: a
    folder, a missing or unwritable folder, or an existing file without ``overwrite``.
    ``beside``: suffixes of files written next to it (``.checkpoint.json``), checked too."""
    if path is None:
        return None
    path = Path(path).expanduser()
    if path.is_dir():
        raise DataError(f"{option} names a folder, {str(path)!r}: give the path of a file.")
    if not path.parent.is_dir():
        raise DataError(
            f"{option} must name a file in an existing folder. Got {str(path)!r}; create "
            f"{str(path.parent)!r} first."
        )
    for p in (path, *(Path(str(path) + s) for s in beside)):
        if (p.exists() or p.is_symlink()) and not overwrite:
            raise DataError(
                f"{option}: {str(p)!r} exists. Choose another path, or add --overwrite to "
                "replace it."
            )
        if p.is_dir():
            raise DataError(f"{option}: {str(p)!r} is a folder; choose another path.")
    _probe(path.parent, option)
    return path


def output_folder(
    path: Path | None, names: Iterable[str], *, option: str = "--out", overwrite: bool = False
) -> Path | None:
    """``path`` if the files ``names`` can be written into it: an existing folder, or a new one
    in an existing folder (made only when the outputs are written, so a failure leaves
    nothing); an existing ``names`` only with ``overwrite``."""
    if path is None:
        return None
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise DataError(f"{option} names a file, {str(path)!r}: give a folder for the outputs.")
    if not path.exists():
        if not path.parent.is_dir():
            raise DataError(
                f"{option} must be a folder in an existing folder. Got {str(path)!r}; create "
                f"{str(path.parent)!r} first."
            )
        _probe(path.parent, option)
        return path
    clash = [n for n in names if (path / n).exists()]
    if clash and not overwrite:
        raise DataError(
            f"{option}: {str(path)!r} already holds {', '.join(clash)}. Choose another folder, "
            "or add --overwrite to replace them."
        )
    _probe(path, option)
    return path


@contextlib.contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """A temporary path in ``path``'s folder (same suffixes, so writers that read the
    extension work) that replaces ``path`` when the block ends, and is removed if it fails."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix="".join(
        path.suffixes))  # fmt: skip
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def writing(folder: Path, names: tuple[str, ...]) -> Iterator[dict[str, Path]]:
    """Temporary paths for ``names`` in ``folder`` (made if new), all renamed into place when
    the block ends (:func:`atomic`); on a failure every temporary file, and a folder made here,
    is removed: a command's output folder is whole or untouched."""
    made = not folder.exists()
    folder.mkdir(exist_ok=True)
    try:
        with contextlib.ExitStack() as stack:
            yield {n: stack.enter_context(atomic(folder / n)) for n in names}
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def input_file(path: str | os.PathLike[str], expected: str) -> Path:
    """``path`` if it names a file that is there (the reader then says what is wrong inside),
    else :class:`DataError` -- checked before a command loads what reads the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No such file: {str(path)!r}. Expected {expected}.")
    return path


def physical(value: float, code: str, what: str) -> float:
    """``value`` (in the canonical unit of LOINC ``code``) if FHIR ingestion would accept it --
    inside the code's physically possible range -- else :class:`DataError` naming ``what``."""
    row = CURATED.get(code)
    if row is None:  # a registered model's own code: any finite value (medtwin.data.loinc)
        if not math.isfinite(value):
            raise DataError(f"{what}: expected a finite number, got {value!r}.")
        return value
    lo, hi = row.valid_range
    if not (math.isfinite(value) and lo <= value <= hi):
        raise DataError(
            f"{what}: {value:g} {row.canonical_unit} lies outside the physically possible range "
            f"[{lo:g}, {hi:g}] {row.canonical_unit} of {row.display} (the range the API "
            "accepts). Check the value and its unit."
        )
    return value


_EVENT_RANGES = {
    "meal": (None, "g"),  # LOINC 9059-7's range, read on use
    "bolus": (INSULIN_BOLUS_RANGE, "U"),
    "basal rate": (INSULIN_BASAL_RANGE, "U/h"),
}


def event_amount(kind: str, amount: float, what: str) -> float:
    """``amount`` of a ``kind`` event if the API would accept it: a meal within LOINC 9059-7's
    range (g), a bolus (U) or basal rate (U/h) within FHIR MedicationAdministration's, any
    other kind within :data:`~medtwin.limits.EVENT_AMOUNT`; else :class:`DataError`."""
    if kind == "meal":
        return physical(amount, CARBS_LOINC, what)
    kind = "basal rate" if kind == "basal" else kind
    rng, unit = _EVENT_RANGES.get(kind, (None, ""))
    if rng is None:
        try:
            return float(EVENT_AMOUNT.check(amount, name=what))
        except MedtwinError as exc:
            raise DataError(str(exc)) from None
    lo, hi = rng
    if not (math.isfinite(amount) and lo <= amount <= hi):
        raise DataError(
            f"{what}: a {kind} of {amount:g} {unit} lies outside [{lo:g}, {hi:g}] {unit}, the "
            "range the API accepts. Check the amount and its unit."
        )
    return amount
