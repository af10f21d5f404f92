"""Names of uploaded files: the release, the full URL (url prefix + relative path, or
``~/path`` for a file served from any origin), checked at the edge."""

from __future__ import annotations

import posixpath
import re

from backlight_server.errors import ClientError

RELEASE_MAX = 256
URL_MAX = 2048
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]{0,31}://")


def _printable(text: str) -> bool:
    return text.isprintable() and not any(c.isspace() for c in text)


def check_release(release: str, field: str = "release") -> str:
    if not release or len(release) > RELEASE_MAX or not release.isprintable():
        raise ClientError(
            400,
            "invalid_release",
            f"{field} must be 1-{RELEASE_MAX} printable characters (the app version)",
        )
    return release


def check_url(url: str, field: str = "url") -> str:
    if not url or len(url) > URL_MAX or not _printable(url):
        raise ClientError(
            400,
            "invalid_url",
            f"{field} must be 1-{URL_MAX} printable characters without spaces",
        )
    if not (url.startswith("~/") or _SCHEME.match(url)):
        raise ClientError(
            400,
            "invalid_url",
            f"{field} must be a full URL (https://host/path) or ~/path for any origin",
        )
    if ".." in url.split("?", 1)[0].split("/"):
        raise ClientError(400, "invalid_url", f"{field} must not contain '..' segments")
    return url


def join(prefix: str, relative: str) -> str:
    """``https://app.example.com/static`` + ``js/app.js`` → ``…/static/js/app.js``."""
    rel = posixpath.normpath(relative.replace("\\", "/")).lstrip("/")
    if rel in ("", ".") or rel.startswith("../"):
        raise ClientError(400, "invalid_url", f"path {relative[:200]!r} is not inside the folder")
    return prefix.rstrip("/") + "/" + rel
