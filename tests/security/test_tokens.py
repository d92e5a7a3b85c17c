"""Finding 5: tokens could not be revoked one by one, users could not be disabled, and a token
could live a century. Each test is an attack with a token that should no longer work, a
lifetime past the maximum, a non-admin reaching for the admin routes, or a token id crafted to
revoke someone else's token; each asserts the attacker's aim did not happen.

The many refusals share one world per module (``shared``): each attack uses users of its own
or compares the state after with the state before, so a leftover could only make a test fail.
Attacks on the last admin and the audit trail get a fresh ``world``."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from medtwin.cli.main import app
from medtwin.store import MAX_TOKEN_TTL_DAYS, token_id

from .conftest import KEY, _world, patient_resource

ENV = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}
BAD_TOKEN = "A valid bearer token is needed"


_serial = itertools.count()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    store, api, w = _world(f"sqlite:///{tmp_path_factory.mktemp('tokens') / 'medtwin.db'}")
    with TestClient(api, raise_server_exceptions=False) as client:
        w.client = client
        w.pid = w.new_patient("cli2", "MRN-CLI2")  # type: ignore[attr-defined]
        yield w
    store.close()


def mint(w, role: str) -> str:
    """A new user of ``role`` with a token, for one attack alone."""
    name = f"{role}-{next(_serial)}"
    w.store.add_user(name, role)
    w.tokens[name] = w.store.issue_token(name)
    return name


def _cli(w):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [*args, "--db", w.url], env=ENV)


@pytest.fixture
def cli(world):
    return _cli(world)


@pytest.fixture
def shared_cli(shared):
    return _cli(shared)


def live(world, name: str) -> list[str]:
    return [t.id for t in world.store.tokens(name) if t.state == "live"]


def n_tokens(world, name: str) -> int:
    return len(world.store.tokens(name))


def denied(world, actor: str, action: str, after: int = 0) -> bool:
    """Whether ``actor`` was audited as denied ``action`` (in the entries after ``after``)."""
    return any(
        e.actor == actor and e.action == action and e.outcome == "denied"
        for e in world.store.audit_entries()[after:]
    )


# -- tokens that must no longer work, on every kind of route --------------------------------

CLINICIAN_ROUTES = [
    ("GET", "/patients"),
    ("GET", "/patients/{pid}"),
    ("GET", "/patients/{pid}/observations"),
    ("GET", "/patients/{pid}/regimen"),
    ("GET", "/fhir/Observation?patient={pid}"),
    ("POST", "/patients"),
    ("POST", "/fhir"),
    ("GET", "/ui/api/me"),
    ("GET", "/ui/api/patients"),
]
ADMIN_ROUTES = [("GET", "/users"), ("GET", "/audit"), ("POST", "/users/adm/disable")]


def _kill(world, name: str, how: str) -> None:
    """Make ``name``'s token stop working in one of the supported ways."""
    if how == "revoked-one":
        world.store.revoke_token(name, token_id(world.tokens[name]), actor="adm")
    elif how == "revoked-all":
        world.store.revoke_tokens(name, actor="adm")
    elif how == "expired":
        world.tokens[name] = world.store.issue_token(name, ttl_days=1e-9)  # 86 microseconds
    elif how == "disabled":
        world.store.disable_user(name, actor="adm")
    elif how == "revoked-then-enabled":  # enabling again does not resurrect a revoked token
        world.store.revoke_token(name, token_id(world.tokens[name]), actor="adm")
        world.store.disable_user(name, actor="adm")
        world.store.enable_user(name, actor="adm")


def _call(world, who: str, method: str, url: str):
    if method == "GET":
        return world.get(who, url)
    body = patient_resource("MRN-DEAD-TOKEN") if url == "/patients" else {
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"resource": patient_resource("MRN-DEAD-TOKEN")}]}  # fmt: skip
    return world.post(who, url, body if url in ("/patients", "/fhir") else b"")


