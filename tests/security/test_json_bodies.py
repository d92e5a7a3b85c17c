"""Finding 11 (JSON): the non-FHIR routes parsed bodies with Python's lenient ``json``, so
``{"role": "clinician", "role": "admin"}`` made an admin, ``NaN``, ``Infinity`` and ``1e400``
reached the numerics, and a lone surrogate in a user name gave 500. Every JSON route now reads
its body through one strict parser. Each test sends one hostile body to one route and asserts
the refusal (422 or 415, an OperationOutcome saying what was wrong) and that nothing changed.

The attacks share one world per module: each is refused before any handler runs, and each
compares the state after with the state before, so a leftover could only make a test fail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from medtwin.service._json import parse_json_object

from .conftest import _world

NUMBER = "not a JSON number"
OVERFLOW = "overflows a 64-bit float"


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    store, app, world = _world(f"sqlite:///{tmp_path_factory.mktemp('json') / 'medtwin.db'}")
    with TestClient(app, raise_server_exceptions=False) as client:
        world.client = client
        world.pid = world.new_patient("adm", "MRN-JSON")  # type: ignore[attr-defined]
        yield world
    store.close()


OPTIONS = {"a": [{"after": 0, "kind": "bolus", "amount": 2}]}
ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "users": ("/users", {"name": "eve", "role": "clinician"}),
    "grants": ("/grants", {"user": "cli1", "patient": "{pid}"}),
    "tokens": ("/users/cli1/tokens", {"ttl_days": 1, "label": "ci"}),
    "twin": ("/patients/{pid}/twin", {"model": "t1d", "epoch": "2026-01-01T00:00:00Z",
                                      "prior": "population", "free": ["kp1"], "n": 16,
                                      "seed": 0, "horizon": 60, "every": 5, "drift": 0.01}),
    "what-if": ("/patients/{pid}/what-if", {"horizon": 60, "options": OPTIONS}),
    "ui-what-if": ("/ui/api/patients/{pid}/what-if",
                   {"horizon": 60, "observable": "sc_glucose", "options": OPTIONS}),
}  # fmt: skip


def state(w) -> tuple:
    """What an attack could change: users, cli1's tokens and grants, the patient's twin."""
    twin = w.get("adm", f"/patients/{w.pid}/twin").status_code
    return (w.store.users(), len(w.store.tokens("cli1")), sorted(w.store.granted("cli1")), twin)


def send(w, route: str, raw: bytes | str, **headers: str):
    url = ROUTES[route][0].format(pid=w.pid)
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return w.post("adm", url, data, headers=headers)


def refused(w, route: str, raw: bytes | str, needle: str, status: int = 422, **headers: str):
    before = state(w)
    r = send(w, route, raw, **headers)
    assert r.status_code == status, r.text[:300]
    doc = r.json()
    assert doc["resourceType"] == "OperationOutcome" and "Traceback" not in r.text
    assert needle in doc["issue"][0]["diagnostics"], doc
    assert state(w) == before


def with_raw(route: str, path: tuple, raw: str) -> str:
    """The route's valid body with the value at ``path`` replaced by the raw JSON ``raw``."""
    doc = json.loads(json.dumps(ROUTES[route][1]))
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = "@@RAW@@"
    return json.dumps(doc).replace('"@@RAW@@"', raw)


def test_the_valid_bodies_pass_the_parser(w):
    """The control: each route's base body, and one nested exactly 32 deep, parse."""
    for _, body in ROUTES.values():
        assert parse_json_object(json.dumps(body).encode()) == body
    nest: list = []
    for _ in range(30):
        nest = [nest]
    assert parse_json_object(json.dumps({"a": nest}).encode()) == {"a": nest}  # 32 deep


# -- duplicate keys, at every depth ---------------------------------------------------------

