"""Security headers on every response, as plain ASGI middleware.

Every response may carry patient data (API JSON, FHIR, dashboard pages, error bodies that echo
a pseudonym), so every one gets ``Cache-Control: no-store`` and ``Pragma: no-cache`` (no proxy
or browser cache keeps a copy), except the static assets under :data:`STATIC_PREFIXES`, which
hold no patient data and keep the caching their routes declare. All responses get
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options:
DENY`` and, unless the route set its own, :data:`CSP` (scripts, styles, images and requests to
this origin only: enough for the dashboard and for Swagger UI at ``/docs``).
Responses served over TLS (``https``, directly or through a trusted proxy that says so) get
``Strict-Transport-Security``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CSP", "HSTS", "NO_STORE_HEADERS", "STATIC_PREFIXES", "SecurityHeaders"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
STATIC_PREFIXES = ("/static/", "/docs/assets/")
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
)
_NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
# the same, for a response made outside this middleware (the 500 handler's)
NO_STORE_HEADERS = {k.decode(): v.decode() for k, v in (*_NO_STORE, *_ALWAYS)}


class SecurityHeaders:
    """Add the headers above to every HTTP response of ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = str(scope.get("path", "")).startswith(STATIC_PREFIXES)
        tls = scope.get("scheme") == "https"

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _headers(message.get("headers", []),
                                                          static, tls)}  # fmt: skip
            await send(message)

        await self.app(scope, receive, with_headers)


def _headers(raw: Any, static: bool, tls: bool) -> list[tuple[bytes, bytes]]:
    headers = [(bytes(k), bytes(v)) for k, v in raw]
    names = {k.lower() for k, _ in headers}
    if not static:  # replace whatever caching a route declared
        headers = [(k, v) for k, v in headers if k.lower() not in (b"cache-control", b"pragma")]
        headers += _NO_STORE
    headers += [(k, v) for k, v in _ALWAYS if k not in names]
    if tls:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers
