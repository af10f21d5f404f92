"""``backlight sourcemaps upload``: a release's built folder to a Backlight server.

Walks the folder (``node_modules`` and hidden folders skipped) for scripts and maps
(``inspect.UPLOADED_SUFFIXES``), asks the server what the release already holds, and
uploads only the files whose SHA-256 differs (so running it again uploads nothing), one
PUT each, with a progress line. Each file is named url prefix + its path in the folder.
Debug ids are read by the server from the files themselves. Errors are one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlencode

from backlight_server.sourcemaps.inspect import UPLOADED_SUFFIXES

DEFAULT_SERVER = "http://127.0.0.1:8082"
TIMEOUT_S = 300.0
_WIDTH = 24


class UploadError(Exception):
    """A refusal or a failure: one line for the user."""


@dataclass(frozen=True)
class Found:
    relative: str
    path: Path
    size: int


def collect(folder: Path) -> list[Found]:
    if not folder.is_dir():
        raise UploadError(f"{folder} is not a folder")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "node_modules" and not d.startswith("."))
        for name in sorted(files):
            if name.lower().endswith(UPLOADED_SUFFIXES):
                path = Path(root) / name
                rel = path.relative_to(folder).as_posix()
                found.append(Found(rel, path, path.stat().st_size))
    return found


def join(prefix: str, relative: str) -> str:
    return prefix.rstrip("/") + "/" + relative


class Api:
    def __init__(self, server: str, key: str, project: str) -> None:
        self.base = f"{server.rstrip('/')}/api/v1/projects/{quote(project, safe='')}/artifacts"
        self.server, self.key = server, key

    def call(self, method: str, query: dict[str, str], body: bytes | None = None) -> Any:
        req = urllib.request.Request(
            f"{self.base}?{urlencode(query)}",
            data=body,
            method=method,
            headers={
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/octet-stream",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            what = query.get("url") or f"release {query.get('release', '')}"
            raise UploadError(f"{method} {what}: {_detail(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UploadError(f"cannot reach {self.server}: {reason}") from None


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        return f"{exc.code} {body.get('error')}: {body.get('detail')}"
    except (ValueError, AttributeError):
        return f"HTTP {exc.code} {exc.reason}"


class Bar:
    """Files and bytes done; redrawn in place on a terminal, the last line elsewhere."""

    def __init__(self, files: int, size: int, out: TextIO) -> None:
        self.files, self.size, self.out = files, size, out
        self.done_files = self.done_bytes = 0
        self.started = self.drawn = time.monotonic()
        self.tty = out.isatty()

    def advance(self, size: int) -> None:
        self.done_files += 1
        self.done_bytes += size
        now = time.monotonic()
        if self.tty and now - self.drawn >= 0.2:
            self.drawn = now
            self.out.write("\r" + self.line())
            self.out.flush()

    def line(self) -> str:
        share = self.done_bytes / self.size if self.size else 1.0
        rate = self.done_bytes / max(time.monotonic() - self.started, 1e-6) / 1e6
        return (
            f"uploading [{'#' * int(share * _WIDTH):<{_WIDTH}}] {self.done_files}/{self.files} "
            f"files {self.done_bytes / 1e6:,.1f}/{self.size / 1e6:,.1f} MB {rate:,.1f} MB/s"
        )

    def finish(self) -> None:
        self.out.write(("\r" if self.tty else "") + self.line() + "\n")
        self.out.flush()


def upload(
    server: str, key: str, project: str, release: str, prefix: str, folder: Path, out: TextIO
) -> dict[str, int]:
    files = collect(folder)
    if not files:
        raise UploadError(f"no {', '.join(UPLOADED_SUFFIXES)} files in {folder}")
    api = Api(server, key, project)
    held = api.call("GET", {"release": release})
    limit = int(held.get("limits", {}).get("max_file_bytes", 0)) or None
    have = {f["url"]: f["sha256"] for f in held.get("files", [])}
    todo: list[tuple[Found, str, bytes]] = []
    counts = {"stored": 0, "replaced": 0, "unchanged": 0, "skipped": 0, "debug_ids": 0}
    for f in files:
        if limit is not None and f.size > limit:
            raise UploadError(
                f"{f.relative} is {f.size} bytes; the server takes at most {limit} "
                "(sourcemap_max_file_bytes)"
            )
        data = f.path.read_bytes()
        url = join(prefix, f.relative)
        if have.get(url) == hashlib.sha256(data).hexdigest():
            counts["skipped"] += 1
        else:
            todo.append((f, url, data))
    bar = Bar(len(todo), sum(len(d) for _f, _u, d in todo), out)
    for _f, url, data in todo:
        done = api.call("PUT", {"release": release, "url": url}, data)
        counts[str(done.get("status", "stored"))] = counts.get(str(done.get("status")), 0) + 1
        counts["debug_ids"] += 1 if done.get("debug_id") else 0
        bar.advance(len(data))
    if todo:
        bar.finish()
    return counts


def run(args: Any) -> int:
    key = args.key or os.environ.get("BACKLIGHT_UPLOAD_KEY", "")
    if not key:
        print("backlight: an upload key is needed: --key or BACKLIGHT_UPLOAD_KEY", file=sys.stderr)
        return 2
    server = args.server or os.environ.get("BACKLIGHT_SERVER", DEFAULT_SERVER)
    try:
        counts = upload(
            server, key, args.project, args.version, args.url_prefix, Path(args.folder), sys.stdout
        )
    except UploadError as exc:
        print(f"backlight: {exc}", file=sys.stderr)
        return 1
    print(
        f"release {args.version}: {counts['stored']} stored, {counts['replaced']} replaced, "
        f"{counts['unchanged'] + counts['skipped']} already there "
        f"({counts['debug_ids']} uploaded with a debug id)"
    )
    return 0
