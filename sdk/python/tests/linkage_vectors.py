"""docs/linkage-vectors.json for the SDK's tests (a unique module name on purpose)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "linkage-vectors.json").read_text("utf-8")
)


def cases(section: list[dict[str, Any]]) -> list[Any]:
    """One pytest param per case, named by its index and reason."""
    return [pytest.param(c, id=f"{i}-{c['why'][:40]}") for i, c in enumerate(section)]


def link_of(case: dict[str, Any]) -> tuple[str, str] | None:
    link = case["link"]
    return None if link is None else (link[0], link[1])


def ids_of(case: dict[str, Any]) -> tuple[int, int] | None:
    """The (trace id, parent span id) a traceparent case expects, as integers."""
    ids = case["ids"]
    return None if ids is None else (int(ids[0], 16), int(ids[1], 16))


def as_bytes(value: str) -> bytes:
    """What an ASGI server hands over for a header value: its UTF-8 bytes."""
    return value.encode("utf-8", "surrogatepass")
