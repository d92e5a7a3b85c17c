"""search_param(): the values the service may put in a query, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medtwin.data.fhir import DateParam, search_param
from medtwin.errors import DataError, FhirError


def test_patient_pseudonym():
    assert search_param("patient", "p-0123456789abcdef", "patient") == "p-0123456789abcdef"
    assert search_param("subject", "Patient/p-00000000000000ff", "patient") == "p-00000000000000ff"


@pytest.mark.parametrize(
    "value",
    ["p-0123456789ABCDEF", "p-0123456789abcde", "p-0123456789abcdef0", "0123456789abcdef",
     "p-0123456789abcdeg", "p-0123456789abcdef%00", "p-0123456789abcdef/../x", "*", ""],
)  # fmt: skip
def test_patient_pseudonym_refused(value):
    with pytest.raises(FhirError) as info:
        search_param("patient", value, "patient")
    assert info.value.issues[0][:2] == ("value", "patient")


def test_code():
    assert search_param("code", "2339-0", "code") == "2339-0"
    assert search_param("code", "http://loinc.org|99504-3", "code") == "99504-3"
    for bad in ("2339-1", "http://snomed.info/sct|2339-0", "2339-0,8867-4", "%27"):
        with pytest.raises(FhirError):
            search_param("code", bad, "code")


@pytest.mark.parametrize(
    "value, prefix, start, end",
    [
        ("2024", "eq", datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        ("ge2024-12", "ge", datetime(2024, 12, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        ("lt2024-02-28", "lt", datetime(2024, 2, 28, tzinfo=UTC),
         datetime(2024, 2, 29, tzinfo=UTC)),
        ("le2024-05-01T08:30:00+02:00", "le", datetime(2024, 5, 1, 6, 30, tzinfo=UTC),
         datetime(2024, 5, 1, 6, 30, 1, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_date(value, prefix, start, end):
    assert search_param("date", value, "date") == DateParam(prefix, start, end)


@pytest.mark.parametrize(
    "value",
    ["2024-13", "2024-02-30", "ge2024-05-01T08:30:00", "sa2024", "yesterday", "9999-12-31T25:00Z",
     "ge", "2024-05-01T08:30:00+02:00 OR 1=1"],
)  # fmt: skip
def test_date_refused(value):
    with pytest.raises(FhirError) as info:
        search_param("date", value, "date")
    assert info.value.issues[0][0] == "value"


def test_count():
    assert search_param("_count", "1", "count") == 1
    assert search_param("_count", "1000", "count") == 1000
    for bad in ("0", "1001", "1e3", "10 ", "٣", "0x10"):
        with pytest.raises(FhirError):
            search_param("_count", bad, "count")


def test_year_9999_has_no_following_year():
    with pytest.raises(FhirError):
        search_param("date", "9999", "date")


def test_length_and_control_characters():
    assert search_param("code", "2339-0", "code")
    with pytest.raises(FhirError) as info:
        search_param("code", "2" * 257, "code")
    assert info.value.issues[0][0] == "too-long"
    with pytest.raises(FhirError) as info:
        search_param("patient", "p-0123456789abcdef\u202e", "patient")  # right-to-left override
    assert info.value.issues[0][0] == "invalid"


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(DataError, match="kind"):
        search_param("x", "1", "string")  # type: ignore[arg-type]
