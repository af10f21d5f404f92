"""The built UI assets (``server/ui/build.mjs`` → ``static/build``): URLs by content hash,
served precompressed and cached for a year.

The build names every file by its content hash (``app-3FQ2ZK7A.js``), writes ``.gz`` and
``.br`` beside it, and maps logical names to files in ``manifest.json``. Pages link the
hashed names (``asset("app.js")``), so a file's URL changes whenever its bytes do, and the
server can answer ``Cache-Control: public, max-age=31536000, immutable``. The encoding
follows the request's ``Accept-Encoding`` (brotli, then gzip, then the plain file), always
with ``Vary: Accept-Encoding``.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

HERE = Path(__file__).parent
BUILD_DIR = HERE / "static" / "build"
PREFIX = "/ui-static/"
IMMUTABLE = "public, max-age=31536000, immutable"
# what the build writes: name-HASH.ext, optionally .map; no directories, no dot files
SERVED_NAME = re.compile(r"^[A-Za-z0-9_]+-[A-Z0-9]{8}\.(?:js|css)(?:\.map)?$")
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Build:
    names: dict[str, str]  # logical name → hashed file name
    files: frozenset[str]  # every file served (hashed names and their source maps)


def _manifest_stamp() -> tuple[int, int]:
    try:
        stat = (BUILD_DIR / "manifest.json").stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _load(stamp: tuple[int, int]) -> Build:
    """The manifest as of ``stamp`` (re-read after a rebuild; nothing when not built)."""
    if stamp == (0, 0):
        return Build({}, frozenset())
    try:
        raw = json.loads((BUILD_DIR / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return Build({}, frozenset())
    names = {
        k: v
        for k, v in (raw.items() if isinstance(raw, dict) else ())
        if isinstance(k, str) and isinstance(v, str) and SERVED_NAME.match(v)
    }
    files = frozenset(f for v in names.values() for f in (v, v + ".map"))
    return Build(names, files)


def current() -> Build:
    return _load(_manifest_stamp())


def missing() -> list[str]:
    """What of the build is not on disk, one phrase per URL (nothing when all is there).
    Without a build every page still renders, unstyled, and its asset URLs answer 404."""
    manifest = BUILD_DIR / "manifest.json"
    if not manifest.is_file():
        return [f"{PREFIX}* (no UI build: no {manifest})"]
    names = current().names
    if not names:
        return [f"{PREFIX}* ({manifest} names no asset)"]
    return [
        f"{PREFIX}{file} (no {BUILD_DIR / file})"
        for file in sorted(set(names.values()))
        if not (BUILD_DIR / file).is_file()
    ]


def url(name: str) -> str:
    """The URL of a built asset by its logical name (``app.js``); its file name carries the
    content hash. Before a build, the plain name (which answers 404)."""
    return PREFIX + current().names.get(name, name)


def accepted(header: str) -> set[str]:
    """Codings that ``Accept-Encoding`` allows (``q=0`` refuses one; ``*`` allows any)."""
    allowed: set[str] = set()
    refused: set[str] = set()
    for part in header.lower().split(",")[:32]:
        coding, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        (allowed if q > 0 else refused).add(coding.strip())
    if "*" in allowed:
        allowed |= {c for c, _ in ENCODINGS} - refused
    return allowed - refused


def serve(request: Request) -> Response:
    name = request.path_params["name"]
    if not SERVED_NAME.match(name) or name not in current().files:
        raise HTTPException(404, f"no UI asset named {name[:100]!r}")
    path = BUILD_DIR / name
    base = name.removesuffix(".map")
    media = (
        "application/json"
        if name.endswith(".map")
        else TYPES.get(Path(base).suffix, mimetypes.guess_type(base)[0] or "text/plain")
    )
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    allowed = accepted(request.headers.get("accept-encoding", ""))
    for coding, suffix in ENCODINGS:
        packed = path.with_name(name + suffix)
        if coding in allowed and packed.is_file():
            headers["Content-Encoding"] = coding
            return FileResponse(packed, media_type=media, headers=headers)
    if not path.is_file():
        raise HTTPException(404, f"no UI asset named {name[:100]!r}")
    return FileResponse(path, media_type=media, headers=headers)


routes: list[BaseRoute] = [Route(PREFIX + "{name}", serve, methods=["GET", "HEAD"])]
