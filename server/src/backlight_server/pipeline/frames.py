"""Which stack frames are the app's own code, and what names a library frame across versions.

A frame is *not in app* when it belongs to a runtime (Python's stdlib, Node's core modules,
Go's standard library, browser internals and extensions), to an installed library
(site-packages, node_modules, Go's module cache or vendor folder, a versioned CDN path) or
to an SDK (Backlight's, highlight's, OpenTelemetry's, wherever installed). Those frames
never enter a fingerprint with their line numbers: when a stack has no app frame at all,
each frame is named by ``module_of`` (the file path from the library root on, without
version parts) and its function. ``display_paths`` is how pages show a stack's files.

Everything here is string operations over one path or name: linear, no patterns.
"""

from __future__ import annotations

# Folders whose files are installed libraries, whatever the language.
_LIBRARY_DIRS = ("site-packages/", "dist-packages/", "node_modules/", "/pkg/mod/", ".egg/")
# The Backlight SDKs: the Python SDK from a source checkout or an editable install (an
# installed copy is under site-packages already), and the browser SDK as the server serves it.
_SDK_PATHS = (
    "/backlight/integrations/",
    "/sdk/python/src/backlight/",
    "/sdk/backlight.js",
    "/sdk/backlight.esm.js",
)
# The SDKs' own Python packages wherever they are installed (a Lambda's ``/var/task/``, a
# ``pip install --target`` folder, a vendored copy, a source checkout): highlight's SDK and
# OpenTelemetry (API, SDK, exporters, instrumentations) by their package folders, and the
# Backlight SDK by its package folder followed by one of its modules.
_SDK_PACKAGES = ("/highlight_io/", "/opentelemetry/")
_BACKLIGHT_MODULES = frozenset(
    {
        "__init__.py",
        "_context.py",
        "_debug.py",
        "_state.py",
        "_version.py",
        "activation.py",
        "api.py",
        "client.py",
        "config.py",
        "export",
        "headers.py",
        "integrations",
        "log_handler.py",
        "names.py",
        "processors.py",
        "propagator.py",
        "records.py",
        "request_span.py",
        "setup.py",
        "span.py",
        "types.py",
    }
)
# Runtimes: Python's stdlib and frozen modules, GOROOT, bundler glue, engine-internal frames.
_RUNTIME_MARKERS = (
    "<frozen ",
    "/usr/lib/",
    "/usr/local/go/src/",
    "/libexec/src/",
    "webpack/bootstrap",
    "<anonymous>",
    "[native code]",
)
_RUNTIME_FILES = frozenset({"native", "<unknown>", "[native code]", "<anonymous>"})
# Node's core modules (``node:events``), Deno's (``ext:core/…``), and browser-internal or
# extension code. Firefox gives every installation of an extension its own uuid.
_RUNTIME_SCHEMES = ("node:", "ext:", "deno:")
_EXTENSION_SCHEMES = (
    "chrome-extension:",
    "moz-extension:",
    "safari-extension:",
    "safari-web-extension:",
    "webkit-masked-url:",
    "chrome:",
    "resource:",
)
# Go's standard library: the first element of every std import path (``net`` of
# ``net/http``). Paths without a dot in their first element are reserved for it.
GO_STD_ROOTS = frozenset(
    {
        "archive",
        "bufio",
        "builtin",
        "bytes",
        "cmp",
        "compress",
        "container",
        "context",
        "crypto",
        "database",
        "debug",
        "embed",
        "encoding",
        "errors",
        "expvar",
        "flag",
        "fmt",
        "go",
        "hash",
        "html",
        "image",
        "index",
        "internal",
        "io",
        "iter",
        "log",
        "maps",
        "math",
        "mime",
        "net",
        "os",
        "path",
        "plugin",
        "reflect",
        "regexp",
        "runtime",
        "slices",
        "sort",
        "strconv",
        "strings",
        "structs",
        "sync",
        "syscall",
        "testing",
        "text",
        "time",
        "unicode",
        "unique",
        "unsafe",
        "vendor",
        "weak",
    }
)
_DIGITS = frozenset("0123456789")


def _slashes(file: str) -> str:
    return file.replace("\\", "/") if "\\" in file else file


def _python_stdlib(path: str) -> int:
    """End of the ``…/lib/python3.12/`` (or Windows ``…/Python312/Lib/``) part, else -1."""
    lower = path.lower()
    for marker in ("/lib/python", "/lib64/python"):
        at = lower.rfind(marker)
        if at >= 0:
            start = at + len(marker)
            end = lower.find("/", start)
            if end > start and lower[start] in _DIGITS:
                return end + 1
    at = lower.rfind("/lib/")
    if at > 0:
        folder = lower[lower.rfind("/", 0, at) + 1 : at]  # Windows: C:/Python312/Lib/
        if folder.startswith("python") and folder[6:].isdecimal():
            return at + len("/lib/")
    return -1


