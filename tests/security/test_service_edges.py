"""Attacks on the service's edges (issue 14, findings 9 and 10): a shared cache or the browser
keeping a copy of patient data, a page framed or sniffed into script, the API page pulling
script from a third party, and a caller (or a probe) reading the database's outage as a
crash. Outages on both backends are in ``test_service_outage.py``; TLS and forwarded headers
in ``test_service_transport.py``."""

from __future__ import annotations

import base64
import json
import re

import pytest

from .conftest import collection, glucose, patient_resource

CACHE_SAFE = {"cache-control": "no-store", "pragma": "no-cache"}
ALWAYS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
          "x-frame-options": "DENY"}  # fmt: skip

# (who, method, path, body): {pid} is a patient of cli1's; every answer may carry patient
# data (or says whether a patient exists) and must not be cached anywhere
ROUTES = [
    ("adm", "GET", "/patients", None),
    ("cli1", "GET", "/patients", None),
    ("cli1", "GET", "/patients/{pid}", None),
    ("adm", "GET", "/patients/{pid}", None),
    ("cli1", "GET", "/patients/{pid}/observations", None),
    ("cli1", "GET", "/fhir/Observation?patient=Patient/{pid}", None),
    ("cli1", "GET", "/patients/{pid}/regimen", None),
    ("cli1", "GET", "/patients/{pid}/forecasts", None),
    ("cli1", "GET", "/patients/{pid}/twin", None),
    ("adm", "GET", "/audit", None),
    ("adm", "GET", "/audit?format=fhir", None),
    ("adm", "GET", "/audit/verify", None),
    ("res", "GET", "/research/export", None),
    ("cli1", "POST", "/patients", patient_resource("MRN-7", name="Roe")),
    ("cli1", "POST", "/fhir", collection((None, glucose("Patient/{pid}", "g-2")))),
    ("cli1", "POST", "/patients/{pid}/observations", glucose("Patient/{pid}", "g-3")),
    ("adm", "POST", "/users", {"name": "eve", "role": "clinician"}),
    ("adm", "POST", "/grants", {"user": "cli2", "patient": "{pid}"}),
    ("cli1", "GET", "/ui/api/me", None),
    ("cli1", "GET", "/ui/api/patients", None),
    ("cli1", "GET", "/ui/api/patients/{pid}/cone", None),
    ("cli1", "GET", "/ui/patients/{pid}", None),
    ("nobody", "GET", "/ui/login", None),
    ("nobody", "GET", "/patients/{pid}", None),  # 401
    ("cli2", "GET", "/patients/{pid}", None),  # 404: says nothing, cached nowhere
    ("cli1", "GET", "/research/export", None),  # 403
    ("cli1", "POST", "/patients", b'{"resourceType": "Patient", '),  # 400
    ("cli1", "GET", "/patients/{pid}/forecasts?limit=0", None),  # 422
    ("cli1", "DELETE", "/patients/{pid}", None),  # 405
    ("cli1", "GET", "/no/such/route", None),  # 404
    ("nobody", "GET", "/health", None),
    ("nobody", "GET", "/ready", None),
    ("nobody", "GET", "/openapi.json", None),
    ("nobody", "GET", "/docs", None),
]


def _call(world, who, method, path, body, pid):
    path = path.replace("{pid}", pid)
    if method == "GET":
        return world.get(who, path)
    if method == "DELETE":
        return world.delete(who, path)
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace("{pid}", pid))
    return world.post(who, path, body)


@pytest.fixture
def pid(world):
    return world.new_patient("cli1")


@pytest.mark.parametrize(("who", "method", "path", "body"), ROUTES,
                         ids=[f"{r[0]}-{r[1]}-{r[2]}" for r in ROUTES])  # fmt: skip
def test_no_response_with_patient_data_can_be_cached_or_sniffed(world, pid, who, method, path,
                                                                 body):  # fmt: skip
    r = _call(world, who, method, path, body, pid)
    assert r.status_code != 500, r.text
    for name, value in {**CACHE_SAFE, **ALWAYS}.items():
        assert r.headers.get(name) == value, (name, r.status_code, dict(r.headers))
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-eval'" not in csp and not re.search(r"script-src[^;]*unsafe-inline", csp)
    assert "strict-transport-security" not in r.headers  # plain HTTP: HSTS means nothing


@pytest.mark.parametrize("route", ["/patients", "/ui/api/patients"])
def test_an_unexpected_failure_is_not_cacheable_and_shows_no_trace(world, monkeypatch, route):
    def broken(*_a, **_k):
        raise RuntimeError("secret internals at /srv/medtwin/db")

    monkeypatch.setattr(world.store, "patient_ids", broken)
    r = world.get("adm", route)
    assert r.status_code == 500 and "reference" in r.json()["issue"][0]["diagnostics"]
    assert "secret" not in r.text and "Traceback" not in r.text
    for name, value in {**CACHE_SAFE, **ALWAYS}.items():
        assert r.headers.get(name) == value, name


