"""Discrete data for a Bayesian network: a table of state indices with missing values.

:class:`Cases` holds one row per case and one column per node (``codes[i, j]`` is the index of
the state of ``columns[j]`` in case ``i``, or ``-1`` when it is missing). :func:`encode` builds
it from state names as read from a CSV file (the reading itself is the caller's: medtwin.bn does
no file I/O on data), refusing an unknown column or state with the row and column named.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ._network import BayesNet

__all__ = ["MISSING", "Cases", "encode"]

MISSING = frozenset({"", "?", "NA", "N/A", "NaN", "nan", "null", "None"})


@dataclass(frozen=True)
class Cases:
    """Cases over ``columns`` (node names): ``codes`` an int array (n_cases, n_columns), the
    state index of each finding, -1 where the value is missing."""

    columns: tuple[str, ...]
    codes: np.ndarray

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes, dtype=np.int64)
        if codes.ndim != 2 or codes.shape[1] != len(self.columns):
            raise DataError(
                f"Cases need a 2-D array with one column per name ({len(self.columns)}). Got "
                f"shape {codes.shape}."
            )
        codes.setflags(write=False)
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "codes", codes)

    @property
    def n(self) -> int:
        """The number of cases."""
        return int(self.codes.shape[0])

    def missing_fraction(self) -> float:
        """The share of missing values."""
        return float(np.mean(self.codes < 0)) if self.codes.size else 0.0

    def check(self, net: BayesNet) -> Cases:
        """Self if every column is a node and every code a state index of it."""
        for j, c in enumerate(self.columns):
            if c not in net.states:
                raise DataError(
                    f"The data column {c!r} is not a node of the network {net.name!r}. "
                    f"Expected some of: {', '.join(net.nodes)}; rename or drop the column."
                )
            bad = np.flatnonzero((self.codes[:, j] < -1) | (self.codes[:, j] >= net.card(c)))
            if bad.size:
                raise DataError(
                    f"Case {int(bad[0])} has state code {int(self.codes[bad[0], j])} for "
                    f"{c!r}, which has {net.card(c)} states (codes 0..{net.card(c) - 1}, -1 "
                    "missing)."
                )
        return self


def encode(
    net: BayesNet,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    first_row: int = 1,
) -> Cases:
    """:class:`Cases` from rows of state names (``MISSING`` spellings are missing values).

    ``first_row``: the number of the first row in the error messages (1 = the first data
    line). Raises :class:`DataError` for an unknown column, a row of the wrong length or a
    state the node does not have, with the row number and column name.
    """
    columns = [str(c).strip() for c in columns]
    for c in columns:
        if c not in net.states:
            raise DataError(
                f"The data column {c!r} is not a node of the network {net.name!r}. Expected "
                f"some of: {', '.join(net.nodes)}; rename or drop the column."
            )
    if len(set(columns)) != len(columns):
        raise DataError(f"The data names a column twice: {columns}.")
    index = [{s: i for i, s in enumerate(net.states[c])} for c in columns]
    out = []
    for r, row in enumerate(rows, first_row):
        if len(row) != len(columns):
            raise DataError(
                f"Data row {r} has {len(row)} values; the header has {len(columns)} columns."
            )
        codes = []
        for c, idx, value in zip(columns, index, row, strict=True):
            v = value.strip()
            if v in MISSING:
                codes.append(-1)
            elif v in idx:
                codes.append(idx[v])
            else:
                raise DataError(
                    f"Data row {r}, column {c!r}: unknown state {v!r}. Expected one of: "
                    f"{', '.join(net.states[c])} (or empty for a missing value)."
                )
        out.append(codes)
    return Cases(tuple(columns), np.array(out, dtype=np.int64).reshape(len(out), len(columns)))