def _version_at(text: str, at: int) -> bool:
    """Whether ``text[at]`` is the ``@`` of ``name@1.2.3``, ``name@v1.10.9`` or ``name@18``
    (not of ``icon@2x`` or ``user@host``): digits, then a dot or the segment's end."""
    start = at + 2 if text[at + 1 : at + 2] == "v" else at + 1
    end = start
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    return (
        end > start and at > 0 and text[at - 1] != "/" and (end == len(text) or text[end] in "./")
    )


def _versioned(path: str) -> bool:
    """A path segment with an installed version (Go's module cache, npm CDNs)."""
    at = path.find("@", 1)
    while at > 0:
        if _version_at(path, at):
            return True
        at = path.find("@", at + 1)
    return False


def _old_node_core(file: str) -> bool:
    """Node ≤ 15 named its core modules without ``node:``: ``events.js``,
    ``internal/process/task_queues.js``. App files are absolute paths or URLs."""
    return (
        file.endswith(".js")
        and ":" not in file
        and ("/" not in file or file.startswith("internal/"))
    )


def _backlight_sdk(path: str) -> bool:
    """A file of the Backlight SDK's package: ``…/backlight/<one of its modules>``."""
    at = path.find("/backlight/")
    while at >= 0:
        start = at + len("/backlight/")
        end = path.find("/", start)
        if (path[start:end] if end >= 0 else path[start:]) in _BACKLIGHT_MODULES:
            return True
        at = path.find("/backlight/", start - 1)
    return False


def sdk_frame(file: str) -> bool:
    """Whether a file is an SDK's own (Backlight's, highlight's, OpenTelemetry's)."""
    path = _slashes(file)
    return (
        any(m in path for m in _SDK_PATHS)
        or any(m in path for m in _SDK_PACKAGES)
        or _backlight_sdk(path)
    )


def in_app(file: str) -> bool:
    """Whether a frame of this file is the app's own code."""
    if file in _RUNTIME_FILES or file.startswith(_RUNTIME_SCHEMES + _EXTENSION_SCHEMES):
        return False
    path = _slashes(file)
    if any(m in path for m in _LIBRARY_DIRS) or sdk_frame(path):
        return False
    if any(m in path for m in _RUNTIME_MARKERS) or _old_node_core(path):
        return False
    if path.endswith(".go") and "/vendor/" in path:
        return False
    return _python_stdlib(path) < 0 and not _versioned(path)


def go_package(function: str) -> str:
    """``net/http.(*conn).serve`` → ``net/http``; ``main.handler`` → ``main``."""
    slash = function.rfind("/")
    dot = function.find(".", slash + 1)
    return function[:dot] if dot > 0 else function


def go_runtime(function: str) -> bool:
    """A Go frame of the standard library (``runtime.gopanic``, ``net/http.…``, ``panic``)."""
    package = go_package(function)
    return package == "panic" or package.split("/", 1)[0] in GO_STD_ROOTS


def _without_versions(path: str) -> str:
    """Drop ``@version`` from each path segment: ``pq@v1.10.9/conn.go`` → ``pq/conn.go``."""
    if "@" not in path:
        return path
    parts = []
    for segment in path.split("/"):
        at = segment.find("@", 1)
        if at > 0 and _version_at(segment, at):
            segment = segment[:at]
        parts.append(segment)
    return "/".join(parts)


def strip_query(file: str) -> str:
    """A URL without its query and fragment (cache busters, Vite's ``?v=``, ``?t=``)."""
    if "?" not in file and "#" not in file:
        return file
    cut = len(file)
    for mark in ("?", "#"):
        at = file.find(mark)
        if 0 <= at < cut:
            cut = at
    return file[:cut]


