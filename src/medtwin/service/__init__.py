"""Edge: the REST API (FastAPI) and the dashboard."""
