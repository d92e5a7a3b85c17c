"""FHIR R4 in and out: Bundles and resources -> medtwin records; forecasts and provenance
-> FHIR R4 JSON. Pure functions: no database, no HTTP (the service calls them).

Needs the ``fhir`` extra (``fhir.resources``, whose R4B models check the R4 wire format).
"""

try:
    import fhir.resources.R4B  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "medtwin.data.fhir needs the 'fhir' extra: pip install 'medtwin[fhir]'"
    ) from exc

from ._bundle import ParsedBundle as ParsedBundle
from ._bundle import Skipped as Skipped
from ._bundle import parse_bundle as parse_bundle
from ._bundle import parse_resource as parse_resource
from ._issues import http_status as http_status
from ._issues import operation_outcome as operation_outcome
from ._observation import FORECAST_TAG as FORECAST_TAG
from ._observation import TAG_SYSTEM as TAG_SYSTEM
from ._out import BAND_SYSTEM as BAND_SYSTEM
from ._out import MODEL_SYSTEM as MODEL_SYSTEM
from ._out import forecast_observations as forecast_observations
from ._out import provenance as provenance
from ._out import twin_version_basic as twin_version_basic
from ._out import twin_version_ref as twin_version_ref
from ._search import DateParam as DateParam
from ._search import search_param as search_param

__all__ = [
    "BAND_SYSTEM",
    "FORECAST_TAG",
    "MODEL_SYSTEM",
    "TAG_SYSTEM",
    "DateParam",
    "ParsedBundle",
    "Skipped",
    "forecast_observations",
    "http_status",
    "operation_outcome",
    "parse_bundle",
    "parse_resource",
    "provenance",
    "search_param",
    "twin_version_basic",
    "twin_version_ref",
]
