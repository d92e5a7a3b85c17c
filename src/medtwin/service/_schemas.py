"""The API's JSON request bodies (FHIR bodies are parsed by ``medtwin.data.fhir`` instead).

Each model declares its keys, their JSON types and the bounds that hold whatever the model
(``medtwin.limits``: particles, what-if options, events per option and amounts); unknown keys
are refused. What depends on the patient's model is checked where the model is known:
a twin's horizon and cadence in the model's time unit and its model and free parameters by
:class:`~medtwin.loop.TwinConfig` (as for the CLI and the store), a what-if's horizon, event
times and event kinds against the twin (``_views.what_if_regimens``).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PlainValidator, StrictInt, StrictStr, field_validator

from .. import limits
from ..loop import TwinConfig
from ..store import MAX_TOKEN_TTL_DAYS, ROLES
from ._bodies import Body, BodyError, Bounded, Number, json_body, range_schema

__all__ = [
    "GrantBody",
    "GrantJson",
    "NewUserBody",
    "NewUserJson",
    "TokenBody",
    "TokenJson",
    "TwinConfigBody",
    "TwinConfigJson",
    "WhatIfBody",
    "WhatIfConesBody",
    "WhatIfConesJson",
    "WhatIfEvent",
    "WhatIfJson",
]

_DEFAULT: dict[str, Any] = {f.name: f.default for f in fields(TwinConfig)}
_EPOCH_EXAMPLE = "2026-01-01T00:00:00Z"

Name = Annotated[StrictStr, Field(min_length=1, max_length=64)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=128)]


def _epoch(value: Any) -> datetime:
    """An ISO 8601 datetime with a zone, as UTC."""
    try:
        if not isinstance(value, str):
            raise ValueError
        t = datetime.fromisoformat(value)
    except ValueError:
        raise BodyError(f"epoch must be an ISO 8601 datetime with a zone, e.g. {_EPOCH_EXAMPLE}. "
                        f"Got {value!r:.60}.") from None  # fmt: skip
    if t.tzinfo is None:
        raise BodyError("epoch needs a time zone (e.g. ...T00:00:00Z).")
    try:
        return t.astimezone(UTC)
    except OverflowError:
        raise BodyError(f"epoch is out of range. Got {value!r:.60}.") from None


Epoch = Annotated[datetime, PlainValidator(_epoch, json_schema_input_type=datetime)]


# -- POST /patients/{pid}/twin -------------------------------------------------------------


class TwinConfigBody(Body):
    """How the patient's twin is made (:class:`~medtwin.loop.TwinConfig`); keys left out take
    its defaults."""

    what: ClassVar[str] = "a twin configuration"

    model: Name = Field(description="The registered model: t1d, sepsis, ...")
    epoch: Epoch = Field(
        description=f"Model time 0: an ISO 8601 datetime with a zone, e.g. {_EPOCH_EXAMPLE}."
    )
    prior: Literal["population", "spec"] = Field(
        _DEFAULT["prior"],
        description="population: a kernel density over the model's published population; "
        "spec: the ParameterSpec priors of the free parameters.",
    )
    free: list[Name] | None = Field(
        _DEFAULT["free"], description="The parameters the twin learns (default: the model's)."
    )
    n: Annotated[int, Bounded(limits.PARTICLES)] = Field(
        _DEFAULT["n"], description="Particles of the twin's ensemble."
    )
    seed: StrictInt = Field(_DEFAULT["seed"], ge=0, description="The root random key.")
    horizon: Number = Field(
        _DEFAULT["horizon"],
        description="The forecast issued with each version, in the model's time unit (within "
        "the model's forecast span: 7 days unless it declares another, 10 years for ldl; a "
        "multiple of every).",
        json_schema_extra={"exclusiveMinimum": 0},
    )
    every: Number | None = Field(
        _DEFAULT["every"],
        description="The forecast's cadence in the model's time unit: a multiple of the "
        "model's input step, at most the horizon (default: 5 input steps).",
        json_schema_extra={"exclusiveMinimum": 0},
    )
    drift: Number | None = Field(
        _DEFAULT["drift"],
        description="The particle filter's parameter drift per sqrt(hour) (default: the model's).",
        json_schema_extra={"minimum": 0},
    )
    sensor: Name | None = Field(
        _DEFAULT["sensor"],
        description="The observable read by a continuous sensor with autocorrelated error (a "
        "CGM: sc_glucose for t1d), carried as every particle's AR(1) sensor state as "
        "`medtwin twin replay` does for a CGM file (default: none, independent errors).",
    )

    def config(self) -> TwinConfig:
        """The :class:`TwinConfig` of the keys sent (``LimitError``: a bound of
        ``medtwin.limits`` in the model's time unit; ``StoreError``: a model, prior or free
        parameters that do not fit)."""
        return TwinConfig(**{k: getattr(self, k) for k in self.model_fields_set})


# -- POST /patients/{pid}/what-if and the dashboard's --------------------------------------


class WhatIfEvent(Body):
    """One event of a what-if option."""

    what: ClassVar[str] = "a what-if event"

    after: Number = Field(
        description="Time from the twin's time, in the model's time unit: 0..the horizon."
    )
    kind: Name = Field(description="An event kind the model takes (bolus, meal, ...).")
    amount: Number = Field(
        description="Dose (U), meal (g) or rate (U/h, 1/h).",
        json_schema_extra=range_schema(limits.EVENT_AMOUNT),
    )


class WhatIfBody(Body):
    """Regimens to compare from the twin's time: ``{"horizon": 240, "options": {"name":
    [{"after": 0, "kind": "bolus", "amount": 2}], ...}}``."""

    what: ClassVar[str] = "a what-if"
    max_options: ClassVar[int | None] = None  # tighter than medtwin.limits for one route
    max_events: ClassVar[int | None] = None

    horizon: Number = Field(
        description="In the model's time unit: at most 2 days, snapped to the forecast cadence.",
        json_schema_extra={"exclusiveMinimum": 0},
    )
    options: dict[str, list[WhatIfEvent]] = Field(
        description="Option name -> its events (1-6 options of at most 50 events)."
    )

    @field_validator("options")
    @classmethod
    def _counts(cls, options: dict[str, list[WhatIfEvent]]) -> dict[str, list[WhatIfEvent]]:
        limits.WHAT_IF_OPTIONS.check(len(options), name="options", high=cls.max_options)
        for name, events in options.items():
            where = f"options.{str(name)[:40]}"
            limits.WHAT_IF_EVENTS.check(len(events), name=where, high=cls.max_events)
            for k, e in enumerate(events):
                limits.EVENT_AMOUNT.check(e.amount, name=f"{where}[{k}].amount")
        return options


class WhatIfConesBody(WhatIfBody):
    """The dashboard's what-if: 1-3 options of at most 20 events, the horizon optional (the
    latest forecast's, at most 2 days), and the observable to draw."""

    max_options: ClassVar[int | None] = 3
    max_events: ClassVar[int | None] = 20

    horizon: Number | None = Field(  # type: ignore[assignment]
        None,
        description="In the model's time unit (default: the latest forecast's, at most 2 days).",
        json_schema_extra={"exclusiveMinimum": 0},
    )
    observable: Name | None = Field(
        None, description="The observable to draw (default: that of the newest measurement)."
    )


