"""Docs that are generated from code must match it."""

from __future__ import annotations

from pathlib import Path

from backlight_server.settings import markdown_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_configuration_table_matches_settings() -> None:
    text = (DOCS / "configuration.md").read_text()
    start = text.index("<!-- settings-table:start -->") + len("<!-- settings-table:start -->")
    end = text.index("<!-- settings-table:end -->")
    assert text[start:end].strip() == markdown_table()
