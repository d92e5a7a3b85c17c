"""The twin loop, in one place: a twin's configuration, the mapping of a patient's record
onto its model, and one update step -- ``update(config, twin, observations, events)`` ->
the next twin, its forecast, the report and the alerts.

The store (rows, locks, blobs, the audit chain), the service, the CLI (``twin replay``) and the
demo all call this package; none of them knows a filter or a model beyond its name. What a
model offers the loop it declares itself (``medtwin.models``: observables with LOINC codes and
units, :class:`~medtwin.models.EventSpec`, :class:`~medtwin.models.TwinDefaults`), so a model
registered by a user becomes a twin everywhere with no edit elsewhere.

A twin is of one kind (``_kind``): an ensemble over an ODE/PDE model (``_ode``) or a discrete
causal Bayesian network's evidence (``_network``; the networks of ``medtwin.bn`` whose entry
declares the codes they take). :func:`create`, :func:`update`, :func:`restore`, :func:`redo`,
:func:`packed`, :func:`admit`, :func:`summary` and :func:`warm_up` ask the configured model's
kind once and hand the call over.
"""

from ..twin import Twin as Twin
from ._alerts import UNIT_RULES as UNIT_RULES
from ._alerts import Alert as Alert
from ._alerts import Crossing as Crossing
from ._alerts import evaluate as evaluate_alert
from ._alerts import forecast_alerts as forecast_alerts
from ._alerts import rule_for as rule_for
from ._batch import UpdateItem as UpdateItem
from ._cardiac import QRS_CODE as QRS_CODE
from ._cardiac import CardiacKind as CardiacKind
from ._cardiac import given_tissue as given_tissue
from ._cardiac import lat_code as lat_code
from ._cardiac_state import CardiacLoopTwin as CardiacLoopTwin
from ._cardiac_state import CardiacTissue as CardiacTissue
from ._cardiac_views import activation_map as activation_map
from ._cardiac_views import inducibility as inducibility
from ._codec import QUANTILES as QUANTILES
from ._codec import forecast_model as forecast_model
from ._codec import pack_ensemble as pack_ensemble
from ._codec import pack_forecast as pack_forecast
from ._codec import pack_forecast_exact as pack_forecast_exact
from ._codec import unpack_ensemble as unpack_ensemble
from ._codec import unpack_forecast as unpack_forecast
from ._config import TwinConfig as TwinConfig
from ._config import build_twin as build_twin
from ._config import model_of as model_of
from ._config import new_twin as new_twin
from ._config import time_bounds as time_bounds
from ._kind import Packed as Packed
from ._kind import PackedForecast as PackedForecast
from ._kind import TwinKind as TwinKind
from ._kind import admit as admit
from ._kind import create as create
from ._kind import kind_of as kind_of
from ._kind import name_taken as name_taken
from ._kind import packed as packed
from ._kind import redo as redo
from ._kind import register_kind as register_kind
from ._kind import restore as restore
from ._kind import summary as summary
from ._kind import update as update
from ._kind import update_many as update_many
from ._kind import warm_up as warm_up
from ._mapping import event_kinds as event_kinds
from ._mapping import from_model_time as from_model_time
from ._mapping import observable_for as observable_for
from ._mapping import observations_of as observations_of
from ._mapping import regimen_event as regimen_event
from ._mapping import snapped as snapped
from ._mapping import to_model_time as to_model_time
from ._ode import OdeKind as OdeKind
from ._replay import ReplayResult as ReplayResult
from ._replay import forecast_rows as forecast_rows
from ._replay import replay_stream as replay_stream
from ._reproduce import Difference as Difference
from ._reproduce import StoredStep as StoredStep
from ._reproduce import VersionReplay as VersionReplay
from ._reproduce import fingerprint as fingerprint
from ._reproduce import replay_versions as replay_versions
from ._step import PendingEvent as PendingEvent
from ._step import PendingObservation as PendingObservation
from ._step import Step as Step
from ._step import applicability_of as applicability_of
from ._stored import StoredForecast as StoredForecast
from ._stored import stored_observations as stored_observations
from ._stored import stored_skill as stored_skill

try:  # the network kind needs the bn extra (pyAgrum); without it the ODE kind runs alone
    from ._network import NetworkKind as NetworkKind
    from ._network import NetworkTwin as NetworkTwin
    from ._network import network_view as network_view
except ImportError as _exc:  # pragma: no cover - the service extra includes bn
    if _exc.name not in ("pyagrum", "yaml"):
        raise

__all__ = [
    "QRS_CODE",
    "QUANTILES",
    "UNIT_RULES",
    "Alert",
    "CardiacKind",
    "CardiacLoopTwin",
    "CardiacTissue",
    "Crossing",
    "Difference",
    "NetworkKind",
    "NetworkTwin",
    "OdeKind",
    "Packed",
    "PackedForecast",
    "PendingEvent",
    "PendingObservation",
    "ReplayResult",
    "Step",
    "StoredForecast",
    "StoredStep",
    "Twin",
    "TwinConfig",
    "TwinKind",
    "UpdateItem",
    "VersionReplay",
    "activation_map",
    "admit",
    "applicability_of",
    "build_twin",
    "create",
    "evaluate_alert",
    "event_kinds",
    "fingerprint",
    "forecast_alerts",
    "forecast_model",
    "forecast_rows",
    "from_model_time",
    "given_tissue",
    "inducibility",
    "kind_of",
    "lat_code",
    "model_of",
    "network_view",
    "new_twin",
    "observable_for",
    "observations_of",
    "pack_ensemble",
    "pack_forecast",
    "pack_forecast_exact",
    "packed",
    "redo",
    "regimen_event",
    "register_kind",
    "replay_stream",
    "replay_versions",
    "restore",
    "rule_for",
    "snapped",
    "stored_observations",
    "stored_skill",
    "summary",
    "time_bounds",
    "to_model_time",
    "unpack_ensemble",
    "unpack_forecast",
    "update",
    "update_many",
    "warm_up",
]
