"""Attacks on the de-identified research export (issue 14, finding 4): recovering true dates by
averaging repeated date-shifted exports, dating a birthday by exporting day after day, finding
the record that crossed New Year, linking study ids across recipients, outrunning the export
rate limit (more requests, other tokens, concurrency, a restart), and reading identifiers,
ages over 89 or the export itself without the researcher role."""

from __future__ import annotations

import base64
import json
import re
import statistics
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from medtwin.cli.main import app as cli_app
from medtwin.data.records import EventRecord, ObservationRecord, PatientRecord
from medtwin.service import create_app
from medtwin.store import open_store
from medtwin.store._schema import DeidShiftRow

from .conftest import KEY, World

YEAR = datetime.now(UTC).year
T0 = datetime(YEAR - 1, 5, 14, 7, 30, tzinfo=UTC)
PEOPLE = [  # source id, MRN, name, birth date, gender
    ("Patient/a1", "MRN-700001", "Alma Aalto", date(1961, 4, 17), "female"),
    ("Patient/b2", "MRN-700002", "Bert Brink", date(1985, 11, 2), "male"),
    ("Patient/c3", "MRN-700003", "Cora Cole", date(YEAR - 95, 7, 9), "female"),  # 90+
    ("Patient/d4", "MRN-700004", "Dan Dove", date(YEAR - 90, 12, 31), "male"),  # 89 or 90
]
SAFE_HARBOR = "HIPAA Safe Harbor (45 CFR 164.514(b)(2))"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}")


def populate(store: Any, people=PEOPLE, t0: datetime = T0) -> dict[str, str]:
    """The patients with readings every 5 min (source ids embedding the MRN), a meal and a
    free-text recommendation; returns name -> pseudonym."""
    pids = {}
    for k, (src, mrn, name, birth, gender) in enumerate(people):
        pid = store.add_patient(PatientRecord(src, mrn=mrn, name=name, birth_date=birth,
                                              gender=gender), actor="adm")  # fmt: skip
        start = t0 + timedelta(hours=k)
        obs = [ObservationRecord(f"cgm-{mrn}-{i}", src, "2339-0", start + timedelta(minutes=5 * i),
                                 110.0 + 3 * i, "mg/dL") for i in range(4)]  # fmt: skip
        store.add_observations(pid, obs, actor="adm")
        meal = EventRecord(f"meal-{mrn}", src, "meal", start + timedelta(minutes=12), 40.0)
        store.add_events(pid, [meal], actor="adm")
        store.add_recommendation(pid, {"note": f"call {name} at home"}, actor="adm")
        pids[name] = pid
    return pids