def test_a_body_over_the_limit_is_refused_without_a_cacheable_answer(make_world):
    w = make_world(max_body_bytes=2_000)
    r = w.post("cli1", "/patients", patient_resource(name="x" * 5_000))
    assert r.status_code == 413
    assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY"


def test_a_throttled_login_answer_is_not_cacheable(make_world):
    w = make_world(login_limit=2)
    codes = [w.get("nobody", "/patients").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    r = w.get("nobody", "/patients")
    assert r.headers["cache-control"] == "no-store" and r.headers["retry-after"]


@pytest.mark.parametrize("path", ["/patients", "/ui/patients", "/ready", "/docs"])
def test_over_https_every_response_tells_the_browser_to_stay_on_https(world, path):
    world.client.base_url = "https://testserver"
    r = world.get("adm", path)
    assert r.status_code == 200
    hsts = r.headers["strict-transport-security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 180 * 86400
    assert r.headers["cache-control"] == "no-store"


# -- static assets may be cached, and only they -----------------------------------------------


@pytest.mark.parametrize("name", ["api.js", "chart.js", "dashboard.css", "patient.js"])
def test_static_assets_keep_their_caching_and_are_never_sniffed(world, name):
    page = world.get("nobody", "/ui/login").text
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    url = next((u for u in urls if f"/{name}?" in u), f"/static/{name}")
    r = world.get("nobody", url)
    assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in r.headers["cache-control"]


def test_only_asset_routes_live_under_the_cacheable_prefixes(world):
    """The headers leave caching alone under /static/ and /docs/assets/: no route that could
    answer with patient data may live there."""
    from medtwin.service._headers import STATIC_PREFIXES

    def paths(routes):  # included routers are nested (no prefixes used)
        for r in routes:
            if isinstance(getattr(r, "path", None), str):
                yield r.path
            if getattr(r, "original_router", None) is not None:
                yield from paths(r.original_router.routes)

    every = list(paths(world.client.app.routes))
    assert "/patients/{pid}" in every and "/ui/patients/{pid}" in every
    under = sorted(p for p in every if p.startswith(tuple(x.rstrip("/") for x in STATIC_PREFIXES)))
    assert under == ["/docs/assets/{name}", "/static/{name}"]
    for path in ("/static/%2e%2e/patients", "/docs/assets/..%2Fpatients", "/static/patients"):
        r = world.get("adm", path)
        assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"


# -- the API page: nothing from another host ---------------------------------------------------


def _docs_refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)


def test_the_api_page_names_no_other_host_and_runs_no_inline_script(world):
    r = world.get("nobody", "/docs")
    assert r.status_code == 200
    refs = _docs_refs(r.text)
    assert len(refs) >= 3  # the style, Swagger UI, its start-up script
    for ref in refs:
        assert ref.startswith(("/", "data:")) and not ref.startswith("//"), ref
    assert not re.search(r"https?://|cdn|unpkg|jsdelivr", r.text, re.I)
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", r.text))
    assert re.search(r"script-src 'self';", r.headers["content-security-policy"])


@pytest.mark.parametrize("kind", ["swagger-ui-bundle.js", "swagger-ui.css", "init.js"])
def test_every_asset_of_the_api_page_comes_from_the_app(world, kind):
    ref = next(u for u in _docs_refs(world.get("nobody", "/docs").text) if kind in u)
    r = world.get("nobody", ref)
    assert r.status_code == 200 and len(r.content) > (100 if kind == "init.js" else 50_000)
    assert r.headers["content-type"].startswith("text/css" if kind.endswith("css")
                                                else "text/javascript")  # fmt: skip
    assert "immutable" in r.headers["cache-control"]  # hashed URL: safe to cache
    assert not re.search(rb"https?://(cdn|unpkg|fonts\.)", r.content)
    again = world.get("nobody", ref, headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/redoc",
        "/docs/oauth2-redirect",
        "/docs/assets/core.py",
        "/docs/assets/..%2F__init__.py",
        "/docs/assets/LICENSE",
    ],
)
def test_no_cdn_page_or_package_file_is_served_beside_the_api_page(world, path):
    r = world.get("nobody", path)
    assert r.status_code == 404
    assert b"cdn" not in r.content.lower() and b"import " not in r.content


# -- how `medtwin serve` listens: misconfigurations are refused before it starts ---------------


