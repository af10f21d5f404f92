"""Alert rules: what fires (the trigger), on what (filters), where it goes (channels), and
how often (cooldown, digest, mute). Checked at the edge: every field has a type and a range,
and a refusal names the field and its limit (the API answers 400).

The evaluator (``evaluate.py``) evaluates every trigger here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from backlight_server.alerts.channels.config import Channel, masked

Name = Annotated[str, Field(min_length=1, max_length=200)]
Short = Annotated[str, Field(min_length=1, max_length=256)]
EpochMs = Annotated[float, Field(ge=0, le=9e12, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewGroup(_Model):
    """A new error group: the first instance of a fingerprint in the project."""

    kind: Literal["new_group"] = "new_group"


class Regression(_Model):
    """A resolved group gets a new instance."""

    kind: Literal["regression"] = "regression"


class Spike(_Model):
    """More than ``threshold`` instances within ``window_minutes``: of one group (each group
    counted on its own, or only ``group_id``), or of all errors of a service (each service
    on its own, or only ``filters.service``)."""

    kind: Literal["spike"] = "spike"
    threshold: Annotated[int, Field(ge=1, le=1_000_000)]
    window_minutes: Annotated[int, Field(ge=1, le=1440)]
    scope: Literal["group", "service"] = "group"
    group_id: Annotated[int | None, Field(ge=0, le=2**62)] = None


class LogMatch(_Model):
    """More than ``threshold`` logs matching ``query`` within ``window_minutes``: the log
    search's words and rules (every word anywhere in the body, any case), at ``level`` when
    set, and of the rule's service and environment filters. Logs are backend data:
    ``filters.source = frontend`` matches nothing."""

    kind: Literal["log_match"] = "log_match"
    query: Annotated[str, Field(min_length=1, max_length=1024)]
    level: Literal["trace", "debug", "info", "warn", "error", "fatal"] | None = None
    threshold: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    window_minutes: Annotated[int, Field(ge=1, le=1440)] = 5


class UserError(_Model):
    """A backend error linked to a browser session whose user is ``user`` (the identified
    user, exactly) and/or identified with the property ``property_name`` (equal to
    ``property_value`` as text when set; ``true``, ``42`` for JSON values;
    ``property_value`` without ``property_name`` is ignored). Neither: any session. Once
    per session and group. Backend errors only: ``filters.source = frontend`` matches
    nothing."""

    kind: Literal["user_error"] = "user_error"
    user: Annotated[str | None, Field(min_length=1, max_length=512)] = None
    property_name: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    property_value: Annotated[str | None, Field(max_length=1024)] = None


Trigger = Annotated[
    NewGroup | Regression | Spike | LogMatch | UserError, Field(discriminator="kind")
]
EVALUATED = ("new_group", "regression", "spike", "log_match", "user_error")


class Filters(_Model):
    """Which errors a rule looks at; an unset filter matches everything."""

    service: Short | None = None
    environment: Short | None = None
    source: Literal["frontend", "backend"] | None = None


class RuleIn(_Model):
    """A rule as the API accepts it (POST creates, PUT replaces)."""

    project_id: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    name: Name
    trigger: Trigger
    filters: Filters = Filters()
    channels: Annotated[list[Channel], Field(min_length=1, max_length=10)]
    cooldown_seconds: Annotated[int, Field(ge=0, le=86_400)] = 300
    digest_threshold: Annotated[int, Field(ge=1, le=10_000)] = 5
    enabled: bool = True
    muted_until_ms: EpochMs | None = None


class Rule(RuleIn):
    """A stored rule."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    project_id: Annotated[str, Field(min_length=1, max_length=128)]
    updated_ms: EpochMs = 0.0

    def active(self, now_ms: float) -> bool:
        return self.enabled and (self.muted_until_ms is None or self.muted_until_ms <= now_ms)

    def shown(self) -> dict[str, object]:
        """The rule as the API shows it: every channel secret masked."""
        data = self.model_dump(mode="json")
        data["channels"] = [masked(c) for c in self.channels]
        return data


def readable_rule(body: object) -> Rule | None:
    """A stored rule, or None when this server cannot read it (written by a newer version,
    or damaged): reads never fail on a stored value."""
    try:
        return Rule.model_validate_json(body) if isinstance(body, str | bytes) else None
    except ValueError:  # pydantic's ValidationError is a ValueError
        return None