# -- users, tokens, grants (admin) ---------------------------------------------------------


def _ttl() -> Any:
    return Field(
        30,
        description=f"The token's lifetime in days, at most {MAX_TOKEN_TTL_DAYS}.",
        json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_TOKEN_TTL_DAYS},
    )


def _label() -> Any:
    return Field(
        None, description="A name for the token (at most 64 printable characters), shown in lists."
    )


class TokenBody(Body):
    """A new token: ``{"ttl_days": 30, "label": "laptop"}`` (both optional)."""

    what: ClassVar[str] = "a token request"

    ttl_days: Number = _ttl()
    label: StrictStr | None = _label()


class NewUserBody(Body):
    """A new user and their first token."""

    what: ClassVar[str] = "a new user"

    name: Text = Field(description="The user name (1-128 printable characters).")
    role: Text = Field(description=f"One of {', '.join(ROLES)}.")
    ttl_days: Number = _ttl()
    label: StrictStr | None = _label()


class GrantBody(Body):
    """Let ``user`` see ``patient``."""

    what: ClassVar[str] = "a grant"

    user: Text = Field(description="The user name.")
    patient: Text = Field(description="The patient id (p-...).")


TwinConfigJson = Annotated[TwinConfigBody, json_body(TwinConfigBody)]
WhatIfJson = Annotated[WhatIfBody, json_body(WhatIfBody)]
WhatIfConesJson = Annotated[WhatIfConesBody, json_body(WhatIfConesBody)]
TokenJson = Annotated[TokenBody, json_body(TokenBody)]
NewUserJson = Annotated[NewUserBody, json_body(NewUserBody)]
GrantJson = Annotated[GrantBody, json_body(GrantBody)]
