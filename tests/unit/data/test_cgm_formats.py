"""medtwin.data.cgm_formats: Dexcom Clarity, LibreView and Nightscout files (fixtures written
from the published layouts in tests/data/cgm, no patients' data), one test per quirk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from medtwin.assimilate import HI, LO
from medtwin.data import CGM_FORMATS, cgm_format, read_cgm, read_cgm_csv
from medtwin.data.csvio import cgm_regimen
from medtwin.data.units import GLUCOSE_MG_DL_PER_MMOL_L
from medtwin.errors import DataError

CGM = Path(__file__).parents[2] / "data" / "cgm"
MS0 = 1709539200000  # 2024-03-04T08:00:00Z in epoch milliseconds


def entries(*items: tuple[float, float], **extra) -> bytes:
    """Nightscout entries JSON: (minutes after MS0, sgv) each."""
    return json.dumps([{"type": "sgv", "date": MS0 + int(m * 60_000), "sgv": v, **extra}
                       for m, v in items]).encode()  # fmt: skip


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("clarity_mg_dl.csv", "dexcom-clarity"), ("clarity_mmol_l.csv", "dexcom-clarity"),
     ("libreview_mg_dl.csv", "libreview"), ("libreview_mmol_l.csv", "libreview"),
     ("nightscout_entries.json", "nightscout")],
)  # fmt: skip
def test_the_format_is_detected_and_named(name, fmt):
    assert cgm_format(CGM / name) == fmt
    cgm = read_cgm(CGM / name)
    assert cgm.format == fmt and cgm.summary().startswith(f"Read {name} as a {CGM_FORMATS[fmt]}")
    obs = read_cgm_csv(CGM / name)  # the contract of the plain reader: sc_glucose, minutes
    assert set(obs.observable) == {"sc_glucose"} and len(obs) == len(cgm)
    np.testing.assert_array_equal(obs.times, cgm.times)
    np.testing.assert_array_equal(obs.censored, cgm.censored)


def test_a_file_of_no_format_names_the_formats_tried_and_its_first_line(tmp_path):
    with pytest.raises(DataError) as info:
        read_cgm(CGM / "not_a_cgm.csv")
    msg = str(info.value)
    for fragment in ("plain CSV (header time,glucose_mg_dl)", "Dexcom Clarity CSV",
                     "LibreView CSV", "Nightscout entries JSON",
                     "first line reads 'Date;Time;Sensor Glucose (mg/dL)'"):  # fmt: skip
        assert fragment in msg
    long = tmp_path / "long.csv"
    long.write_text("x" * 200 + "\n1\n")
    with pytest.raises(DataError, match=r"reads 'x{80}\.\.\.'"):
        cgm_format(long)
    with pytest.raises(DataError, match="none of the CGM formats"):
        read_cgm(b'{"sgv": 120}', name="object.json")  # an object, not the entries array


def test_clarity_takes_egv_rows_and_its_events_and_counts_the_rest():
    cgm = read_cgm(CGM / "clarity_mg_dl.csv", tz="America/New_York")
    assert len(cgm) == 31
    assert cgm.skipped == {
        "'FirstName' rows": 1, "'LastName' rows": 1, "'Device' rows": 1, "'Alert' rows": 2,
        "long-acting insulin rows (no basal rate)": 1, "'Calibration' rows": 1,
        "duplicate times": 1, "warm-up readings (new sensor session)": 12,
    }  # fmt: skip
    assert [(e.time, e.kind, e.amount) for e in cgm.events] == [(15.0, "bolus", 4.0),
                                                                (15.0, "meal", 45.0)]  # fmt: skip
    reg = cgm_regimen(cgm)
    assert [(d.label, d.time, d.amount) for d in reg.events] == [("bolus", 15.0, 4.0),
                                                                 ("meal", 15.0, 45.0)]  # fmt: skip
    assert 32.0 not in cgm.times  # the calibration (fingerstick, minute 32) is no reading


def test_low_and_high_are_censored_at_each_devices_limits():
    clarity = read_cgm(CGM / "clarity_mg_dl.csv")
    assert clarity.values[6] == 40.0 and clarity.censored[6] == LO  # "Low"
    assert clarity.values[18] == 400.0 and clarity.censored[18] == HI  # "High", Dexcom 40-400
    libre = read_cgm(CGM / "libreview_mg_dl.csv")
    assert (libre.values[5], libre.censored[5]) == (40.0, LO)
    assert (libre.values[14], libre.censored[14]) == (500.0, HI)  # Libre reads up to 500
    ns = read_cgm(CGM / "nightscout_entries.json")
    assert (ns.values[4], ns.censored[4]) == (40.0, LO)  # sgv 39: the uploaders' LOW
    assert ns.skipped["error codes (sgv below 39)"] == 1  # sgv 5: a Dexcom error code
    assert int(np.count_nonzero(ns.censored)) == 1


def test_mmol_per_litre_is_converted_through_the_loinc_table():
    clarity = read_cgm(CGM / "clarity_mmol_l.csv")
    np.testing.assert_allclose(clarity.values[:2], np.array([5.5, 10.0]) * GLUCOSE_MG_DL_PER_MMOL_L,
                               rtol=1e-12)  # fmt: skip
    assert list(clarity.censored) == [0, 0, LO, HI] and list(clarity.values[2:]) == [40.0, 400.0]
    libre = read_cgm(CGM / "libreview_mmol_l.csv")  # also: a UTF-8 byte-order mark
    np.testing.assert_allclose(libre.values, np.array([6.2, 7.0, 8.4, 5.1]) * 18.0156,
                               rtol=1e-12)  # fmt: skip
    assert "glucose in mmol/L" in libre.notes


def test_local_times_take_the_time_zone_and_end_in_utc():
    local = read_cgm(CGM / "clarity_mg_dl.csv", tz="America/New_York")
    assert local.origin == datetime(2024, 3, 4, 13, 0, 7, tzinfo=UTC)  # EST, UTC-5
    assert local.stamps is not None and local.stamps[0] == local.origin
    bare = read_cgm(CGM / "clarity_mg_dl.csv")
    assert bare.origin == datetime(2024, 3, 4, 8, 0, 7, tzinfo=UTC)
    assert "local times read as UTC (no time zone given)" in bare.notes
    np.testing.assert_array_equal(local.times, bare.times)  # minutes: the same axis
    libre = read_cgm(CGM / "libreview_mmol_l.csv", tz="Europe/Berlin")
    assert libre.origin == datetime(2024, 3, 13, 13, 30, tzinfo=UTC)  # CET, UTC+1
    with pytest.raises(DataError, match=r"Unknown time zone 'Mars/Olympus'\. Give an IANA"):
        read_cgm(CGM / "clarity_mg_dl.csv", tz="Mars/Olympus")


def test_nightscout_date_is_utc_and_a_date_string_keeps_its_offset():
    ns = read_cgm(CGM / "nightscout_entries.json", tz="Asia/Tokyo")  # no effect: instants
    assert ns.origin == datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
    assert ns.stamps is not None and ns.stamps[-1] == datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    assert ns.times[-1] == 60.0  # "2024-03-04T10:00:00.000+0100" has no date: 09:00 UTC
    local = read_cgm(json.dumps([{"type": "sgv", "sgv": 100,
                                  "dateString": "2024-03-04T10:00:00"}]).encode(),
                     tz="Europe/Berlin")  # fmt: skip
    assert local.origin == datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def test_the_repeated_hour_of_a_clock_change_is_read_in_file_order():
    """Berlin, 27 Oct 2024: 02:00-02:59 happens twice; readings every 10 min stay 10 min apart."""
    cgm = read_cgm(CGM / "clarity_dst.csv", tz="Europe/Berlin")
    assert len(cgm) == 19 and cgm.skipped == {}
    np.testing.assert_array_equal(np.diff(cgm.times), np.full(18, 10.0))
    assert cgm.origin == datetime(2024, 10, 26, 23, 30, tzinfo=UTC)


def test_gaps_stay_gaps():
    clarity = read_cgm(CGM / "clarity_mg_dl.csv")
    assert clarity.times[24] == 120.0 and clarity.times[25] == 330.0  # 150 min off + warm-up
    ns = read_cgm(CGM / "nightscout_entries.json")
    assert list(ns.times[6:8]) == [30.0, 40.0]  # the error code at 35 min is no reading


def test_duplicates_keep_the_first_in_file_order_and_rows_are_sorted():
    cgm = read_cgm(entries((10, 150), (0, 100), (10, 170), (5, 120)), name="dup.json")
    assert list(cgm.times) == [0.0, 5.0, 10.0] and list(cgm.values) == [100.0, 120.0, 150.0]
    assert cgm.skipped == {"duplicate times": 1} and cgm.reordered
    clarity = read_cgm(CGM / "clarity_mg_dl.csv")  # a repeated row and a late one
    assert clarity.skipped["duplicate times"] == 1 and clarity.reordered
    assert np.all(np.diff(clarity.times) > 0)


def test_readings_at_the_start_of_a_new_sensor_session_are_dropped():
    clarity = read_cgm(CGM / "clarity_mg_dl.csv")  # new transmitter after a 150-min gap
    assert clarity.skipped["warm-up readings (new sensor session)"] == 12
    assert len(read_cgm(CGM / "clarity_mg_dl.csv", warmup=0)) == 43
    # a gap of at least SESSION_GAP (120 min) starts a session too; the file's start does not
    data = entries(*[(5 * k, 100 + k) for k in range(6)], *[(145 + 5 * k, 200) for k in range(16)])
    cgm = read_cgm(data, name="gap.json", warmup=30)
    assert cgm.skipped == {"warm-up readings (new sensor session)": 6}
    assert list(cgm.times[:7]) == [0, 5, 10, 15, 20, 25, 175]
    shorter = entries(*[(5 * k, 100 + k) for k in range(6)], *[(140, 200), (145, 200)])
    assert len(read_cgm(shorter, name="short-gap.json", warmup=30)) == 8  # 115-min gap
    with pytest.raises(DataError, match="warmup must be minutes >= 0"):
        read_cgm(data, warmup=-1)


def test_libreview_takes_historic_glucose_not_scans():
    libre = read_cgm(CGM / "libreview_mg_dl.csv")
    assert len(libre) == 21 and np.all(libre.times % 15 == 0)  # the sensor's 15-min series
    assert libre.skipped["scan glucose rows (record type 1)"] == 2
    assert 118.0 not in libre.values and 141.0 not in libre.values
    assert libre.skipped["strip glucose rows (record type 2)"] == 1
    assert libre.skipped["food rows without grams (servings or text)"] == 1
    assert [(e.time, e.kind, e.amount) for e in libre.events] == [(10.0, "bolus", 5.0),
                                                                  (10.0, "meal", 60.0)]  # fmt: skip
    assert libre.stamps is not None and libre.stamps[16] == datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


def test_libreview_date_order_comes_from_the_file(tmp_path):
    us = read_cgm(CGM / "libreview_mg_dl.csv")  # 03-04-2024 with AM/PM: 4 March
    assert us.origin == datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
    assert "dates read month-day-year (no day above 12 tells the order)" in us.notes
    eu = read_cgm(CGM / "libreview_mmol_l.csv")  # 13-03-2024: the day comes first
    assert eu.origin == datetime(2024, 3, 13, 14, 30, tzinfo=UTC) and not any(
        n.startswith("dates read") for n in eu.notes
    )
    lines = (CGM / "libreview_mmol_l.csv").read_text(encoding="utf-8-sig").splitlines()
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("\n".join([*lines, lines[-1].replace("13-03-2024", "03-14-2024")]) + "\n")
    with pytest.raises(DataError, match="mix day-month-year and month-day-year"):
        read_cgm(mixed)


def test_a_bad_row_refuses_the_whole_file_with_its_line(tmp_path):
    text = (CGM / "clarity_mg_dl.csv").read_text().splitlines()
    text[30] = text[30].replace("2024-03-04T", "04/03/2024 ")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"bad.csv line 31: the timestamp must read "
                                        r"YYYY-MM-DDThh:mm:ss"):  # fmt: skip
        read_cgm(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n".join(text[:6]) + "\n")  # header, name, device and alert rows only
    with pytest.raises(DataError, match="with no glucose reading to use"):
        read_cgm(empty)
    with pytest.raises(DataError, match="entry 0: sgv must be a number"):
        read_cgm(b'[{"type": "sgv", "sgv": null, "date": 1}]')


def test_store_records_carry_instants_loinc_and_censoring():
    cgm = read_cgm(CGM / "clarity_mg_dl.csv", tz="America/New_York")
    obs, events = cgm.records("Patient/p-1")
    assert len(obs) == 31 and {o.code for o in obs} == {"99504-3"}
    assert {o.unit for o in obs} == {"mg/dL"} and obs[6].censored == LO
    assert obs[0].time == datetime(2024, 3, 4, 13, 0, 7, tzinfo=UTC)
    assert obs[0].source_id == "cgm:dexcom-clarity:2024-03-04T13:00:07+00:00"
    assert [(e.kind, e.amount, e.time) for e in events] == [
        ("bolus", 4.0, datetime(2024, 3, 4, 13, 15, 7, tzinfo=UTC)),
        ("meal", 45.0, datetime(2024, 3, 4, 13, 15, 7, tzinfo=UTC)),
    ]
    plain = b"time,glucose_mg_dl\n0,120\n5,\n10,LO\n"
    with pytest.raises(DataError, match="plain CSV: its times are minutes from an unknown start"):
        read_cgm(plain).records("Patient/p-1")
    start = datetime(2024, 3, 4, 9, 0, tzinfo=UTC) + timedelta(hours=1)
    obs, _ = read_cgm(plain, start=start).records("Patient/p-1")
    assert [(o.time.hour, o.time.minute, o.value, o.censored) for o in obs] == [
        (10, 0, 120.0, 0), (10, 10, 40.0, LO)]  # the gap is no record  # fmt: skip
    with pytest.raises(DataError, match="a start applies only to a plain CSV"):
        read_cgm(CGM / "clarity_mg_dl.csv", start=start)


def test_the_plain_csv_is_read_as_written():
    cgm = read_cgm(b"time,glucose_mg_dl\n10,-30\n0,\n5,High\n", name="plain.csv")
    assert cgm.format == "plain" and cgm.origin is None and cgm.skipped == {}
    assert list(cgm.times) == [10.0, 0.0, 5.0]  # not sorted: the filter's prepare() does that
    assert cgm.values[0] == -30.0 and np.isnan(cgm.values[1]) and cgm.censored[2] == HI
    with pytest.raises(DataError, match=r"plain\.csv line 2: glucose_mg_dl must be a number"):
        read_cgm(b"time,glucose_mg_dl\n0,abc\n", name="plain.csv")