@pytest.fixture
def serve(tmp_path, monkeypatch):
    """``medtwin serve ARGS`` through the CLI with uvicorn.run recorded, not run."""
    from typer.testing import CliRunner

    from medtwin.cli.main import app

    from .conftest import KEY
    from .test_service_transport import make_certificate

    started: list[dict] = []
    monkeypatch.setattr("uvicorn.run", lambda _app, **kw: started.append(kw))
    cert, key = make_certificate(tmp_path / "good")
    _, other_key = make_certificate(tmp_path / "other")
    _, locked_key = make_certificate(tmp_path / "locked", encrypt=True)
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    files = {"CERT": cert, "KEY": key, "OTHER_KEY": other_key, "LOCKED_KEY": locked_key,
             "JUNK": tmp_path / "junk.pem", "MISSING": tmp_path / "missing.pem"}  # fmt: skip
    env = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}

    def run(*args: str):
        args = [str(files.get(a, a)) for a in args]
        db = f"sqlite:///{tmp_path / 'm.db'}"
        return CliRunner().invoke(app, ["serve", "--db", db, *args], env=env), started

    return run


MISCONFIGURED = {
    "cert-without-key": (["--ssl-certfile", "CERT"], "go together"),
    "key-without-cert": (["--ssl-keyfile", "KEY"], "go together"),
    "missing-cert": (["--ssl-certfile", "MISSING", "--ssl-keyfile", "KEY"], "no such file"),
    "missing-key": (["--ssl-certfile", "CERT", "--ssl-keyfile", "MISSING"], "no such file"),
    "junk-cert": (["--ssl-certfile", "JUNK", "--ssl-keyfile", "KEY"], "Cannot use"),
    "key-of-another-cert": (["--ssl-certfile", "CERT", "--ssl-keyfile", "OTHER_KEY"],
                            "Cannot use"),
    "encrypted-key-no-prompt": (["--ssl-certfile", "CERT", "--ssl-keyfile", "LOCKED_KEY"],
                                "unencrypted"),
    "trust-every-proxy": (["--trusted-proxy", "*"], "every address"),
    "trust-all-ipv4": (["--trusted-proxy", "0.0.0.0/0"], "every address"),
    "trust-all-ipv6": (["--trusted-proxy", "::/0"], "every address"),
    "proxy-by-name": (["--trusted-proxy", "proxy.internal"], "takes the IP address"),
    "proxies-in-one": (["--trusted-proxy", "10.0.0.1,10.0.0.2"], "takes the IP address"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MISCONFIGURED))
def test_a_misconfigured_transport_is_refused_before_serving(serve, case):
    args, expected = MISCONFIGURED[case]
    res, started = serve(*args)
    assert started == [] and res.exit_code == 2
    assert "error: " in res.stderr and expected in res.stderr, res.output
    assert "Traceback" not in res.output


def test_serve_trusts_no_forwarded_headers_unless_told(serve):
    res, started = serve()
    assert res.exit_code == 0, res.output
    assert started[0]["proxy_headers"] is False and started[0]["server_header"] is False
    assert "ssl_certfile" not in started[0]


def test_serve_trusts_exactly_the_proxies_named(serve):
    res, started = serve("--trusted-proxy", "10.0.0.5", "--trusted-proxy", "10.1.0.0/16")
    assert res.exit_code == 0, res.output
    assert started[0]["proxy_headers"] is True
    assert started[0]["forwarded_allow_ips"] == ["10.0.0.5", "10.1.0.0/16"]


def test_serving_plain_http_beyond_loopback_is_warned_about(serve):
    res, _ = serve("--host", "0.0.0.0")
    assert res.exit_code == 0 and "plain HTTP" in res.stderr
    res, started = serve("--host", "0.0.0.0", "--ssl-certfile", "CERT", "--ssl-keyfile", "KEY")
    assert res.exit_code == 0 and "plain HTTP" not in res.stderr
    assert started[-1]["ssl_certfile"].endswith("cert.pem")


def test_two_apps_in_one_process_never_reach_each_others_store(make_world):
    """Apps made with the same settings share their stateless routers (``create_app`` builds
    them once per process): a patient, a reading and a token of one hospital's app are unknown
    to the other's, and each store's audit log records only its own requests."""
    a, b = make_world(), make_world()
    pid = a.new_patient("cli1", mrn="MRN-424242", name="Shared")
    r = a.post("cli1", f"/patients/{pid}/observations", glucose(f"Patient/{pid}", "g-shared"))
    assert r.status_code == 200, r.text
    assert a.get("adm", "/patients").json() == {"patients": [pid]}
    assert b.get("adm", "/patients").json() == {"patients": []}
    for who in ("adm", "cli1"):
        assert b.get(who, f"/patients/{pid}").status_code == 404
        assert b.get(who, f"/patients/{pid}/observations").status_code == 404
    b.tokens["stranger"] = a.post("adm", "/users", {"name": "eve", "role": "admin"}).json()["token"]
    assert b.get("stranger", "/patients").status_code == 401  # a's token means nothing to b
    assert pid not in b.store.patient_ids() and "eve" not in [u.name for u in b.store.users()]
    written = {(e.action, e.outcome) for e in a.store.audit_entries() if e.patient == pid}
    assert {("patient.create", "success"), ("observation.create", "success")} <= written
    assert all(e.outcome != "success" for e in b.store.audit_entries() if e.patient == pid)
