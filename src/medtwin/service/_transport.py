"""How ``medtwin serve`` listens: TLS from a certificate and key, and which reverse proxies
may say who the client is.

Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are read only from the proxies
named with ``--trusted-proxy``; with none, they are ignored and the client is the address of
the TCP connection. (uvicorn's own default trusts them from 127.0.0.1, which let any local
process rotate or forge the address the login limiter counts.) ``*`` and catch-all networks
are refused: they would trust every client's headers. See docs/security.md, "Transport".
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MedtwinError

__all__ = ["plain_http_warning", "uvicorn_options"]


def _proxy(value: str) -> str:
    text = value.strip()
    if text == "*":
        text = "0.0.0.0/0"  # uvicorn's "trust everyone"
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise MedtwinError(
            f"--trusted-proxy takes the IP address (or network, e.g. 10.0.0.0/24) of a reverse "
            f"proxy in front of medtwin. Got {value!r:.80}."
        ) from None
    if net.prefixlen == 0:
        raise MedtwinError(
            f"--trusted-proxy {value!r} would trust forwarded headers from every address, so "
            "any client could choose the address the login limiter counts. Name the proxy's "
            "own address instead."
        )
    return str(net) if net.num_addresses > 1 else str(net.network_address)


def _tls(certfile: str | None, keyfile: str | None) -> dict[str, str]:
    if certfile is None and keyfile is None:
        return {}
    if certfile is None or keyfile is None:
        given = "--ssl-certfile" if certfile else "--ssl-keyfile"
        raise MedtwinError(
            "--ssl-certfile and --ssl-keyfile go together: TLS needs the certificate (PEM) "
            f"and its private key (PEM). Got only {given}."
        )
    for option, path in (("--ssl-certfile", certfile), ("--ssl-keyfile", keyfile)):
        if not Path(path).is_file():
            raise MedtwinError(f"{option}: no such file {path!r}. Give the path of a PEM file.")
    try:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certfile, keyfile, password=lambda: b"")  # never prompt
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise MedtwinError(
            f"Cannot use the certificate {certfile!r} with the key {keyfile!r}: {exc}. Expected "
            "a PEM certificate (chain) and its unencrypted PEM private key."
        ) from None
    return {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}


def uvicorn_options(
    *,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    trusted_proxies: Sequence[str] = (),
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``/``uvicorn.Config``: TLS if a certificate and key
    are given; forwarded headers honoured only from ``trusted_proxies``; no ``Server``
    header. Raises MedtwinError saying what is wrong with an option."""
    proxies = [_proxy(p) for p in trusted_proxies]
    return {
        **_tls(ssl_certfile, ssl_keyfile),
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or [],
        "server_header": False,
    }


def plain_http_warning(host: str, options: dict[str, Any]) -> str | None:
    """A warning when patient data would travel unencrypted beyond this machine: plain HTTP on
    an address other than loopback and no trusted proxy in front."""
    if "ssl_certfile" in options or options.get("proxy_headers"):
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"Warning: serving patient data over plain HTTP on {host}. Give --ssl-certfile and "
        "--ssl-keyfile, or put a TLS reverse proxy in front (--trusted-proxy); see "
        "docs/security.md."
    )