HOWS = ["revoked-one", "revoked-all", "expired", "disabled", "revoked-then-enabled"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(("method", "url"), CLINICIAN_ROUTES)
def test_a_dead_clinician_token_opens_no_route(shared, how, method, url):
    me = mint(shared, "clinician")
    pid = shared.new_patient(me, f"MRN-{me}")
    assert shared.get(me, f"/patients/{pid}").status_code == 200  # alive before
    _kill(shared, me, how)
    patients = shared.store.patient_ids()
    r = _call(shared, me, method, url.format(pid=pid))
    assert r.status_code == 401 and BAD_TOKEN in r.text
    assert r.json()["issue"] == shared.get("x", "/patients").json()["issue"]  # as no token
    assert shared.store.patient_ids() == patients  # nothing created


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(("method", "url"), ADMIN_ROUTES)
def test_a_dead_admin_token_opens_no_admin_route(shared, how, method, url):
    me = mint(shared, "admin")
    _kill(shared, me, how)
    r = _call(shared, me, method, url)
    assert r.status_code == 401 and BAD_TOKEN in r.text
    assert not next(u for u in shared.store.users() if u.name == "adm").disabled


def test_disabling_stops_a_token_at_once_and_the_user_cannot_reenable_themselves(world):
    world.store.add_user("adm2", "admin")
    world.tokens["adm2"] = world.store.issue_token("adm2")
    assert world.get("adm2", "/users").status_code == 200
    assert world.post("adm", "/users/adm2/disable", b"").json()["disabled"] is True
    assert world.get("adm2", "/users").status_code == 401  # the very next request
    assert world.post("adm2", "/users/adm2/enable", b"").status_code == 401
    assert next(u for u in world.store.users() if u.name == "adm2").disabled


# -- no token for a disabled or unknown user ------------------------------------------------


def test_no_token_is_issued_to_a_disabled_user_through_the_api(world):
    world.store.disable_user("cli1", actor="adm")
    before = n_tokens(world, "cli1")
    r = world.post("adm", "/users/cli1/tokens", {"ttl_days": 1})
    assert r.status_code == 422 and "disabled" in r.text and "mt_" not in r.text
    assert n_tokens(world, "cli1") == before


def test_no_token_is_issued_to_a_disabled_user_through_the_cli(world, cli):
    world.store.disable_user("cli1", actor="adm")
    before = n_tokens(world, "cli1")
    res = cli("users", "token", "cli1")
    assert res.exit_code == 2 and "disabled" in res.stderr and "mt_" not in res.stdout
    assert n_tokens(world, "cli1") == before


NAMES = ["ADM", "adm ", " adm", "adm\u200b", "a\u0064m\u0301", "ghost", "adm%00", "x" * 200,
         "%2e%2e", "..%2fadm"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_no_token_for_a_lookalike_or_unknown_user_name(shared, name):
    users = shared.store.users()
    adm_tokens = n_tokens(shared, "adm")
    r = shared.post("adm", f"/users/{name}/tokens", {"ttl_days": 1})
    assert r.status_code == 404 and "mt_" not in r.text
    assert shared.store.users() == users and n_tokens(shared, "adm") == adm_tokens


@pytest.mark.parametrize("name", ["adm\u200b", "adm\u202e", "adm\n", "ad\tm", "adm\x1b[0m"])
def test_a_lookalike_admin_name_with_invisible_characters_is_refused(shared, name):
    users = shared.store.users()
    r = shared.post("adm", "/users", {"name": name, "role": "admin"})
    assert r.status_code == 422 and "printable" in r.text
    assert shared.store.users() == users


@pytest.mark.parametrize(
    "args",
    [
        ("token", "ghost"),
        ("tokens", "ghost"),
        ("disable", "ghost"),
        ("enable", "ghost"),
        ("revoke-token", "ghost", "--all"),
    ],
)
def test_the_cli_names_an_unknown_user_and_creates_nothing(shared, shared_cli, args):
    users = shared.store.users()
    res = shared_cli("users", *args)
    assert res.exit_code == 2 and "No user 'ghost'" in res.stderr
    assert shared.store.users() == users


# -- the maximum lifetime -------------------------------------------------------------------

CLI_TTLS = ["36500", "91", "90.001", "0", "-1", "nan", "inf", "-inf", "1e308"]


@pytest.mark.parametrize("ttl", CLI_TTLS)
def test_the_cli_refuses_a_lifetime_out_of_range(shared, shared_cli, ttl):
    before = n_tokens(shared, "cli1")
    res = shared_cli("users", "token", "cli1", "--ttl-days", ttl)
    assert res.exit_code == 2 and "mt_" not in res.stdout
    assert f"at most {MAX_TOKEN_TTL_DAYS} days" in res.stderr and "Traceback" not in res.stderr
    assert n_tokens(shared, "cli1") == before


API_TTLS = [36500, 91, 90.001, 0, -1, 1e308, -1e-300, "30", True, None, [30], {"days": 30}]


@pytest.mark.parametrize("ttl", API_TTLS, ids=repr)
def test_the_api_refuses_a_lifetime_out_of_range(shared, ttl):
    before = n_tokens(shared, "cli1")
    r = shared.post("adm", "/users/cli1/tokens", {"ttl_days": ttl})
    assert r.status_code == 422 and "mt_" not in r.text and "ttl_days" in r.text
    assert n_tokens(shared, "cli1") == before


@pytest.mark.parametrize("ttl", [36500, 91, 0])
def test_a_new_user_cannot_start_with_a_long_lived_token(shared, ttl):
    r = shared.post("adm", "/users", {"name": "eve", "role": "clinician", "ttl_days": ttl})
    assert r.status_code == 422 and "mt_" not in r.text
    assert "eve" not in [u.name for u in shared.store.users()]  # nothing half-written


def test_the_longest_allowed_token_lives_at_most_the_maximum(world, cli):
    res = cli("users", "token", "cli1", "--ttl-days", str(MAX_TOKEN_TTL_DAYS))
    assert res.exit_code == 0
    t = next(t for t in world.store.tokens("cli1") if t.id == token_id(res.stdout.strip()))
    assert (t.expires - t.created).total_seconds() <= MAX_TOKEN_TTL_DAYS * 86400


# -- non-admins on the admin routes ---------------------------------------------------------


def _admin_routes(world) -> list[tuple[str, str, object, str]]:
    """(method, url, body, audited action): each aimed at someone else's power or data."""
    adm_id, pid = token_id(world.tokens["adm"]), world.pid
    return [
        ("GET", "/users", None, "user.list"),
        ("POST", "/users", {"name": "eve", "role": "admin"}, "user.create"),
        ("POST", "/users/adm/tokens", {"ttl_days": 1}, "token.create"),
        ("GET", "/users/adm/tokens", None, "token.list"),
        ("DELETE", f"/users/adm/tokens/{adm_id}", None, "token.delete"),
        ("DELETE", "/users/adm/tokens", None, "token.delete"),
        ("POST", "/users/adm/disable", b"", "user.disable"),
        ("POST", "/users/ghost/enable", b"", "user.enable"),
        ("POST", "/grants", {"user": "cli1", "patient": pid}, "grant.create"),
        ("DELETE", f"/grants/cli2/{pid}", None, "grant.delete"),
    ]


ROUTE_IDS = ["list-users", "create-user", "issue-token", "list-tokens", "revoke-token",
             "revoke-all", "disable", "enable", "grant", "ungrant"]  # fmt: skip


def _state(world) -> tuple:
    return (world.store.users(), live(world, "adm"), n_tokens(world, "adm"),
            sorted(world.store.granted("cli1")), sorted(world.store.granted("cli2")))  # fmt: skip


def _send(world, who, method, url, body):
    if method == "GET":
        return world.get(who, url)
    if method == "DELETE":
        return world.delete(who, url)
    return world.post(who, url, body)


@pytest.mark.parametrize("route", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
@pytest.mark.parametrize("who", ["cli1", "res"])
def test_a_non_admin_reaches_no_admin_route(shared, who, route):
    method, url, body, action = _admin_routes(shared)[route]
    before, seen = _state(shared), len(shared.store.audit_entries())
    r = _send(shared, who, method, url, body)
    assert r.status_code == 403 and "mt_" not in r.text
    assert denied(shared, who, action, after=seen)
    assert _state(shared) == before
    assert shared.get("adm", "/users").status_code == 200  # the admin still works


@pytest.mark.parametrize("route", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
def test_no_token_reaches_no_admin_route(shared, route):
    method, url, body, _ = _admin_routes(shared)[route]
    before = _state(shared)
    r = _send(shared, "nobody", method, url, body)
    assert r.status_code == 401
    assert _state(shared) == before


@pytest.mark.parametrize("route", ["create-user", "issue-token", "grant"])
def test_a_non_admin_with_a_malformed_body_still_gets_403_and_no_parse(shared, route):
    """The role is checked before the body is read: a hostile body from a clinician is never
    parsed (and cannot turn a 403 into anything else)."""
    _, url, _, action = _admin_routes(shared)[ROUTE_IDS.index(route)]
    seen = len(shared.store.audit_entries())
    r = shared.post("cli1", url, b'{"role":"clinician","role":"admin"' + b"[" * 5000)
    assert r.status_code == 403 and denied(shared, "cli1", action, after=seen)


# -- token ids: revoking someone else's token ------------------------------------------------


def test_a_clinician_cannot_revoke_a_colleagues_token_by_id(world):
    victim = token_id(world.tokens["cli2"])
    r = world.delete("cli1", f"/users/cli2/tokens/{victim}")
    assert r.status_code == 403
    assert world.get("cli2", "/patients").status_code == 200


def test_a_clinician_cannot_revoke_the_admins_token_under_their_own_name(world):
    r = world.delete("cli1", f"/users/cli1/tokens/{token_id(world.tokens['adm'])}")
    assert r.status_code == 403
    assert world.get("adm", "/users").status_code == 200


def test_a_token_id_under_the_wrong_user_revokes_nothing(world):
    """The admin names adm's token id under cli1: no token of another user is touched."""
    r = world.delete("adm", f"/users/cli1/tokens/{token_id(world.tokens['adm'])}")
    assert r.status_code == 404
    assert world.get("adm", "/users").status_code == 200
    assert world.get("cli1", "/patients").status_code == 200


WILDCARDS = ["%" * 12, "_" * 12, "%", "", "*", "0" * 12, "%25%25%25%25%25%25", "' OR 1=1 --",
             "........////"]  # fmt: skip


@pytest.mark.parametrize("tid", WILDCARDS)
def test_a_wildcard_token_id_revokes_nothing_through_the_api(shared, tid):
    before = live(shared, "cli1")
    r = shared.delete("adm", f"/users/cli1/tokens/{tid}")
    assert r.status_code in (404, 405)
    assert live(shared, "cli1") == before and shared.get("cli1", "/patients").status_code == 200


@pytest.mark.parametrize("tid", ["%" * 12, "_" * 12, "%", "*", "0" * 12, "' OR 1=1 --"])
def test_a_wildcard_token_id_revokes_nothing_through_the_cli(shared, shared_cli, tid):
    before = live(shared, "cli1")
    res = shared_cli("users", "revoke-token", "cli1", tid)
    assert res.exit_code == 2 and "token" in res.stderr
    assert live(shared, "cli1") == before and shared.get("cli1", "/patients").status_code == 200


def test_a_token_id_and_a_token_together_are_refused_by_the_cli(world, cli):
    res = cli("users", "revoke-token", "cli1", token_id(world.tokens["cli1"]), "--all")
    assert res.exit_code == 2 and live(world, "cli1")


@pytest.mark.parametrize("what", ["listed-id", "full-hash", "id-of-token-as-bearer"])
def test_a_listed_token_id_or_hash_is_no_credential(shared, what):
    me = mint(shared, "clinician")
    listed = shared.get("adm", f"/users/{me}/tokens").json()["tokens"]
    assert shared.tokens[me] not in json.dumps(listed)  # the token itself is never listed
    full = hashlib.sha256(shared.tokens[me].encode()).hexdigest()
    bearer = {"listed-id": listed[0]["id"], "full-hash": full,
              "id-of-token-as-bearer": "mt_" + listed[0]["id"]}[what]  # fmt: skip
    r = shared.client.get("/patients", headers={"authorization": f"Bearer {bearer}"})
    assert r.status_code == 401


def test_no_token_appears_in_the_audit_log(world):
    r = world.post("adm", "/users/cli1/tokens", {"ttl_days": 2, "label": "laptop"})
    token = r.json()["token"]
    log = world.get("adm", "/audit").text + world.get("adm", "/audit?format=fhir").text
    assert token not in log and world.tokens["cli1"] not in log
    assert r.json()["id"] in log  # the id is what the log names


# -- labels and the last admin ---------------------------------------------------------------

LABELS = ["x" * 65, "line\nforged\tlive", "\x1b[2J", "\u202eevil", " padded", 7, ["a"]]


@pytest.mark.parametrize("label", LABELS, ids=repr)
def test_a_label_that_could_forge_a_listing_is_refused(shared, label):
    before = n_tokens(shared, "cli1")
    r = shared.post("adm", "/users/cli1/tokens", {"ttl_days": 1, "label": label})
    assert r.status_code == 422 and "label" in r.text and "mt_" not in r.text
    assert n_tokens(shared, "cli1") == before


def test_the_last_admin_cannot_be_disabled_through_the_api(world):
    r = world.post("adm", "/users/adm/disable", b"")
    assert r.status_code == 409 and "last enabled admin" in r.text
    assert world.get("adm", "/users").status_code == 200


def test_the_last_admin_cannot_be_disabled_through_the_cli(world, cli):
    res = cli("users", "disable", "adm")
    assert res.exit_code == 2 and "last enabled admin" in res.stderr
    assert not next(u for u in world.store.users() if u.name == "adm").disabled


def test_two_admins_cannot_disable_each_other_into_none(world):
    world.store.add_user("adm2", "admin")
    world.tokens["adm2"] = world.store.issue_token("adm2")
    assert world.post("adm", "/users/adm2/disable", b"").status_code == 200
    assert world.post("adm", "/users/adm/disable", b"").status_code == 409
    assert world.get("adm", "/users").status_code == 200


# -- every change is audited ---------------------------------------------------------------


def test_every_token_and_user_change_is_audited(world, cli):
    start = len(world.store.audit_entries())
    r = world.post("adm", "/users/cli1/tokens", {"ttl_days": 1, "label": "ci"})
    tid = r.json()["id"]
    assert world.delete("adm", f"/users/cli1/tokens/{tid}").json()["revoked"] is True
    assert world.delete("adm", "/users/cli2/tokens").json()["revoked"] == 1
    assert world.post("adm", "/users/res/disable", b"").json()["changed"] is True
    assert cli("users", "enable", "res").exit_code == 0
    got = [(e.actor, e.action, e.resource, e.detail) for e in world.store.audit_entries()[start:]
           if e.action.startswith(("token.", "user."))]  # fmt: skip
    assert got[0] == ("adm", "token.create", "User/cli1",
                      {"token": tid, "ttl_days": 1.0, "label": "ci"})  # fmt: skip
    assert got[1] == ("adm", "token.delete", "User/cli1", {"token": tid, "revoked": 1})
    assert got[2] == ("adm", "token.delete", "User/cli2", {"revoked": 1})
    assert got[3] == ("adm", "user.disable", "User/res", {"changed": True})
    assert got[4][1:] == ("user.enable", "User/res", {"changed": True})
    assert got[4][0].startswith("cli")


def test_revoking_and_disabling_hold_on_both_databases(world_any):
    """The same attacks on SQLite and PostgreSQL: a revoked id, a disabled user, the last
    admin, a long lifetime."""
    w = world_any
    w.post("adm", "/users/cli1/tokens", {"ttl_days": 1, "label": "spare"})
    spare = next(t for t in w.store.tokens("cli1") if t.label == "spare")
    assert w.delete("adm", f"/users/cli1/tokens/{spare.id}").status_code == 200
    assert w.get("cli1", "/patients").status_code == 200  # only the one named is revoked
    assert w.post("adm", "/users/cli1/disable", b"").status_code == 200
    assert w.get("cli1", "/patients").status_code == 401
    assert w.post("adm", "/users/cli1/tokens", {"ttl_days": 1}).status_code == 422
    assert w.post("adm", "/users/adm/disable", b"").status_code == 409
    assert w.post("adm", "/users/cli2/tokens", {"ttl_days": 36500}).status_code == 422
    states = {t.label: t.state for t in w.store.tokens("cli1")}
    assert states == {None: "live", "spare": "revoked"}  # live, but its user is disabled
    assert w.get("adm", "/users").status_code == 200
