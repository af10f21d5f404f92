"""The fingerprint of original frames (pipeline/fingerprint.py) against the shared vectors
in tests/vectors/fingerprint.json: source paths as two builds agree on them, and frames
from two builds of one source giving one fingerprint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backlight_server.pipeline.fingerprint import fingerprint, original_frame, source_path

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "tests" / "vectors" / "fingerprint.json").read_text("utf-8")
)


@pytest.mark.parametrize(("path", "expected"), VECTORS["source_paths"])
def test_source_paths(path: str, expected: str) -> None:
    assert source_path(path) == expected


@pytest.mark.parametrize("case", VECTORS["original_frames"], ids=lambda c: str(c["name"]))
def test_original_frames(case: dict[str, Any]) -> None:
    frames = [
        original_frame(f["file"], f["function"], f["line"], f["code"]) for f in case["frames"]
    ]
    assert [f.in_app for f in frames] == case["in_app"]
    assert fingerprint(case["type"], case["message"], frames) == case["fingerprint"]


def test_two_builds_share_a_fingerprint_and_raise_sites_do_not() -> None:
    prints = {c["name"]: c["fingerprint"] for c in VECTORS["original_frames"]}
    assert prints["esbuild, dist/js"] == prints["webpack, another namespace and layout"]
    others = {prints["no source lines: original line numbers"], prints["another raise site"]}
    assert prints["esbuild, dist/js"] not in others and len(others) == 2