def strings(doc: Any) -> list[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(doc, dict):
        return [s for k, v in doc.items() for s in [k, *strings(v)]]
    if isinstance(doc, list):
        return [s for v in doc for s in strings(v)]
    return [doc] if isinstance(doc, str) else []


def export(w: World, who: str, dates: str | None = None, **kw: Any):
    return w.get(who, "/research/export" + (f"?dates={dates}" if dates else ""), **kw)


def successes(store: Any, actor: str) -> int:
    return len([e for e in store.audit_entries(action="export.deidentified", actor=actor)
                if e.outcome == "success"])  # fmt: skip


def shift_rows(store: Any) -> int:
    with store._tx() as s:
        return s.execute(select(func.count()).select_from(DeidShiftRow)).scalar_one()


def app_over(store: Any, tokens: dict[str, str], **kw: Any):
    """Another service process over the same database (a second worker, or a restart)."""
    app = create_app(store, **{"login_limit": 1000, **kw})
    return TestClient(app, raise_server_exceptions=False), tokens


@pytest.fixture
def roomy(world_any):
    """The world on both backends, with room for many exports an hour."""
    populate(world_any.store)
    client, tokens = app_over(world_any.store, world_any.tokens, export_limit_per_hour=1000)
    with client:
        yield World(client, world_any.store, world_any.url, dict(tokens))


def second_researcher(w: World, name: str = "res2") -> str:
    r = w.post("adm", "/users", {"name": name, "role": "researcher"},
               headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 201, r.text
    w.tokens[name] = r.json()["token"]
    return name


# -- averaging repeated exports ------------------------------------------------------------


@pytest.mark.parametrize("who", ["res", "adm"])
def test_twenty_shifted_exports_give_one_shifted_birth_date_per_patient(roomy, who):
    docs = [export(roomy, who, "shift").json() for _ in range(20)]
    births: dict[str, set[str]] = {}
    firsts: dict[str, set[str]] = {}
    for doc in docs:
        for p in doc["patients"]:
            births.setdefault(p["study_id"], set()).add(p.get("birth_date", "withheld"))
            firsts.setdefault(p["study_id"], set()).add(p["observations"][0]["time"])
    assert len(births) == len(PEOPLE)  # the same study ids in every export
    assert all(len(v) == 1 for v in births.values()), births
    assert all(len(v) == 1 for v in firsts.values()), firsts
    true = {b.isoformat() for *_, b, _ in PEOPLE}
    # The attacker's estimator: the mean of the shifted dates is the one shifted date.
    for values in births.values():
        ords = [date.fromisoformat(v).toordinal() for v in values if v != "withheld"]
        if ords:
            assert date.fromordinal(round(statistics.mean(ords))).isoformat() not in true
    assert not true & set(strings(docs))


@pytest.mark.parametrize("dates", ["year", None])
def test_twenty_year_only_exports_are_identical_and_hold_no_date(roomy, dates):
    docs = [export(roomy, "res", dates).json() for _ in range(20)]
    assert all(d == docs[0] for d in docs)
    hits = [s for s in strings(docs[0]) if ISO_DATE.search(s)]
    assert hits == [], hits
    assert docs[0]["method"] == SAFE_HARBOR


@pytest.mark.parametrize(
    "sequence",
    [("shift", "year", "shift"), ("shift", "shift"), ("year", "shift", "year", "shift")],
    ids=["year-between", "twice", "alternating"],
)
def test_switching_modes_does_not_redraw_the_shift(roomy, sequence):
    docs = [(d, export(roomy, "res", d).json()) for d in sequence]
    shifted = [doc for d, doc in docs if d == "shift"]
    assert len(shifted) >= 2 and all(doc == shifted[0] for doc in shifted)
    assert shift_rows(roomy.store) == len(PEOPLE)  # one stored shift per patient


@pytest.mark.parametrize("extra", ["recipient=adm", "seed=1", "recipient=res&seed=7", "as_of=x"])
def test_query_parameters_cannot_ask_for_a_fresh_shift(roomy, extra):
    first = export(roomy, "res", "shift").json()
    r = roomy.get("res", f"/research/export?dates=shift&{extra}")
    assert r.status_code == 200 and r.json() == first
    assert r.json()["recipient"] == "res"


def test_a_restart_keeps_the_shift(roomy):
    first = export(roomy, "res", "shift").json()
    store2 = open_store(roomy.url, key=KEY)
    try:
        client, tokens = app_over(store2, roomy.tokens, export_limit_per_hour=1000)
        with client:
            w2 = World(client, store2, roomy.url, tokens)
            assert export(w2, "res", "shift").json() == first
    finally:
        store2.close()


def test_a_new_patient_does_not_move_the_others(roomy):
    before = {p["study_id"]: p for p in export(roomy, "res", "shift").json()["patients"]}
    populate(roomy.store, [("Patient/e5", "MRN-700005", "Eve Eng", date(1977, 3, 3), "female")])
    after = {p["study_id"]: p for p in export(roomy, "res", "shift").json()["patients"]}
    assert set(after) > set(before) and len(after) == len(before) + 1
    assert all(after[s] == p for s, p in before.items())


# -- two recipients ----------------------------------------------------------------------


@pytest.mark.parametrize("dates", ["shift", "year"])
def test_two_researchers_get_unlinkable_study_ids_and_other_shifts(roomy, dates):
    other = second_researcher(roomy)
    a = [export(roomy, "res", dates).json() for _ in range(2)]
    b = [export(roomy, other, dates).json() for _ in range(2)]
    assert a[0] == a[1] and b[0] == b[1]  # stable per recipient
    ids_a = {p["study_id"] for p in a[0]["patients"]}
    assert ids_a.isdisjoint(p["study_id"] for p in b[0]["patients"])
    if dates == "shift":
        births = [sorted(p.get("birth_date", "") for p in d["patients"]) for d in (a[0], b[0])]
        assert births[0] != births[1]
        with roomy.store._tx() as s:
            rows = s.execute(select(DeidShiftRow)).scalars().all()
        assert {r.researcher for r in rows} == {"res", other}


# -- dating a birthday or a record by exporting day after day -----------------------------


@pytest.mark.parametrize("dates", ["year", "shift"])
def test_daily_exports_cannot_date_a_birthday(roomy, monkeypatch, dates):
    """An age that turned over on the (true) birthday would date it: export on every day
    around each birthday and at both ends of the year, and watch the ages."""
    days = {date(YEAR, 1, 1), date(YEAR, 12, 31)}
    for *_, birth, _ in PEOPLE:
        day = birth.replace(year=YEAR)
        days |= {day + timedelta(days=k) for k in (-2, -1, 0, 1, 2)}
    seen = set()
    for day in sorted(d for d in days if d.year == YEAR):
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        monkeypatch.setattr("medtwin.store._deid._now", lambda noon=noon: noon)
        r = export(roomy, "res", dates)
        assert r.status_code == 200, r.text
        seen.add(json.dumps(r.json()["patients"], sort_keys=True))
    assert len(seen) == 1  # nothing in the export changed on any of those days


@pytest.mark.parametrize("minutes_before", [1, 7, 13])
def test_year_mode_does_not_date_the_reading_that_crossed_new_year(roomy, minutes_before):
    """Two patients with the same readings, one across New Year: a year per reading would
    pin the first reading's date to the minute."""
    eve = datetime(YEAR - 1, 12, 31, 23, 60 - minutes_before, tzinfo=UTC)
    twins = [("Patient/x1", "MRN-710001", "Xia Xu", date(1970, 1, 5), "female"),
             ("Patient/x2", "MRN-710002", "Xeno Xu", date(1970, 1, 5), "female")]  # fmt: skip
    populate(roomy.store, twins[:1], t0=eve)
    populate(roomy.store, twins[1:], t0=eve - timedelta(days=200, hours=1))
    pts = [p for p in export(roomy, "res", "year").json()["patients"] if p["age"] == YEAR - 1970]
    assert len(pts) == 2
    strip = [{k: v for k, v in p.items() if k not in ("study_id", "first_year")} for p in pts]
    assert strip[0] == strip[1]  # the crossing is invisible


# -- the rate limit ----------------------------------------------------------------------


LIMIT = 3


@pytest.fixture
def limited(make_world):
    w = make_world(export_limit_per_hour=LIMIT)
    populate(w.store)
    return w


def assert_throttled(r) -> None:
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= 3600
    assert r.json()["issue"][0]["code"] == "throttled" and "patients" not in r.text


@pytest.mark.parametrize("who", ["res", "adm"])
@pytest.mark.parametrize("dates", ["year", "shift"])
def test_the_export_after_the_limit_is_refused_and_audited(limited, who, dates):
    for _ in range(LIMIT):
        assert export(limited, who, dates).status_code == 200
    before = len(limited.store.audit_entries(action="patient.export"))
    assert_throttled(export(limited, who, dates))
    assert successes(limited.store, who) == LIMIT
    assert len(limited.store.audit_entries(action="patient.export")) == before  # nothing read
    last = limited.store.audit_entries(action="export.deidentified", actor=who)[-1]
    assert last.outcome == "denied" and last.detail["reason"] == "rate limit"


BYPASSES = {
    "other-mode": lambda w: export(w, "res", "shift"),
    "no-mode": lambda w: export(w, "res"),
    "cache-buster": lambda w: w.get("res", "/research/export?dates=year&nocache=81723"),
    "forwarded-for": lambda w: export(w, "res", "year", headers={"x-forwarded-for": "10.9.8.7"}),
    "lowercase-scheme": lambda w: w.client.get(
        "/research/export", headers={"authorization": f"bearer {w.tokens['res']}"}
    ),
    "fresh-token": lambda w: w.client.get(
        "/research/export", headers={"authorization": f"Bearer {w.store.issue_token('res')}"}
    ),
}


@pytest.mark.parametrize("bypass", list(BYPASSES))
def test_the_limit_cannot_be_sidestepped(limited, bypass):
    for _ in range(LIMIT):
        assert export(limited, "res", "year").status_code == 200
    assert_throttled(BYPASSES[bypass](limited))
    assert successes(limited.store, "res") == LIMIT


def test_another_researcher_is_not_held_back(limited):
    other = second_researcher(limited)
    for _ in range(LIMIT):
        assert export(limited, "res").status_code == 200
    assert_throttled(export(limited, "res"))
    for _ in range(LIMIT):
        assert export(limited, other).status_code == 200
    assert_throttled(export(limited, other))


@pytest.mark.parametrize("kind", ["restart", "second-worker"])
def test_the_limit_holds_across_a_restart_or_another_worker(limited, kind):
    for _ in range(LIMIT):
        assert export(limited, "res").status_code == 200
    if kind == "restart":
        limited.store.close()  # the first process is gone; a new one opens the database
    store2 = open_store(limited.url, key=KEY)
    try:
        client, tokens = app_over(store2, limited.tokens, export_limit_per_hour=LIMIT)
        with client:
            assert_throttled(export(World(client, store2, limited.url, tokens), "res"))
        assert successes(store2, "res") == LIMIT
    finally:
        store2.close()


def test_concurrent_requests_cannot_outrun_the_limit(db_url):
    store = open_store(db_url, key=KEY)
    try:
        store.add_user("res", "researcher")
        token = store.issue_token("res")
        populate(store)
        client, _ = app_over(store, {}, export_limit_per_hour=LIMIT)
        codes: list[int] = []
        with client:

            def hit() -> None:
                r = client.get("/research/export", headers={"authorization": f"Bearer {token}"})
                codes.append(r.status_code)

            threads = [threading.Thread(target=hit) for _ in range(LIMIT + 5)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert sorted(codes) == [200] * LIMIT + [429] * 5, codes
        assert successes(store, "res") == LIMIT
    finally:
        store.close()


def test_the_window_rolls(limited, monkeypatch):
    for _ in range(LIMIT):
        assert export(limited, "res").status_code == 200
    r = export(limited, "res")
    assert_throttled(r)
    wait = int(r.headers["retry-after"])
    soon = datetime.now(UTC) + timedelta(seconds=wait - 60)
    monkeypatch.setattr("medtwin.store._deid._now", lambda: soon)
    assert_throttled(export(limited, "res"))  # not before Retry-After
    later = datetime.now(UTC) + timedelta(seconds=wait + 5)
    monkeypatch.setattr("medtwin.store._deid._now", lambda: later)
    assert export(limited, "res").status_code == 200


# -- labels ------------------------------------------------------------------------------


@pytest.mark.parametrize("dates", ["year", "shift", None])
def test_the_label_says_what_the_export_does(roomy, dates):
    doc = export(roomy, "res", dates).json()
    if dates == "shift":
        assert "Safe Harbor" not in doc["method"].replace("not Safe Harbor", "")
        assert "not Safe Harbor" in doc["method"] and doc["dates"].startswith("shifted")
        assert all("birth_year" not in p and "time" in p["observations"][0]
                   for p in doc["patients"])  # fmt: skip
    else:
        assert doc["method"] == SAFE_HARBOR and doc["dates"] == "year only"
        assert all("hours" in p["observations"][0] for p in doc["patients"])


@pytest.mark.parametrize("dates", ["SHIFT", "month", "", "none", "shift ", "year%00", "raw"])
def test_no_other_date_mode_can_be_asked_for(roomy, dates):
    r = roomy.get("res", f"/research/export?dates={dates}")
    assert r.status_code == 422, r.text
    assert "patients" not in r.text and shift_rows(roomy.store) == 0
    assert successes(roomy.store, "res") == 0


# -- who may export ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["cli1", "cli2", "anonymous", "forged"])
@pytest.mark.parametrize("dates", ["year", "shift"])
def test_only_researchers_and_admins_export(world_any, who, dates):
    populate(world_any.store)
    headers = {"authorization": "Bearer mt_forged0000000000000000"} if who == "forged" else {}
    r = export(world_any, who, dates, headers=headers)
    assert r.status_code == (403 if who.startswith("cli") else 401), r.text
    assert "patients" not in r.text and "study_id" not in r.text
    assert shift_rows(world_any.store) == 0
    assert world_any.store.audit_entries(action="patient.export") == []
    if who.startswith("cli"):
        denied = world_any.store.audit_entries(action="export.deidentified", actor=who)
        assert [e.outcome for e in denied] == ["denied"]


# -- what leaves -------------------------------------------------------------------------


@pytest.mark.parametrize("dates", ["year", "shift"])
def test_no_identifier_leaves(world_any, dates):
    pids = populate(world_any.store)
    r = export(world_any, "res", dates)
    assert r.status_code == 200
    text = r.text
    secrets = [*pids.values(), "p-", "MRN-7", "cgm-", "meal-", "Patient/", "urn:", "call "]
    for src, mrn, name, birth, _ in PEOPLE:
        secrets += [src, mrn, *name.split(), birth.isoformat(), f"{birth:%d/%m/%Y}"]
    assert [s for s in secrets if s in text] == []


@pytest.mark.parametrize("dates", ["year", "shift"])
def test_ages_over_89_are_hidden(world_any, dates):
    populate(world_any.store)
    doc = export(world_any, "res", dates).json()
    old = [p for p in doc["patients"] if p["age"] == "90+"]
    assert len(old) >= 2 if dates == "year" else len(old) >= 1  # Cora 95; Dan 90 this year
    for p in old:
        assert "birth_year" not in p and "birth_date" not in p
    ages = [p["age"] for p in doc["patients"] if p["age"] != "90+"]
    assert all(isinstance(a, int) and a <= 89 for a in ages)
    text = json.dumps([{k: v for k, v in p.items() if k != "study_id"} for p in old])
    assert str(YEAR - 95) not in text and str(YEAR - 90) not in text


# -- the command line --------------------------------------------------------------------


def cli(url: str, *args: str):
    env = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}
    return CliRunner().invoke(cli_app, ["export", *args, "--db", url], env=env)


@pytest.mark.parametrize(
    "args",
    [
        ("--deidentified", "--dates", "shift"),
        ("--deidentified", "--dates", "shift", "--recipient", ""),
        ("--dates", "shift", "--recipient", "res"),
        ("--deidentified", "--dates", "SHIFT", "--recipient", "res"),
        ("--deidentified", "--dates", "raw"),
    ],
    ids=["no-recipient", "empty-recipient", "not-deidentified", "upper-mode", "raw-mode"],
)
def test_the_cli_refuses_what_it_cannot_do_honestly(world_any, tmp_path, args):
    populate(world_any.store)
    out = tmp_path / "research.json"
    res = cli(world_any.url, *args, "--out", str(out))
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in res.output
    assert not out.exists() and shift_rows(world_any.store) == 0


def test_the_cli_default_is_safe_harbor_and_its_shift_is_kept(world_any, tmp_path):
    populate(world_any.store)
    files = [tmp_path / f"r{i}.json" for i in range(4)]
    assert cli(world_any.url, "--deidentified", "--out", str(files[0])).exit_code == 0
    doc = json.loads(files[0].read_text())
    assert doc["method"] == SAFE_HARBOR and not [s for s in strings(doc) if ISO_DATE.search(s)]
    for f in files[1:3]:
        args = ("--deidentified", "--dates", "shift", "--recipient", "uni-42", "--out", str(f))
        assert cli(world_any.url, *args).exit_code == 0
    assert json.loads(files[1].read_text()) == json.loads(files[2].read_text())
    shifted = json.loads(files[1].read_text())
    assert "not Safe Harbor" in shifted["method"] and shifted["recipient"] == "uni-42"
    # Another recipient (the researcher through the service) shares nothing with uni-42.
    api = export(world_any, "res", "shift").json()
    assert {p["study_id"] for p in api["patients"]}.isdisjoint(
        p["study_id"] for p in shifted["patients"]
    )
