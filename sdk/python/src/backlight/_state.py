"""Process-wide SDK state: the current client (``None`` before ``init``)."""

from __future__ import annotations

from backlight.client import Client


class _State:
    client: Client | None = None


state = _State()
