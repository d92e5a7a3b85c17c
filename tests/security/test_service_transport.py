"""Attacks on transport (issue 14, findings 10 and 11): patient data over plain HTTP, and the
login limiter fooled by forwarded headers -- rotating ``X-Forwarded-For`` to get unlimited
guesses, or forging a victim's address to lock them out.

Real ``medtwin serve`` processes on loopback: one with TLS (a self-signed certificate made
here) and no trusted proxy, one with ``--trusted-proxy 127.0.0.1``; and, for the attacks from
127.0.0.1 (the address uvicorn trusts by default), a fresh uvicorn server per attack built with
the options ``medtwin serve`` passes, so the limiter starts empty. Other attacks each speak
from their own loopback address (127.0.0.x, bound by the client), so the limiter's memory of
one attack cannot make another pass. The limit is 10 failed logins a minute."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import itertools
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from .conftest import KEY

LIMIT = 10
ENV = {"MEDTWIN_KEY": base64.b64encode(KEY).decode(), "MEDTWIN_KEY_FILE": ""}
_addresses = itertools.count(10)


def _address(prefix: str = "127.0") -> str:
    """A loopback address no other attack in this process speaks from (or, with another
    ``prefix``, a client address a proxy forwards for)."""
    n = next(_addresses)
    return f"{prefix}.{n // 250}.{n % 250 + 2}"


def make_certificate(folder, *, encrypt: bool = False):
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    enc = (serialization.BestAvailableEncryption(b"secret") if encrypt
           else serialization.NoEncryption())  # fmt: skip
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8, enc))  # fmt: skip
    return cert_file, key_file


@contextmanager
def medtwin_serve(tmp, *args: str, tls_ca=None):
    """``medtwin serve`` in a subprocess over a store with an admin and a clinician; yields
    (base URL, tokens)."""
    from medtwin.store import open_store

    db = f"sqlite:///{tmp / 'medtwin.db'}"
    with open_store(db, key=KEY) as store:
        store.add_user("adm", "admin")
        store.add_user("cli1", "clinician")
        tokens = {n: store.issue_token(n) for n in ("adm", "cli1")}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp / "serve.log", "wb")  # closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "medtwin.cli", "serve", "--db", db, "--port", str(port), *args],
        env={**os.environ, **ENV}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"{'https' if tls_ca else 'http'}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with client(base, tls_ca) as c:
                    if c.get("/health").status_code == 200:
                        break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp / "serve.log").read_text()[-3000:])
            time.sleep(0.2)
        yield base, tokens
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def fresh_server(store, *trusted: str):
    """``create_app(store)`` (limit 10) on uvicorn in a thread, with ``medtwin serve``'s
    transport options; yields its base URL."""
    import uvicorn

    from medtwin.service import create_app
    from medtwin.service._transport import uvicorn_options

    config = uvicorn.Config(create_app(store, login_limit=LIMIT), host="127.0.0.1", port=0,
                            log_level="warning", lifespan="on",
                            **uvicorn_options(trusted_proxies=trusted))  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "no server"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from medtwin.store import open_store

    with open_store(f"sqlite:///{tmp_path_factory.mktemp('db') / 'm.db'}", key=KEY) as s:
        s.add_user("cli1", "clinician")
        s.tokens = {"cli1": s.issue_token("cli1")}
        yield s


def client(base: str, ca=None, source: str | None = None) -> httpx.Client:
    verify = ssl.create_default_context(cafile=str(ca)) if ca else True
    transport = httpx.HTTPTransport(verify=verify, local_address=source)
    return httpx.Client(base_url=base, transport=transport, trust_env=False, timeout=30)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def direct(tmp_path_factory, certificate):
    """HTTPS, no trusted proxy: (base, tokens, CA file)."""
    cert, key = certificate
    tmp = tmp_path_factory.mktemp("direct")
    with medtwin_serve(tmp, "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
                       tls_ca=cert) as (base, tokens):  # fmt: skip
        yield base, tokens, cert


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """Plain HTTP behind a proxy at 127.0.0.1 (``--trusted-proxy 127.0.0.1``)."""
    with medtwin_serve(tmp_path_factory.mktemp("proxied"), "--trusted-proxy", "127.0.0.1") as (
        base, tokens):  # fmt: skip
        yield base, tokens, None


def bad(extra=None):
    return [("authorization", "Bearer mt_not-a-token"), *(extra or [])]


def good(tokens, extra=None):
    return [("authorization", f"Bearer {tokens['cli1']}"), *(extra or [])]


# -- TLS ------------------------------------------------------------------------------------


def test_patient_data_travels_over_verified_tls_with_hsts(direct):
    base, tokens, ca = direct
    with client(base, ca, _address()) as c:
        r = c.get("/patients", headers=good(tokens))
    assert r.status_code == 200 and r.json() == {"patients": []}
    hsts = r.headers["strict-transport-security"]
    assert "max-age=31536000" in hsts and r.headers["cache-control"] == "no-store"
    assert "server" not in r.headers  # no uvicorn banner


def test_the_server_presents_the_configured_certificate(direct):
    base, _, ca = direct
    port = int(base.rsplit(":", 1)[1])
    served = ssl.get_server_certificate(("127.0.0.1", port))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(ca.read_text())


def test_plain_http_to_the_tls_port_gets_no_answer(direct):
    base, tokens, _ = direct
    plain = base.replace("https://", "http://")
    with client(plain, None, _address()) as c, pytest.raises(httpx.TransportError):
        c.get("/patients", headers=good(tokens))


def test_a_client_that_does_not_trust_the_certificate_refuses_it(direct):
    """The certificate is really checked: a client with the system's CAs refuses it."""
    base, tokens, _ = direct
    with client(base, None, _address()) as c, pytest.raises(httpx.ConnectError):
        c.get("/patients", headers=good(tokens))


