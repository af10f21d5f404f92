"""``backlight serve`` hands uvicorn an app whose start-up objects are frozen out of the
cyclic garbage collector (``gc.freeze``): a full collection, which lands on whichever page
request triggers it, then walks what requests made, not the ~100k objects of the modules,
routes and store (about 90 ms each on the benchmark machine; docs/benchmarks.md)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from backlight_server import cli


def test_serve_freezes_the_startup_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(app: Any, **_: object) -> None:  # instead of serving: look, then return
        seen["frozen"] = gc.get_freeze_count()
        seen["app"] = app

    monkeypatch.setattr(uvicorn, "run", run)
    gc.unfreeze()
    try:
        data = str(tmp_path / "data")
        code = cli.main(["serve", "--data-dir", data, "--port", "0", "--otlp-grpc-port", "0"])
    finally:
        gc.unfreeze()
        if "app" in seen:
            seen["app"].state.backlight.store.close()
    assert code == 0
    assert seen["frozen"] > 10_000  # the modules, routes and store made at start-up