DUPLICATES = {
    "users-role": ("users", '{"name": "eve", "role": "clinician", "role": "admin"}', "role"),
    "users-name": ("users", '{"name": "eve", "name": "adm", "role": "admin"}', "name"),
    "users-escaped": ("users", '{"name": "eve", "role": "clinician", "r\\u006fle": "admin"}',
                      "role"),
    "users-nested": ("users", '{"name": "eve", "role": "clinician", "x": {"k": 1, "k": 2}}',
                     "k"),
    "grants-user": ("grants", '{"user": "cli1", "user": "cli2", "patient": "{pid}"}', "user"),
    "grants-patient": ("grants", '{"user": "cli1", "patient": "p-0", "patient": "{pid}"}',
                       "patient"),
    "tokens-ttl": ("tokens", '{"ttl_days": 1, "ttl_days": 36500}', "ttl_days"),
    "tokens-label": ("tokens", '{"label": "a", "label": "b", "ttl_days": 1}', "label"),
    "twin-n": ("twin", '{"model": "t1d", "epoch": "2026-01-01T00:00:00Z", "n": 16, '
               '"n": 5000000}', "n"),
    "twin-depth3": ("twin", '{"model": "t1d", "x": [{"y": {"z": 1, "z": 2}}]}', "z"),
    "what-if-horizon": ("what-if", '{"horizon": 60, "horizon": 1e9, "options": {}}', "horizon"),
    "what-if-option": ("what-if", '{"options": {"a": [], "a": [{"kind": "bolus", "amount": '
                       '1000, "after": 0}]}}', "a"),
    "what-if-depth4": ("what-if", '{"options": {"a": [{"kind": "bolus", "amount": 1, '
                       '"amount": 10000, "after": 0}]}}', "amount"),
    "ui-what-if-observable": ("ui-what-if", '{"observable": "sc_glucose", "observable": "x", '
                              '"options": {}}', "observable"),
    "ui-what-if-depth4": ("ui-what-if", '{"options": {"a": [{"kind": "bolus", "after": 0, '
                          '"after": -1e9, "amount": 1}]}}', "after"),
}  # fmt: skip


@pytest.mark.parametrize("case", DUPLICATES)
def test_a_duplicate_key_is_refused(w, case):
    route, raw, key = DUPLICATES[case]
    refused(w, route, raw.replace("{pid}", w.pid), f"The key {key!r} appears twice")


def test_duplicate_role_keys_never_make_an_admin(w):
    """The finding as reported: the last 'role' used to win."""
    before = state(w)
    r = send(w, "users", '{"name": "mallory", "role": "clinician", "role": "admin"}')
    assert r.status_code == 422 and "mallory" not in [u.name for u in w.store.users()]
    assert state(w) == before


# -- numbers that are not finite ----------------------------------------------------------

NUMERIC = {
    "tokens.ttl_days": ("tokens", ("ttl_days",)),
    "twin.n": ("twin", ("n",)),
    "twin.seed": ("twin", ("seed",)),
    "twin.horizon": ("twin", ("horizon",)),
    "twin.every": ("twin", ("every",)),
    "twin.drift": ("twin", ("drift",)),
    "what-if.horizon": ("what-if", ("horizon",)),
    "what-if.amount": ("what-if", ("options", "a", 0, "amount")),
    "what-if.after": ("what-if", ("options", "a", 0, "after")),
    "ui-what-if.horizon": ("ui-what-if", ("horizon",)),
    "ui-what-if.amount": ("ui-what-if", ("options", "a", 0, "amount")),
    "ui-what-if.after": ("ui-what-if", ("options", "a", 0, "after")),
}
NON_FINITE = {"NaN": NUMBER, "Infinity": NUMBER, "-Infinity": NUMBER, "1e400": OVERFLOW,
              "-1e400": OVERFLOW}  # fmt: skip


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("field", NUMERIC)
def test_a_non_finite_number_is_refused(w, field, value):
    route, path = NUMERIC[field]
    refused(w, route, with_raw(route, path, value).replace("{pid}", w.pid), NON_FINITE[value])


HUGE = {"2**64": str(2**64), "10**30": str(10**30), "5000 digits": "9" * 5000}


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("field", ["tokens.ttl_days", "twin.n", "twin.seed", "what-if.amount"])
def test_an_integer_beyond_64_bits_is_refused(w, field, value):
    route, path = NUMERIC[field]
    refused(w, route, with_raw(route, path, HUGE[value]).replace("{pid}", w.pid), "too large")


# -- strings that are not text ------------------------------------------------------------

