"""How stack frames' files are shown (``frames.display_paths``) and which are the SDKs' own
(``frames.in_app``): the rule every page uses (``ui/stacks.py``, ``stack.ts``)."""

from __future__ import annotations

import pytest

from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.frames import display_paths, in_app, module_of
from backlight_server.pipeline.model import Frame
from backlight_server.ui.stacks import present

VENV = "/srv/shop/.venv/lib/python3.11/site-packages"


def test_library_and_runtime_files_from_their_root_app_files_from_the_project() -> None:
    files = [
        f"{VENV}/flask/app.py",
        "/usr/lib/python3.11/asyncio/runners.py",
        "/srv/shop/api/orders.py",
        "/srv/shop/api/db/store.py",
        "http://shop.test/static/app.js",
        "webpack://shop/./src/cart.ts",
        "src/util/format.ts",
    ]
    app = [in_app(f) for f in files]
    assert app == [False, False, True, True, True, True, True]
    assert display_paths(files, app) == [
        "flask/app.py",
        "asyncio/runners.py",
        "api/orders.py",  # the virtualenv's folder is the project's root
        "api/db/store.py",
        "http://shop.test/static/app.js",  # URLs and relative paths: as sent
        "webpack://shop/./src/cart.ts",
        "src/util/format.ts",
    ]


@pytest.mark.parametrize(
    ("files", "shown"),
    [
        (["/srv/shop/api/app.py", "/srv/shop/api/db.py"], ["api/app.py", "api/db.py"]),
        (["/srv/shop/api/app.py", "/srv/shop/lib/x.py"], ["shop/api/app.py", "shop/lib/x.py"]),
        (["/home/ada/shop/app.py"], ["shop/app.py"]),
        (["C:\\shop\\api\\app.py"], ["api/app.py"]),
        (["/app.py"], ["/app.py"]),
    ],
)
def test_app_files_without_a_virtualenv_from_their_common_folder(
    files: list[str], shown: list[str]
) -> None:
    assert display_paths(files, [True] * len(files)) == shown


@pytest.mark.parametrize(
    "file",
    [
        "/var/task/highlight_io/integrations/flask.py",
        "/srv/shop/vendor/opentelemetry/instrumentation/asgi/__init__.py",
        "/var/task/opentelemetry/sdk/trace/__init__.py",
        "/srv/shop/deps/backlight/request_span.py",
        "/srv/shop/deps/backlight/export/worker.py",
        "/work/backlight/sdk/python/src/backlight/integrations/asgi.py",
    ],
)
def test_sdk_frames_are_never_the_apps(file: str) -> None:
    assert not in_app(file)
    name = module_of(file)
    assert name.split("/", 1)[0] in ("highlight_io", "opentelemetry", "backlight"), name


@pytest.mark.parametrize(
    "file", ["/home/ada/backlight/app/main.py", "/srv/backlight/views.py", "/srv/shop/open/x.py"]
)
def test_an_app_named_backlight_is_still_the_app(file: str) -> None:
    assert in_app(file)


def test_sdk_frames_stay_out_of_the_fingerprint() -> None:
    app = Frame("/srv/shop/api/orders.py", "get_order", 18, None, "return load(x)", True)
    sdk = Frame("/var/task/highlight_io/integrations/flask.py", "wrapper", 41, None, "x()")
    sdk.in_app = in_app(sdk.file)
    assert fingerprint("KeyError", "'o-1'", [sdk, app]) == fingerprint("KeyError", "'o-1'", [app])


def test_stored_frames_are_shown_with_todays_classification() -> None:
    """Frames stored before SDK frames were classified read as library frames; any stored
    value is accepted."""
    stored = [
        {"file": "/var/task/highlight_io/integrations/flask.py", "function": "w", "in_app": True},
        {"file": "/var/task/shop/orders.py", "function": "get", "in_app": True},
        "not a frame",
        {"file": None, "function": "?", "in_app": True},
    ]
    shown = present(stored)
    assert [(f["path"], f["in_app"]) for f in shown] == [
        ("highlight_io/integrations/flask.py", False),
        ("shop/orders.py", True),
        ("", True),
    ]
    assert present("nope") == []