def module_of(file: str) -> str:
    """What names a library or runtime file across versions and installations:

    - the path from the library root on: ``…/site-packages/requests/api.py`` →
      ``requests/api.py``, ``…/node_modules/.pnpm/x@1.2.0/node_modules/x/a.js`` →
      ``x/a.js``, ``/usr/lib/python3.11/json/decoder.py`` → ``json/decoder.py``,
      ``/usr/local/go/src/net/http/server.go`` → ``net/http/server.go``;
    - without version segments: ``…/pkg/mod/github.com/lib/pq@v1.10.9/conn.go`` →
      ``github.com/lib/pq/conn.go``;
    - Node's old core names get today's: ``events.js`` → ``node:events``;
    - a browser extension without its per-installation id: ``moz-extension://<id>/a.js`` →
      ``moz-extension://a.js``; URLs without query or fragment.
    """
    path = strip_query(_slashes(file))
    if "<anonymous>" in path:  # eval code: its "file" holds the caller's position
        return "<anonymous>"
    if _old_node_core(path):
        return "node:" + path[:-3]
    for scheme in _EXTENSION_SCHEMES:
        if path.startswith(scheme):
            rest = path[len(scheme) :].lstrip("/")
            return scheme + "//" + rest[rest.find("/") + 1 :]
    toolchain = path.find("/golang.org/toolchain@")  # GOTOOLCHAIN's GOROOT, in the cache
    if toolchain >= 0 and path.endswith(".go") and "/src/" in path[toolchain:]:
        return path[path.find("/src/", toolchain) + len("/src/") :]
    cut = max(path.rfind(d) + len(d) if d in path else -1 for d in _LIBRARY_DIRS)
    if cut < 0 and "/sdk/python/src/" in path:
        cut = path.rfind("/sdk/python/src/") + len("/sdk/python/src/")
    if cut < 0:  # an SDK package outside a library folder: from its package folder on
        for package in (*_SDK_PACKAGES, "/backlight/"):
            at = path.find(package)
            if at >= 0 and (package != "/backlight/" or _backlight_sdk(path)):
                cut = at + 1
                break
    if cut < 0:
        cut = _python_stdlib(path)
    if cut < 0 and path.endswith(".go"):
        for root in ("/vendor/", "/src/"):
            if root in path:
                cut = path.rfind(root) + len(root)
                break
    return _without_versions(path[cut:] if cut > 0 else path)


def _absolute(path: str) -> bool:
    """A file system path from its root (``/srv/a.py``, ``C:/a.py``), not a URL."""
    return path.startswith("/") or (len(path) > 2 and path[1] == ":" and path[2] == "/")


def _venv_root(path: str) -> str | None:
    """The folder that holds the virtualenv of an installed library's file:
    ``/srv/shop/.venv/lib/python3.11/site-packages/x.py`` → ``/srv/shop/``."""
    for folder in ("/site-packages/", "/dist-packages/"):
        at = path.find(folder)
        if at > 0:
            lib = path[:at]
            cut = lib.lower().rfind("/lib")
            if cut <= 0:
                return None
            venv = lib[:cut]
            parent = venv.rfind("/")
            return venv[: parent + 1] if parent > 0 else None
    return None


def display_paths(files: list[str], app: list[bool]) -> list[str]:
    """How a stack's files are shown (the group page, the request view and the session
    page; ``app[i]``: whether frame i is the app's code). URLs and relative paths are
    shown as sent. An absolute file system path is shown relative:

    - a library, runtime or SDK file from its library root (``module_of``):
      ``…/.venv/lib/python3.11/site-packages/flask/app.py`` → ``flask/app.py``,
      ``/usr/lib/python3.11/asyncio/runners.py`` → ``asyncio/runners.py``;
    - an app file relative to the app's root: the folder that holds the stack's
      virtualenv when the file is under it (``/srv/shop/.venv/…`` and
      ``/srv/shop/api/app.py`` → ``api/app.py``); else from the last folder of the
      common folder of the stack's app files (``/srv/shop/api/app.py`` and
      ``/srv/shop/api/db.py`` → ``api/app.py``, ``api/db.py``).

    Linear in the total length of the paths."""
    paths = [_slashes(f) if isinstance(f, str) else "" for f in files]
    root = next((r for p in paths if _absolute(p) and (r := _venv_root(p))), None)
    local = [p for p, mine in zip(paths, app, strict=True) if mine and _absolute(p)]
    common = None
    if local:
        common = local[0][: local[0].rfind("/") + 1]
        for p in local[1:]:
            while common and not p.startswith(common):
                common = common[: common.rstrip("/").rfind("/") + 1]
        common = common[: common.rstrip("/").rfind("/") + 1]  # keep the last folder
    out: list[str] = []
    for p, mine in zip(paths, app, strict=True):
        if not _absolute(p):
            out.append(p)
        elif not mine:
            out.append(module_of(p))
        elif root is not None and p.startswith(root):
            out.append(p[len(root) :])
        elif common:
            out.append(p[len(common) :])
        else:
            out.append(p)
    return out