STRINGS = {
    "users.name": ("users", ("name",)),
    "users.role": ("users", ("role",)),
    "grants.user": ("grants", ("user",)),
    "grants.patient": ("grants", ("patient",)),
    "tokens.label": ("tokens", ("label",)),
    "twin.model": ("twin", ("model",)),
    "twin.epoch": ("twin", ("epoch",)),
    "twin.prior": ("twin", ("prior",)),
    "twin.free": ("twin", ("free", 0)),
    "what-if.kind": ("what-if", ("options", "a", 0, "kind")),
    "ui-what-if.kind": ("ui-what-if", ("options", "a", 0, "kind")),
    "ui-what-if.observable": ("ui-what-if", ("observable",)),
}
NOT_TEXT = {
    "high": ('"\\ud800"', "lone UTF-16 surrogate"),
    "low": ('"\\udfff"', "lone UTF-16 surrogate"),
    "inside": ('"adm\\udc00in"', "lone UTF-16 surrogate"),
    "reversed-pair": ('"\\ude00\\ud83d"', "lone UTF-16 surrogate"),
    "nul": ('"adm\\u0000"', "NUL character"),
}


@pytest.mark.parametrize("variant", NOT_TEXT)
@pytest.mark.parametrize("field", STRINGS)
def test_a_string_that_is_not_text_is_refused(w, field, variant):
    route, path = STRINGS[field]
    raw, needle = NOT_TEXT[variant]
    refused(w, route, with_raw(route, path, raw).replace("{pid}", w.pid), needle)


@pytest.mark.parametrize("variant", NOT_TEXT)
@pytest.mark.parametrize("route", ["what-if", "ui-what-if"])
def test_an_option_name_that_is_not_text_is_refused(w, route, variant):
    raw = json.dumps(ROUTES[route][1]).replace('{"a":', "{" + NOT_TEXT[variant][0] + ":")
    refused(w, route, raw, NOT_TEXT[variant][1])


@pytest.mark.parametrize("raw", [b'"\xed\xa0\x80"', b'"adm\xc0\xae"', b'"\xff"'],
                         ids=["cesu-surrogate", "overlong", "bad-byte"])  # fmt: skip
def test_a_user_name_in_invalid_utf8_is_refused(w, raw):
    body = b'{"name": ' + raw + b', "role": "admin"}'
    refused(w, "users", body, "not UTF-8")


# -- shapes: nesting and the top level ----------------------------------------------------


@pytest.mark.parametrize("depth", [33, 100_000])
@pytest.mark.parametrize("route", ROUTES)
def test_deep_nesting_is_refused(w, route, depth):
    nest = "[" * depth + "]" * depth
    raw = json.dumps(ROUTES[route][1]).replace("{pid}", w.pid)[:-1] + ', "deep": ' + nest + "}"
    refused(w, route, raw, "nested deeper than 32")


TOP_LEVEL = {
    "array": ('[{"name": "eve", "role": "admin"}]', "must be an object"),
    "string": ('"admin"', "must be an object"),
    "number": ("1", "must be an object"),
    "null": ("null", "must be an object"),
    "true": ("true", "must be an object"),
    "empty": ("", "needs a JSON object body"),
    "truncated": ('{"name": "eve", "role": "adm', "not valid JSON"),
    "two-objects": ('{"name": "eve", "role": "clinician"} {"role": "admin"}', "not valid JSON"),
    "single-quotes": ("{'name': 'eve', 'role': 'admin'}", "not valid JSON"),
    "utf16": ('{"name": "eve", "role": "admin"}'.encode("utf-16"), "not UTF-8"),
}


@pytest.mark.parametrize("kind", TOP_LEVEL)
@pytest.mark.parametrize("route", ROUTES)
def test_a_body_that_is_not_one_json_object_is_refused(w, route, kind):
    raw, needle = TOP_LEVEL[kind]
    refused(w, route, raw, needle)


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x"])  # fmt: skip
@pytest.mark.parametrize("route", ["users", "grants", "twin", "what-if"])
def test_a_body_sent_as_another_media_type_is_refused(w, route, ctype):
    raw = json.dumps(ROUTES[route][1]).replace("{pid}", w.pid)
    refused(w, route, raw, "Content-Type: application/json", 415, **{"content-type": ctype})


def test_the_openapi_schema_still_shows_json_object_bodies(w):
    doc = w.client.get("/openapi.json").json()
    for path in ("/users", "/grants", "/users/{name}/tokens", "/patients/{pid}/twin",
                 "/patients/{pid}/what-if"):  # fmt: skip
        body = doc["paths"][path]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["type"] == "object"
