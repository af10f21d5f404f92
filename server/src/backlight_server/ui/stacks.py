"""Stack frames as every page shows them: each frame gets ``path`` (its file as shown,
``frames.display_paths``: relative to the project, libraries from their root) and the SDKs'
own frames read as library frames even when stored before they were classified so
(``frames.in_app``). The templates call ``present`` (``_stack.html``); the session page
sends the result to ``stack.ts``, which shows ``path``: one rule, in one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backlight_server.pipeline.frames import display_paths, in_app

Row = dict[str, Any]


def present(frames: object) -> list[Row]:
    """Copies of a stored stack's frames (any stored value: what is not a frame is
    left out) with ``path`` and today's ``in_app``."""
    if not isinstance(frames, list):
        return []
    shown = [dict(f) for f in frames if isinstance(f, dict)]
    files = [f["file"] if isinstance(f.get("file"), str) else "" for f in shown]
    for f, file in zip(shown, files, strict=True):
        f["in_app"] = bool(f.get("in_app")) and (not file or in_app(file))
    for f, path in zip(shown, display_paths(files, [f["in_app"] for f in shown]), strict=True):
        f["path"] = path
    return shown


def with_paths(rows: Iterable[Row]) -> None:
    """``present`` applied to the ``stack`` of each row, in place."""
    for row in rows:
        if isinstance(row.get("stack"), list):
            row["stack"] = present(row["stack"])