# -- forwarded headers, no trusted proxy ----------------------------------------------------

ROTATIONS = {
    "xff-ipv4": lambda i: [("x-forwarded-for", f"203.0.113.{i}")],
    "xff-ipv6": lambda i: [("x-forwarded-for", f"2001:db8::{i:x}")],
    "xff-chain": lambda i: [("x-forwarded-for", f"198.51.100.{i}, 127.0.0.1")],
    "xff-loopback": lambda i: [("x-forwarded-for", f"127.0.{i}.1")],
    "xff-with-port": lambda i: [("x-forwarded-for", f"203.0.113.{i}:4{i:03d}")],
    "xff-twice": lambda i: [("x-forwarded-for", f"10.0.0.{i}"), ("x-forwarded-for", f"10.9.{i}.1")],
    "xff-garbage": lambda i: [("x-forwarded-for", f"unknown-{i}")],
    "xff-and-proto": lambda i: [("x-forwarded-for", f"192.0.2.{i}"), ("x-forwarded-proto", "http")],
    "forwarded": lambda i: [("forwarded", f"for=203.0.113.{i};proto=https")],
    "x-real-ip": lambda i: [("x-real-ip", f"203.0.113.{i}")],
    "true-client-ip": lambda i: [("true-client-ip", f"203.0.113.{i}")],
}  # fmt: skip


def _rotate(base, ca, rotate, source, tokens) -> None:
    with client(base, ca, source) as c:
        codes = [c.get("/patients", headers=bad(rotate(i))).status_code
                 for i in range(LIMIT + 1)]  # fmt: skip
        assert codes == [401] * LIMIT + [429]  # guess 11 refused, however the headers change
        # locked out: even a right token waits
        assert c.get("/patients", headers=good(tokens, rotate(99))).status_code == 429


@pytest.mark.parametrize("rotation", sorted(ROTATIONS))
def test_rotating_forwarded_headers_from_localhost_buys_no_more_guesses(store, rotation):
    """No trusted proxy configured: forwarded headers are ignored even from 127.0.0.1."""
    with fresh_server(store) as base:
        _rotate(base, None, ROTATIONS[rotation], "127.0.0.1", store.tokens)


