"""medtwin.data.csvio.write_csv / write_columns: the one CSV writer (atomic, fixed digits)."""

import numpy as np
import pytest

from medtwin.data.csvio import write_columns, write_csv
from medtwin.errors import DataError


def test_rows_and_columns_write_the_same_bytes(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(a, ["id", "x", "n"], [["p1", 1 / 3, 2], ["p,2", np.float64(2.5), 3]], digits=6)
    write_columns(b, {"id": ["p1", "p,2"], "x": np.array([1 / 3, 2.5]), "n": [2, 3]}, digits=6)
    assert a.read_bytes() == b.read_bytes() == b'id,x,n\r\np1,0.333333,2\r\n"p,2",2.5,3\r\n'
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_missing_folder_and_ragged_columns_are_refused(tmp_path):
    with pytest.raises(DataError, match="--out must name a file in an existing folder"):
        write_csv(tmp_path / "no" / "x.csv", ["a"], [], option="--out")
    with pytest.raises(DataError, match=r"one length\. Got a: 2, b: 1"):
        write_columns(tmp_path / "x.csv", {"a": [1, 2], "b": [1]})
    assert not (tmp_path / "x.csv").exists()
