"""The OpenAPI page at ``/docs``: Swagger UI served from this process, never from a CDN.

Swagger UI's script and style come from the ``fastapi-offline`` package (part of the
``service`` extra; it ships the Swagger UI 5 distribution, which reads the OpenAPI 3.1 that
FastAPI writes) and are served at ``/docs/assets/...`` with a content hash, like the
dashboard's files. The page holds no inline script or style (its start-up script is a file
too), so the service's strict Content-Security-Policy (``_headers.CSP``: scripts, styles,
images and requests to this origin only) holds for it as for the dashboard; Swagger UI's
validator badge, which would call a third party, is off. ReDoc is not served.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ._errors import ApiError

__all__ = ["docs_router"]

_INIT_JS = b"""// Start Swagger UI on the OpenAPI document the page names (no inline script: CSP).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
"""
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{root}/docs/assets/swagger-ui.css?v={css}">
</head>
<body>
<div id="swagger-ui" data-openapi="{root}{openapi}"></div>
<script src="{root}/docs/assets/swagger-ui-bundle.js?v={js}"></script>
<script src="{root}/docs/assets/init.js?v={init}"></script>
</body>
</html>
"""
_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_MISSING = (
    "The API page needs Swagger UI from the fastapi-offline package, which is not installed: "
    "pip install 'medtwin[service]'. The OpenAPI document itself is at /openapi.json."
)


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    digest: str


def _swagger_folder() -> Path | None:
    spec = find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _asset(name: str, body: bytes) -> _Asset:
    return _Asset(body, _MEDIA[Path(name).suffix], hashlib.sha256(body).hexdigest()[:16])


def docs_router(*, title: str, openapi_url: str = "/openapi.json") -> Any:
    """``GET /docs`` and its assets (read once, when the app is made)."""
    router = APIRouter(include_in_schema=False)
    folder = _swagger_folder()
    assets = {"init.js": _asset("init.js", _INIT_JS)}
    if folder is not None:
        for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
            assets[name] = _asset(name, (folder / name).read_bytes())

    @router.get("/docs")
    def docs(request: Request) -> HTMLResponse:
        if folder is None:
            raise ApiError(404, _MISSING)
        root = html.escape(str(request.scope.get("root_path", "")).rstrip("/"), quote=True)
        page = _PAGE.format(
            title=html.escape(title), root=root, openapi=html.escape(openapi_url, quote=True),
            css=assets["swagger-ui.css"].digest, js=assets["swagger-ui-bundle.js"].digest,
            init=assets["init.js"].digest,
        )  # fmt: skip
        return HTMLResponse(page)

    @router.get("/docs/assets/{name}")
    def asset(name: str, request: Request, v: str | None = None) -> Response:
        a = assets.get(name)
        if a is None:
            raise ApiError(404, _MISSING if folder is None else f"No docs asset {name!r:.60}.")
        etag = f'"{a.digest}"'
        cache = "public, max-age=31536000, immutable" if v == a.digest else "no-cache"
        headers = {"Cache-Control": cache, "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(a.body, media_type=a.media_type, headers=headers)

    return router