@pytest.mark.parametrize("rotation", sorted(ROTATIONS))
def test_rotating_forwarded_headers_from_a_stranger_buys_no_more_guesses(proxied, rotation):
    """A proxy is trusted, but the attacker is not it: their headers are ignored."""
    base, tokens, _ = proxied
    _rotate(base, None, ROTATIONS[rotation], _address(), tokens)


def test_medtwin_serve_ignores_forwarded_headers_from_localhost(direct):
    """The command itself (no --trusted-proxy): rotating from 127.0.0.1 is still limited, and
    a forged address locks out no one else. (The only attack on this server from 127.0.0.1.)"""
    base, tokens, ca = direct
    victim = _address()
    _rotate(base, ca, lambda i: [("x-forwarded-for", victim if i % 2 else f"10.0.0.{i}")],
            "127.0.0.1", tokens)  # fmt: skip
    with client(base, ca, victim) as c:
        assert c.get("/patients", headers=good(tokens)).status_code == 200


FORGERIES = {
    "xff": lambda v: [("x-forwarded-for", v)],
    "xff-chain": lambda v: [("x-forwarded-for", f"{v}, 127.0.0.1")],
    "xff-with-port": lambda v: [("x-forwarded-for", f"{v}:443")],
    "forwarded": lambda v: [("forwarded", f'for="{v}"')],
    "x-real-ip": lambda v: [("x-real-ip", v)],
}


def _forge(base, attacker, victim, forge, tokens) -> None:
    with client(base, None, attacker) as c:
        codes = [c.get("/patients", headers=bad(forge(victim))).status_code
                 for _ in range(LIMIT + 2)]  # fmt: skip
    assert codes[-1] == 429  # the attacker locked out only themselves
    with client(base, None, victim) as c:
        r = c.get("/patients", headers=good(tokens))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_address_from_localhost_does_not_lock_out_its_owner(store, forgery):
    with fresh_server(store) as base:
        _forge(base, "127.0.0.1", _address(), FORGERIES[forgery], store.tokens)


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_address_from_a_stranger_does_not_lock_out_its_owner(proxied, forgery):
    base, tokens, _ = proxied
    _forge(base, _address(), _address(), FORGERIES[forgery], tokens)


# -- behind a trusted proxy: the forwarded client is the one limited --------------------------

PROXY_HEADERS = {  # how the proxy at 127.0.0.1 says who the client is
    "single": lambda client_ip, i: [("x-forwarded-for", client_ip)],
    # nginx's $proxy_add_x_forwarded_for appends the real client to whatever the client sent
    "client-spoof-appended": lambda client_ip, i: [
        ("x-forwarded-for", f"203.0.113.{i}, {client_ip}")],
    "two-spoofs-appended": lambda client_ip, i: [
        ("x-forwarded-for", f"10.0.0.{i}, 198.51.100.{i}, {client_ip}")],
}  # fmt: skip


@pytest.mark.parametrize("style", sorted(PROXY_HEADERS))
def test_behind_the_trusted_proxy_each_forwarded_client_is_limited_alone(proxied, style):
    base, tokens, _ = proxied
    say = PROXY_HEADERS[style]
    guesser, neighbour = _address("100.64"), _address("100.64")
    with client(base, None, "127.0.0.1") as proxy:
        codes = [proxy.get("/patients", headers=bad(say(guesser, i))).status_code
                 for i in range(LIMIT + 1)]  # fmt: skip
        assert codes == [401] * LIMIT + [429]  # the spoofed left part never helped
        mine = proxy.get("/patients", headers=good(tokens, say(neighbour, 1)))
        assert mine.status_code == 200  # the proxy's other clients are not locked out


@pytest.mark.parametrize("proto", ["https", "http"])
def test_only_the_trusted_proxy_can_say_the_client_used_https(proxied, proto):
    base, _, _ = proxied
    via = [("x-forwarded-for", _address("100.64")), ("x-forwarded-proto", proto)]
    with client(base, None, "127.0.0.1") as proxy:
        r = proxy.get("/health", headers=via)
    assert ("strict-transport-security" in r.headers) == (proto == "https")
    with client(base, None, _address()) as stranger:
        r = stranger.get("/health", headers=[("x-forwarded-proto", "https")])
    assert "strict-transport-security" not in r.headers
