"""Channel settings, as rules store them and the API accepts them (checked at the edge).

Secrets (webhook URLs of chat services, the webhook signing secret, SMTP passwords,
PagerDuty routing keys) are never shown back in full: ``masked()`` gives what the API and
the UI may show, and logs never carry a channel's settings.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Url = Annotated[str, Field(min_length=8, max_length=2048, pattern=r"^https?://\S+$")]
Secret = Annotated[str, Field(min_length=1, max_length=512)]


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookChannel(_Channel):
    """Generic JSON webhook, signed with HMAC-SHA256 (docs/alerts.md)."""

    kind: Literal["webhook"] = "webhook"
    url: Url
    secret: Secret  # signs each body: X-Backlight-Signature


class SlackChannel(_Channel):
    kind: Literal["slack"] = "slack"
    webhook_url: Url  # an incoming-webhook URL (a secret: it grants posting)


class DiscordChannel(_Channel):
    kind: Literal["discord"] = "discord"
    webhook_url: Url


class TeamsChannel(_Channel):
    """A Microsoft Teams workflow webhook ("Post to a channel when a webhook request is
    received"), which takes an Adaptive Card message."""

    kind: Literal["teams"] = "teams"
    webhook_url: Url


class PagerDutyChannel(_Channel):
    """PagerDuty Events API v2: trigger, and resolve when the group is resolved."""

    kind: Literal["pagerduty"] = "pagerduty"
    routing_key: Secret
    events_url: Url = "https://events.pagerduty.com/v2/enqueue"  # tests: a loopback receiver


class EmailChannel(_Channel):
    kind: Literal["email"] = "email"
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    starttls: bool = True
    username: Annotated[str, Field(max_length=320)] = ""
    password: Annotated[str, Field(max_length=512)] = ""
    sender: Annotated[str, Field(min_length=3, max_length=320)]
    to: Annotated[
        list[Annotated[str, Field(min_length=3, max_length=320)]],
        Field(min_length=1, max_length=50),
    ]


Channel = Annotated[
    WebhookChannel | SlackChannel | DiscordChannel | TeamsChannel | PagerDutyChannel | EmailChannel,
    Field(discriminator="kind"),
]

SECRET_FIELDS = {
    "webhook": ("secret",),
    "slack": ("webhook_url",),
    "discord": ("webhook_url",),
    "teams": ("webhook_url",),
    "pagerduty": ("routing_key",),
    "email": ("password",),
}


def post_url(channel: Channel) -> str | None:
    """The URL a channel's messages are posted to (``None`` for email, which speaks SMTP)."""
    match channel:
        case WebhookChannel():
            return channel.url
        case SlackChannel() | DiscordChannel() | TeamsChannel():
            return channel.webhook_url
        case PagerDutyChannel():
            return channel.events_url
        case EmailChannel():
            return None


def secrets_of(channel: Channel) -> list[str]:
    """The channel's secret settings and the URL it posts to (which may carry a token)."""
    found = [str(getattr(channel, name)) for name in SECRET_FIELDS[channel.kind]]
    url = post_url(channel)
    return [*found, url] if url else found


def mask(value: str) -> str:
    """A secret as it may be shown: its last four characters at most."""
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) >= 16 else "")


def masked(channel: _Channel) -> dict[str, object]:
    """The channel's settings with every secret masked (for the API, the UI and logs)."""
    data = channel.model_dump()
    for name in SECRET_FIELDS.get(str(data["kind"]), ()):
        data[name] = mask(str(data[name]))
    return data
