"""medtwin.timeunits: one table of time units; conversions exact to one rounding."""

import pytest

from medtwin.errors import DataError
from medtwin.timeunits import SECONDS, convert, seconds


def test_table_and_conversions():
    assert dict(SECONDS) == {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
    assert seconds(5, "min") == 300.0
    assert convert(90.0, "min", "h") == 1.5 and convert(1.5, "h", "min") == 90.0
    assert convert(36.0, "h", "d") == 1.5 and convert(2.0, "d", "s") == 172800.0
    # divided by the whole factor, not multiplied by a rounded reciprocal
    assert convert(7.0, "min", "h") == 7.0 / 60.0 and convert(1.0, "min", "h") == 1 / 60
    assert convert(1.0, "h", "d") == 1.0 / 24.0


@pytest.mark.parametrize("unit", ["fortnight", "hours", None, 60])
def test_an_unknown_unit_is_refused_with_the_known_ones(unit):
    with pytest.raises(DataError, match=r"Unknown time unit .*Expected one of s, min, h, d"):
        convert(1.0, unit, "h")
    with pytest.raises(DataError, match="Unknown time unit"):
        seconds(1.0, unit)
