"""Edge: the REST API (FastAPI) over the store. ``create_app(store)`` builds it;
``medtwin serve`` runs it with uvicorn."""

try:
    import fastapi  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError(
        "medtwin.service needs the 'service' extra: pip install 'medtwin[service]'"
    ) from exc

from ._app import create_app as create_app

__all__ = ["create_app"]
