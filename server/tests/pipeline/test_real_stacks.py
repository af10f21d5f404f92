"""Grouping survives runtime and library upgrades: real stack traces (see stacks/README.md)
from two Node versions, three Pythons with and without a venv, two versions of a Python, Go
and browser library, parsed and fingerprinted as ingest does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backlight_server.pipeline import stack
from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.frames import in_app, module_of
from backlight_server.pipeline.model import Frame

STACKS = Path(__file__).parent / "stacks"


def load(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STACKS / name).read_text())
    return data


def load_nested(name: str) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads((STACKS / name).read_text())
    return data


def text(name: str) -> str:
    return (STACKS / name).read_text()


def group(raw: str, error_type: str = "Error") -> str:
    """The fingerprint ingest gives an OTLP error with this stack (message: its first line)."""
    message = raw.split("\n", 1)[0]
    return fingerprint(error_type, message.partition(": ")[2], stack.parse(raw))


def app_functions(raw: str) -> list[str]:
    return [f.function for f in stack.parse(raw) if f.in_app]


NODE20, NODE26 = load("node/node-v20.20.2.json"), load("node/node-v26.13.1.json")
NODE14 = load("node/node-v14-shape.json")


@pytest.mark.parametrize("case", ["emitter", "http", "async", "refused"])
def test_node_versions_share_a_group(case: str) -> None:
    assert NODE20[case] != NODE26[case]  # the runtime's line numbers differ
    assert group(NODE20[case]) == group(NODE26[case]) == group(NODE14[case])


def test_node_core_frames_are_not_in_app() -> None:
    assert app_functions(NODE20["http"]) == [
        "chargeCard",
        "EventEmitter.<anonymous>",
        "Server.<anonymous>",
    ]
    assert app_functions(NODE14["http"]) == app_functions(NODE20["http"])
    for raw in (*NODE20.values(), *NODE26.values(), *NODE14.values()):
        for frame in stack.parse(raw):
            assert frame.in_app == frame.file.startswith("/tmp/grp/node/"), frame
    assert app_functions(NODE20["refused"]) == []


def test_node_all_runtime_stack_is_named_by_module_and_function() -> None:
    [frame] = stack.parse(NODE14["refused"])
    assert not frame.in_app and module_of(frame.file) == "node:net"
    [frame] = stack.parse(NODE20["refused"])
    assert not frame.in_app and module_of(frame.file) == "node:net"
    other = NODE20["refused"].replace("afterConnect", "afterConnectAgain")
    assert group(other) != group(NODE20["refused"])  # the function still counts


SHOP = {
    name: load(f"python/shop-{name}.json")
    for name in ("3.11.7-venv", "3.12.1-venv", "3.13.0-user-site")
}
THREADS = {
    name: load(f"python/threads-{name}.json")["stdlib_only"]
    for name in ("3.11.7", "3.12.1", "3.13.0", "debian-3.11")
}


def test_python_library_versions_share_a_group_with_and_without_a_venv() -> None:
    """tinypay 1.0.0 in a venv, 2.0.0 in another venv and in a user site: the raise moved
    9 lines, ``_check(amount)`` became ``_check(int(amount))``. Called from app code, only
    the app frames count; on a pool thread (no app frame), modules and functions do."""
    called = [SHOP[name]["library"] for name in SHOP]
    assert "line 11, in _check" in called[0] and "line 20, in _check" in called[1]
    assert len({group(raw, "CardError") for raw in called}) == 1
    for raw in called:
        assert app_functions(raw) == ["checkout", "<module>"]
    library = [SHOP[name]["library_only"] for name in SHOP]
    assert "    _check(amount)\n" in library[0] and "    _check(int(amount))\n" in library[1]
    assert all(app_functions(raw) == [] for raw in library)
    assert len({group(raw, "CardError") for raw in library}) == 1
    assert [module_of(f.file) for f in stack.parse(library[2])] == [
        "tinypay/__init__.py",
        "tinypay/__init__.py",
        "concurrent/futures/thread.py",
    ]


def test_python_stdlib_of_any_install_is_not_in_app() -> None:
    stdlib = [SHOP[name]["stdlib"] for name in SHOP]
    stdlib.append(load("python/shop-debian-3.11-pythonpath.json")["stdlib"])
    assert len({group(raw, "JSONDecodeError") for raw in stdlib}) == 1
    for raw in stdlib:
        assert app_functions(raw) == ["parse_order", "<module>"]
    # every frame in the stdlib: pyenv 3.11, 3.12, 3.13 and Debian's 3.11 agree
    assert all(app_functions(raw) == [] for raw in THREADS.values())
    assert len({group(raw, "JSONDecodeError") for raw in THREADS.values()}) == 1
    assert [module_of(f.file) for f in stack.parse(THREADS["3.13.0"])] == [
        "json/decoder.py",
        "json/decoder.py",
        "json/__init__.py",
        "concurrent/futures/thread.py",
    ]


def test_python_install_layouts() -> None:
    # a library on PYTHONPATH, not installed, is the app's code
    raw = load("python/shop-debian-3.11-pythonpath.json")["library"]
    assert app_functions(raw) == ["_check", "charge", "checkout", "<module>"]
    raw = load("python/yaml-debian-3.11-dist-packages.json")["dist"]
    assert app_functions(raw) == ["load_config", "<module>"]
    frozen = load("python/fastapi-3.11.7-sdk-checkout.json")["frozen"]
    assert app_functions(frozen) == ["<module>"]
    assert module_of("<frozen importlib._bootstrap>") == "<frozen importlib._bootstrap>"
    for stdlib in (
        "/usr/lib64/python3.11/socket.py",  # Fedora, RHEL
        "C:\\Program Files\\Python312\\Lib\\asyncio\\base_events.py",
    ):
        [frame] = stack.parse(
            f'Traceback (most recent call last):\n  File "{stdlib}", '
            "line 9, in connect\n    sock.connect(sa)\nOSError: x\n"
        )
        assert not frame.in_app


def test_sdk_middleware_frame_is_not_the_users_code() -> None:
    raw = load("python/fastapi-3.11.7-sdk-checkout.json")["fastapi"]
    frames = stack.parse(raw)
    sdk = [f for f in frames if f.file.endswith("backlight/integrations/asgi.py")]
    assert sdk and not any(f.in_app for f in sdk)
    assert app_functions(raw) == ["stock", "<module>"]
    assert module_of(sdk[0].file) == "backlight/integrations/asgi.py"
    installed = "/srv/.venv/lib/python3.12/site-packages/backlight/integrations/asgi.py"
    assert module_of(installed) == module_of(sdk[0].file)
    for name in ("asgi.py", "wsgi.py", "django.py"):
        assert not in_app(f"/work/src/sdk/python/src/backlight/integrations/{name}")
        assert not in_app(f"C:\\app\\.venv\\Lib\\site-packages\\backlight\\integrations\\{name}")


GO_V123 = text("go/recovered-tinydb-v1.2.3.txt")
GO_V130 = text("go/recovered-tinydb-v1.3.0.txt")


def test_go_module_versions_share_a_group() -> None:
    assert "tinydb@v1.2.3/db.go:14" in GO_V123 and "tinydb@v1.3.0/db.go:17" in GO_V130
    shapes = [GO_V123, GO_V130, text("go/recovered-go1.22-shape-tinydb-v1.3.0.txt")]
    assert len({fingerprint("panic", "tinydb: empty query", stack.parse(r)) for r in shapes}) == 1
    trimmed = [text(f"go/recovered-trimpath-tinydb-{v}.txt") for v in ("v1.2.3", "v1.3.0")]
    assert len({fingerprint("panic", "x", stack.parse(r)) for r in trimmed}) == 1
    assert [f.file for f in stack.parse(trimmed[0]) if f.in_app] == [  # -trimpath: relative
        "example.com/shop/main.go",
        "example.com/shop/main.go",
    ]
    crashes = [text(f"go/crash-tinydb-{v}.txt") for v in ("v1.2.3", "v1.3.0")]
    assert len({fingerprint("panic", "x", stack.parse(r)) for r in crashes}) == 1


def test_go_stdlib_and_module_cache_are_not_in_app() -> None:
    for raw in (
        GO_V123,
        text("go/recovered-trimpath-tinydb-v1.3.0.txt"),
        text("go/recovered-go1.22-shape-tinydb-v1.3.0.txt"),
    ):
        frames = stack.parse(raw)
        assert [f.function for f in frames if f.in_app] == [
            "main.stockHandler.func1",
            "main.stockHandler",
        ]
        assert [f.function for f in frames] == [
            "runtime/debug.Stack",
            "main.stockHandler.func1",
            "panic",
            "example.com/tinydb.run",
            "example.com/tinydb.Query",
            "main.stockHandler",
            "net/http.HandlerFunc.ServeHTTP",
            "net/http.serverHandler.ServeHTTP",
            "net/http.(*conn).serve",
            "net/http.(*Server).Serve",
        ]
    tinydb = "example.com/tinydb/db.go"
    assert module_of("/root/go/pkg/mod/example.com/tinydb@v1.3.0/db.go") == tinydb
    assert module_of("example.com/tinydb@v1.2.3/db.go") == tinydb
    assert module_of("/usr/lib/go-1.19/src/net/http/server.go") == "net/http/server.go"
    assert module_of("/usr/local/go/src/net/http/server.go") == "net/http/server.go"
    assert (
        module_of(
            "/root/go/pkg/mod/golang.org/toolchain@v0.0.1-go1.22.0.linux-amd64/src/"
            "net/http/server.go"
        )
        == "net/http/server.go"
    )
    assert module_of("/app/vendor/github.com/lib/pq/conn.go") == "github.com/lib/pq/conn.go"
    assert not in_app("/app/vendor/github.com/lib/pq/conn.go")


BROWSERS = {
    name: load_nested(f"browser/{name}.json")
    for name in ("chrome-156", "firefox-shape", "safari-shape")
}
FIREFOX, SAFARI = BROWSERS["firefox-shape"], BROWSERS["safari-shape"]


@pytest.mark.parametrize("browser", list(BROWSERS))
@pytest.mark.parametrize("case", ["library", "timer"])
def test_browser_library_versions_share_a_group(browser: str, case: str) -> None:
    old, new = BROWSERS[browser]["1.0.0"][case], BROWSERS[browser]["1.1.0"][case]
    assert old.replace("1.0.0", "1.1.0") != new  # the library's line numbers moved
    assert fingerprint("SyntaxError", "x", stack.parse(old)) == fingerprint(
        "SyntaxError", "x", stack.parse(new)
    )
    top = "module code" if browser == "safari-shape" else "?"
    expected = ["run", top] if case == "library" else []
    assert app_functions(old) == expected


def test_safari_anonymous_and_native_frames() -> None:
    raw = SAFARI["1.0.0"]["callback"]
    frames = stack.parse(raw)
    assert [(f.function, f.in_app) for f in frames] == [
        ("renderPrice", True),
        ("?", False),
        ("each", False),
        ("render", True),
    ]
    moved = SAFARI["1.1.0"]["callback"]
    assert fingerprint("TypeError", "x", frames) == fingerprint(
        "TypeError", "x", stack.parse(moved)
    )


def test_extension_frames_group_across_installations() -> None:
    installs = FIREFOX["extension"]
    a, b = stack.parse(installs["install-a"]), stack.parse(installs["install-b"])
    assert not any(f.in_app for f in a + b)
    assert module_of(a[0].file) == "moz-extension://content.js"
    assert fingerprint("TypeError", "x", a) == fingerprint("TypeError", "x", b)
    for file in (
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop/content.js",
        "safari-web-extension://4C1D7C54-1B1A-4B7E-9A43-21E1B2F4A0C3/content.js",
        "webkit-masked-url://hidden/",
    ):
        assert not in_app(file)


@pytest.mark.parametrize(
    ("file", "module"),
    [
        (
            "http://localhost:5173/node_modules/.vite/deps/react-dom_client.js?v=5c1e4a7b",
            ".vite/deps/react-dom_client.js",
        ),
        (
            "webpack-internal:///./node_modules/react-dom/cjs/react-dom.development.js",
            "react-dom/cjs/react-dom.development.js",
        ),
        (
            "/app/node_modules/.pnpm/express@4.18.2/node_modules/express/lib/router/layer.js",
            "express/lib/router/layer.js",
        ),
        (
            "https://cdn.jsdelivr.net/npm/@babel/standalone@7.23.2/babel.min.js",
            "https://cdn.jsdelivr.net/npm/@babel/standalone/babel.min.js",
        ),
        (
            "/usr/local/lib/python3.12/site-packages/urllib3/connectionpool.py",
            "urllib3/connectionpool.py",
        ),
        ("/usr/lib64/python3.11/socket.py", "socket.py"),
        (
            "C:\\Users\\me\\AppData\\Local\\Programs\\Python\\Python312\\Lib\\json\\decoder.py",
            "json/decoder.py",
        ),
        ("/srv/.venv/lib/python3.12/site-packages/foo-1.2-py3.12.egg/foo/x.py", "foo/x.py"),
        ("internal/process/task_queues.js", "node:internal/process/task_queues"),
        ("node:internal/process/task_queues", "node:internal/process/task_queues"),
        (
            "https://unpkg.com/react@18/umd/react.development.js",
            "https://unpkg.com/react/umd/react.development.js",
        ),
    ],
)
def test_module_of_library_files(file: str, module: str) -> None:
    assert not in_app(file)
    assert module_of(file) == module


@pytest.mark.parametrize(
    "file",
    [
        "/app/api/views.py",
        "/home/me/src/native_bridge.js",
        "/app/src/vendor/views.py",
        "https://app.test/assets/index-3f9a1c.js",
        "/home/me/python-projects/lib/app.py",
        "file:///srv/app/server.mjs",
        "/srv/app/server.js",
        "<string>",
        "/home/me@corp/app.py",
        "/srv/web/icons@2x/sprite.js",
    ],
)
def test_app_files_stay_in_app(file: str) -> None:
    assert in_app(file)


def test_app_frame_keys_ignore_query_and_async_marks() -> None:
    plain = [Frame("https://app.test/a.js", "load", 3, 1, None, True)]
    busted = [Frame("https://app.test/a.js?v=2#x", "async load", 3, 9, None, True)]
    assert fingerprint("E", "m", plain) == fingerprint("E", "m", busted)
    moved = [Frame("https://app.test/a.js", "load", 4, 1, None, True)]
    assert fingerprint("E", "m", plain) != fingerprint("E", "m", moved)
