"""The alert rule form, described from the rule models themselves (``alerts/rules.py``,
``alerts/channels/config.py``): one fieldset per trigger kind and per channel kind, each
input typed and bounded by the model's JSON schema. A field added to a model appears in the
form; only its label and hint are written here (a field without one gets its name).

The page's script (``server/ui/src/alerts.ts``) turns the inputs back into the API's JSON:
each input names its path in the rule (``data-field``, as the API's refusals name it) and
how to read it (``data-type``: text, number, bool, lines; ``data-empty``: what an empty
input sends: ``null``, nothing (``omit``, so the default applies), or an empty ``string``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel

from backlight_server.alerts import rules
from backlight_server.alerts.channels.config import SECRET_FIELDS, Channel

LABELS: dict[str, tuple[str, str]] = {
    # name: (label, hint)
    "threshold": ("More than", "instances within the window"),
    "window_minutes": ("Window (minutes)", ""),
    "scope": ("Count", ""),
    "group_id": ("Only group id", "empty: every group"),
    "query": ("Log search", "the same syntax as the Logs page"),
    "level": ("Level", ""),
    "user": ("Identified user", "empty: any identified user"),
    "property_name": ("User property", "a key of the session's identify metadata"),
    "property_value": ("Property value", ""),
    "service": ("Service", "empty: any"),
    "environment": ("Environment", "empty: any"),
    "source": ("Source", ""),
    "url": ("URL", "receives a signed JSON POST"),
    "secret": ("Signing secret", "signs each body (X-Backlight-Signature)"),
    "webhook_url": ("Webhook URL", ""),
    "routing_key": ("Routing key", "the integration key of an Events API v2 service"),
    "events_url": ("Events URL", ""),
    "host": ("SMTP host", ""),
    "port": ("Port", ""),
    "starttls": ("STARTTLS", "required when a username is set"),
    "username": ("Username", "empty: no AUTH"),
    "password": ("Password", ""),
    "sender": ("From", ""),
    "to": ("To", "one address a line"),
    "cooldown_seconds": (
        "Cooldown (seconds)",
        "events within it of the last send wait and go together",
    ),
    "digest_threshold": ("Digest above", "more events than this in one send: one digest message"),
}
TRIGGER_TEXT = {
    "new_group": ("A new error group", "the first instance of an error not seen before"),
    "regression": ("A regression", "a resolved error group gets a new instance"),
    "spike": ("A spike", "more than N errors within M minutes"),
    "log_match": ("Matching logs", "more than N logs matching a search within M minutes"),
    "user_error": ("A user hits a backend error", "filtered by identified user or property"),
}
CHANNEL_TEXT = {
    "webhook": "Webhook",
    "slack": "Slack",
    "discord": "Discord",
    "teams": "Microsoft Teams",
    "pagerduty": "PagerDuty",
    "email": "Email (SMTP)",
}
OPTION_LABELS = {"group": "per error group", "service": "per service"}
ANY = "any"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    hint: str
    input: str  # text, number, checkbox, select, lines
    kind: str  # data-type: text, number, bool, lines
    empty: str  # what an empty input sends: null, omit, string ("")
    required: bool
    options: tuple[tuple[str, str], ...] = ()  # select: (value, label)
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    secret: bool = False


@dataclass(frozen=True)
class Variant:
    kind: str
    label: str
    hint: str
    fields: tuple[Field, ...]
    evaluated: bool = True


def _variants(union: Any) -> list[type[BaseModel]]:
    """The models of a discriminated union (``Annotated[A | B, Field(...)]``)."""
    return [m for m in get_args(get_args(union)[0]) if isinstance(m, type)]


def _field(name: str, prop: dict[str, Any], required: bool, secret: bool) -> Field:
    nullable = False
    schema = prop
    if "anyOf" in prop:
        kinds = [s for s in prop["anyOf"] if s.get("type") != "null"]
        nullable = len(kinds) < len(prop["anyOf"])
        schema = kinds[0] if kinds else {}
    label, hint = LABELS.get(name, (name.replace("_", " ").capitalize(), ""))
    default = prop.get("default")
    empty = "null" if nullable else "omit" if "default" in prop else "string"
    common: dict[str, Any] = {"name": name, "label": label, "hint": hint, "required": required}
    if "enum" in schema:
        options = tuple((str(v), OPTION_LABELS.get(str(v), str(v))) for v in schema["enum"])
        if nullable:
            options = (("", ANY), *options)
        return Field(
            **common, input="select", kind="text", empty=empty, options=options, default=default
        )
    kind = schema.get("type")
    if kind == "boolean":
        return Field(**common, input="checkbox", kind="bool", empty="omit", default=default)
    if kind == "integer" or kind == "number":
        empty = "null" if nullable else "omit"  # a required number left empty: "required"
        return Field(
            **common,
            input="number",
            kind="number",
            empty=empty,
            default=default,
            minimum=schema.get("minimum"),
            maximum=schema.get("maximum"),
        )
    if kind == "array":
        return Field(**common, input="lines", kind="lines", empty="omit", default=default)
    return Field(
        **common,
        input="text",
        kind="text",
        empty=empty,
        default=default,
        max_length=schema.get("maxLength"),
        secret=secret,
    )


def fields_of(model: type[BaseModel], secrets: tuple[str, ...] = ()) -> tuple[Field, ...]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return tuple(
        _field(name, prop, name in required, name in secrets)
        for name, prop in schema.get("properties", {}).items()
        if name != "kind"
    )


def _kind(model: type[BaseModel]) -> str:
    return str(model.model_fields["kind"].default)


@functools.cache  # the models do not change while the server runs
def triggers() -> tuple[Variant, ...]:
    evaluated = getattr(rules, "EVALUATED", None)
    out = []
    for model in _variants(rules.Trigger):
        kind = _kind(model)
        label, hint = TRIGGER_TEXT.get(kind, (kind.replace("_", " "), ""))
        out.append(
            Variant(kind, label, hint, fields_of(model), evaluated is None or kind in evaluated)
        )
    return tuple(out)


@functools.cache  # the models do not change while the server runs
def channels() -> tuple[Variant, ...]:
    out = []
    for model in _variants(Channel):
        kind = _kind(model)
        secrets = SECRET_FIELDS.get(kind, ())
        out.append(Variant(kind, CHANNEL_TEXT.get(kind, kind), "", fields_of(model, secrets)))
    return tuple(out)


@functools.cache  # the models do not change while the server runs
def filters() -> tuple[Field, ...]:
    return fields_of(rules.Filters)


RULE_FIELDS = ("cooldown_seconds", "digest_threshold")


@functools.cache  # the models do not change while the server runs
def rule_fields() -> tuple[Field, ...]:
    """The rule's own numbers (name and on/off are written out in the template)."""
    return tuple(f for f in fields_of(rules.RuleIn) if f.name in RULE_FIELDS)
